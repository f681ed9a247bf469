// Runs a pipeline on a log (embedded or Kafka): one consumer in the application's group reads every input topic,
// tasks are created for the partitions assigned to this process and restored from their changelogs, and at each
// commit interval the outputs, changelog records and input offsets are committed: in one transaction under
// exactly-once, or outputs first and offsets after under at-least-once.
import { randomUUID } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Pipeline } from '../dsl/pipeline.ts'
import { SluiceError } from '../errors/index.ts'
import type { Rec } from '../graph/logical.ts'
import type { SubTopology, Topology } from '../graph/planner.ts'
import type {
  CommittedOffset,
  ConsumedRecord,
  Log,
  LogConsumer,
  LogProducer,
  TopicPartition,
} from '../log/contract.ts'
import { PipelineMetrics } from '../metrics/pipeline-metrics.ts'
import type { RegistryApi } from '../registry/client.ts'
import type { StateBackendFactory } from '../state/backend.ts'
import { memoryState } from '../state/backends/memory.ts'
import { ensureInternalTopics } from './internal-topics.ts'
import { bindSchemas, SchemaPrefetch } from './schemas.ts'
import { Task, WATERMARK_HEADER } from './task.ts'

export type ProcessingGuarantee = 'exactly-once' | 'at-least-once'

export interface RunOptions {
  log: Log
  /** Names the consumer group, transactional ids and local state; default: the pipeline's name. */
  applicationId?: string
  /** Default 'exactly-once'. */
  guarantee?: ProcessingGuarantee
  /** Default 100 ms under exactly-once, 1000 ms under at-least-once. */
  commitIntervalMs?: number
  /** Local state root; default `./.sluice-state`. */
  stateDir?: string
  state?: StateBackendFactory
  /**
   * A persistent state backend (lmdb) writes a task's state to local disk at the first commit this long after its
   * last flush, or sooner (stateFlushRecords), and always when the pipeline stops or loses the task. A longer
   * interval means fewer synced writes and a longer changelog tail to replay after a crash. Default 5000 ms.
   */
  stateFlushIntervalMs?: number
  /** Flushes a task's local state at the first commit after its stores logged this many changelog records since the last flush. Default 50,000. */
  stateFlushRecords?: number
  /** Most records handled per poll. Default 2000. */
  maxPollRecords?: number
  clock?: () => number
  /** Where metrics go; default: series on prom-client's default registry. */
  metrics?: PipelineMetrics
  /**
   * The schema registry (a URL or a client) that binds serdes named by subject (`subject({ subject, schema })`);
   * their schemas are checked against the subjects before the pipeline reads anything.
   */
  registry?: RegistryApi | string
}

export interface PartitionStatus {
  topic: string
  partition: number
  /** Next offset the pipeline will process. */
  position: number | null
  highWatermark: number | null
  lag: number | null
}

/** A summary of a running pipeline, for /v1/pipelines and dashboards. */
export interface PipelineStatus {
  applicationId: string
  guarantee: ProcessingGuarantee
  state: 'running' | 'stopping' | 'stopped' | 'failed'
  tasks: TaskStatus[]
  partitions: PartitionStatus[]
  /** Input records per second over the last few seconds. */
  /** Records per second read by all tasks (internal repartition topics included), over the last few seconds. */
  recordsPerSecond: number
  /** Records per second read from the pipeline's source topics: the event rate. */
  sourceRecordsPerSecond: number
  recordsIn: number
  /** Records read from the pipeline's source topics. */
  sourceRecordsIn: number
  lateRecords: number
  /** Records sent to the dead-letter topic, and dropped under the 'skip' policy, by this process's tasks. */
  deadLetters: number
  skippedRecords: number
  deadLetterTopic: string | null
  /** Records by output topic. */
  recordsOut: Record<string, number>
  lastCommitAt: number | null
  lastCommitMs: number | null
  /** End-to-end latency of recent records, in ms (from record timestamp to commit). */
  latencyMs: { p50: number | null; p99: number | null }
  restores: RestoreProgress[]
  error: string | null
}

/**
 * Progress of restoring one store of one task, published on the `sluice:restore` diagnostics channel as it goes
 * and kept in `restoreProgress()`.
 */
export interface RestoreProgress {
  task: string
  store: string
  topic: string
  partition: number
  /** Changelog records applied so far. */
  records: number
  /** True when local state on disk was reused and only the changelog tail after it is replayed. */
  fromLocalSnapshot: boolean
  startOffset: number
  endOffset: number
  percent: number
  done: boolean
}

