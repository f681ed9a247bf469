// A deterministic driver for pipelines, as Kafka Streams' TopologyTestDriver: records are fed to named inputs,
// processing time is virtual, repartition topics are in-memory queues moved synchronously, and outputs, side outputs
// and state can be read back. It runs the same tasks and operators as the real runtime.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pipeline } from '../dsl/pipeline.ts'
import { SluiceError } from '../errors/index.ts'
import type { Rec } from '../graph/logical.ts'
import type { Topology } from '../graph/planner.ts'
import type { Header, LogRecord, ProducerRecord } from '../log/contract.ts'
import { partitionForKey } from '../log/partitioner.ts'
import { type DeadLetter, parseDeadLetter } from '../runtime/dead-letters.ts'
import { Task } from '../runtime/task.ts'
import type { StateBackendFactory } from '../state/backend.ts'
import { memoryState } from '../state/backends/memory.ts'
import { decodeKey } from '../state/key-codec.ts'

export interface TestDriverOptions {
  /** Partition count of each input topic; default 1. */
  partitions?: Record<string, number>
  /**
   * Most records handed to a task at once. Consecutive records of one partition are batched as a fetch would; 1
   * processes record by record, so each record sees the watermark left by the one before (the default).
   */
  batchSize?: number
  /** Start of virtual processing time (epoch ms). Default 0. */
  startTime?: number
  backend?: StateBackendFactory
}

export interface TestInput<K, V> {
  key?: K
  value: V
  /** Log record timestamp; default: the virtual clock. */
  timestamp?: number
  /** Default: by key hash, as a producer would (partition 0 without a key). */
  partition?: number
  headers?: Header[]
}

export interface TestOutput<K = unknown, V = unknown> {
  key: K
  value: V
  timestamp: number
  partition: number | undefined
}

/**
 * The driver commits at the end of each call and after this many records within one: often enough that the changed
 * keys of a long run stay few, seldom enough that a key written again and again is serialized once per commit, as
 * under the runner (it commits every 100 ms, which is 100,000 records at a million a second).
 */
const COMMIT_RECORDS = 100_000

export class TestDriver {
  readonly topology: Topology
  readonly #pipeline: Pipeline
  readonly #partitions: Record<string, number>
  readonly #tasks = new Map<string, Task>()
  readonly #outputs = new Map<string, ProducerRecord[]>()
  readonly #queue: ProducerRecord[] = []
  readonly #stateDir: string
  #now: number
  #offset = 0
  #started = false
  /** Records fed since the changelogs were last drained. */
  #uncommitted = 0
  readonly #batchSize: number

