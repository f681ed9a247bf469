// LogConsumer on Kafka: positions and polls are Sluice's own (fetch requests to partition leaders), so that
// assign/seek/position/poll behave as the contract says; group membership (join, sync, heartbeats) and offset
// commits go through @platformatic/kafka's Consumer.
import { randomBytes } from 'node:crypto'
import type { Admin } from '@platformatic/kafka'
import { Consumer, FetchIsolationLevels, offsetCommitV8 } from '@platformatic/kafka'
import { SluiceError } from '../errors/index.ts'
import type {
  CommittedOffset,
  ConsumedRecord,
  ConsumerGroupMetadata,
  ConsumerOptions,
  LogConsumer,
  PollOptions,
  RebalanceListener,
  TopicPartition,
} from '../log/contract.ts'
import { tpKey } from '../log/contract.ts'
import { baseOptions, type KafkaLogOptions } from './client-options.ts'
import { hasProtocolError, isNetworkError, retryTransient, toSluiceError } from './errors.ts'
import { GroupMember } from './group-member.ts'
import { checkPartition, listOffset } from './kafka-admin.ts'
import { decodeBatches } from './record-batches.ts'

export interface ConsumerHost {
  readonly options: KafkaLogOptions
  adminClient(): Admin
  checkOpen(): void
}

type FetchRequestTopic = Parameters<Consumer['fetch']>[0]['topics'][number]

const DEFAULT_MAX_BYTES = 1024 * 1024
/** Longest single broker-side wait, so that an aborted signal or a rebalance is noticed quickly. */
const FETCH_WAIT_SLICE_MS = 250

const invalid = (message: string) => new SluiceError('SLUICE_ERR_INVALID_ARGUMENT', message)

export class KafkaConsumer implements LogConsumer {
  readonly #host: ConsumerHost
  readonly #options: ConsumerOptions
  readonly #client: Consumer
  readonly #readCommitted: boolean
  #assignment: TopicPartition[] = []
  /** Next offset per partition; undefined until resolved (committed offset or autoOffsetReset). */
  #positions = new Map<string, number | undefined>()
  /**
   * Records a fetch brought beyond a poll's maxRecords, by partition: the next polls return them instead of fetching
   * and decoding them again, as the Java consumer keeps its completed fetches. Valid while the position is `from`.
   */
  #buffered = new Map<string, { from: number; records: ConsumedRecord[]; at: number; next: number }>()
  #member: GroupMember | undefined
  #joining: Promise<TopicPartition[]> | undefined
  #listener: RebalanceListener | undefined
  #closed = false

