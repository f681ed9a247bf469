// Writes one ingest request's records all or nothing. Records for a single partition go in one send: one batch,
// which the log appends whole or refuses whole. Records spread over several partitions go in a transaction, so that a
// batch the log refuses on one partition (over max.message.bytes, say) leaves nothing visible on the others.
import { randomUUID } from 'node:crypto'
import type { Log, LogProducer, ProducerRecord } from '../log/contract.ts'

/** Transactions in flight at once; further requests wait for one of them to end. */
const MAX_TRANSACTIONAL_PRODUCERS = 8

interface Waiter {
  resolve(producer: LogProducer): void
  reject(err: unknown): void
}

export class IngestWriter {
  readonly #log: Log
  readonly #plain: LogProducer
  readonly #idle: LogProducer[] = []
  readonly #waiting: Waiter[] = []
  #transactional = 0
  #closed = false

  constructor(log: Log) {
    this.#log = log
    this.#plain = log.producer({ clientId: 'sluice-ingest' })
  }

  /**
   * Appends records that each name their partition. When it resolves they are durable (per the log's fsync policy)
   * and visible to read_committed readers; when it rejects, none of them is.
   */
  async write(records: readonly ProducerRecord[]): Promise<void> {
    const partition = records[0].partition
    if (records.every((r) => r.partition === partition)) {
      await this.#plain.send(records)
      return
    }
    const producer = await this.#acquire()
    let reusable = false
    try {
      producer.beginTransaction()
      try {
        await producer.send(records)
      } catch (err) {
        await producer.abortTransaction()
        reusable = true
        throw err
      }
      await producer.commitTransaction()
      reusable = true
    } finally {
      this.#release(producer, reusable)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#plain.close()
    await Promise.all(this.#idle.splice(0).map((p) => p.close()))
  }

  async #create(): Promise<LogProducer> {
    this.#transactional++
    // an id of its own: several servers may ingest into one Kafka cluster, and must not fence each other
    const producer = this.#log.producer({
      clientId: 'sluice-ingest',
      transactionalId: `sluice-ingest-${randomUUID()}`,
    })
    try {
      await producer.initTransactions()
      return producer
    } catch (err) {
      this.#transactional--
      throw err
    }
  }

  #acquire(): Promise<LogProducer> {
    const idle = this.#idle.pop()
    if (idle !== undefined) return Promise.resolve(idle)
    if (this.#transactional < MAX_TRANSACTIONAL_PRODUCERS) return this.#create()
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }))
  }

  /** Hands the producer to the next waiting request; one whose transaction failed to end is replaced. */
  #release(producer: LogProducer, reusable: boolean): void {
    const next = this.#waiting.shift()
    if (reusable && !this.#closed) {
      if (next) next.resolve(producer)
      else this.#idle.push(producer)
      return
    }
    this.#transactional--
    producer.close().catch(() => {}) // it is being dropped: a failure to close changes nothing
    if (next) this.#create().then(next.resolve, next.reject)
  }
}
