// Consumer groups of the embedded log: membership and partition assignment among the consumers of this process,
// and committed offsets, stored in the compacted __consumer_offsets topic (transactional commits included).
import { SluiceError } from '../../errors/index.ts'
import type { CommittedOffset, ConsumerGroupMetadata, GroupDescription, TopicPartition } from '../contract.ts'
import type { EmbeddedLog } from './embedded-log.ts'
import { OFFSETS_TOPIC } from './internal-topics.ts'
import type { RecordInput } from './partition-log.ts'

export interface MemberCallbacks {
  /** Partitions are about to be taken away; the member commits what it processed. */
  revoke(partitions: TopicPartition[]): Promise<void>
  assign(partitions: TopicPartition[], generationId: number): Promise<void>
}

interface Member {
  memberId: string
  clientId: string
  topics: readonly string[]
  assignment: TopicPartition[]
  callbacks: MemberCallbacks
}

interface Group {
  groupId: string
  generationId: number
  members: Map<string, Member>
  offsets: Map<string, CommittedOffset>
  queue: Promise<void>
  rebalancing: boolean
}

const key = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`

export class GroupCoordinator {
  readonly #log: EmbeddedLog
  readonly #groups = new Map<string, Group>()
  /** Offsets written in open transactions, by producer id; they count only once the transaction commits. */
  readonly #pending = new Map<number, { groupId: string; offsets: CommittedOffset[] }[]>()
  #nextMember = 0

  constructor(log: EmbeddedLog) {
    this.#log = log
  }

  /** Rebuilds committed offsets from the offsets topic; only committed transactions count. */
  load(): void {
    const p = this.#log.partition(OFFSETS_TOPIC, 0)
    let offset = p.logStartOffset
    const end = p.lastStableOffset
    while (offset < end) {
      const { records, nextOffset } = p.read(offset, 4 << 20, 'read_committed')
      for (const r of records) {
        if (r.key === null) continue
        const [groupId, topic, partition] = JSON.parse(r.key.toString('utf8')) as [string, string, number]
        const g = this.#group(groupId)
        if (r.value === null) g.offsets.delete(key({ topic, partition }))
        else {
          const v = JSON.parse(r.value.toString('utf8')) as { offset: number; metadata?: string }
          g.offsets.set(key({ topic, partition }), {
            topic,
            partition,
            offset: v.offset,
            metadata: v.metadata,
          })
        }
      }
      if (nextOffset === offset) break
      offset = nextOffset
    }
  }

  #group(groupId: string): Group {
    let g = this.#groups.get(groupId)
    if (g === undefined) {
      g = {
        groupId,
        generationId: 0,
        members: new Map(),
        offsets: new Map(),
        queue: Promise.resolve(),
        rebalancing: false,
      }
      this.#groups.set(groupId, g)
    }
    return g
  }

  /** Adds a member and rebalances; resolves once the member has its assignment. */
  async join(
    groupId: string,
    clientId: string,
    topics: readonly string[],
    callbacks: MemberCallbacks,
  ): Promise<string> {
    for (const t of topics) this.#log.topic(t) // unknown topics fail now, with a clear error
    const g = this.#group(groupId)
    const memberId = `${clientId}-${++this.#nextMember}`
    g.members.set(memberId, { memberId, clientId, topics, assignment: [], callbacks })
    await this.#rebalance(g)
    return memberId
  }

  async leave(groupId: string, memberId: string): Promise<void> {
    const g = this.#groups.get(groupId)
    if (g === undefined || !g.members.has(memberId)) return
    const m = g.members.get(memberId)!
    await m.callbacks.revoke(m.assignment).catch(() => {})
    g.members.delete(memberId)
    await this.#rebalance(g)
  }

  /** Eager rebalance: every member gives up its partitions, then the group's partitions are dealt out anew. */
  #rebalance(g: Group): Promise<void> {
    const run = async () => {
      g.rebalancing = true
      try {
        for (const m of g.members.values()) {
          if (m.assignment.length > 0) await m.callbacks.revoke(m.assignment)
          m.assignment = []
        }
        g.generationId++
        const assignment = this.#assign(g)
        for (const m of g.members.values()) {
          m.assignment = assignment.get(m.memberId) ?? []
          await m.callbacks.assign(m.assignment, g.generationId)
        }
      } finally {
        g.rebalancing = false
      }
    }
    g.queue = g.queue.then(run, run)
    return g.queue
  }

  /** Kafka's range assignor: per topic, members in id order take consecutive runs of partitions. */
  #assign(g: Group): Map<string, TopicPartition[]> {
    const out = new Map<string, TopicPartition[]>()
    const topics = new Set<string>()
    for (const m of g.members.values()) for (const t of m.topics) topics.add(t)
    for (const topic of [...topics].sort()) {
      if (!this.#log.hasTopic(topic)) continue
      const count = this.#log.topic(topic).partitions.length
      const members = [...g.members.values()]
        .filter((m) => m.topics.includes(topic))
        .sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
      const per = Math.floor(count / members.length)
      const extra = count % members.length
      let next = 0
      members.forEach((m, i) => {
        const n = per + (i < extra ? 1 : 0)
        const list = out.get(m.memberId) ?? []
        for (let k = 0; k < n; k++) list.push({ topic, partition: next++ })
        out.set(m.memberId, list)
      })
    }
    return out
  }

  #validate(groupId: string, generationId: number, memberId: string): void {
    const g = this.#groups.get(groupId)
    const members = g?.members.size ?? 0
    if (generationId < 0 && memberId === '') {
      if (members === 0) return // a consumer with manual assignment commits outside any generation
      throw new SluiceError(
        'SLUICE_ERR_UNKNOWN_MEMBER',
        `group ${groupId} has active members; a consumer outside the group cannot commit its offsets`,
        { details: { groupId } },
      )
    }
    if (g === undefined || !g.members.has(memberId)) {
      throw new SluiceError(
        'SLUICE_ERR_UNKNOWN_MEMBER',
        `member ${memberId} is not in group ${groupId} (it left or was removed); rejoin the group`,
        { details: { groupId, memberId } },
      )
    }
    if (g.generationId !== generationId) {
      throw new SluiceError(
        'SLUICE_ERR_ILLEGAL_GENERATION',
        `generation ${generationId} of group ${groupId} is stale (now ${g.generationId}): the group rebalanced, ` +
          'so these partitions may belong to another member; do not commit, re-read from the committed offsets',
        { details: { groupId, memberId, generationId, current: g.generationId } },
      )
    }
  }

  #records(groupId: string, offsets: readonly CommittedOffset[]): RecordInput[] {
    const now = this.#log.now()
    return offsets.map((o) => ({
      key: Buffer.from(JSON.stringify([groupId, o.topic, o.partition])),
      value: Buffer.from(JSON.stringify({ offset: o.offset, metadata: o.metadata })),
      timestamp: now,
    }))
  }

  #checkOffsets(offsets: readonly CommittedOffset[]): void {
    for (const o of offsets) {
      this.#log.partition(o.topic, o.partition)
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new SluiceError(
          'SLUICE_ERR_INVALID_ARGUMENT',
          `cannot commit offset ${o.offset} for ${o.topic}:${o.partition}: offsets are whole numbers >= 0`,
        )
      }
    }
  }

  async commit(meta: ConsumerGroupMetadata, offsets: readonly CommittedOffset[]): Promise<void> {
    this.#validate(meta.groupId, meta.generationId, meta.memberId)
    this.#checkOffsets(offsets)
    if (offsets.length === 0) return
    const p = this.#log.partition(OFFSETS_TOPIC, 0)
    p.append(this.#records(meta.groupId, offsets))
    const g = this.#group(meta.groupId)
    for (const o of offsets) g.offsets.set(key(o), { ...o })
    await this.#log.acknowledge([p])
  }

  /** Writes offsets inside a producer's transaction; they take effect when its COMMIT marker is written. */
  async commitInTransaction(
    meta: ConsumerGroupMetadata,
    producerId: number,
    producerEpoch: number,
    offsets: readonly CommittedOffset[],
  ): Promise<void> {
    this.#validate(meta.groupId, meta.generationId, meta.memberId)
    this.#checkOffsets(offsets)
    if (offsets.length === 0) return
    const p = this.#log.partition(OFFSETS_TOPIC, 0)
    p.append(this.#records(meta.groupId, offsets), {
      producerId,
      producerEpoch,
      baseSequence: -1,
      transactional: true,
    })
    const list = this.#pending.get(producerId) ?? []
    list.push({ groupId: meta.groupId, offsets: offsets.map((o) => ({ ...o })) })
    this.#pending.set(producerId, list)
    await this.#log.acknowledge([p])
  }

  onTransactionEnd(producerId: number, commit: boolean): void {
    const list = this.#pending.get(producerId)
    this.#pending.delete(producerId)
    if (!commit || list === undefined) return
    for (const { groupId, offsets } of list) {
      const g = this.#group(groupId)
      for (const o of offsets) g.offsets.set(key(o), o)
    }
  }

  committed(groupId: string, partitions: readonly TopicPartition[]): Map<string, number> {
    const g = this.#groups.get(groupId)
    const out = new Map<string, number>()
    for (const tp of partitions) {
      const o = g?.offsets.get(key(tp))
      if (o !== undefined) out.set(key(tp), o.offset)
    }
    return out
  }

  list(): string[] {
    return [...this.#groups.values()]
      .filter((g) => g.members.size > 0 || g.offsets.size > 0)
      .map((g) => g.groupId)
  }

  describe(groupId: string): GroupDescription {
    const g = this.#groups.get(groupId)
    if (g === undefined) {
      throw new SluiceError('SLUICE_ERR_GROUP_NOT_FOUND', `consumer group ${groupId} does not exist`, {
        details: { groupId },
      })
    }
    return {
      groupId,
      state: g.members.size === 0 ? 'Empty' : g.rebalancing ? 'PreparingRebalance' : 'Stable',
      generationId: g.generationId,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        assignment: m.assignment.map((tp) => ({ ...tp })),
      })),
      offsets: [...g.offsets.values()]
        .map((o) => ({ ...o }))
        .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1)),
    }
  }

  generationOf(groupId: string): number {
    return this.#groups.get(groupId)?.generationId ?? -1
  }

  /** At log close: members are dropped without callbacks; nothing is left to hand partitions to. */
  async closeAll(): Promise<void> {
    for (const g of this.#groups.values()) {
      g.members.clear()
      await g.queue.catch(() => {})
    }
  }
}
