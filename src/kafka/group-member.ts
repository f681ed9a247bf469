// A classic-protocol consumer group member driven by poll(), as the Java consumer is: heartbeats run in the
// background and only note that a rebalance started; the consumer then calls the revoke listener (while its
// generation is still valid, so it can commit) before it rejoins. Eager protocol, range assignment per topic.
import type { Admin, Consumer } from '@platformatic/kafka'
import { heartbeatV4, joinGroupV9, leaveGroupV5, syncGroupV5 } from '@platformatic/kafka'
import type { TopicPartition } from '../log/contract.ts'
import { hasProtocolError, toSluiceError } from './errors.ts'

const PROTOCOL_TYPE = 'consumer'
const ASSIGNOR = 'range'
const SESSION_TIMEOUT_MS = 10_000
const REBALANCE_TIMEOUT_MS = 10_000
const HEARTBEAT_MS = 500

type Connection = NonNullable<
  Awaited<ReturnType<Consumer['connectToBrokers']>> extends Map<number, infer C> ? C : never
>

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** ConsumerProtocolSubscription v0: version, topics, user data. */
export function encodeSubscription(topics: readonly string[]): Buffer {
  const parts: Buffer[] = [int16(0), int32(topics.length)]
  for (const t of topics) parts.push(str(t))
  parts.push(int32(-1))
  return Buffer.concat(parts)
}

export function decodeSubscription(data: Buffer | null): string[] {
  if (data === null || data.length < 6) return []
  let at = 2
  const count = data.readInt32BE(at)
  at += 4
  const topics: string[] = []
  for (let i = 0; i < count; i++) {
    const len = data.readInt16BE(at)
    topics.push(data.toString('utf8', at + 2, at + 2 + len))
    at += 2 + len
  }
  return topics
}

/** ConsumerProtocolAssignment v0; the user data carries the generation, so describeGroup can report it. */
export function encodeAssignment(partitions: readonly TopicPartition[], generationId: number): Buffer {
  const byTopic = new Map<string, number[]>()
  for (const tp of partitions) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition])
  const parts: Buffer[] = [int16(0), int32(byTopic.size)]
  for (const [topic, ps] of byTopic) {
    parts.push(str(topic), int32(ps.length), ...ps.map(int32))
  }
  parts.push(int32(4), int32(generationId))
  return Buffer.concat(parts)
}

export function decodeAssignment(data: Buffer | null): {
  partitions: TopicPartition[]
  generationId: number
} {
  const partitions: TopicPartition[] = []
  if (data === null || data.length < 6) return { partitions, generationId: -1 }
  let at = 2
  const topics = data.readInt32BE(at)
  at += 4
  for (let i = 0; i < topics; i++) {
    const len = data.readInt16BE(at)
    const topic = data.toString('utf8', at + 2, at + 2 + len)
    at += 2 + len
    const count = data.readInt32BE(at)
    at += 4
    for (let j = 0; j < count; j++) {
      partitions.push({ topic, partition: data.readInt32BE(at) })
      at += 4
    }
  }
  let generationId = -1
  if (at + 4 <= data.length && data.readInt32BE(at) === 4 && at + 8 <= data.length)
    generationId = data.readInt32BE(at + 4)
  return { partitions, generationId }
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8')
  return Buffer.concat([int16(bytes.length), bytes])
}

/** Range assignment per topic over the members subscribed to it, members in id order (Kafka's RangeAssignor). */
export function rangeAssign(
  subscriptions: Map<string, string[]>,
  partitionCounts: Map<string, number>,
): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>()
  for (const member of subscriptions.keys()) out.set(member, [])
  for (const [topic, count] of partitionCounts) {
    const members = [...subscriptions]
      .filter(([, topics]) => topics.includes(topic))
      .map(([m]) => m)
      .sort()
    if (members.length === 0) continue
    const per = Math.floor(count / members.length)
    const extra = count % members.length
    let next = 0
    members.forEach((m, i) => {
      const n = per + (i < extra ? 1 : 0)
      for (let p = next; p < next + n; p++) out.get(m)?.push({ topic, partition: p })
      next += n
    })
  }
  return out
}

export class GroupMember {
  readonly groupId: string
  readonly #client: Consumer
  readonly #admin: () => Admin
  readonly #topics: readonly string[]
  memberId = ''
  generationId = -1
  /** Set by the heartbeat when the group is rebalancing or has dropped this member. */
  needsJoin = true
  #heartbeat: NodeJS.Timeout | undefined
  #joining = false
  #stopped = false

  constructor(client: Consumer, admin: () => Admin, groupId: string, topics: readonly string[]) {
    this.#client = client
    this.#admin = admin
    this.groupId = groupId
    this.#topics = topics
  }