  constructor(pipeline: Pipeline, options: TestDriverOptions = {}) {
    this.#pipeline = pipeline
    this.#partitions = options.partitions ?? {}
    this.#now = options.startTime ?? 0
    this.#batchSize = options.batchSize ?? 1
    this.topology = pipeline.build((topic) => this.#partitions[topic] ?? 1)
    this.#stateDir = mkdtempSync(join(tmpdir(), 'sluice-driver-'))
    const backend = options.backend ?? memoryState()
    for (const st of this.topology.subtopologies) {
      for (let p = 0; p < st.partitions; p++) {
        const task = new Task({
          topology: this.topology,
          subtopology: st,
          partition: p,
          backend,
          stateDir: this.#stateDir,
          clock: () => this.#now,
        })
        this.#tasks.set(task.id, task)
      }
    }
  }

  get now(): number {
    return this.#now
  }

  /** Feeds every in-memory source to its end (once), then moves what it produced. */
  start(): this {
    if (this.#started) return this
    this.#started = true
    for (const st of this.topology.subtopologies) {
      for (const input of st.inputs) {
        if (input.kind !== 'memory') continue
        const spec = this.topology.graph.node(input.node).spec
        if (spec.kind !== 'source-memory') continue
        const task = this.#task(st.id, 0)
        const source = typeof spec.records === 'function' ? spec.records() : spec.records
        let batch: Rec[] = []
        for (const r of source) {
          batch.push(r)
          if (batch.length === 1000) {
            task.processMemoryRecords(input.topic, batch)
            this.#pump()
            this.#fed(batch.length)
            batch = []
          }
        }
        if (batch.length > 0) task.processMemoryRecords(input.topic, batch)
        task.endInput(input.topic)
        this.#pump()
      }
    }
    this.#commit()
    return this
  }

  #task(subtopology: number, partition: number): Task {
    return this.#tasks.get(`${subtopology}_${partition}`)!
  }

  #tasksReading(topic: string): { task: (p: number) => Task; partitions: number }[] {
    const out = []
    for (const st of this.topology.subtopologies) {
      if (st.inputs.some((i) => i.topic === topic && i.kind !== 'memory')) {
        out.push({ task: (p: number) => this.#task(st.id, p), partitions: st.partitions })
      }
    }
    return out
  }

  /** The tasks reading an input topic; one the pipeline does not read is an error. */
  #inputReaders(topic: string): { task: (p: number) => Task; partitions: number }[] {
    const readers = this.#tasksReading(topic)
    if (readers.length === 0) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        `pipeline ${this.topology.name} reads no topic ${topic}`,
      )
    }
    return readers
  }

  /** Sends records to an input topic (a source or a table), serialized with the pipeline's serdes for it. */
  pipeInput<K, V>(topic: string, records: TestInput<K, V>[]): this {
    this.start()
    const readers = this.#inputReaders(topic)
    const node = this.topology.graph.nodes.find(
      (n) => (n.spec.kind === 'source-topic' || n.spec.kind === 'source-table') && n.spec.topic === topic,
    )!
    const spec = node.spec as {
      keySerde: { serialize(k: unknown): Buffer | null }
      valueSerde: { serialize(v: unknown): Buffer | null }
    }
    return this.#feed(
      topic,
      readers,
      records.map((r) => ({
        ...r,
        key: r.key === undefined ? null : spec.keySerde.serialize(r.key),
        value: spec.valueSerde.serialize(r.value),
      })),
    )
  }

  /**
   * Sends records to an input topic as bytes, as another producer could have written them: for input the pipeline's
   * serdes would refuse (see deadLetters()).
   */
  pipeRawInput(topic: string, records: TestInput<Buffer | null, Buffer | null>[]): this {
    this.start()
    const readers = this.#inputReaders(topic)
    return this.#feed(
      topic,
      readers,
      records.map((r) => ({ ...r, key: r.key ?? null })),
    )
  }

  #feed(
    topic: string,
    readers: { task: (p: number) => Task; partitions: number }[],
    records: TestInput<Buffer | null, Buffer | null>[],
  ): this {
    // consecutive records of one partition go in as one batch, as a fetch would hand them over
    let batch: LogRecord[] = []
    let batchPartition = -1
    const flush = () => {
      if (batch.length === 0) return
      for (const reader of readers) reader.task(batchPartition).processLogRecords(topic, batch)
      this.#pump()
      this.#fed(batch.length)
      batch = []
    }
    for (const r of records) {
      const key = r.key ?? null
      const partitions = readers[0].partitions
      const partition = r.partition ?? (key === null ? 0 : partitionForKey(key, partitions))
      if (partition !== batchPartition || batch.length >= this.#batchSize) flush()
      batchPartition = partition
      batch.push({
        offset: this.#offset++,
        timestamp: r.timestamp ?? this.#now,
        key,
        value: r.value,
        headers: r.headers ?? [],
      })
    }
    flush()
    this.#commit()
    return this
  }

  /** Moves virtual processing time forward: processing-time timers fire and idle inputs are noticed. */
  advanceTime(ms: number): this {
    this.start()
    this.#now += ms
    for (const t of this.#tasks.values()) t.advanceProcessingTime()
    this.#pump()
    this.#commit()
    return this
  }

  /** Declares the end of an input topic: its watermark moves to the end of time, closing every window. */
  endInput(topic: string): this {
    this.start()
    for (const t of this.#tasks.values()) t.endInput(topic)
    this.#pump()
    this.#commit()
    return this
  }

  /** Routes task outputs: repartition records to the tasks reading them, the rest to the output buffers. */
  #pump(): void {
    for (;;) {
      for (const t of this.#tasks.values()) {
        for (const r of t.drainOutputs()) this.#queue.push(r)
      }
      if (this.#queue.length === 0) return
      const batch = this.#queue.splice(0, this.#queue.length)
      for (const r of batch) {
        const readers = this.#tasksReading(r.topic)
        if (readers.length === 0) {
          const list = this.#outputs.get(r.topic) ?? []
          list.push(r)
          this.#outputs.set(r.topic, list)
          continue
        }
        const record: LogRecord = {
          offset: this.#offset++,
          timestamp: r.timestamp ?? this.#now,
          key: r.key ?? null,
          value: r.value,
          headers: r.headers ?? [],
        }
        for (const reader of readers) reader.task(r.partition ?? 0).processLogRecords(r.topic, [record])
      }
    }
  }

  #fed(records: number): void {
    this.#uncommitted += records
    if (this.#uncommitted >= COMMIT_RECORDS) this.#commit()
  }

  /**
   * Drains the changelogs, as a commit would: their records are dropped, but serializing them checks that state
   * values can be, and the stores forget their changed keys.
   */
  #commit(): void {
    this.#uncommitted = 0
    for (const t of this.#tasks.values()) t.drainChangelog()
  }

  /** Takes the records written to an output topic so far, deserialized with the sink's serdes. */
  readOutput<K = unknown, V = unknown>(topic: string): TestOutput<K, V>[] {
    this.start()
    const sink = this.topology.graph.nodes.find((n) => n.spec.kind === 'sink-topic' && n.spec.topic === topic)
    if (sink === undefined || sink.spec.kind !== 'sink-topic') {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        `pipeline ${this.topology.name} writes no topic ${topic}`,
      )
    }
    const { keySerde, valueSerde } = sink.spec
    const records = this.#outputs.get(topic) ?? []
    this.#outputs.set(topic, [])
    return records.map((r) => ({
      key: keySerde.deserialize(r.key ?? null) as K,
      value: valueSerde.deserialize(r.value) as V,
      timestamp: r.timestamp ?? 0,
      partition: r.partition,
    }))
  }

  /** Takes the records written to the dead-letter topic so far, with what their headers say. */
  deadLetters(): DeadLetter[] {
    this.start()
    const topic = this.topology.deadLetterTopic
    if (topic === null) return []
    const records = this.#outputs.get(topic) ?? []
    this.#outputs.set(topic, [])
    return records.map(
      (r) =>
        parseDeadLetter({
          key: r.key === undefined || r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
          headers: r.headers ?? [],
        })!,
    )
  }

  /** The entries of a step's state store across all tasks (keys decoded where they are record keys). */
  state(step: string): { task: string; key: string; decodedKey: unknown; value: unknown }[] {
    const out = []
    for (const t of this.#tasks.values()) {
      const store = t.stores.get(step)
      if (store === undefined) continue
      for (const [key, value] of store.entries())
        out.push({ task: t.id, key, decodedKey: safeDecode(key), value })
    }
    return out
  }

  /** Counters of all tasks, summed (e.g. 'views.late'). */
  counters(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const t of this.#tasks.values()) for (const [k, v] of t.counters) out[k] = (out[k] ?? 0) + v
    return out
  }

  /** The watermark of each task. */
  watermarks(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const t of this.#tasks.values()) out[t.id] = t.watermark
    return out
  }

  async close(): Promise<void> {
    for (const t of this.#tasks.values()) await t.close()
    rmSync(this.#stateDir, { recursive: true, force: true })
  }

  get pipelineName(): string {
    return this.#pipeline.name
  }
}

function safeDecode(key: string): unknown {
  try {
    return decodeKey(key)
  } catch {
    return key
  }
}
