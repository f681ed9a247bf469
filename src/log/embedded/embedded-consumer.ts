// The embedded log's consumer: group subscription or manual assignment, positions per partition, and polls that
// wait for new data without spinning.
import { SluiceError } from '../../errors/index.ts'
import type {
  CommittedOffset,
  ConsumedRecord,
  ConsumerGroupMetadata,
  ConsumerOptions,
  IsolationLevel,
  LogConsumer,
  PollOptions,
  RebalanceListener,
  TopicPartition,
} from '../contract.ts'
import type { EmbeddedLog } from './embedded-log.ts'

const key = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`

export class EmbeddedConsumer implements LogConsumer {
  readonly #log: EmbeddedLog
  readonly #groupId: string | undefined
  readonly #clientId: string
  readonly #isolation: IsolationLevel
  readonly #reset: 'earliest' | 'latest'
  readonly #maxBytes: number
  #assignment: TopicPartition[] = []
  readonly #positions = new Map<string, number>()
  #memberId = ''
  #generationId = -1
  #listener: RebalanceListener | undefined
  #listenerError: unknown = null
  #next = 0
  #closed = false

  constructor(log: EmbeddedLog, options: ConsumerOptions) {
    this.#log = log
    this.#groupId = options.groupId
    this.#clientId = options.clientId ?? 'consumer'
    this.#isolation = options.isolationLevel ?? 'read_uncommitted'
    this.#reset = options.autoOffsetReset ?? 'latest'
    this.#maxBytes = options.maxBytesPerPartition ?? 1 << 20
  }

  #requireGroup(what: string): string {
    if (this.#groupId === undefined) {
      throw new SluiceError('SLUICE_ERR_INVALID_ARGUMENT', `${what} needs a consumer created with a groupId`)
    }
    return this.#groupId
  }

  #checkOpen(): void {
    this.#log.checkOpen()
    if (this.#closed) throw new SluiceError('SLUICE_ERR_INVALID_ARGUMENT', 'the consumer is closed')
  }

  async subscribe(topics: readonly string[], listener?: RebalanceListener): Promise<void> {
    this.#checkOpen()
    const groupId = this.#requireGroup('subscribe()')
    if (this.#memberId !== '') {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        'this consumer is already subscribed; create another one',
      )
    }
    this.#listener = listener
    this.#memberId = await this.#log.groups.join(groupId, this.#clientId, topics, {
      revoke: async (partitions) => {
        try {
          await this.#listener?.onRevoked?.(partitions)
        } catch (err) {
          this.#listenerError = err
        }
        this.#assignment = []
        this.#positions.clear()
      },
      assign: async (partitions, generationId) => {
        this.#generationId = generationId
        this.#assignment = partitions
        this.#initPositions(partitions)
        try {
          await this.#listener?.onAssigned?.(partitions)
        } catch (err) {
          this.#listenerError = err
        }
      },
    })
  }

  #initPositions(partitions: readonly TopicPartition[]): void {
    const committed =
      this.#groupId === undefined ? new Map() : this.#log.groups.committed(this.#groupId, partitions)
    for (const tp of partitions) {
      const c = committed.get(key(tp))
      this.#positions.set(key(tp), c ?? this.#resetOffset(tp))
    }
  }

  #resetOffset(tp: TopicPartition): number {
    return this.#reset === 'earliest' ? this.#earliest(tp) : this.#latest(tp)
  }

  #earliest(tp: TopicPartition): number {
    return this.#log.partition(tp.topic, tp.partition).logStartOffset
  }

  /** The end a reader can see: under read_committed that is the last stable offset, as Kafka's seekToEnd. */
  #latest(tp: TopicPartition): number {
    const p = this.#log.partition(tp.topic, tp.partition)
    return this.#isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark
  }

  async assign(partitions: readonly TopicPartition[]): Promise<void> {
    this.#checkOpen()
    if (this.#memberId !== '') {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        'a subscribed consumer cannot also assign partitions',
      )
    }
    for (const tp of partitions) this.#log.partition(tp.topic, tp.partition)
    this.#assignment = partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition }))
    this.#positions.clear()
    this.#initPositions(this.#assignment)
  }

  assignment(): TopicPartition[] {
    return this.#assignment.map((tp) => ({ ...tp }))
  }

  async seek(tp: TopicPartition, offset: number | 'earliest' | 'latest'): Promise<void> {
    this.#checkOpen()
    if (!this.#positions.has(key(tp))) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        `cannot seek ${key(tp)}: it is not assigned to this consumer`,
      )
    }
    if (typeof offset === 'number' && (!Number.isSafeInteger(offset) || offset < 0)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        `cannot seek ${key(tp)} to ${offset}: offsets are whole numbers >= 0`,
      )
    }
    // like Kafka, a position outside the log is not refused here: the next poll resets it per autoOffsetReset
    const target =
      offset === 'earliest' ? this.#earliest(tp) : offset === 'latest' ? this.#latest(tp) : offset
    this.#positions.set(key(tp), target)
  }

  position(tp: TopicPartition): number | undefined {
    return this.#positions.get(key(tp))
  }

  async poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    this.#checkOpen()
    const deadline = Date.now() + (options.timeoutMs ?? 0)
    const max = options.maxRecords ?? Number.POSITIVE_INFINITY
    for (;;) {
      if (this.#listenerError !== null) {
        const err = this.#listenerError
        this.#listenerError = null
        throw err
      }
      const out = this.#fetch(max)
      const left = deadline - Date.now()
      if (out.length > 0 || left <= 0 || options.signal?.aborted || this.#closed || this.#log.closed)
        return out
      await this.#log.waitForAppend(left, options.signal)
    }
  }

  #fetch(max: number): ConsumedRecord[] {
    const out: ConsumedRecord[] = []
    const n = this.#assignment.length
    // start at a different partition each time so one busy partition cannot starve the others
    for (let i = 0; i < n && out.length < max; i++) {
      const tp = this.#assignment[(this.#next + i) % n]
      const k = key(tp)
      let position = this.#positions.get(k)
      if (position === undefined || !this.#log.hasTopic(tp.topic)) continue
      const p = this.#log.partition(tp.topic, tp.partition)
      if (position < p.logStartOffset || position > p.highWatermark) {
        position = this.#resetOffset(tp) // out of range (retention removed it): reset as Kafka does
      }
      const { records, nextOffset } = p.read(position, this.#maxBytes, this.#isolation)
      let taken = records.length
      if (out.length + taken > max) taken = max - out.length
      for (let j = 0; j < taken; j++) {
        const r = records[j] as ConsumedRecord
        r.topic = tp.topic
        r.partition = tp.partition
        out.push(r)
      }
      this.#positions.set(k, taken < records.length ? records[taken - 1].offset + 1 : nextOffset)
    }
    this.#next = n === 0 ? 0 : (this.#next + 1) % n
    return out
  }

  groupMetadata(): ConsumerGroupMetadata {
    return { groupId: this.#groupId ?? '', generationId: this.#generationId, memberId: this.#memberId }
  }

  async commit(offsets?: readonly CommittedOffset[]): Promise<void> {
    this.#checkOpen()
    const groupId = this.#requireGroup('commit()')
    const list =
      offsets ??
      this.#assignment.map((tp) => ({
        topic: tp.topic,
        partition: tp.partition,
        offset: this.#positions.get(key(tp))!,
      }))
    await this.#log.groups.commit(
      { groupId, generationId: this.#generationId, memberId: this.#memberId },
      list,
    )
  }

  async committed(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    const groupId = this.#requireGroup('committed()')
    return this.#log.groups.committed(groupId, partitions)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#groupId !== undefined && this.#memberId !== '' && !this.#log.closed) {
      await this.#log.groups.leave(this.#groupId, this.#memberId)
    }
    this.#assignment = []
    this.#positions.clear()
  }
}