  constructor(host: ConsumerHost, options: ConsumerOptions = {}) {
    this.#host = host
    this.#options = options
    this.#readCommitted = options.isolationLevel === 'read_committed'
    this.#client = new Consumer({
      ...baseOptions(host.options, options.clientId),
      // The client needs a group id even for assign(); such a consumer never joins or commits to it.
      groupId: options.groupId ?? `sluice-unused-${randomBytes(6).toString('hex')}`,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 500,
      autocommit: false,
    })
  }

  #check(): void {
    this.#host.checkOpen()
    if (this.#closed) throw new SluiceError('SLUICE_ERR_LOG_CLOSED', 'this consumer is closed')
  }

  #needGroup(what: string): string {
    const groupId = this.#options.groupId
    if (groupId === undefined) throw invalid(`${what} needs a consumer created with a groupId`)
    return groupId
  }

  async subscribe(topics: readonly string[], listener?: RebalanceListener): Promise<void> {
    this.#check()
    const groupId = this.#needGroup('subscribe()')
    await this.#member?.leave()
    this.#listener = listener
    this.#assignment = []
    this.#positions.clear()
    this.#joining = undefined
    // Joining happens in poll(), as in Kafka: group protocols make progress while members poll.
    this.#member = new GroupMember(this.#client, () => this.#host.adminClient(), groupId, [...topics])
  }

  /** Rejoins when the group rebalances; false while the join is still under way at the deadline. */
  async #ensureJoined(deadline: number): Promise<boolean> {
    const member = this.#member
    if (member === undefined) return true
    if (member.needsJoin && this.#joining === undefined) {
      const revoked = this.#assignment
      // Eager protocol: everything is revoked before rejoining, while the old generation can still commit.
      if (revoked.length > 0) await this.#listener?.onRevoked?.(revoked)
      this.#assignment = []
      this.#positions.clear()
      const joining = member.join()
      joining.catch(() => {})
      this.#joining = joining
    }
    const joining = this.#joining
    if (joining === undefined) return true
    let timer: NodeJS.Timeout | undefined
    const waited = await Promise.race([
      joining.then(
        (partitions) => ({ partitions }),
        (error: unknown) => ({ error }),
      ),
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), Math.max(0, deadline - Date.now()))
      }),
    ])
    clearTimeout(timer)
    if (waited === undefined) return false
    this.#joining = undefined
    if ('error' in waited) throw waited.error
    this.#assignment = waited.partitions
    const committed = await this.committed(waited.partitions)
    for (const tp of waited.partitions) this.#positions.set(tpKey(tp), committed.get(tpKey(tp)))
    if (waited.partitions.length > 0) await this.#listener?.onAssigned?.(waited.partitions)
    return true
  }

  async assign(partitions: readonly TopicPartition[]): Promise<void> {
    this.#check()
    const admin = this.#host.adminClient()
    for (const tp of partitions) await checkPartition(admin, tp.topic, tp.partition)
    const keep = new Map(this.#positions)
    this.#assignment = partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition }))
    this.#positions.clear()
    for (const tp of this.#assignment) this.#positions.set(tpKey(tp), keep.get(tpKey(tp)))
  }

  assignment(): TopicPartition[] {
    return this.#assignment.map((tp) => ({ ...tp }))
  }

  async seek(partition: TopicPartition, offset: number | 'earliest' | 'latest'): Promise<void> {
    this.#check()
    const key = tpKey(partition)
    if (!this.#positions.has(key)) throw invalid(`cannot seek ${key}: it is not assigned to this consumer`)
    if (typeof offset === 'number') {
      if (!Number.isSafeInteger(offset) || offset < 0)
        throw invalid(`cannot seek ${key} to ${offset}: offsets are >= 0`)
      this.#positions.set(key, offset)
      return
    }
    this.#positions.set(key, await this.#resolve(partition, offset))
  }

  position(partition: TopicPartition): number | undefined {
    return this.#positions.get(tpKey(partition))
  }

  async #resolve(tp: TopicPartition, where: 'earliest' | 'latest'): Promise<number> {
    const spec = where === 'earliest' ? 'earliest' : this.#readCommitted ? 'lastStable' : 'latest'
    return listOffset(this.#host.adminClient(), tp.topic, tp.partition, spec)
  }

  async poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    this.#check()
    const deadline = Date.now() + (options.timeoutMs ?? 0)
    const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY
    for (;;) {
      if (!(await this.#ensureJoined(deadline))) return []
      const buffered = this.#takeBuffered(maxRecords)
      if (buffered.length > 0) return buffered
      const remaining = deadline - Date.now()
      const records = await this.#fetchOnce(Math.max(0, Math.min(remaining, FETCH_WAIT_SLICE_MS)), maxRecords)
      if (records.length > 0 || remaining <= 0 || options.signal?.aborted || this.#closed) return records
      if (this.#assignment.length === 0) await new Promise((r) => setTimeout(r, Math.min(remaining, 50)))
    }
  }

  #takeBuffered(maxRecords: number): ConsumedRecord[] {
    const out: ConsumedRecord[] = []
    for (const [key, b] of this.#buffered) {
      if (out.length >= maxRecords) break
      // a seek, an assign or a rebalance moved the position: what was fetched for the old one does not count
      if (this.#positions.get(key) !== b.from) {
        this.#buffered.delete(key)
        continue
      }
      const end = Math.min(b.records.length, b.at + maxRecords - out.length)
      for (let i = b.at; i < end; i++) out.push(b.records[i])
      b.at = end
      if (end === b.records.length) {
        this.#buffered.delete(key)
        this.#positions.set(key, b.next)
      } else {
        b.from = b.records[end - 1].offset + 1
        this.#positions.set(key, b.from)
      }
    }
    return out
  }

  async #fetchOnce(waitMs: number, maxRecords: number): Promise<ConsumedRecord[]> {
    if (this.#assignment.length === 0) return []
    const reset = this.#options.autoOffsetReset ?? 'latest'
    for (const tp of this.#assignment) {
      if (this.#positions.get(tpKey(tp)) === undefined)
        this.#positions.set(tpKey(tp), await this.#resolve(tp, reset))
    }
    const topics = [...new Set(this.#assignment.map((tp) => tp.topic))]
    let metadata: Awaited<ReturnType<Consumer['metadata']>>
    try {
      metadata = await this.#client.metadata({ topics })
    } catch (error) {
      throw toSluiceError(error, `reading metadata of ${topics.join(', ')}`)
    }
    const byLeader = new Map<number, FetchRequestTopic[]>()
    const topicNames = new Map<string, string>()
    const requested = new Map<string, number>()
    for (const tp of this.#assignment) {
      const t = metadata.topics.get(tp.topic)
      if (t === undefined) continue
      topicNames.set(t.id, tp.topic)
      const leader = t.partitions[tp.partition]?.leader ?? -1
      if (leader < 0) continue
      const fetchOffset = this.#positions.get(tpKey(tp)) as number
      requested.set(tpKey(tp), fetchOffset)
      let list = byLeader.get(leader)
      if (list === undefined) byLeader.set(leader, (list = []))
      let entry = list.find((e) => e.topicId === t.id)
      if (entry === undefined) list.push((entry = { topicId: t.id, partitions: [] }))
      entry.partitions.push({
        partition: tp.partition,
        fetchOffset: BigInt(fetchOffset),
        partitionMaxBytes: this.#options.maxBytesPerPartition ?? DEFAULT_MAX_BYTES,
        currentLeaderEpoch: -1,
        lastFetchedEpoch: -1,
      })
    }
    const isolationLevel = this.#readCommitted
      ? FetchIsolationLevels.READ_COMMITTED
      : FetchIsolationLevels.READ_UNCOMMITTED
    const responses = await Promise.all(
      [...byLeader].map(async ([node, request]) => {
        try {
          return await this.#client.fetch({
            node,
            topics: request,
            maxWaitTime: waitMs,
            minBytes: 1,
            maxBytes: 64 * 1024 * 1024,
            isolationLevel,
          })
        } catch (error) {
          if (hasProtocolError(error, 'OFFSET_OUT_OF_RANGE')) {
            await this.#resetOutOfRange(request, topicNames)
            return undefined
          }
          // Leadership moved or metadata is stale: the next poll asks again.
          if (
            hasProtocolError(
              error,
              'NOT_LEADER_OR_FOLLOWER',
              'LEADER_NOT_AVAILABLE',
              'FENCED_LEADER_EPOCH',
              'UNKNOWN_TOPIC_ID',
            ) ||
            isNetworkError(error)
          ) {
            // A broker went away: ask for fresh metadata (the new leaders) and try again with the next poll.
            this.#client.clearMetadata()
            return undefined
          }
          throw toSluiceError(error, 'fetching records')
        }
      }),
    )
    const out: ConsumedRecord[] = []
    for (const response of responses) {
      for (const topicResponse of response?.responses ?? []) {
        const topic = topicNames.get(topicResponse.topicId)
        if (topic === undefined) continue
        for (const p of topicResponse.partitions) {
          const key = `${topic}:${p.partitionIndex}`
          // The position may have moved (seek, rebalance) while the fetch was in flight.
          if (this.#positions.get(key) !== requested.get(key) || p.records === undefined) continue
          const decoded = decodeBatches(p.records, {
            topic,
            partition: p.partitionIndex,
            from: requested.get(key) as number,
            readCommitted: this.#readCommitted,
            aborted: p.abortedTransactions ?? [],
            maxRecords: Number.POSITIVE_INFINITY,
          })
          const { records } = decoded
          const room = Math.max(0, maxRecords - out.length)
          if (records.length <= room) {
            for (const r of records) out.push(r)
            this.#positions.set(key, decoded.next)
            continue
          }
          for (let i = 0; i < room; i++) out.push(records[i])
          const from = room > 0 ? records[room - 1].offset + 1 : (requested.get(key) as number)
          this.#positions.set(key, from)
          this.#buffered.set(key, { from, records, at: room, next: decoded.next })
        }
      }
    }
    return out
  }

  async #resetOutOfRange(request: FetchRequestTopic[], names: Map<string, string>): Promise<void> {
    const reset = this.#options.autoOffsetReset ?? 'latest'
    for (const t of request) {
      const topic = names.get(t.topicId) as string
      for (const p of t.partitions) {
        const tp = { topic, partition: p.partition }
        const [start, end] = await Promise.all([this.#resolve(tp, 'earliest'), this.#resolve(tp, 'latest')])
        const at = Number(p.fetchOffset)
        if (at < start || at > end) this.#positions.set(tpKey(tp), reset === 'earliest' ? start : end)
      }
    }
  }

  async commit(offsets?: readonly CommittedOffset[]): Promise<void> {
    this.#check()
    const groupId = this.#needGroup('commit()')
    const list: readonly CommittedOffset[] =
      offsets ??
      this.#assignment.flatMap((tp) => {
        const offset = this.#positions.get(tpKey(tp))
        return offset === undefined ? [] : [{ ...tp, offset }]
      })
    if (list.length === 0) return
    const topics = new Map<
      string,
      {
        partitionIndex: number
        committedOffset: bigint
        committedLeaderEpoch: number
        committedMetadata: string | null
      }[]
    >()
    for (const o of list) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0)
        throw invalid(`cannot commit offset ${o.offset} for ${tpKey(o)}`)
      const partitions = topics.get(o.topic) ?? []
      partitions.push({
        partitionIndex: o.partition,
        committedOffset: BigInt(o.offset),
        committedLeaderEpoch: -1,
        committedMetadata: o.metadata ?? null,
      })
      topics.set(o.topic, partitions)
    }
    // A member commits with its generation; a consumer outside the group (assign()) commits as generation -1, which
    // Kafka accepts only while the group has no members.
    const member = this.#member
    const joined = member !== undefined && member.memberId !== ''
    try {
      await retryTransient(async () => {
        const [coordinator] = await this.#host.adminClient().findCoordinator({ keyType: 0, keys: [groupId] })
        const connections = await this.#client.connectToBrokers([coordinator.nodeId])
        const connection = connections.get(coordinator.nodeId)
        if (connection === undefined) throw new Error(`no connection to the coordinator of group ${groupId}`)
        await offsetCommitV8.api.async(
          connection,
          groupId,
          joined ? member.generationId : -1,
          joined ? member.memberId : '',
          null,
          [...topics].map(([name, partitions]) => ({ name, partitions })),
        )
      })
    } catch (error) {
      throw toSluiceError(error, `committing offsets for group ${groupId}`, { groupId })
    }
  }

  async committed(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    this.#check()
    const groupId = this.#needGroup('committed()')
    const byTopic = new Map<string, number[]>()
    for (const tp of partitions) {
      const list = byTopic.get(tp.topic) ?? []
      list.push(tp.partition)
      byTopic.set(tp.topic, list)
    }
    const out = new Map<string, number>()
    if (byTopic.size === 0) return out
    try {
      const answer = await this.#client.listCommittedOffsets({
        topics: [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps })),
      })
      for (const [topic, ps] of byTopic) {
        const offsets = answer.get(topic) ?? []
        // Indexed by partition; -1 means nothing committed.
        for (const partition of ps) {
          const offset = offsets[partition]
          if (offset !== undefined && offset >= 0n) out.set(`${topic}:${partition}`, Number(offset))
        }
      }
    } catch (error) {
      throw toSluiceError(error, `reading committed offsets of group ${groupId}`, { groupId })
    }
    return out
  }

  groupMetadata(): ConsumerGroupMetadata {
    return {
      groupId: this.#options.groupId ?? '',
      generationId: this.#member?.generationId ?? -1,
      memberId: this.#member?.memberId ?? '',
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#member?.leave()
    await (this.#client.close(true) as unknown as Promise<void>).catch(() => {})
  }
}
