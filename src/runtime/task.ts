// A task runs one sub-topology for one partition: bytes from its input partitions in, operators run synchronously
// over each batch, and records for sink and repartition topics buffered out until the commit takes them. It also
// owns the task's watermark: per input, the minimum over inputs, idle inputs left out.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Sink } from '../connectors/sink.ts'
import { isSluiceError, SluiceError } from '../errors/index.ts'
import type { FailureKind } from '../graph/error-policies.ts'
import type { GraphNode, NodeSpec, Rec } from '../graph/logical.ts'
import type { SubTopology, SubTopologyInput, Topology } from '../graph/planner.ts'
import type { Header, LogRecord, ProducerRecord } from '../log/contract.ts'
import { partitionForKey } from '../log/partitioner.ts'
import { branchOperator } from '../operators/branch.ts'
import { filterOperator } from '../operators/filter.ts'
import { flatMapOperator } from '../operators/flat-map.ts'
import { keyedProcessOperator } from '../operators/keyed-process.ts'
import { mapOperator } from '../operators/map.ts'
import type { Operator, OperatorContext } from '../operators/operator.ts'
import { passThroughOperator } from '../operators/pass-through.ts'
import { peekOperator } from '../operators/peek.ts'
import { selectKeyOperator } from '../operators/select-key.ts'
import { sessionWindowOperator } from '../operators/session-window.ts'
import { streamJoinOperator } from '../operators/stream-join.ts'
import { tableJoinOperator, tableSourceOperator } from '../operators/table-join.ts'
import { fixedWindowOperator } from '../operators/window-aggregate.ts'
import type { StateBackendFactory } from '../state/backend.ts'
import { Store } from '../state/store.ts'
import { MAX_WATERMARK, MIN_WATERMARK, type WatermarkGenerator } from '../time/watermarks.ts'
import { deadLetterOfRaw, deadLetterOfRec, type Failure, type Provenance } from './dead-letters.ts'

/** Header of the watermark markers upstream tasks write into every partition of a repartition topic. */
export const WATERMARK_HEADER = 'sluice.wm'

export interface TaskOptions {
  topology: Topology
  subtopology: SubTopology
  partition: number
  backend: StateBackendFactory
  /** Root of local state; the task uses `<stateDir>/<taskId>`. */
  stateDir: string
  /** Processing time. */
  clock: () => number
}

interface Compiled {
  node: GraphNode
  op: Operator
  watermark: number
  targets: Map<string, { to: Compiled; input: number }[]>
}

interface InputState {
  input: SubTopologyInput
  generator: WatermarkGenerator | null
  watermark: number
  lastActivity: number
  idleTimeoutMs: number | null
  /** Repartition inputs: the watermark each upstream task last sent, or null when it said it is idle. */
  upstream: Map<number, number | null>
  ended: boolean
}

export class Task {
  readonly id: string
  readonly partition: number
  readonly subtopology: SubTopology
  readonly stores = new Map<string, Store>()
  /** Connector sinks of this task, with the store that records their last committed commit id. */
  readonly sinks: { step: string; sink: Sink; store: Store; written: boolean }[] = []
  /** Records for sink and repartition topics, waiting for the commit. */
  outputs: ProducerRecord[] = []
  readonly counters = new Map<string, number>()
  readonly #topology: Topology
  readonly #compiled = new Map<number, Compiled>()
  readonly #order: Compiled[] = []
  readonly #inputs = new Map<string, InputState>()
  readonly #clock: () => number
  #watermark = MIN_WATERMARK
  #idle = false

