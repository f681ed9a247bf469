// Topic and group administration of the embedded log.
import type {
  CreateTopicOptions,
  GroupDescription,
  LogAdmin,
  OffsetSpec,
  TopicDescription,
} from '../contract.ts'
import type { EmbeddedLog } from './embedded-log.ts'

export class EmbeddedAdmin implements LogAdmin {
  readonly #log: EmbeddedLog

  constructor(log: EmbeddedLog) {
    this.#log = log
  }

  async createTopic(name: string, options: CreateTopicOptions): Promise<void> {
    this.#log.createTopic(name, options)
  }

  async deleteTopic(name: string): Promise<void> {
    this.#log.deleteTopic(name)
  }

  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    this.#log.checkOpen()
    return this.#log
      .topics()
      .filter((t) => options.includeInternal || !t.internal)
      .map((t) => t.name)
      .sort()
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const t = this.#log.topic(name)
    return {
      name,
      internal: t.internal,
      config: { ...t.config },
      partitions: t.partitions.map((p) => ({
        partition: p.partition,
        logStartOffset: p.logStartOffset,
        highWatermark: p.highWatermark,
        lastStableOffset: p.lastStableOffset,
        sizeBytes: p.sizeBytes,
      })),
    }
  }

  async listOffsets(topic: string, partition: number, spec: OffsetSpec): Promise<number> {
    const p = this.#log.partition(topic, partition)
    if (spec === 'earliest') return p.logStartOffset
    if (spec === 'latest') return p.highWatermark
    if (spec === 'lastStable') return p.lastStableOffset
    return p.offsetForTimestamp(spec.timestamp)
  }

  async listGroups(): Promise<string[]> {
    this.#log.checkOpen()
    return this.#log.groups.list().sort()
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    this.#log.checkOpen()
    return this.#log.groups.describe(groupId)
  }
}
