// LogProducer on Kafka: idempotent by default, transactional with a transactional id. Sends of one producer run
// one after another, so that records keep their call order per partition as the contract promises.
import type { Admin, MessageToProduce } from '@platformatic/kafka'
import { Producer } from '@platformatic/kafka'
import { SluiceError } from '../errors/index.ts'
import type {
  CommittedOffset,
  ConsumerGroupMetadata,
  LogProducer,
  ProducerOptions,
  ProducerRecord,
  RecordMetadata,
} from '../log/contract.ts'
import { partitionForKey } from '../log/partitioner.ts'
import { baseOptions, type KafkaLogOptions } from './client-options.ts'
import { retryTransient, toSluiceError } from './errors.ts'
import { isUnknownTopic } from './kafka-admin.ts'

type Transaction = Awaited<ReturnType<Producer['beginTransaction']>>

const MAX_DELTA = 2n ** 31n - 1n

type TxnState = 'uninitialized' | 'ready' | 'in-transaction' | 'fenced'

export interface ProducerHost {
  readonly options: KafkaLogOptions
  adminClient(): Admin
  checkOpen(): void
}

function txnStateError(message: string): SluiceError {
  return new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', message)
}

export class KafkaProducer implements LogProducer {
  readonly #host: ProducerHost
  readonly #producer: Producer
  readonly #transactionalId: string | undefined
  #state: TxnState = 'uninitialized'
  #transaction: Promise<Transaction> | undefined
  #touched = false
  #groupsInTxn = new Set<string>()
  #chain: Promise<unknown> = Promise.resolve()
  #roundRobin = 0
  #closed = false

