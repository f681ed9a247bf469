// The embedded log's producer: idempotent by default (producer id, epoch, per-partition sequence), transactional
// with a transactional id.
import { SluiceError } from '../../errors/index.ts'
import type {
  CommittedOffset,
  ConsumerGroupMetadata,
  LogProducer,
  ProducerOptions,
  ProducerRecord,
  RecordMetadata,
  TopicPartition,
} from '../contract.ts'
import { partitionForKey } from '../partitioner.ts'
import type { EmbeddedLog } from './embedded-log.ts'
import { OFFSETS_TOPIC } from './internal-topics.ts'
import type { PartitionLog, RecordInput } from './partition-log.ts'

type State = 'ready' | 'uninitialized' | 'in-transaction' | 'fenced' | 'closed'

export class EmbeddedProducer implements LogProducer {
  readonly #log: EmbeddedLog
  readonly #transactionalId: string | undefined
  readonly #idempotent: boolean
  readonly #timeoutMs: number
  #producerId = -1
  #epoch = -1
  #state: State
  readonly #sequences = new Map<string, number>()
  readonly #txnPartitions = new Set<string>()
  readonly #roundRobin = new Map<string, number>()
  #fencedBy: SluiceError | null = null

  constructor(log: EmbeddedLog, options: ProducerOptions) {
    this.#log = log
    this.#transactionalId = options.transactionalId
    this.#idempotent = options.transactionalId !== undefined || options.idempotent !== false
    this.#timeoutMs = options.transactionTimeoutMs ?? 60_000
    this.#state = this.#transactionalId === undefined ? 'ready' : 'uninitialized'
  }

  #checkUsable(): void {
    this.#log.checkOpen()
    if (this.#state === 'closed')
      throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', 'the producer is closed')
    if (this.#state === 'fenced' && this.#fencedBy) throw this.#fencedBy
  }

  /** Marks the producer fenced when the log says so; every later call fails the same way. */
  #watch(err: unknown): never {
    if (err instanceof SluiceError && err.code === 'SLUICE_ERR_PRODUCER_FENCED') {
      this.#state = 'fenced'
      this.#fencedBy = err
    }
    throw err
  }

