// The per-test fixture of the Log conformance suite: a freshly opened log, uniquely named topics, groups and
// transactional ids (a Kafka cluster is shared and never empty), and everything closed and deleted afterwards.
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach } from 'node:test'
import type {
  ConsumerOptions,
  Log,
  LogAdmin,
  LogConsumer,
  LogProducer,
  ProducerOptions,
  TopicConfig,
} from '../../../src/log/contract.ts'

/** How the suite gets at one implementation of the Log. */
export interface LogFactory {
  /** Opens a log; each test opens its own and closes it at the end. */
  open(): Promise<Log>
  /**
   * Opens the same storage again after `log` was closed, for durability checks: the embedded log reopens its
   * data directory, Kafka connects a new client to the same cluster. Tests that need it are skipped without it.
   */
  reopen?(log: Log): Promise<Log>
  /** Called once after the whole suite. */
  cleanup(): Promise<void>
  /** Longest wait for an asynchronous condition (a rebalance, a timed-out transaction). Default 10 s. */
  waitTimeoutMs?: number
  /** Runs of each property test. Default 25. */
  propertyRuns?: number
}

const RUN_ID = randomBytes(3).toString('hex')
let nameCounter = 0

/** A name no other test, run or process uses: legal for Kafka topics, groups and transactional ids. */
function uniqueName(area: string, kind: string): string {
  nameCounter += 1
  return `sluice-conf-${area}-${kind}-${RUN_ID}-${nameCounter}`
}

export class ConformanceContext {
  readonly factory: LogFactory
  readonly area: string
  readonly waitTimeoutMs: number
  #log: Log | undefined
  #logClosed = false
  #producers: LogProducer[] = []
  #consumers: LogConsumer[] = []
  #topics: string[] = []

  constructor(factory: LogFactory, area: string) {
    this.factory = factory
    this.area = area
    this.waitTimeoutMs = factory.waitTimeoutMs ?? 10_000
  }

  get log(): Log {
    if (this.#log === undefined) throw new Error('the log is only open inside a test')
    return this.#log
  }

  get admin(): LogAdmin {
    return this.log.admin()
  }

  /** Per-test timeout: generous next to the condition waits, so that a hang fails one test, not the run. */
  get testTimeoutMs(): number {
    return this.waitTimeoutMs * 4
  }

  name(kind: string): string {
    return uniqueName(this.area, kind)
  }

  async createTopic(partitions: number, config?: TopicConfig): Promise<string> {
    const name = this.name('topic')
    await this.admin.createTopic(name, config === undefined ? { partitions } : { partitions, config })
    this.#topics.push(name)
    return name
  }

  /** Registers a topic the test created itself, so that it is deleted afterwards. */
  trackTopic(name: string): void {
    this.#topics.push(name)
  }

  producer(options?: ProducerOptions): LogProducer {
    const producer = this.log.producer(options)
    this.#producers.push(producer)
    return producer
  }

  /** A transactional producer with a fresh transactional id, initialized. */
  async transactionalProducer(options: Omit<ProducerOptions, 'transactionalId'> = {}): Promise<LogProducer> {
    const producer = this.producer({ ...options, transactionalId: this.name('txn') })
    await producer.initTransactions()
    return producer
  }

  consumer(options?: ConsumerOptions): LogConsumer {
    const consumer = this.log.consumer(options)
    this.#consumers.push(consumer)
    return consumer
  }

  /** Closes the log (clients first) and opens its storage again through the factory. */
  async reopen(): Promise<void> {
    const reopen = this.factory.reopen
    if (reopen === undefined) throw new Error('the factory cannot reopen a log')
    const old = this.log
    await this.#closeClients()
    await old.close()
    this.#log = await reopen.call(this.factory, old)
  }

  /** Closes the log as the test's own act; the fixture will not close it again. */
  async closeLog(): Promise<void> {
    this.#logClosed = true
    await this.log.close()
  }

  async setUp(): Promise<void> {
    this.#log = await this.factory.open()
    this.#logClosed = false
  }

  async tearDown(): Promise<void> {
    const log = this.#log
    if (log === undefined) return
    this.#log = undefined
    if (this.#logClosed) return
    await this.#closeClients()
    // Deleting is housekeeping for a shared cluster, not what is tested here: failures are ignored.
    const admin = log.admin()
    for (const topic of this.#topics.splice(0)) await admin.deleteTopic(topic).catch(() => {})
    await log.close()
  }

  async #closeClients(): Promise<void> {
    const consumers = this.#consumers.splice(0)
    const producers = this.#producers.splice(0)
    // A client a test already closed, or one the test broke on purpose, may refuse a second close.
    await Promise.all(consumers.map((c) => c.close().catch(() => {})))
    await Promise.all(producers.map((p) => p.close().catch(() => {})))
  }
}

/** Call inside a `describe`: every test in it gets a freshly opened log, torn down afterwards. */
export function useLog(factory: LogFactory, area: string): ConformanceContext {
  const ctx = new ConformanceContext(factory, area)
  beforeEach(() => ctx.setUp(), { timeout: ctx.waitTimeoutMs * 2 })
  afterEach(() => ctx.tearDown(), { timeout: ctx.waitTimeoutMs * 2 })
  return ctx
}