  constructor(options: TaskOptions) {
    const { topology, subtopology: st, partition } = options
    this.#topology = topology
    this.subtopology = st
    this.partition = partition
    this.id = `${st.id}_${partition}`
    this.#clock = options.clock
    const dir = join(options.stateDir, this.id)
    if (st.stores.length > 0) mkdirSync(dir, { recursive: true })
    for (const s of st.stores) {
      const backend = options.backend.open({ dir, store: s.name, taskId: this.id })
      this.stores.set(s.name, new Store(s.name, backend, s.writesChangelog))
    }
    const now = this.#clock()
    for (const input of st.inputs) {
      const spec = topology.graph.node(input.node).spec
      const strategy = spec.kind === 'source-topic' || spec.kind === 'source-memory' ? spec.watermarks : null
      this.#inputs.set(input.topic, {
        input,
        generator: strategy?.create() ?? null,
        watermark: MIN_WATERMARK,
        lastActivity: now,
        idleTimeoutMs: strategy?.idleTimeoutMs ?? null,
        upstream: new Map(),
        ended: false,
      })
    }
    const inTask = new Set(st.nodes)
    for (const id of st.nodes) {
      const node = topology.graph.node(id)
      const c: Compiled = { node, op: { process() {} }, watermark: MIN_WATERMARK, targets: new Map() }
      this.#compiled.set(id, c)
      this.#order.push(c)
    }
    // repartition nodes of other sub-topologies feed this one: they get an entry here with only local targets
    for (const input of st.inputs) {
      if (input.kind === 'repartition' && !this.#compiled.has(input.node)) {
        const node = topology.graph.node(input.node)
        this.#compiled.set(input.node, {
          node,
          op: { process() {} },
          watermark: MIN_WATERMARK,
          targets: new Map(),
        })
      }
    }
    for (const [from, edges] of topology.graph.outputs()) {
      const c = this.#compiled.get(from)
      if (c === undefined) continue
      if (c.node.spec.kind === 'repartition' && inTask.has(from) && !topology.fused.has(from)) continue
      for (const e of edges) {
        if (!inTask.has(e.to)) continue
        const list = c.targets.get(e.port) ?? []
        list.push({ to: this.#compiled.get(e.to)!, input: e.input })
        c.targets.set(e.port, list)
      }
    }
    for (const c of this.#order) c.op = this.#operatorFor(c)
  }

  get watermark(): number {
    return this.#watermark
  }

  #emit(from: Compiled, port: string, records: Rec[]): void {
    const targets = from.targets.get(port)
    if (targets === undefined) return
    for (const t of targets) t.to.op.process(records, t.input)
  }

  #count(name: string, n: number): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n)
  }

  #context(c: Compiled): OperatorContext {
    const name = c.node.name
    return {
      name,
      taskId: this.id,
      partition: this.partition,
      emit: (records) => this.#emit(c, 'main', records),
      emitTo: (port, records) => this.#emit(c, port, records),
      store: () => this.#store(name),
      storeOf: (step) => this.#store(step),
      watermark: () => c.watermark,
      now: this.#clock,
      count: (metric, n) => this.#count(`${name}.${metric}`, n),
      fail: (err, record) => this.#failed('processing', name, err, record),
    }
  }

  /** Where the records being processed came from: the input batch in flight, if any. */
  #provenance(step: string): Provenance {
    const b = this.#inFlight
    return {
      pipeline: this.#topology.name,
      step,
      task: this.id,
      topic: b?.topic,
      partition: b === null ? undefined : this.partition,
      offsets: b === null ? undefined : [b.first, b.last],
    }
  }

  /**
   * A record failed at `step`: under the 'fail' policy the error is thrown (and stops the pipeline); under 'skip'
   * the record is counted and dropped; under 'dead-letter' it is counted and written to the dead-letter topic with
   * the task's other outputs, so it is committed with them.
   */
  #failed(kind: FailureKind, step: string, err: unknown, record: Rec, raw?: LogRecord): void {
    const policy = this.#topology.errors[kind]
    if (policy === 'fail') throw err
    if (policy === 'skip') {
      this.#count(`${step}.skipped`, 1)
      return
    }
    this.#count(`${step}.dead-letters`, 1)
    const failure: Failure = {
      kind,
      code: isSluiceError(err) ? err.code : 'SLUICE_ERR_INTERNAL',
      message: (err as Error)?.message ?? String(err),
    }
    const topic = this.#topology.deadLetterTopic!
    const at = this.#provenance(step)
    const now = this.#clock()
    if (raw === undefined) this.outputs.push(deadLetterOfRec(topic, failure, at, record, now))
    else {
      at.offsets = undefined
      at.offset = raw.offset >= 0 ? raw.offset : undefined
      this.outputs.push(deadLetterOfRaw(topic, failure, at, raw, now))
    }
  }

  #inFlight: { topic: string; first: number; last: number } | null = null

  #store(name: string): Store {
    const s = this.stores.get(name)
    if (s === undefined)
      throw new SluiceError('SLUICE_ERR_STATE', `step ${name} has no state store in task ${this.id}`)
    return s
  }

  #operatorFor(c: Compiled): Operator {
    const ctx = this.#context(c)
    const s: NodeSpec = c.node.spec
    switch (s.kind) {
      case 'map':
        return mapOperator(s.fn, ctx)
      case 'filter':
        return filterOperator(s.fn, ctx)
      case 'flat-map':
        return flatMapOperator(s.fn, ctx)
      case 'peek':
        return peekOperator(s.fn, ctx)
      case 'select-key':
        return selectKeyOperator(s.fn, ctx)
      case 'branch':
        return branchOperator(s.predicates, ctx)
      case 'window':
        return s.assigner.kind === 'session'
          ? sessionWindowOperator({ ...s, assigner: s.assigner }, ctx)
          : fixedWindowOperator({ ...s, assigner: s.assigner }, ctx)
      case 'process':
        return keyedProcessOperator(s.fn, s.ttl, ctx)
      case 'join-stream':
        return streamJoinOperator(s, ctx)
      case 'join-table': {
        const table = this.#topology.graph.node(c.node.inputs[1].from).name
        return tableJoinOperator({ table, inner: s.inner, joiner: s.joiner }, ctx)
      }
      case 'source-table':
        return tableSourceOperator(ctx)
      case 'repartition':
        return this.#topology.fused.has(c.node.id) ? passThroughOperator(ctx) : this.#repartitionSink(c)
      case 'sink-topic':
        return this.#topicSink(c.node.name, s)
      case 'sink': {
        const sink = s.factory({
          pipeline: this.#topology.name,
          step: c.node.name,
          taskId: this.id,
          partition: this.partition,
        })
        const entry = { step: c.node.name, sink, store: this.#store(c.node.name), written: false }
        this.sinks.push(entry)
        return {
          process: (records) => {
            entry.written = true
            sink.write(records)
          },
        }
      }
      case 'sink-fn':
        return {
          process: (records) => {
            for (const r of records) s.fn(r)
          },
        }
      default:
        return passThroughOperator(ctx)
    }
  }

  #topicSink(step: string, s: Extract<NodeSpec, { kind: 'sink-topic' }>): Operator {
    return {
      process: (records) => {
        for (const r of records) {
          let key: Buffer | null
          let value: Buffer | null
          try {
            key = s.keySerde.serialize(r.key)
            value = s.valueSerde.serialize(r.value)
          } catch (err) {
            this.#failed(
              'production',
              step,
              serdeError(err, `step ${step} cannot write a record to topic ${s.topic}`),
              r,
            )
            continue
          }
          this.outputs.push({ topic: s.topic, key, value, timestamp: Math.max(0, r.timestamp) })
        }
      },
    }
  }

  #repartitionSink(c: Compiled): Operator {
    const s = c.node.spec as Extract<NodeSpec, { kind: 'repartition' }>
    const sink = this.subtopology.repartitionSinks.find((r) => r.node === c.node.id)!
    const marker = (value: string): ProducerRecord[] => {
      const out: ProducerRecord[] = []
      const headers: Header[] = [[WATERMARK_HEADER, Buffer.from(`${this.partition}:${value}`)]]
      for (let p = 0; p < sink.partitions; p++) {
        out.push({ topic: sink.topic, partition: p, key: null, value: null, headers, timestamp: 0 })
      }
      return out
    }
    return {
      process: (records) => {
        for (const r of records) {
          const key = s.keySerde.serialize(r.key)
          this.outputs.push({
            topic: sink.topic,
            partition: key === null ? 0 : partitionForKey(key, sink.partitions),
            key,
            value: s.valueSerde.serialize(r.value),
            timestamp: Math.max(0, r.timestamp),
          })
        }
      },
      onWatermark: (wm) => {
        const value = wm === MAX_WATERMARK ? 'max' : String(wm)
        for (const m of marker(value)) this.outputs.push(m)
      },
      onProcessingTime: () => {
        if (this.#idle && !this.#announcedIdle) {
          this.#announcedIdle = true
          for (const m of marker('idle')) this.outputs.push(m)
        }
      },
    }
  }

  #announcedIdle = false

  /** Processes records fetched from one of the task's input topics (its partition of it). */
  processLogRecords(topic: string, records: readonly LogRecord[]): void {
    const state = this.#inputs.get(topic)
    if (state === undefined) {
      throw new SluiceError('SLUICE_ERR_INVALID_PIPELINE', `task ${this.id} does not read topic ${topic}`)
    }
    const node = this.#compiled.get(state.input.node)!
    const spec = node.node.spec
    const recs: Rec[] = []
    if (records.length > 0) {
      this.#inFlight = { topic, first: records[0].offset, last: records[records.length - 1].offset }
    }
    try {
      if (spec.kind === 'repartition') {
        for (const r of records) {
          const wmHeader = r.headers.length > 0 ? r.headers.find((h) => h[0] === WATERMARK_HEADER) : undefined
          if (wmHeader !== undefined) {
            this.#onMarker(state, wmHeader[1].toString())
            continue
          }
          try {
            recs.push({
              key: spec.keySerde.deserialize(r.key),
              value: spec.valueSerde.deserialize(r.value),
              timestamp: r.timestamp,
            })
          } catch (err) {
            this.#unreadable(node.node.name, topic, err, r)
          }
        }
      } else if (spec.kind === 'source-topic' || spec.kind === 'source-table') {
        const extract = spec.kind === 'source-topic' ? spec.timestamp : undefined
        for (const r of records) {
          let key: unknown
          let value: unknown
          let timestamp: number
          try {
            key = spec.keySerde.deserialize(r.key)
            value = spec.valueSerde.deserialize(r.value)
            timestamp = extract === undefined ? r.timestamp : extract(value, key, r.timestamp)
            if (!Number.isFinite(timestamp)) {
              throw new SluiceError(
                'SLUICE_ERR_INVALID_ARGUMENT',
                `the timestamp of step ${node.node.name} gave ${timestamp}, not a time in epoch milliseconds`,
              )
            }
          } catch (err) {
            this.#unreadable(node.node.name, topic, err, r)
            continue
          }
          state.generator?.onEvent(timestamp)
          recs.push({ key, value, timestamp })
        }
      }
      if (records.length > 0) state.lastActivity = this.#clock()
      if (recs.length > 0) {
        this.#count('records-in', recs.length)
        if (spec.kind === 'source-table') node.op.process(recs, 0)
        else this.#emit(node, 'main', recs)
      }
      this.#advance()
    } finally {
      this.#inFlight = null
    }
  }

  /** A record of `topic` that cannot be read: a deserialization failure, with the bytes as they were. */
  #unreadable(step: string, topic: string, err: unknown, r: LogRecord): void {
    const wrapped = serdeError(
      err,
      `step ${step} cannot read the record at ${topic}/${this.partition} offset ${r.offset}`,
    )
    this.#failed('deserialization', step, wrapped, { key: null, value: null, timestamp: r.timestamp }, r)
  }

  /** Feeds records of an in-memory source. */
  processMemoryRecords(source: string, records: readonly Rec[]): void {
    const state = this.#inputs.get(source)
    if (state === undefined)
      throw new SluiceError('SLUICE_ERR_INVALID_PIPELINE', `task ${this.id} has no source ${source}`)
    for (const r of records) state.generator?.onEvent(r.timestamp)
    state.lastActivity = this.#clock()
    this.#count('records-in', records.length)
    this.#emit(this.#compiled.get(state.input.node)!, 'main', records as Rec[])
    this.#advance()
  }

  /** A bounded input is exhausted: its watermark goes to the end of time. */
  endInput(source: string): void {
    const state = this.#inputs.get(source)
    if (state === undefined) return
    state.ended = true
    this.#advance()
  }

  #onMarker(state: InputState, text: string): void {
    const colon = text.indexOf(':')
    const upstream = Number(text.slice(0, colon))
    const value = text.slice(colon + 1)
    state.upstream.set(upstream, value === 'idle' ? null : value === 'max' ? MAX_WATERMARK : Number(value))
  }

  #inputWatermark(s: InputState, now: number): number | null {
    if (s.ended) return MAX_WATERMARK
    switch (s.input.kind) {
      case 'table':
        return null // tables never hold back event time
      case 'repartition': {
        let min = MAX_WATERMARK
        let active = 0
        for (let u = 0; u < s.input.upstreamTasks; u++) {
          const w = s.upstream.get(u)
          if (w === null) continue
          active++
          min = Math.min(min, w ?? MIN_WATERMARK)
        }
        return active === 0 ? null : min
      }
      default: {
        if (s.idleTimeoutMs !== null && now - s.lastActivity > s.idleTimeoutMs) return null
        return s.generator === null ? MIN_WATERMARK : s.generator.current()
      }
    }
  }

  #advance(): void {
    const now = this.#clock()
    let min = MAX_WATERMARK
    let active = 0
    for (const s of this.#inputs.values()) {
      const w = this.#inputWatermark(s, now)
      if (w === null) continue
      active++
      if (w < min) min = w
    }
    this.#idle = active === 0
    if (active === 0 || min <= this.#watermark) return
    this.#announcedIdle = false
    this.#watermark = min
    for (const c of this.#order) {
      c.watermark = min
      c.op.onWatermark?.(min)
    }
  }

  /** Moves processing time: processing-time timers fire, idle inputs stop holding back the watermark. */
  advanceProcessingTime(): void {
    const now = this.#clock()
    // idleness first: the repartition sinks announce an idle task in their onProcessingTime
    this.#advance()
    for (const c of this.#order) c.op.onProcessingTime?.(now)
  }

  /** Takes the buffered output records. */
  drainOutputs(): ProducerRecord[] {
    const out = this.outputs
    this.outputs = []
    return out
  }

  /** Takes the state changes since the last commit, as records for the changelog topics. */
  drainChangelog(): ProducerRecord[] {
    const out: ProducerRecord[] = []
    for (const s of this.subtopology.stores) {
      if (!s.writesChangelog) continue
      for (const change of this.stores.get(s.name)!.drainChanges()) {
        out.push({ topic: s.changelogTopic, partition: this.partition, key: change.key, value: change.value })
      }
    }
    return out
  }

  /** Applies changelog (or table topic) records to a store while restoring. */
  restore(store: string, records: readonly LogRecord[]): void {
    const s = this.#store(store)
    const spec = this.subtopology.stores.find((x) => x.name === store)!
    if (spec.writesChangelog) for (const r of records) if (r.key !== null) s.applyChange(r.key, r.value)
    if (!spec.writesChangelog) this.processLogRecords(spec.changelogTopic, records)
  }

  /** Restoring is over: operators rebuild their in-memory indexes (timers) from state. */
  finishRestore(): void {
    for (const c of this.#order) c.op.onRestore?.()
  }

  /** The last commit id the log committed for a sink step (from its restored state), or null. */
  lastSinkCommit(step: string): number | null {
    const v = this.#store(step).get('commit')
    return typeof v === 'number' ? v : null
  }

  async flushState(): Promise<void> {
    await Promise.all([...this.stores.values()].map((s) => s.backend.flush()))
  }

  async close(): Promise<void> {
    for (const s of this.sinks) await s.sink.close()
    await Promise.all([...this.stores.values()].map((s) => s.backend.close()))
  }
}

/** An error as a SluiceError whose message starts with `context`: a serde's own SluiceError keeps its code. */
function serdeError(err: unknown, context: string): SluiceError {
  const message = `${context}: ${(err as Error)?.message ?? err}`
  if (isSluiceError(err)) return new SluiceError(err.code, message, { cause: err, details: err.details })
  return new SluiceError('SLUICE_ERR_SERDE', message, { cause: err })
}