export const restoreChannel = diagnostics.channel('sluice:restore')

export interface TaskStatus {
  id: string
  subtopology: number
  partition: number
  watermark: number
  counters: Record<string, number>
}

export interface RunningPipeline {
  readonly applicationId: string
  readonly topology: Topology
  /** Resolves when the pipeline stopped: after stop(), or when every input was bounded and is done. */
  readonly done: Promise<void>
  /** Finishes the current batch, commits, and closes. */
  stop(): Promise<void>
  tasks(): TaskStatus[]
  status(): PipelineStatus
  /** Input offsets committed so far, per topic-partition. */
  committedOffsets(): Map<string, number>
  /** The restore of each task's stores, latest first. */
  restoreProgress(): RestoreProgress[]
}

const tpKey = (topic: string, partition: number) => `${topic}:${partition}`

/** Kafka Streams' default under exactly-once (the Java producer's is 60 s). */
const TRANSACTION_TIMEOUT_MS = 10_000

/** A stable id for this application's process on this machine, kept in its state directory. */
function instanceId(stateDir: string): string {
  const path = join(stateDir, 'instance-id')
  if (existsSync(path)) return readFileSync(path, 'utf8').trim()
  const id = randomUUID()
  writeFileSync(path, id)
  return id
}

export async function runPipeline(pipeline: Pipeline, options: RunOptions): Promise<RunningPipeline> {
  const runner = new Runner(pipeline, options)
  await runner.start()
  return runner
}

class Runner implements RunningPipeline {
  readonly applicationId: string
  topology!: Topology
  readonly done: Promise<void>
  readonly #pipeline: Pipeline
  readonly #log: Log
  readonly #guarantee: ProcessingGuarantee
  readonly #commitIntervalMs: number
  readonly #stateFlushIntervalMs: number
  readonly #stateFlushRecords: number
  /** When each task's local state was last flushed (or restored), by task id. */
  readonly #flushedAt = new Map<string, number>()
  readonly #stateDir: string
  readonly #backend: StateBackendFactory
  readonly #maxPoll: number
  readonly #clock: () => number
  readonly #tasks = new Map<string, Task>()
  /** Next offset to read per input partition, as processed by the tasks (what the next commit records). */
  readonly #positions = new Map<string, number>()
  readonly #committed = new Map<string, number>()
  /**
   * Per repartition input partition: the last watermark marker of each upstream task, as the tasks consumed them.
   * Committed as the offset's metadata and handed back to a restored task, because upstream tasks send markers only
   * when their watermark moves: one whose input is finished would never tell a restarted task again.
   */
  readonly #markers = new Map<string, Map<string, string>>()
  readonly #restores = new Map<string, RestoreProgress>()
  readonly #metrics: PipelineMetrics
  readonly #registry: RegistryApi | string | undefined
  #schemas!: SchemaPrefetch
  /** Timestamps of source records processed since the last commit, for the end-to-end latency. */
  #pendingLatency: number[] = []
  #recentLatency: number[] = []
  readonly #sourceTopics = new Set<string>()
  readonly #highWatermarks = new Map<string, number>()
  #lagRefreshedAt = 0
  #recordsIn = 0
  #sourceRecordsIn = 0
  readonly #recordsOut = new Map<string, number>()
  readonly #rate: { at: number; count: number; source: number }[] = []
  #lastCommitAt: number | null = null
  #lastCommitMs: number | null = null
  readonly #reported = new Map<string, number>()
  #state: PipelineStatus['state'] = 'running'
  #error: string | null = null
  readonly #memorySources: { task: Task; source: string; iterator: Iterator<Rec>; ended: boolean }[] = []
  #consumer!: LogConsumer
  #producer!: LogProducer
  #inTransaction = false
  #stopping = false
  /** The loop failed: nothing may be committed or flushed any more (see #run). */
  #failed = false
  #lastCommit = 0
  #resolveDone!: () => void
  #rejectDone!: (err: unknown) => void
  #loop: Promise<void> | null = null
  /** Tasks whose sinks still need open() (done in the loop, outside rebalance callbacks). */
  #pendingOpen: Task[] = []
  /** Sink commits prepared in the current interval, committed once the log commit succeeded. */
  #prepared: { task: Task; index: number; id: number }[] = []

