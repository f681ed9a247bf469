// The embedded log: topics of partitions on the local disk, with Kafka's observable semantics (idempotent and
// transactional producers, read_committed, consumer groups), owned by one process at a time.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { SluiceError } from '../../errors/index.ts'
import type {
  ConsumerOptions,
  CreateTopicOptions,
  Log,
  LogAdmin,
  LogConsumer,
  LogProducer,
  ProducerOptions,
  TopicConfig,
} from '../contract.ts'
import { resolveTopicConfig, validatePartitionCount, validateTopicName } from '../topic-config.ts'
import { compactPartition } from './compactor.ts'
import { type DirLock, lockDataDir } from './dir-lock.ts'
import { EmbeddedAdmin } from './embedded-admin.ts'
import { EmbeddedConsumer } from './embedded-consumer.ts'
import { EmbeddedProducer } from './embedded-producer.ts'
import { GroupCoordinator } from './group-coordinator.ts'
import { OFFSETS_TOPIC, TRANSACTIONS_TOPIC } from './internal-topics.ts'
import { DEFAULT_TOPIC_CONFIG, type EmbeddedLogOptions, type FsyncPolicy } from './options.ts'
import { PartitionLog } from './partition-log.ts'
import { ProducerIdAllocator } from './producer-ids.ts'
import { TransactionCoordinator } from './transaction-coordinator.ts'

export { OFFSETS_TOPIC, TRANSACTIONS_TOPIC }

export interface TopicState {
  name: string
  config: Required<TopicConfig>
  partitions: PartitionLog[]
  internal: boolean
}

export interface MaintenanceReport {
  segmentsDeleted: number
  segmentsCompacted: number
  transactionsAborted: number
}

export class EmbeddedLog implements Log {
  readonly kind = 'embedded' as const
  readonly dataDir: string
  readonly fsync: FsyncPolicy
  readonly now: () => number
  readonly topicDefaults: Required<TopicConfig>
  readonly indexIntervalBytes: number
  readonly producerIds: ProducerIdAllocator
  readonly transactions: TransactionCoordinator
  readonly groups: GroupCoordinator
  readonly #topics = new Map<string, TopicState>()
  readonly #lock: DirLock
  #waiters = new Set<() => void>()
  #timers: NodeJS.Timeout[] = []
  #closed = false

  private constructor(options: EmbeddedLogOptions, lock: DirLock, dataDir: string) {
    this.dataDir = dataDir
    this.#lock = lock
    this.fsync = options.fsync ?? { mode: 'interval', intervalMs: 1000 }
    this.now = options.now ?? Date.now
    this.topicDefaults = resolveTopicConfig(
      '(defaults)',
      { ...(options.topicDefaults ?? {}) },
      DEFAULT_TOPIC_CONFIG,
    )
    this.indexIntervalBytes = options.indexIntervalBytes ?? 4096
    this.producerIds = new ProducerIdAllocator(join(dataDir, 'producer-ids.json'))
    this.transactions = new TransactionCoordinator(this)
    this.groups = new GroupCoordinator(this)
  }

  static async open(options: EmbeddedLogOptions = {}): Promise<EmbeddedLog> {
    const dataDir = resolve(options.dataDir ?? '.sluice')
    mkdirSync(join(dataDir, 'topics'), { recursive: true })
    const lock = lockDataDir(dataDir)
    let log: EmbeddedLog | undefined
    try {
      log = new EmbeddedLog(options, lock, dataDir)
      log.#loadTopics()
      for (const [name, partitions] of [
        [TRANSACTIONS_TOPIC, 1],
        [OFFSETS_TOPIC, 1],
      ] as const) {
        if (!log.#topics.has(name))
          log.#createTopicSync(name, { partitions, config: { 'cleanup.policy': 'compact' } }, true)
      }
      // finish or abort what crashed producers left open, then rebuild group offsets from committed data only
      await log.transactions.recover()
      log.groups.load()
      log.#startTimers(options.maintenanceIntervalMs ?? 30_000)
      return log
    } catch (err) {
      if (log !== undefined) log.#closeFiles()
      lock.release()
      throw err
    }
  }

  #loadTopics(): void {
    const root = join(this.dataDir, 'topics')
    for (const name of readdirSync(root)) {
      const dir = join(root, name)
      if (name.startsWith('.deleted-')) {
        rmSync(dir, { recursive: true, force: true }) // an interrupted delete
        continue
      }
      if (!statSync(dir).isDirectory()) continue
      if (!existsSync(join(dir, 'topic.json'))) {
        // an interrupted create leaves empty partitions only; data without its topic.json is not ours to delete
        if (holdsData(dir)) {
          throw new SluiceError(
            'SLUICE_ERR_CORRUPT_RECORD',
            `topic directory ${dir} holds data but no topic.json, which says how many partitions the topic has; ` +
              `restore topic.json (${TOPIC_JSON_EXAMPLE}), or delete ${dir} to drop the topic and its data`,
            { details: { topic: name, path: dir } },
          )
        }
        rmSync(dir, { recursive: true, force: true })
        continue
      }
      const meta = readTopicMeta(name, dir)
      const config = resolveTopicConfig(name, { ...meta.config }, this.topicDefaults)
      const partitions: PartitionLog[] = []
      for (let p = 0; p < meta.partitions; p++) partitions.push(this.#openPartition(name, p, config))
      this.#topics.set(name, { name, config, partitions, internal: meta.internal })
    }
  }

  #openPartition(topic: string, partition: number, config: Required<TopicConfig>): PartitionLog {
    return PartitionLog.open(
      join(this.dataDir, 'topics', topic, String(partition)),
      topic,
      partition,
      config,
      {
        indexIntervalBytes: this.indexIntervalBytes,
        now: this.now,
      },
    )
  }