  async #coordinator(): Promise<Connection> {
    const [found] = await this.#admin().findCoordinator({ keyType: 0, keys: [this.groupId] })
    const connections = await this.#client.connectToBrokers([found.nodeId])
    const connection = connections.get(found.nodeId)
    if (connection === undefined) throw new Error(`no connection to the coordinator of group ${this.groupId}`)
    return connection as Connection
  }

  /** Joins (or rejoins) the group; resolves to this member's partitions. */
  async join(): Promise<TopicPartition[]> {
    this.#joining = true
    this.#stopHeartbeat()
    try {
      const deadline = Date.now() + REBALANCE_TIMEOUT_MS * 3
      for (;;) {
        if (this.#stopped) return []
        try {
          const connection = await this.#coordinator()
          const joined = await joinGroupV9.api.async(
            connection,
            this.groupId,
            SESSION_TIMEOUT_MS,
            REBALANCE_TIMEOUT_MS,
            this.memberId,
            null,
            PROTOCOL_TYPE,
            [{ name: ASSIGNOR, metadata: encodeSubscription(this.#topics) }],
            null,
          )
          this.memberId = joined.memberId ?? this.memberId
          this.generationId = joined.generationId
          let assignments: { memberId: string; assignment: Buffer }[] = []
          if (joined.leader === this.memberId) {
            const subscriptions = new Map(
              joined.members.map((m) => [m.memberId, decodeSubscription(m.metadata)]),
            )
            const topics = [...new Set([...subscriptions.values()].flat())]
            const metadata = await this.#admin().metadata({ topics, forceUpdate: true })
            const counts = new Map<string, number>()
            for (const t of topics) {
              const count = metadata.topics.get(t)?.partitionsCount
              if (count !== undefined) counts.set(t, count)
            }
            assignments = [...rangeAssign(subscriptions, counts)].map(([memberId, tps]) => ({
              memberId,
              assignment: encodeAssignment(tps, joined.generationId),
            }))
          }
          const synced = await syncGroupV5.api.async(
            connection,
            this.groupId,
            this.generationId,
            this.memberId,
            null,
            PROTOCOL_TYPE,
            ASSIGNOR,
            assignments,
          )
          this.needsJoin = false
          this.#startHeartbeat()
          return decodeAssignment(synced.assignment).partitions
        } catch (error) {
          const required = findMemberId(error)
          if (required !== undefined) {
            this.memberId = required
            continue
          }
          if (hasProtocolError(error, 'UNKNOWN_MEMBER_ID')) this.memberId = ''
          const retriable = hasProtocolError(
            error,
            'UNKNOWN_MEMBER_ID',
            'REBALANCE_IN_PROGRESS',
            'ILLEGAL_GENERATION',
            'NOT_COORDINATOR',
            'COORDINATOR_LOAD_IN_PROGRESS',
            'COORDINATOR_NOT_AVAILABLE',
          )
          if (retriable && Date.now() < deadline) {
            await sleep(50)
            continue
          }
          throw toSluiceError(error, `joining consumer group ${this.groupId}`, { groupId: this.groupId })
        }
      }
    } finally {
      this.#joining = false
    }
  }

  #startHeartbeat(): void {
    this.#stopHeartbeat()
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS)
    this.#heartbeat.unref()
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }

  async #beat(): Promise<void> {
    if (this.#joining || this.#stopped || this.needsJoin) return
    try {
      const connection = await this.#coordinator()
      await heartbeatV4.api.async(connection, this.groupId, this.generationId, this.memberId, null)
    } catch (error) {
      if (hasProtocolError(error, 'REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID')) {
        if (hasProtocolError(error, 'UNKNOWN_MEMBER_ID')) this.memberId = ''
        this.needsJoin = true
      }
      // Anything else (a broker restarting) is retried with the next beat.
    }
  }

  async leave(): Promise<void> {
    this.#stopped = true
    this.#stopHeartbeat()
    if (this.memberId === '') return
    try {
      const connection = await this.#coordinator()
      await leaveGroupV5.api.async(connection, this.groupId, [{ memberId: this.memberId, reason: 'closed' }])
    } catch {
      // Leaving is a courtesy: the session timeout removes the member anyway.
    }
    this.memberId = ''
    this.generationId = -1
  }
}

function findMemberId(error: unknown, seen = new Set<unknown>()): string | undefined {
  if (typeof error !== 'object' || error === null || seen.has(error)) return undefined
  seen.add(error)
  const e = error as {
    apiId?: string
    memberId?: string
    errors?: unknown[]
    response?: { memberId?: string }
  }
  if (e.apiId === 'MEMBER_ID_REQUIRED') return e.memberId ?? e.response?.memberId
  for (const inner of e.errors ?? []) {
    const found = findMemberId(inner, seen)
    if (found !== undefined) return found
  }
  return undefined
}
