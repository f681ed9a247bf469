// The Log contract: what Sluice needs from a durable partitioned log. The embedded log and the Kafka adapter both
// implement it, and one conformance suite (test/log/conformance/) checks both against it.

export type Bytes = Buffer

/** A record header. Keys may repeat, as in Kafka. */
export type Header = readonly [key: string, value: Bytes]

/** A record as a producer hands it to the log. */
export interface ProducerRecord {
  topic: string
  /** Explicit partition; when absent the key picks it (murmur2, as Kafka's default partitioner). */
  partition?: number
  key?: Bytes | null
  /** `null` is a tombstone on compacted topics. */
  value: Bytes | null
  headers?: readonly Header[]
  /** Event or create time in epoch milliseconds; defaults to the append time. */
  timestamp?: number
}

/** A record as read back from the log. */
export interface LogRecord {
  offset: number
  timestamp: number
  key: Bytes | null
  value: Bytes | null
  headers: readonly Header[]
}

export interface ConsumedRecord extends LogRecord {
  topic: string
  partition: number
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface RecordMetadata extends TopicPartition {
  offset: number
  timestamp: number
}

export type CleanupPolicy = 'delete' | 'compact'

/** Topic settings, named after their Kafka counterparts so that they map one to one. */
export interface TopicConfig {
  'cleanup.policy'?: CleanupPolicy
  /** -1 keeps data forever. */
  'retention.ms'?: number
  /** Per partition; -1 means no size limit. */
  'retention.bytes'?: number
  'segment.bytes'?: number
  'segment.ms'?: number
  /** How long tombstones survive compaction, so that slow readers still see deletes. */
  'delete.retention.ms'?: number
  'max.message.bytes'?: number
}

export interface CreateTopicOptions {
  partitions: number
  config?: TopicConfig
}

export interface PartitionDescription {
  partition: number
  logStartOffset: number
  highWatermark: number
  lastStableOffset: number
  sizeBytes: number
}

export interface TopicDescription {
  name: string
  partitions: PartitionDescription[]
  config: Required<TopicConfig>
  internal: boolean
}

/** By timestamp: the first offset whose record timestamp is at or after it, or the log end when there is none. */
export type OffsetSpec = 'earliest' | 'latest' | 'lastStable' | { timestamp: number }

export type IsolationLevel = 'read_committed' | 'read_uncommitted'

export interface GroupMemberDescription {
  memberId: string
  clientId: string
  assignment: TopicPartition[]
}

export interface CommittedOffset extends TopicPartition {
  offset: number
  metadata?: string
}

export interface GroupDescription {
  groupId: string
  state: 'Empty' | 'Stable' | 'PreparingRebalance'
  generationId: number
  members: GroupMemberDescription[]
  offsets: CommittedOffset[]
}

export interface LogAdmin {
  createTopic(name: string, options: CreateTopicOptions): Promise<void>
  deleteTopic(name: string): Promise<void>
  listTopics(options?: { includeInternal?: boolean }): Promise<string[]>
  describeTopic(name: string): Promise<TopicDescription>
  listOffsets(topic: string, partition: number, spec: OffsetSpec): Promise<number>
  listGroups(): Promise<string[]>
  describeGroup(groupId: string): Promise<GroupDescription>
}

export interface ProducerOptions {
  clientId?: string
  /** Enables transactions; a newer producer with the same id fences this one. */
  transactionalId?: string
  /** Idempotent writes (producer id, epoch, sequence). Default true; always on for transactional producers. */
  idempotent?: boolean
  /** Open transactions older than this are aborted by the log. Default 60 s. */
  transactionTimeoutMs?: number
}

/** Identifies a consumer's group generation; travels with transactional offset commits (KIP-447). */
export interface ConsumerGroupMetadata {
  groupId: string
  generationId: number
  memberId: string
}

export interface LogProducer {
  /** Appends records; resolves once they are durable per the log's durability setting. Order per partition. */
  send(records: readonly ProducerRecord[]): Promise<RecordMetadata[]>
  /** Registers the transactional id, fencing older producers and aborting their open transaction. */
  initTransactions(): Promise<void>
  beginTransaction(): void
  /** Commits consumer offsets as part of the current transaction. Offsets are the next offsets to read. */
  sendOffsetsToTransaction(offsets: readonly CommittedOffset[], group: ConsumerGroupMetadata): Promise<void>
  /**
   * Commits the transaction. When it resolves the outcome is decided and durable; records may become visible to
   * read_committed readers a moment later (on Kafka the markers are written asynchronously).
   */
  commitTransaction(): Promise<void>
  abortTransaction(): Promise<void>
  close(): Promise<void>
}

export interface RebalanceListener {
  /** Called before partitions are taken away: commit what was processed. */
  onRevoked?(partitions: TopicPartition[]): void | Promise<void>
  onAssigned?(partitions: TopicPartition[]): void | Promise<void>
}

export interface ConsumerOptions {
  clientId?: string
  /** Needed for subscribe() and commit(). */
  groupId?: string
  isolationLevel?: IsolationLevel
  /** Where to start when the group has no committed offset. Default 'latest', as in Kafka. */
  autoOffsetReset?: 'earliest' | 'latest'
  /**
   * About how many bytes one poll reads per partition, in whole batches: a batch larger than this is still returned
   * whole when it is the first, so a poll always makes progress. Default 1 MiB.
   */
  maxBytesPerPartition?: number
}

export interface PollOptions {
  /** How long to wait for records when none are available. Default 0: return at once. */
  timeoutMs?: number
  maxRecords?: number
  signal?: AbortSignal
}

/**
 * A consumer reads the partitions it is assigned from its positions. Under read_committed, 'latest' means the last
 * stable offset (the end a committed reader can see). A position outside the log (below the log start after
 * retention, or past the end) is not refused by seek(): the next poll resets it per autoOffsetReset, as in Kafka.
 */
export interface LogConsumer {
  /** Joins the consumer group for these topics; partitions are shared among the group's members. */
  subscribe(topics: readonly string[], listener?: RebalanceListener): Promise<void>
  /** Reads these partitions directly, outside any group assignment. */
  assign(partitions: readonly TopicPartition[]): Promise<void>
  assignment(): TopicPartition[]
  seek(partition: TopicPartition, offset: number | 'earliest' | 'latest'): Promise<void>
  position(partition: TopicPartition): number | undefined
  poll(options?: PollOptions): Promise<ConsumedRecord[]>
  /** Commits the given offsets, or the current positions of all assigned partitions. */
  commit(offsets?: readonly CommittedOffset[]): Promise<void>
  committed(partitions: readonly TopicPartition[]): Promise<Map<string, number>>
  groupMetadata(): ConsumerGroupMetadata
  close(): Promise<void>
}

export interface Log {
  readonly kind: 'embedded' | 'kafka'
  admin(): LogAdmin
  producer(options?: ProducerOptions): LogProducer
  consumer(options?: ConsumerOptions): LogConsumer
  close(): Promise<void>
}

/** `topic:partition`, the key used for maps of partitions throughout Sluice. */
export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}`
}