  #startTimers(maintenanceMs: number): void {
    if (this.fsync.mode === 'interval') {
      const t = setInterval(() => void this.syncAll().catch(() => {}), this.fsync.intervalMs)
      t.unref()
      this.#timers.push(t)
    }
    if (maintenanceMs > 0) {
      const t = setInterval(() => void this.maintenance().catch(() => {}), maintenanceMs)
      t.unref()
      this.#timers.push(t)
    }
  }

  checkOpen(): void {
    if (this.#closed) throw new SluiceError('SLUICE_ERR_LOG_CLOSED', `the log at ${this.dataDir} is closed`)
  }

  topic(name: string): TopicState {
    this.checkOpen()
    const t = this.#topics.get(name)
    if (t === undefined) {
      throw new SluiceError(
        'SLUICE_ERR_TOPIC_NOT_FOUND',
        `topic ${JSON.stringify(name)} does not exist in ${this.dataDir}; create it first (sluice topics create ${name} --partitions N)`,
        { details: { topic: name } },
      )
    }
    return t
  }

  hasTopic(name: string): boolean {
    return this.#topics.has(name)
  }

  topics(): TopicState[] {
    return [...this.#topics.values()]
  }

  partition(topic: string, partition: number): PartitionLog {
    const t = this.topic(topic)
    const p = t.partitions[partition]
    if (p === undefined) {
      throw new SluiceError(
        'SLUICE_ERR_PARTITION_NOT_FOUND',
        `topic ${topic} has ${t.partitions.length} partitions (0 to ${t.partitions.length - 1}); partition ${partition} does not exist`,
        { details: { topic, partition } },
      )
    }
    return p
  }

  createTopic(name: string, options: CreateTopicOptions): void {
    this.checkOpen()
    if (name.startsWith('__')) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        `topic names starting with "__" are internal: ${name}`,
      )
    }
    this.#createTopicSync(name, options, false)
  }

  #createTopicSync(name: string, options: CreateTopicOptions, internal: boolean): void {
    validateTopicName(name)
    validatePartitionCount(name, options.partitions)
    if (this.#topics.has(name)) {
      throw new SluiceError('SLUICE_ERR_TOPIC_EXISTS', `topic ${name} already exists`, {
        details: { topic: name },
      })
    }
    const config = resolveTopicConfig(name, { ...(options.config ?? {}) }, this.topicDefaults)
    const dir = join(this.dataDir, 'topics', name)
    mkdirSync(dir, { recursive: true })
    const partitions: PartitionLog[] = []
    for (let p = 0; p < options.partitions; p++) partitions.push(this.#openPartition(name, p, config))
    // topic.json appears last, atomically and durably: a topic directory without it is an interrupted create
    const meta = JSON.stringify({ partitions: options.partitions, config: options.config ?? {}, internal })
    const fd = openSync(join(dir, 'topic.json.tmp'), 'w')
    try {
      writeSync(fd, meta)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(join(dir, 'topic.json.tmp'), join(dir, 'topic.json'))
    fsyncDir(dir)
    fsyncDir(join(this.dataDir, 'topics'))
    this.#topics.set(name, { name, config, partitions, internal })
  }

  deleteTopic(name: string): void {
    const t = this.topic(name)
    if (t.internal)
      throw new SluiceError('SLUICE_ERR_INVALID_ARGUMENT', `internal topic ${name} cannot be deleted`)
    for (const p of t.partitions) p.close()
    this.#topics.delete(name)
    const dir = join(this.dataDir, 'topics', name)
    const graveyard = join(this.dataDir, 'topics', `.deleted-${name}-${Date.now()}`)
    renameSync(dir, graveyard)
    rmSync(graveyard, { recursive: true, force: true })
    this.notifyAppend()
  }

  /** Wakes every poll waiting for data. */
  notifyAppend(): void {
    const waiters = this.#waiters
    if (waiters.size === 0) return
    this.#waiters = new Set()
    for (const w of waiters) w()
  }

  /** Resolves at the next append anywhere in the log, at the timeout, or when `signal` aborts. */
  waitForAppend(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = () => {
        if (timer) clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#waiters.delete(done)
        resolve()
      }
      this.#waiters.add(done)
      timer = setTimeout(done, timeoutMs)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  /** Makes appends to these partitions durable as the fsync policy promises before acknowledging them. */
  async acknowledge(partitions: Iterable<PartitionLog>): Promise<void> {
    this.notifyAppend()
    if (this.fsync.mode !== 'always') return
    const work: Promise<void>[] = []
    for (const p of partitions) work.push(p.sync())
    await Promise.all(work)
  }

  /**
   * Forces every written byte to disk. Each call starts its own pass, so it covers writes made while an earlier
   * sync was running; a segment with nothing new since its last fdatasync started only waits for that one.
   */
  async syncAll(): Promise<void> {
    const work: Promise<void>[] = []
    for (const t of this.#topics.values()) for (const p of t.partitions) work.push(p.sync())
    await Promise.all(work)
  }

  /** Runs retention, compaction and transaction timeouts now (the timer does this every maintenanceIntervalMs). */
  async maintenance(): Promise<MaintenanceReport> {
    const report: MaintenanceReport = { segmentsDeleted: 0, segmentsCompacted: 0, transactionsAborted: 0 }
    if (this.#closed) return report
    const now = this.now()
    report.transactionsAborted = await this.transactions.abortTimedOut(now)
    for (const t of this.#topics.values()) {
      for (const p of t.partitions) {
        p.rollIfOld(now)
        report.segmentsDeleted += p.enforceRetention(now)
        if (t.config['cleanup.policy'] === 'compact') report.segmentsCompacted += compactPartition(p, now)
      }
    }
    return report
  }

  admin(): LogAdmin {
    this.checkOpen()
    return new EmbeddedAdmin(this)
  }

  producer(options: ProducerOptions = {}): LogProducer {
    this.checkOpen()
    return new EmbeddedProducer(this, options)
  }

  consumer(options: ConsumerOptions = {}): LogConsumer {
    this.checkOpen()
    return new EmbeddedConsumer(this, options)
  }

  get closed(): boolean {
    return this.#closed
  }

  #closeFiles(): void {
    for (const t of this.#topics.values()) for (const p of t.partitions) p.close()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#timers) clearInterval(t)
    this.notifyAppend()
    await this.groups.closeAll()
    this.#closeFiles()
    this.#lock.release()
  }
}

const TOPIC_JSON_EXAMPLE = '{"partitions":N,"config":{...},"internal":false}'

/** Whether a topic directory has a partition with a non-empty segment. */
function holdsData(dir: string): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const partition = join(dir, entry.name)
    for (const f of readdirSync(partition))
      if (f.endsWith('.log') && statSync(join(partition, f)).size > 0) return true
  }
  return false
}

interface TopicMeta {
  partitions: number
  config: TopicConfig
  internal: boolean
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** What is wrong with parsed topic.json contents, if anything. */
function topicMetaProblem(meta: unknown): string | undefined {
  if (!isObject(meta)) return 'it is not a JSON object'
  if (!Number.isSafeInteger(meta.partitions) || (meta.partitions as number) < 1)
    return 'it has no partition count'
  if (meta.config !== undefined && !isObject(meta.config)) return 'its config is not an object'
  if (meta.internal !== undefined && typeof meta.internal !== 'boolean')
    return 'its internal flag is not a boolean'
  return undefined
}

/** Reads and checks a topic's topic.json; damage fails the open with an error naming the file, and deletes nothing. */
function readTopicMeta(name: string, dir: string): TopicMeta {
  const path = join(dir, 'topic.json')
  const text = readFileSync(path, 'utf8')
  let meta: unknown
  let problem: string | undefined
  try {
    meta = JSON.parse(text)
    problem = topicMetaProblem(meta)
  } catch (err) {
    problem = `it is not valid JSON (${(err as Error).message})`
  }
  if (problem !== undefined) {
    throw new SluiceError(
      'SLUICE_ERR_CORRUPT_RECORD',
      `${path}, the metadata of topic ${JSON.stringify(name)}, is damaged: ${problem}; restore it ` +
        `(${TOPIC_JSON_EXAMPLE}), or delete ${dir} to drop the topic and its data`,
      { details: { topic: name, path } },
    )
  }
  const m = meta as Partial<TopicMeta>
  return { partitions: m.partitions as number, config: m.config ?? {}, internal: m.internal === true }
}

/** Makes a directory's entries (a file created or renamed in it) durable. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export function openEmbeddedLog(options: EmbeddedLogOptions = {}): Promise<EmbeddedLog> {
  return EmbeddedLog.open(options)
}