  constructor(pipeline: Pipeline, options: RunOptions) {
    this.#pipeline = pipeline
    this.#log = options.log
    this.applicationId = options.applicationId ?? pipeline.name
    this.#guarantee = options.guarantee ?? 'exactly-once'
    this.#commitIntervalMs = options.commitIntervalMs ?? (this.#guarantee === 'exactly-once' ? 100 : 1000)
    this.#stateFlushIntervalMs = options.stateFlushIntervalMs ?? 5000
    this.#stateFlushRecords = options.stateFlushRecords ?? 50_000
    this.#stateDir = resolve(options.stateDir ?? '.sluice-state', this.applicationId)
    this.#backend = options.state ?? memoryState()
    this.#maxPoll = options.maxPollRecords ?? 2000
    this.#clock = options.clock ?? Date.now
    this.#metrics = options.metrics ?? new PipelineMetrics()
    this.#registry = options.registry
    this.done = new Promise((res, rej) => {
      this.#resolveDone = res
      this.#rejectDone = rej
    })
    this.done.catch(() => {}) // observed through done by the caller
  }

  async start(): Promise<void> {
    const admin = this.#log.admin()
    const partitions = new Map<string, number>()
    for (const node of this.#pipeline.graph.nodes) {
      const s = node.spec
      if (s.kind !== 'source-topic' && s.kind !== 'source-table') continue
      const d = await admin.describeTopic(s.topic).catch((err) => {
        throw new SluiceError(
          'SLUICE_ERR_TOPIC_NOT_FOUND',
          `pipeline ${this.#pipeline.name} reads topic ${s.topic} (step ${node.name}), which does not exist: create it first`,
          { cause: err, details: { topic: s.topic, step: node.name } },
        )
      })
      partitions.set(s.topic, d.partitions.length)
    }
    this.topology = this.#pipeline.build((topic) => partitions.get(topic)!, this.applicationId)
    await bindSchemas(this.topology.graph, this.#registry)
    this.#schemas = new SchemaPrefetch(this.topology.graph)
    const existing = new Set(await admin.listTopics())
    for (const sink of this.topology.sinkTopics) {
      if (!existing.has(sink)) {
        throw new SluiceError(
          'SLUICE_ERR_TOPIC_NOT_FOUND',
          `pipeline ${this.#pipeline.name} writes topic ${sink}, which does not exist: create it first (sluice topics create ${sink} --partitions N)`,
          { details: { topic: sink } },
        )
      }
    }
    await ensureInternalTopics(admin, this.topology)
    for (const st of this.topology.subtopologies)
      for (const i of st.inputs) if (i.kind === 'source') this.#sourceTopics.add(i.topic)
    mkdirSync(this.#stateDir, { recursive: true })

    this.#producer =
      this.#guarantee === 'exactly-once'
        ? this.#log.producer({
            transactionalId: `${this.applicationId}-${instanceId(this.#stateDir)}`,
            clientId: this.applicationId,
            // as Kafka Streams: a process killed mid-transaction holds back read_committed readers of its outputs
            // (the next task's input) until its transaction times out, unless it comes back first
            transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
          })
        : this.#log.producer({ clientId: this.applicationId })
    if (this.#guarantee === 'exactly-once') await this.#producer.initTransactions()

    for (const st of this.topology.subtopologies) {
      if (st.inputs.some((i) => i.kind === 'memory')) this.#startMemoryTask(st)
    }
    const topics = [
      ...new Set(
        this.topology.subtopologies.flatMap((st) =>
          st.inputs.filter((i) => i.kind !== 'memory').map((i) => i.topic),
        ),
      ),
    ]
    this.#consumer = this.#log.consumer({
      groupId: this.applicationId,
      clientId: this.applicationId,
      isolationLevel: 'read_committed',
      autoOffsetReset: 'earliest',
    })
    if (topics.length > 0) {
      await this.#consumer.subscribe(topics, {
        onRevoked: (tps) => this.#onRevoked(tps),
        onAssigned: (tps) => this.#onAssigned(tps),
      })
    }
    this.#lastCommit = this.#clock()
    this.#loop = this.#run().then(
      () => {
        this.#state = 'stopped'
        this.#resolveDone()
      },
      (err) => {
        this.#state = 'failed'
        this.#error = (err as Error)?.message ?? String(err)
        this.#rejectDone(err)
      },
    )
  }

  #newTask(st: SubTopology, partition: number): Task {
    const task = new Task({
      topology: this.topology,
      subtopology: st,
      partition,
      backend: this.#backend,
      stateDir: this.#stateDir,
      clock: this.#clock,
    })
    this.#tasks.set(task.id, task)
    return task
  }

  #startMemoryTask(st: SubTopology): void {
    const task = this.#newTask(st, 0)
    // in-memory sources are read from their start on every run: state from an earlier run would count twice
    for (const store of task.stores.values()) store.backend.clear()
    for (const input of st.inputs) {
      if (input.kind !== 'memory') continue
      const spec = this.topology.graph.node(input.node).spec
      if (spec.kind !== 'source-memory') continue
      const iterable = typeof spec.records === 'function' ? spec.records() : spec.records
      this.#memorySources.push({
        task,
        source: input.topic,
        iterator: iterable[Symbol.iterator](),
        ended: false,
      })
    }
    task.finishRestore()
    this.#pendingOpen.push(task)
  }

  async #onAssigned(tps: TopicPartition[]): Promise<void> {
    const assigned = new Set(tps.map((tp) => tpKey(tp.topic, tp.partition)))
    const committed = await this.#log
      .admin()
      .describeGroup(this.applicationId)
      .then(
        (g) => g.offsets,
        () => [],
      )
    for (const st of this.topology.subtopologies) {
      const inputs = st.inputs.filter((i) => i.kind !== 'memory')
      if (inputs.length === 0) continue
      for (let p = 0; p < st.partitions; p++) {
        if (!inputs.every((i) => assigned.has(tpKey(i.topic, p)))) continue
        const task = this.#newTask(st, p)
        await this.#restore(task)
        this.#restoreMarkers(task, committed)
      }
    }
  }

  /** Rebuilds a task's stores from their changelogs (tables from their source topic), up to the current end. */
  async #restore(task: Task): Promise<void> {
    const reader = this.#log.consumer({ isolationLevel: 'read_committed', autoOffsetReset: 'earliest' })
    try {
      for (const store of task.subtopology.stores) {
        const tp = { topic: store.changelogTopic, partition: task.partition }
        const end = await this.#log.admin().listOffsets(tp.topic, tp.partition, 'lastStable')
        const earliest = await this.#log.admin().listOffsets(tp.topic, tp.partition, 'earliest')
        // local state on disk (lmdb) that matches a committed changelog offset only needs the tail after it
        const local = store.writesChangelog ? task.stores.get(store.name)!.snapshotOffset : undefined
        const usable = local !== undefined && local >= earliest && local <= end
        if (!usable) task.stores.get(store.name)!.backend.clear()
        const start = usable ? local : earliest
        await reader.assign([tp])
        await reader.seek(tp, start)
        const progress: RestoreProgress = {
          task: task.id,
          store: store.name,
          topic: tp.topic,
          partition: tp.partition,
          records: 0,
          fromLocalSnapshot: usable,
          startOffset: start,
          endOffset: end,
          percent: end > start ? 0 : 100,
          done: end <= start,
        }
        this.#restores.set(`${task.id}/${store.name}`, progress)
        restoreChannel.publish(progress)
        while ((reader.position(tp) ?? end) < end) {
          const records = await reader.poll({ maxRecords: 10_000, timeoutMs: 1000 })
          if (records.length === 0) break
          task.restore(store.name, records)
          progress.records += records.length
          this.#metrics.restoreRecords.inc(
            { pipeline: this.applicationId, store: store.name },
            records.length,
          )
          const position = reader.position(tp) ?? end
          // a persistent backend holds restored writes in memory until a flush: flush as we go, with the offset
          // restored to, so that a crash during a long restore goes on from there (the state holds every committed
          // record before it, and replaying the changelog again over newer state converges to the same state)
          if (this.#backend.kind !== 'memory' && progress.records % 100_000 < records.length) {
            await task.stores.get(store.name)!.flush(store.writesChangelog ? position : undefined)
          }
          progress.percent = Math.min(100, Math.round(((position - start) / (end - start)) * 1000) / 10)
          restoreChannel.publish(progress)
        }
        progress.done = true
        progress.percent = 100
        restoreChannel.publish(progress)
        this.#metrics.restorePercent.set(
          { pipeline: this.applicationId, task: task.id, store: store.name },
          100,
        )
        // a table's source topic is also an input: continue it after what the restore read
        if (!store.writesChangelog)
          this.#positions.set(tpKey(tp.topic, tp.partition), reader.position(tp) ?? end)
      }
    } finally {
      await reader.close()
    }
    task.finishRestore()
    this.#flushedAt.set(task.id, this.#clock())
    this.#pendingOpen.push(task)
    for (const store of task.subtopology.stores) {
      if (!store.writesChangelog)
        await this.#consumer.seek(
          { topic: store.changelogTopic, partition: task.partition },
          this.#positions.get(tpKey(store.changelogTopic, task.partition))!,
        )
    }
  }

  /** Hands a restored task the watermark markers it had consumed by the last commit (see #markers). */
  #restoreMarkers(task: Task, committed: readonly CommittedOffset[]): void {
    for (const input of task.subtopology.inputs) {
      if (input.kind !== 'repartition') continue
      const k = tpKey(input.topic, task.partition)
      let texts: unknown
      try {
        texts = JSON.parse(committed.find((o) => tpKey(o.topic, o.partition) === k)?.metadata ?? '[]')
      } catch {
        continue // metadata not written by Sluice
      }
      if (!Array.isArray(texts) || texts.length === 0) continue
      const markers = texts.filter((t): t is string => typeof t === 'string')
      this.#markers.set(k, new Map(markers.map((t) => [t.slice(0, t.indexOf(':')), t])))
      task.processLogRecords(
        input.topic,
        markers.map((t) => ({
          offset: -1,
          timestamp: 0,
          key: null,
          value: null,
          headers: [[WATERMARK_HEADER, Buffer.from(t)]],
        })),
      )
    }
  }

  async #onRevoked(tps: TopicPartition[]): Promise<void> {
    if (tps.length === 0) return
    // After a failure, closing the consumer revokes its partitions: a commit then would record the offsets of
    // records whose changelog went with the failed transaction, and a flush would record an offset past the state.
    if (!this.#failed) await this.#commit(true)
    const revoked = new Set(tps.map((tp) => tpKey(tp.topic, tp.partition)))
    for (const [id, task] of this.#tasks) {
      if (
        task.subtopology.inputs.some(
          (i) => i.kind !== 'memory' && revoked.has(tpKey(i.topic, task.partition)),
        )
      ) {
        await task.close()
        this.#tasks.delete(id)
        this.#flushedAt.delete(id)
      }
    }
    for (const k of revoked) {
      this.#positions.delete(k)
      this.#markers.delete(k)
    }
  }

  /** Every task reading this partition: two sub-topologies may read one repartition topic. */
  #tasksFor(topic: string, partition: number): Task[] {
    const out: Task[] = []
    for (const task of this.#tasks.values()) {
      if (
        task.partition === partition &&
        task.subtopology.inputs.some((i) => i.topic === topic && i.kind !== 'memory')
      ) {
        out.push(task)
      }
    }
    return out
  }

  async #run(): Promise<void> {
    try {
      let yieldedAt = performance.now()
      while (!this.#stopping) {
        // a backlog keeps every await resolved at once: give timers (fsync, maintenance), signals and an HTTP server
        // in the same process a turn every few milliseconds
        if (performance.now() - yieldedAt > 10) {
          await new Promise((resolve) => setImmediate(resolve))
          yieldedAt = performance.now()
        }
        await this.#openSinks()
        const memoryBusy = this.#feedMemory()
        const records = await this.#consumer.poll({
          maxRecords: this.#maxPoll,
          timeoutMs: memoryBusy ? 0 : 20,
        })
        if (records.length > 0) {
          if (!this.#schemas.empty) await this.#schemas.learn(records)
          this.#process(records)
        }
        for (const task of this.#tasks.values()) task.advanceProcessingTime()
        await this.#sendOutputs()
        if (this.#clock() - this.#lastCommit >= this.#commitIntervalMs) await this.#commit()
        if (this.#boundedAndDone()) break
      }
      await this.#commit(true)
    } catch (err) {
      this.#failed = true
      if (this.#inTransaction) await this.#producer.abortTransaction().catch(() => {})
      this.#inTransaction = false
      // writes since the last flush may belong to the transaction just aborted: closing must not flush them
      for (const task of this.#tasks.values()) {
        for (const store of task.stores.values()) {
          try {
            store.discardUnflushed()
          } catch {}
        }
      }
      await this.#finishSinks(false).catch(() => {})
      await this.#close()
      throw err
    }
    await this.#close()
  }

  #boundedAndDone(): boolean {
    return (
      this.#memorySources.length > 0 &&
      this.#memorySources.every((m) => m.ended) &&
      this.topology.subtopologies.every((st) => st.inputs.every((i) => i.kind === 'memory'))
    )
  }

  /** Feeds one chunk of each in-memory source; true while any has more. */
  #feedMemory(): boolean {
    let busy = false
    for (const m of this.#memorySources) {
      if (m.ended) continue
      const batch: Rec[] = []
      for (let i = 0; i < this.#maxPoll; i++) {
        const next = m.iterator.next()
        if (next.done) {
          m.ended = true
          break
        }
        batch.push(next.value)
      }
      if (batch.length > 0) m.task.processMemoryRecords(m.source, batch)
      if (m.ended) m.task.endInput(m.source)
      else busy = true
    }
    return busy
  }

  #process(records: ConsumedRecord[]): void {
    // keep each partition's records together and in order; hand them to its task in one batch
    let start = 0
    for (let i = 1; i <= records.length; i++) {
      if (
        i < records.length &&
        records[i].topic === records[start].topic &&
        records[i].partition === records[start].partition
      ) {
        continue
      }
      const first = records[start]
      const tasks = this.#tasksFor(first.topic, first.partition)
      if (tasks.length > 0) {
        const batch = records.slice(start, i)
        for (const t of tasks) t.processLogRecords(first.topic, batch)
        const task = tasks[0]
        this.#recordsIn += batch.length
        if (this.#sourceTopics.has(first.topic)) {
          this.#sourceRecordsIn += batch.length
          // sample so that a commit interval never keeps more than ~10k timestamps
          const step = Math.max(1, Math.ceil(batch.length / 1000))
          for (let j = 0; j < batch.length; j += step) this.#pendingLatency.push(batch[j].timestamp)
        }
        if (task.subtopology.inputs.some((x) => x.kind === 'repartition' && x.topic === first.topic))
          this.#noteMarkers(tpKey(first.topic, first.partition), batch)
        this.#positions.set(tpKey(first.topic, first.partition), batch[batch.length - 1].offset + 1)
      }
      start = i
    }
  }

  #noteMarkers(k: string, records: readonly ConsumedRecord[]): void {
    for (const r of records) {
      const h = r.headers.length > 0 ? r.headers.find((x) => x[0] === WATERMARK_HEADER) : undefined
      if (h === undefined) continue
      const text = h[1].toString()
      let markers = this.#markers.get(k)
      if (markers === undefined) this.#markers.set(k, (markers = new Map()))
      markers.set(text.slice(0, text.indexOf(':')), text)
    }
  }

  async #sendOutputs(): Promise<void> {
    const out = []
    for (const task of this.#tasks.values()) for (const r of task.drainOutputs()) out.push(r)
    if (out.length === 0) return
    await this.#ensureTransaction()
    await this.#producer.send(out)
    for (const r of out) this.#recordsOut.set(r.topic, (this.#recordsOut.get(r.topic) ?? 0) + 1)
  }

  async #ensureTransaction(): Promise<void> {
    if (this.#guarantee !== 'exactly-once' || this.#inTransaction) return
    this.#producer.beginTransaction()
    this.#inTransaction = true
  }

  async #openSinks(): Promise<void> {
    const tasks = this.#pendingOpen
    this.#pendingOpen = []
    for (const task of tasks) {
      for (const s of task.sinks) {
        await s.sink.open(
          { pipeline: this.topology.name, step: s.step, taskId: task.id, partition: task.partition },
          task.lastSinkCommit(s.step),
        )
      }
    }
  }

  /** Phase one for connector sinks: their records durable, and the commit id recorded in the changelogged state. */
  async #prepareSinks(): Promise<void> {
    for (const task of this.#tasks.values()) {
      for (let index = 0; index < task.sinks.length; index++) {
        const s = task.sinks[index]
        if (!s.written) continue
        s.written = false
        const id = (task.lastSinkCommit(s.step) ?? 0) + 1
        await s.sink.prepare(id)
        s.store.put('commit', id)
        this.#prepared.push({ task, index, id })
      }
    }
  }

  async #finishSinks(commit: boolean): Promise<void> {
    const prepared = this.#prepared
    this.#prepared = []
    for (const p of prepared) {
      const s = p.task.sinks[p.index]
      if (commit) await s.sink.commit(p.id)
      else await s.sink.abort(p.id)
    }
  }

  /**
   * One commit: outputs and changelogs sent, then offsets, atomically under exactly-once; then local state is flushed
   * if due (`flushState`: always).
   */
  async #commit(flushState = false): Promise<void> {
    this.#lastCommit = this.#clock()
    const started = performance.now()
    await this.#openSinks()
    await this.#sendOutputs()
    await this.#prepareSinks()
    const changelog = []
    for (const task of this.#tasks.values()) for (const r of task.drainChangelog()) changelog.push(r)
    const offsets: CommittedOffset[] = []
    for (const [k, offset] of this.#positions) {
      if (this.#committed.get(k) === offset) continue
      const colon = k.lastIndexOf(':')
      const markers = this.#markers.get(k)
      const metadata = markers === undefined ? undefined : JSON.stringify([...markers.values()])
      offsets.push({ topic: k.slice(0, colon), partition: Number(k.slice(colon + 1)), offset, metadata })
    }
    if (changelog.length === 0 && offsets.length === 0 && !this.#inTransaction) {
      // nothing changed since the last commit, so the state is still as committed then: a flush may be due
      await this.#snapshot(flushState)
      return
    }
    if (this.#guarantee === 'exactly-once') {
      await this.#ensureTransaction()
      if (changelog.length > 0) await this.#producer.send(changelog)
      if (offsets.length > 0)
        await this.#producer.sendOffsetsToTransaction(offsets, this.#consumer.groupMetadata())
      await this.#producer.commitTransaction()
      this.#inTransaction = false
    } else {
      if (changelog.length > 0) await this.#producer.send(changelog)
      if (offsets.length > 0) await this.#consumer.commit(offsets)
    }
    for (const o of offsets) this.#committed.set(tpKey(o.topic, o.partition), o.offset)
    await this.#finishSinks(true)
    await this.#snapshot(flushState)
    await this.#afterCommit(performance.now() - started)
  }

  /** Metrics of a successful commit: its duration, the latency of what it committed, lag and watermarks. */
  async #afterCommit(durationMs: number): Promise<void> {
    const pipeline = this.applicationId
    const now = Date.now()
    this.#lastCommitAt = now
    this.#lastCommitMs = durationMs
    this.#metrics.commitDuration.observe({ pipeline, guarantee: this.#guarantee }, durationMs / 1000)
    this.#metrics.commits.inc({ pipeline, guarantee: this.#guarantee })
    const latencies = this.#pendingLatency
    this.#pendingLatency = []
    for (const ts of latencies) {
      const ms = Math.max(0, now - ts)
      this.#metrics.endToEndLatency.observe({ pipeline }, ms / 1000)
      this.#recentLatency.push(ms)
    }
    if (this.#recentLatency.length > 5000) this.#recentLatency.splice(0, this.#recentLatency.length - 5000)
    for (const task of this.#tasks.values()) {
      for (const [name, value] of task.counters) {
        const key = `${task.id}/${name}`
        const delta = value - (this.#reported.get(key) ?? 0)
        if (delta <= 0) continue
        this.#reported.set(key, value)
        if (name === 'records-in') this.#metrics.recordsIn.inc({ pipeline, task: task.id }, delta)
        else if (name.endsWith('.late'))
          this.#metrics.lateRecords.inc({ pipeline, step: name.slice(0, -5) }, delta)
        else if (name.endsWith('.dead-letters')) {
          this.#metrics.deadLetters.inc({ pipeline, step: name.slice(0, -'.dead-letters'.length) }, delta)
        } else if (name.endsWith('.skipped')) {
          this.#metrics.skippedRecords.inc({ pipeline, step: name.slice(0, -'.skipped'.length) }, delta)
        }
      }
      if (Number.isFinite(task.watermark)) {
        this.#metrics.watermarkLag.set({ pipeline, task: task.id }, Math.max(0, now - task.watermark) / 1000)
      }
    }
    for (const [topic, n] of this.#recordsOut) {
      const key = `out/${topic}`
      const delta = n - (this.#reported.get(key) ?? 0)
      if (delta > 0) this.#metrics.recordsOut.inc({ pipeline, topic }, delta)
      this.#reported.set(key, n)
    }
    this.#rate.push({ at: now, count: this.#recordsIn, source: this.#sourceRecordsIn })
    while (this.#rate.length > 2 && now - this.#rate[0].at > 5000) this.#rate.shift()
    if (now - this.#lagRefreshedAt >= 1000) {
      this.#lagRefreshedAt = now
      const admin = this.#log.admin()
      for (const k of this.#positions.keys()) {
        const colon = k.lastIndexOf(':')
        const topic = k.slice(0, colon)
        const partition = Number(k.slice(colon + 1))
        const hw = await admin.listOffsets(topic, partition, 'lastStable').catch(() => null)
        if (hw === null) continue
        this.#highWatermarks.set(k, hw)
        this.#metrics.consumerLag.set(
          { pipeline, topic, partition: String(partition) },
          Math.max(0, hw - this.#positions.get(k)!),
        )
      }
    }
  }

  /**
   * Flushes the local state of each task that is due (every task with `force`), right after a commit. A persistent
   * backend records, in the same flush, the changelog offset its state now matches, so that a restart replays only
   * the changelog after it. Why this is safe at any commit, and need not happen at every one:
   * - Nothing runs between a commit and this flush, so every write the stores hold is committed: its changelog
   *   record is in a committed transaction (under at-least-once, sent). A flush never writes state of a transaction
   *   that did not commit; after a failed commit the runner discards the unflushed writes instead (see #run).
   * - The offset recorded is the changelog's end after the commit, read before the flush: the state flushed holds
   *   every change logged before it, so the offset is never ahead of the state. (Writes flushed by a close or a
   *   restore without a new offset leave the state ahead of its offset, which is safe: replaying the tail over newer
   *   state of the same history gives the state at the end of the changelog.)
   * - Between flushes the file keeps the state and offset of the last flush, both from one LMDB transaction per
   *   store. After a kill -9 the restore replays the committed changelog from that offset, and so rebuilds the state
   *   of the last commit, whatever commits came after the flush; the writes lost with the process were either in
   *   the changelog (committed) or never committed.
   */
  async #snapshot(force: boolean): Promise<void> {
    if (this.#backend.kind === 'memory') return
    const now = this.#clock()
    for (const task of this.#tasks.values()) {
      let unflushed = 0
      for (const store of task.stores.values()) unflushed += store.unflushed
      if (unflushed === 0) continue
      const since = now - (this.#flushedAt.get(task.id) ?? 0)
      if (!force && unflushed < this.#stateFlushRecords && since < this.#stateFlushIntervalMs) continue
      const admin = this.#log.admin()
      const offsets = new Map<string, number>()
      for (const s of task.subtopology.stores) {
        if (s.writesChangelog)
          offsets.set(s.name, await admin.listOffsets(s.changelogTopic, task.partition, 'latest'))
      }
      await Promise.all([...task.stores].map(([name, store]) => store.flush(offsets.get(name))))
      this.#flushedAt.set(task.id, now)
    }
  }

  async #close(): Promise<void> {
    await this.#consumer.close().catch(() => {})
    for (const task of this.#tasks.values()) await task.close()
    this.#tasks.clear()
    await this.#producer.close()
  }

  async stop(): Promise<void> {
    this.#stopping = true
    if (this.#state === 'running') this.#state = 'stopping'
    await this.#loop
    await this.done.catch(() => {})
  }

  tasks(): TaskStatus[] {
    return [...this.#tasks.values()].map((t) => ({
      id: t.id,
      subtopology: t.subtopology.id,
      partition: t.partition,
      watermark: t.watermark,
      counters: Object.fromEntries(t.counters),
    }))
  }

  status(): PipelineStatus {
    const partitions: PartitionStatus[] = [...this.#positions.entries()].map(([k, position]) => {
      const colon = k.lastIndexOf(':')
      const hw = this.#highWatermarks.get(k) ?? null
      return {
        topic: k.slice(0, colon),
        partition: Number(k.slice(colon + 1)),
        position,
        highWatermark: hw,
        lag: hw === null ? null : Math.max(0, hw - position),
      }
    })
    const first = this.#rate[0]
    const last = this.#rate[this.#rate.length - 1]
    const seconds = first && last ? (last.at - first.at) / 1000 : 0
    const sorted = [...this.#recentLatency].sort((a, b) => a - b)
    const pct = (q: number) =>
      sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
    let late = 0
    let deadLetters = 0
    let skipped = 0
    for (const t of this.#tasks.values()) {
      for (const [name, v] of t.counters) {
        if (name.endsWith('.late')) late += v
        else if (name.endsWith('.dead-letters')) deadLetters += v
        else if (name.endsWith('.skipped')) skipped += v
      }
    }
    return {
      applicationId: this.applicationId,
      guarantee: this.#guarantee,
      state: this.#state,
      tasks: this.tasks(),
      partitions: partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
      recordsPerSecond: seconds > 0 ? Math.round((last.count - first.count) / seconds) : 0,
      sourceRecordsPerSecond: seconds > 0 ? Math.round((last.source - first.source) / seconds) : 0,
      recordsIn: this.#recordsIn,
      sourceRecordsIn: this.#sourceRecordsIn,
      lateRecords: late,
      deadLetters,
      skippedRecords: skipped,
      deadLetterTopic: this.topology.deadLetterTopic,
      recordsOut: Object.fromEntries(this.#recordsOut),
      lastCommitAt: this.#lastCommitAt,
      lastCommitMs: this.#lastCommitMs,
      latencyMs: { p50: pct(0.5), p99: pct(0.99) },
      restores: this.restoreProgress(),
      error: this.#error,
    }
  }

  committedOffsets(): Map<string, number> {
    return new Map(this.#committed)
  }

  restoreProgress(): RestoreProgress[] {
    return [...this.#restores.values()].map((p) => ({ ...p }))
  }
}
