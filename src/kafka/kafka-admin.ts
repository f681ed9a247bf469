// LogAdmin on Kafka: topics, offsets and groups through @platformatic/kafka's Admin client.
import type { Admin } from '@platformatic/kafka'
import { ConfigResourceTypes, describeGroupsV5, FetchIsolationLevels } from '@platformatic/kafka'
import { SluiceError } from '../errors/index.ts'
import type {
  CommittedOffset,
  CreateTopicOptions,
  GroupDescription,
  LogAdmin,
  OffsetSpec,
  TopicConfig,
  TopicDescription,
} from '../log/contract.ts'
import { resolveTopicConfig, validatePartitionCount, validateTopicName } from '../log/topic-config.ts'
import { hasProtocolError, retryTransient, toSluiceError } from './errors.ts'
import { decodeAssignment } from './group-member.ts'

const TOPIC_CONFIG_KEYS = [
  'cleanup.policy',
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'delete.retention.ms',
  'max.message.bytes',
] as const

/** Kafka's own defaults, used to validate settings before they are sent; the broker's values are what describe shows. */
const KAFKA_DEFAULTS: Required<TopicConfig> = {
  'cleanup.policy': 'delete',
  'retention.ms': 7 * 24 * 3600_000,
  'retention.bytes': -1,
  'segment.bytes': 1024 * 1024 * 1024,
  'segment.ms': 7 * 24 * 3600_000,
  'delete.retention.ms': 24 * 3600_000,
  'max.message.bytes': 1048588,
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface AdminHost {
  /** The shared Admin client; throws SLUICE_ERR_LOG_CLOSED once the log is closed. */
  adminClient(): Admin
}

/** Partition count of a topic, or TOPIC_NOT_FOUND. Fresh metadata: topics come and go under tests. */
export async function partitionCount(admin: Admin, topic: string): Promise<number> {
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    const t = metadata.topics.get(topic)
    if (t === undefined) throw new SluiceError('SLUICE_ERR_TOPIC_NOT_FOUND', `topic ${topic} does not exist`)
    return t.partitionsCount
  } catch (error) {
    if (isUnknownTopic(error)) {
      throw new SluiceError('SLUICE_ERR_TOPIC_NOT_FOUND', `topic ${topic} does not exist`, {
        cause: error,
        details: { topic },
      })
    }
    throw toSluiceError(error, `describing topic ${topic}`, { topic })
  }
}

/** Kafka's answer for a missing topic, or the client's own "Unknown topic" when metadata lacks it. */
export function isUnknownTopic(error: unknown): boolean {
  if (hasProtocolError(error, 'UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID')) return true
  return error instanceof Error && /^Unknown topic/.test(error.message)
}

export async function checkPartition(admin: Admin, topic: string, partition: number): Promise<void> {
  const count = await partitionCount(admin, topic)
  if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
    throw new SluiceError(
      'SLUICE_ERR_PARTITION_NOT_FOUND',
      `topic ${topic} has ${count} partitions; partition ${partition} does not exist`,
      { details: { topic, partition } },
    )
  }
}

/** One partition's offset for a spec; read_committed 'latest' is the last stable offset. */
export async function listOffset(
  admin: Admin,
  topic: string,
  partition: number,
  spec: OffsetSpec,
): Promise<number> {
  const timestamp = spec === 'earliest' ? -2n : typeof spec === 'object' ? BigInt(spec.timestamp) : -1n
  const isolationLevel =
    spec === 'lastStable' ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED
  try {
    const result = await admin.listOffsets({
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp }] }],
      isolationLevel,
    })
    const offset = result[0]?.partitions.find((p) => p.partitionIndex === partition)?.offset
    if (offset === undefined) throw new Error('no offset in the answer')
    // By timestamp with no record at or after it: Kafka answers -1; the contract says the log end.
    if (offset < 0n) return listOffset(admin, topic, partition, 'latest')
    return Number(offset)
  } catch (error) {
    throw toSluiceError(error, `listing offsets of ${topic}:${partition}`, { topic, partition })
  }
}

function mapGroupState(state: string): GroupDescription['state'] {
  if (state === 'Stable') return 'Stable'
  if (state === 'Empty') return 'Empty'
  return 'PreparingRebalance'
}

export class KafkaAdmin implements LogAdmin {
  readonly #host: AdminHost

  constructor(host: AdminHost) {
    this.#host = host
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<void> {
    validateTopicName(name)
    validatePartitionCount(name, options.partitions)
    const config = options.config ?? {}
    resolveTopicConfig(name, config as Record<string, unknown>, KAFKA_DEFAULTS)
    const admin = this.#host.adminClient()
    try {
      await admin.createTopics({
        topics: [name],
        partitions: options.partitions,
        replicas: -1,
        configs: Object.entries(config)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => ({ name: k, value: String(v) })),
      })
    } catch (error) {
      if (hasProtocolError(error, 'TOPIC_ALREADY_EXISTS')) {
        throw new SluiceError('SLUICE_ERR_TOPIC_EXISTS', `topic ${name} already exists`, {
          cause: error,
          details: { topic: name },
        })
      }
      throw toSluiceError(error, `creating topic ${name}`, { topic: name })
    }
    // Creation is asynchronous on Kafka: wait until every partition has a leader, so the topic is usable at once.
    for (let i = 0; i < 200; i++) {
      try {
        const metadata = await admin.metadata({ topics: [name], forceUpdate: true })
        const t = metadata.topics.get(name)
        if (
          t !== undefined &&
          t.partitionsCount === options.partitions &&
          t.partitions.every((p) => p.leader >= 0)
        ) {
          return
        }
      } catch {}
      await sleep(50)
    }
  }