  #partitionOf(r: ProducerRecord, count: number): number {
    if (r.partition !== undefined) return r.partition
    if (r.key != null) return partitionForKey(r.key, count)
    const next = this.#roundRobin.get(r.topic) ?? 0
    this.#roundRobin.set(r.topic, next + 1)
    return next % count
  }

  async send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    this.#checkUsable()
    if (this.#transactionalId !== undefined && this.#state !== 'in-transaction') {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_TXN_STATE',
        `transactional producer ${this.#transactionalId} can only send inside a transaction: call beginTransaction() first`,
      )
    }
    const now = this.#log.now()
    // group by partition, remembering each record's place so results come back in input order
    const groups = new Map<string, { tp: TopicPartition; items: RecordInput[]; indexes: number[] }>()
    for (let i = 0; i < records.length; i++) {
      const r = records[i]
      if (r.timestamp !== undefined && (!Number.isSafeInteger(r.timestamp) || r.timestamp < 0)) {
        throw new SluiceError(
          'SLUICE_ERR_INVALID_ARGUMENT',
          `record ${i} for topic ${r.topic} has timestamp ${r.timestamp}; timestamps are epoch milliseconds >= 0 (leave it out to use the append time)`,
          { details: { topic: r.topic, index: i, timestamp: r.timestamp } },
        )
      }
      const topic = this.#log.topic(r.topic)
      const partition = this.#partitionOf(r, topic.partitions.length)
      this.#log.partition(r.topic, partition)
      const k = `${r.topic}:${partition}`
      let g = groups.get(k)
      if (g === undefined) {
        g = { tp: { topic: r.topic, partition }, items: [], indexes: [] }
        groups.set(k, g)
      }
      g.items.push({ key: r.key ?? null, value: r.value, headers: r.headers, timestamp: r.timestamp ?? now })
      g.indexes.push(i)
    }
    if (this.#idempotent && this.#producerId < 0) {
      this.#producerId = this.#log.producerIds.next()
      this.#epoch = 0
    }
    if (this.#transactionalId !== undefined) {
      const added = [...groups.entries()].filter(([k]) => !this.#txnPartitions.has(k)).map(([, g]) => g.tp)
      if (added.length > 0) {
        await this.#log.transactions
          .addPartitions(this.#transactionalId, this.#producerId, this.#epoch, added)
          .catch((e) => this.#watch(e))
        for (const tp of added) this.#txnPartitions.add(`${tp.topic}:${tp.partition}`)
      }
    }
    const out = new Array<RecordMetadata>(records.length)
    const touched: PartitionLog[] = []
    for (const [k, g] of groups) {
      const p = this.#log.partition(g.tp.topic, g.tp.partition)
      const seq = this.#sequences.get(k) ?? 0
      let result: { baseOffset: number }
      try {
        result = p.append(
          g.items,
          this.#idempotent
            ? {
                producerId: this.#producerId,
                producerEpoch: this.#epoch,
                baseSequence: seq,
                transactional: this.#transactionalId !== undefined,
              }
            : undefined,
        )
      } catch (err) {
        this.#watch(err)
      }
      this.#sequences.set(k, seq + g.items.length)
      touched.push(p)
      g.indexes.forEach((idx, j) => {
        out[idx] = { ...g.tp, offset: result.baseOffset + j, timestamp: g.items[j].timestamp }
      })
    }
    await this.#log.acknowledge(touched)
    return out
  }

  async initTransactions(): Promise<void> {
    this.#checkUsable()
    if (this.#transactionalId === undefined) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_TXN_STATE',
        'initTransactions() needs a producer with a transactionalId',
      )
    }
    const { producerId, epoch } = await this.#log.transactions.initProducerId(
      this.#transactionalId,
      this.#timeoutMs,
    )
    this.#producerId = producerId
    this.#epoch = epoch
    this.#sequences.clear()
    this.#txnPartitions.clear()
    this.#state = 'ready'
  }

  beginTransaction(): void {
    this.#checkUsable()
    if (this.#transactionalId === undefined || this.#state !== 'ready') {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_TXN_STATE',
        this.#transactionalId === undefined
          ? 'beginTransaction() needs a producer with a transactionalId'
          : `cannot begin a transaction in state ${this.#state}: call initTransactions() first, and end the open transaction`,
      )
    }
    this.#state = 'in-transaction'
    this.#txnPartitions.clear()
  }

  #checkInTransaction(what: string): string {
    this.#checkUsable()
    if (this.#transactionalId === undefined || this.#state !== 'in-transaction') {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_TXN_STATE',
        `${what} needs an open transaction (producer state: ${this.#state}); call beginTransaction() first`,
      )
    }
    return this.#transactionalId
  }

  async sendOffsetsToTransaction(
    offsets: readonly CommittedOffset[],
    group: ConsumerGroupMetadata,
  ): Promise<void> {
    const id = this.#checkInTransaction('sendOffsetsToTransaction()')
    const tp = { topic: OFFSETS_TOPIC, partition: 0 }
    const k = `${tp.topic}:${tp.partition}`
    if (!this.#txnPartitions.has(k)) {
      await this.#log.transactions
        .addPartitions(id, this.#producerId, this.#epoch, [tp])
        .catch((e) => this.#watch(e))
      this.#txnPartitions.add(k)
    }
    await this.#log.groups
      .commitInTransaction(group, this.#producerId, this.#epoch, offsets)
      .catch((e) => this.#watch(e))
  }

  async #end(commit: boolean): Promise<void> {
    const id = this.#checkInTransaction(commit ? 'commitTransaction()' : 'abortTransaction()')
    await this.#log.transactions
      .endTransaction(id, this.#producerId, this.#epoch, commit)
      .catch((e) => this.#watch(e))
    this.#txnPartitions.clear()
    this.#state = 'ready'
  }

  commitTransaction(): Promise<void> {
    return this.#end(true)
  }

  abortTransaction(): Promise<void> {
    return this.#end(false)
  }

  async close(): Promise<void> {
    this.#state = 'closed'
  }
}