  constructor(host: ProducerHost, options: ProducerOptions = {}) {
    this.#host = host
    this.#transactionalId = options.transactionalId
    const transactional = options.transactionalId !== undefined
    this.#producer = new Producer({
      ...baseOptions(host.options, options.clientId),
      // InitProducerId takes the transaction timeout from the client's timeout option.
      ...(transactional
        ? { timeout: options.transactionTimeoutMs ?? 60_000, transactionalId: options.transactionalId }
        : {}),
      idempotent: transactional || (options.idempotent ?? true),
      acks: -1,
      autocreateTopics: false,
    })
  }

  #check(): void {
    this.#host.checkOpen()
    if (this.#closed) throw new SluiceError('SLUICE_ERR_LOG_CLOSED', 'this producer is closed')
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work, work)
    this.#chain = run.catch(() => {})
    return run
  }

  async #partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>()
    for (const topic of topics) {
      try {
        const metadata = await this.#producer.metadata({ topics: [topic] })
        const t = metadata.topics.get(topic)
        if (t === undefined) throw new Error('no metadata')
        counts.set(topic, t.partitionsCount)
      } catch (error) {
        if (error instanceof SluiceError) throw error
        if (isUnknownTopic(error)) {
          throw new SluiceError(
            'SLUICE_ERR_TOPIC_NOT_FOUND',
            `cannot send to topic ${topic}: it does not exist`,
            {
              cause: error,
              details: { topic },
            },
          )
        }
        throw toSluiceError(error, `looking up topic ${topic}`, { topic })
      }
    }
    return counts
  }

  send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    try {
      this.#check()
      if (this.#transactionalId !== undefined && this.#state !== 'in-transaction') {
        throw txnStateError(
          this.#state === 'fenced'
            ? `producer ${this.#transactionalId} was fenced by a newer one`
            : 'a transactional producer sends only inside a transaction: call beginTransaction() first',
        )
      }
      for (const r of records) {
        if (r.timestamp !== undefined && (!Number.isSafeInteger(r.timestamp) || r.timestamp < 0)) {
          throw new SluiceError(
            'SLUICE_ERR_INVALID_ARGUMENT',
            `record for topic ${r.topic} has timestamp ${r.timestamp}; Kafka takes whole epoch milliseconds >= 0`,
            { details: { topic: r.topic, timestamp: r.timestamp } },
          )
        }
      }
    } catch (error) {
      return Promise.reject(error)
    }
    if (records.length === 0) return Promise.resolve([])
    return this.#serial(() => this.#send(records))
  }

  async #send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    const counts = await this.#partitionCounts([...new Set(records.map((r) => r.topic))])
    const now = Date.now()
    const messages: MessageToProduce[] = []
    const placed: { topic: string; partition: number; timestamp: number }[] = []
    for (const r of records) {
      const count = counts.get(r.topic) as number
      let partition = r.partition
      if (partition === undefined) {
        partition = r.key != null ? partitionForKey(r.key, count) : this.#roundRobin++ % count
      } else if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
        throw new SluiceError(
          'SLUICE_ERR_PARTITION_NOT_FOUND',
          `topic ${r.topic} has ${count} partitions; partition ${partition} does not exist`,
          { details: { topic: r.topic, partition } },
        )
      }
      const timestamp = r.timestamp ?? now
      const headers = new Map<Buffer, Buffer>()
      // Distinct Buffer objects as keys, so that a header key may repeat, as Kafka allows.
      for (const [k, v] of r.headers ?? []) headers.set(Buffer.from(k, 'utf8'), v)
      messages.push({
        topic: r.topic,
        partition,
        key: r.key ?? undefined,
        value: r.value ?? undefined,
        headers,
        timestamp: BigInt(timestamp),
      })
      placed.push({ topic: r.topic, partition, timestamp })
    }
    // The client encodes timestamp deltas within a batch correctly only below 2^31 ms (about 24 days): records
    // further from their batch's first timestamp go in a later request.
    const out: RecordMetadata[] = []
    let start = 0
    while (start < messages.length) {
      const first = new Map<string, bigint>()
      let end = start
      for (; end < messages.length; end++) {
        const tp = `${messages[end].topic}:${messages[end].partition}`
        const ts = messages[end].timestamp as bigint
        const base = first.get(tp)
        if (base === undefined) first.set(tp, ts)
        else if (ts - base >= MAX_DELTA || base - ts >= MAX_DELTA) break
      }
      out.push(...(await this.#sendChunk(messages.slice(start, end), placed.slice(start, end))))
      start = end
    }
    return out
  }

  async #sendChunk(
    messages: MessageToProduce[],
    placed: { topic: string; partition: number; timestamp: number }[],
  ) {
    let result: Awaited<ReturnType<Producer['send']>>
    try {
      if (this.#transactionalId !== undefined) {
        const txn = await this.#currentTransaction()
        this.#touched = true
        // CONCURRENT_TRANSACTIONS: the previous transaction's markers are still being written (a leader moved).
        result = await retryTransient(() => txn.send({ messages }))
      } else {
        result = await retryTransient(() => this.#producer.send({ messages }))
      }
    } catch (error) {
      throw this.#failure(error, `sending ${messages.length} records`)
    }
    const base = new Map<string, number>()
    for (const o of result.offsets ?? []) base.set(`${o.topic}:${o.partition}`, Number(o.offset))
    const index = new Map<string, number>()
    return placed.map((p) => {
      const tp = `${p.topic}:${p.partition}`
      const i = index.get(tp) ?? 0
      index.set(tp, i + 1)
      return {
        topic: p.topic,
        partition: p.partition,
        offset: (base.get(tp) ?? -1) + i,
        timestamp: p.timestamp,
      }
    })
  }

  #failure(error: unknown, what: string): SluiceError {
    const mapped = toSluiceError(
      error,
      `${what}${this.#transactionalId ? ` (transactional id ${this.#transactionalId})` : ''}`,
    )
    if (mapped.code === 'SLUICE_ERR_PRODUCER_FENCED') this.#state = 'fenced'
    return mapped
  }

  async #currentTransaction(): Promise<Transaction> {
    if (this.#transaction === undefined) throw txnStateError('no transaction is open')
    try {
      return await this.#transaction
    } catch (error) {
      throw this.#failure(error, 'beginning a transaction')
    }
  }

  async initTransactions(): Promise<void> {
    this.#check()
    if (this.#transactionalId === undefined) {
      throw txnStateError('initTransactions() needs a producer created with a transactionalId')
    }
    if (this.#state === 'in-transaction') throw txnStateError('a transaction is open')
    await this.#serial(async () => {
      try {
        // Beginning registers the transactional id (InitProducerId): the broker bumps the epoch, fencing older
        // producers and aborting their open transaction. Nothing is sent, so the local transaction is dropped.
        // No producer id of our own (-1/-1; the client would send 0/0 and be fenced by any holder of the id).
        await retryTransient(async () => {
          // A failed attempt leaves the client's local transaction behind: drop it before the next.
          await this.#producer.transaction?.cancel()
          const txn = await this.#producer.beginTransaction({ producerId: -1n, producerEpoch: -1 })
          await txn.cancel()
        })
        this.#state = 'ready'
      } catch (error) {
        throw this.#failure(error, 'registering the transactional id')
      }
    })
  }

  beginTransaction(): void {
    this.#check()
    if (this.#transactionalId === undefined) {
      throw txnStateError('beginTransaction() needs a producer created with a transactionalId')
    }
    if (this.#state === 'uninitialized')
      throw txnStateError('call initTransactions() before beginTransaction()')
    if (this.#state === 'in-transaction') throw txnStateError('a transaction is already open')
    if (this.#state === 'fenced') {
      throw new SluiceError(
        'SLUICE_ERR_PRODUCER_FENCED',
        `producer ${this.#transactionalId} was fenced by a newer one`,
      )
    }
    this.#state = 'in-transaction'
    this.#touched = false
    this.#groupsInTxn = new Set()
    const begun = this.#serial(() => this.#producer.beginTransaction())
    begun.catch(() => {})
    this.#transaction = begun
  }

  async sendOffsetsToTransaction(
    offsets: readonly CommittedOffset[],
    group: ConsumerGroupMetadata,
  ): Promise<void> {
    this.#check()
    if (this.#transactionalId === undefined || this.#state !== 'in-transaction') {
      throw txnStateError('sendOffsetsToTransaction() needs an open transaction')
    }
    const admin = this.#host.adminClient()
    const coordinator = await retryTransient(() =>
      admin.findCoordinator({ keyType: 0, keys: [group.groupId] }),
    ).catch((error: unknown) => {
      throw toSluiceError(error, `finding the coordinator of group ${group.groupId}`)
    })
    await this.#serial(async () => {
      const txn = await this.#currentTransaction()
      try {
        this.#touched = true
        if (!this.#groupsInTxn.has(group.groupId)) {
          await txn.addConsumer({ groupId: group.groupId } as Parameters<Transaction['addConsumer']>[0])
          this.#groupsInTxn.add(group.groupId)
        }
        for (const o of offsets) {
          await txn.addOffset({
            topic: o.topic,
            partition: o.partition,
            // The client commits offset + 1 (the message after the one processed); the contract passes the next.
            offset: BigInt(o.offset) - 1n,
            metadata: {
              consumer: {
                groupId: group.groupId,
                generationId: group.generationId,
                memberId: group.memberId,
                coordinatorId: coordinator[0]?.nodeId,
              },
            },
          } as unknown as Parameters<Transaction['addOffset']>[0])
        }
      } catch (error) {
        throw this.#failure(error, `adding offsets of group ${group.groupId} to the transaction`)
      }
    })
  }

  async commitTransaction(): Promise<void> {
    await this.#end(true)
  }

  async abortTransaction(): Promise<void> {
    await this.#end(false)
  }

  async #end(commit: boolean): Promise<void> {
    this.#check()
    if (this.#transactionalId === undefined) {
      throw txnStateError(`${commit ? 'commit' : 'abort'}Transaction() needs a transactional producer`)
    }
    if (this.#state === 'fenced') {
      throw new SluiceError(
        'SLUICE_ERR_PRODUCER_FENCED',
        `producer ${this.#transactionalId} was fenced by a newer one`,
      )
    }
    if (this.#state !== 'in-transaction') throw txnStateError('no transaction is open')
    await this.#serial(async () => {
      const txn = await this.#currentTransaction()
      try {
        // A transaction that added nothing has nothing on the broker to end (the Java client skips EndTxn too).
        if (!this.#touched) await txn.cancel()
        else if (commit) await retryTransient(() => txn.commit())
        else await retryTransient(() => txn.abort())
        this.#state = 'ready'
        this.#transaction = undefined
      } catch (error) {
        const mapped = this.#failure(
          error,
          commit ? 'committing the transaction' : 'aborting the transaction',
        )
        if (mapped.code !== 'SLUICE_ERR_PRODUCER_FENCED' && !commit) {
          this.#state = 'ready'
          this.#transaction = undefined
        }
        throw mapped
      }
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#chain
    await (this.#producer.close(true) as unknown as Promise<void>).catch(() => {})
  }
}