  async deleteTopic(name: string): Promise<void> {
    const admin = this.#host.adminClient()
    try {
      await admin.deleteTopics({ topics: [name] })
    } catch (error) {
      if (hasProtocolError(error, 'UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID')) {
        throw new SluiceError('SLUICE_ERR_TOPIC_NOT_FOUND', `topic ${name} does not exist`, {
          cause: error,
          details: { topic: name },
        })
      }
      throw toSluiceError(error, `deleting topic ${name}`, { topic: name })
    }
    for (let i = 0; i < 200; i++) {
      const topics = await admin.listTopics({ includeInternals: true }).catch(() => [name])
      if (!topics.includes(name)) return
      await sleep(50)
    }
  }

  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    try {
      const topics = await this.#host
        .adminClient()
        .listTopics({ includeInternals: options.includeInternal ?? false })
      return topics.sort()
    } catch (error) {
      throw toSluiceError(error, 'listing topics')
    }
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const admin = this.#host.adminClient()
    const count = await partitionCount(admin, name)
    const indexes = Array.from({ length: count }, (_, i) => i)
    try {
      const [configs, logDirs, starts, ends, stables] = await Promise.all([
        admin.describeConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: name,
              configurationKeys: [...TOPIC_CONFIG_KEYS],
            },
          ],
        }),
        admin.describeLogDirs({ topics: [{ name, partitions: indexes }] }),
        Promise.all(indexes.map((p) => listOffset(admin, name, p, 'earliest'))),
        Promise.all(indexes.map((p) => listOffset(admin, name, p, 'latest'))),
        Promise.all(indexes.map((p) => listOffset(admin, name, p, 'lastStable'))),
      ])
      const sizes = new Map<number, number>()
      for (const broker of logDirs) {
        for (const dir of broker.results) {
          for (const topic of dir.topics) {
            if (topic.name !== name) continue
            for (const p of topic.partitions) {
              sizes.set(p.partitionIndex, Math.max(sizes.get(p.partitionIndex) ?? 0, Number(p.partitionSize)))
            }
          }
        }
      }
      const config: Record<string, unknown> = {}
      for (const entry of configs[0]?.configs ?? []) {
        if (entry.value !== null && (TOPIC_CONFIG_KEYS as readonly string[]).includes(entry.name)) {
          config[entry.name] = entry.value
        }
      }
      // Kafka allows a list of policies ("compact,delete"); Sluice's contract knows one, compaction wins.
      if (typeof config['cleanup.policy'] === 'string' && config['cleanup.policy'].includes('compact')) {
        config['cleanup.policy'] = 'compact'
      }
      return {
        name,
        partitions: indexes.map((p) => ({
          partition: p,
          logStartOffset: starts[p],
          highWatermark: ends[p],
          lastStableOffset: stables[p],
          sizeBytes: sizes.get(p) ?? 0,
        })),
        config: resolveTopicConfig(name, config, KAFKA_DEFAULTS),
        internal: name.startsWith('__'),
      }
    } catch (error) {
      throw toSluiceError(error, `describing topic ${name}`, { topic: name })
    }
  }

  async listOffsets(topic: string, partition: number, spec: OffsetSpec): Promise<number> {
    const admin = this.#host.adminClient()
    await checkPartition(admin, topic, partition)
    return listOffset(admin, topic, partition, spec)
  }

  async listGroups(): Promise<string[]> {
    try {
      const groups = await this.#host.adminClient().listGroups()
      return [...groups.keys()].sort()
    } catch (error) {
      throw toSluiceError(error, 'listing consumer groups')
    }
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    const admin = this.#host.adminClient()
    try {
      // The raw DescribeGroups answer: Sluice members put their generation in the assignment's user data, which
      // the client's describeGroups drops (the classic protocol has no other way to learn it).
      const [coordinator] = await retryTransient(() => admin.findCoordinator({ keyType: 0, keys: [groupId] }))
      const connection = (await admin.connectToBrokers([coordinator.nodeId])).get(coordinator.nodeId)
      if (connection === undefined) throw new Error(`no connection to the coordinator of group ${groupId}`)
      const described = await describeGroupsV5.api.async(connection, [groupId], false)
      const group = described.groups.find((g) => g.groupId === groupId)
      if (group === undefined || group.groupState === 'Dead') {
        throw new SluiceError('SLUICE_ERR_GROUP_NOT_FOUND', `consumer group ${groupId} does not exist`, {
          details: { groupId },
        })
      }
      const members = group.members.map((m) => ({ ...m, decoded: decodeAssignment(m.memberAssignment) }))
      const [listed] = await admin.listConsumerGroupOffsets({ groups: [groupId] })
      const offsets: CommittedOffset[] = []
      for (const topic of listed?.topics ?? []) {
        for (const p of topic.partitions) {
          if (p.committedOffset < 0n) continue
          const entry: CommittedOffset = {
            topic: topic.name,
            partition: p.partitionIndex,
            offset: Number(p.committedOffset),
          }
          if (p.metadata !== null && p.metadata !== '') entry.metadata = p.metadata
          offsets.push(entry)
        }
      }
      offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
      return {
        groupId,
        state: mapGroupState(group.groupState),
        generationId: members.reduce((g, m) => Math.max(g, m.decoded.generationId), -1),
        members: members.map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          assignment: m.decoded.partitions,
        })),
        offsets,
      }
    } catch (error) {
      throw toSluiceError(error, `describing consumer group ${groupId}`, { groupId })
    }
  }
}
