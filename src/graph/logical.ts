// The logical graph a pipeline definition builds: named nodes and the edges between their ports. The DSL writes it,
// the planner cuts it into sub-topologies at repartition topics, and tasks instantiate it.

import type { SinkFactory } from '../connectors/sink.ts'
import { SluiceError } from '../errors/index.ts'
import type { Serde } from '../serde/serde.ts'
import type { WatermarkStrategy } from '../time/watermarks.ts'
import type { Aggregator } from '../windows/aggregator.ts'
import type { WindowAssigner } from '../windows/assigners/types.ts'

/** A record inside a pipeline: a typed key and value with its event time. */
export interface Rec<K = unknown, V = unknown> {
  key: K
  value: V
  timestamp: number
}

/** The key of a windowed result: the original key and the window it belongs to. */
export interface Windowed<K> {
  key: K
  start: number
  end: number
}

export type EmitMode = 'final' | 'update'

export interface ProcessContext<K, Out> {
  readonly key: K
  /** Event time of the record being processed, or of the timer firing. */
  readonly timestamp: number
  readonly watermark: number
  /** Processing time (the runtime's clock; virtual in tests). */
  readonly now: number
  emit(value: Out, options?: { timestamp?: number }): void
  valueState<T>(name: string): ValueState<T>
  mapState<MK extends string | number, MV>(name: string): MapState<MK, MV>
  listState<T>(name: string): ListState<T>
  registerEventTimeTimer(timestamp: number): void
  registerProcessingTimeTimer(timestamp: number): void
  deleteEventTimeTimer(timestamp: number): void
  deleteProcessingTimeTimer(timestamp: number): void
}

export interface ValueState<T> {
  get(): T | undefined
  set(value: T): void
  clear(): void
}

export interface MapState<MK, MV> {
  get(key: MK): MV | undefined
  set(key: MK, value: MV): void
  delete(key: MK): void
  has(key: MK): boolean
  entries(): [MK, MV][]
  clear(): void
}

export interface ListState<T> {
  get(): T[]
  add(value: T): void
  set(values: T[]): void
  clear(): void
}

export interface ProcessFunction<K, V, Out> {
  process(value: V, ctx: ProcessContext<K, Out>): void
  onTimer?(
    timestamp: number,
    ctx: ProcessContext<K, Out> & { readonly timeDomain: 'event' | 'processing' },
  ): void
}

export type NodeSpec =
  | {
      kind: 'source-topic'
      topic: string
      keySerde: Serde<unknown>
      valueSerde: Serde<unknown>
      timestamp?: (value: unknown, key: unknown, recordTimestamp: number) => number
      watermarks: WatermarkStrategy
    }
  | { kind: 'source-memory'; records: readonly Rec[] | (() => Iterable<Rec>); watermarks: WatermarkStrategy }
  | { kind: 'map'; fn: (value: unknown, key: unknown, timestamp: number) => unknown }
  | { kind: 'filter'; fn: (value: unknown, key: unknown) => boolean }
  | { kind: 'flat-map'; fn: (value: unknown, key: unknown, timestamp: number) => Iterable<unknown> }
  | { kind: 'peek'; fn: (value: unknown, key: unknown, timestamp: number) => void }
  | { kind: 'select-key'; fn: (value: unknown, key: unknown) => unknown }
  | { kind: 'branch'; predicates: ((value: unknown, key: unknown) => boolean)[] }
  | { kind: 'merge' }
  | {
      kind: 'repartition'
      topic: string
      partitions: number | null
      keySerde: Serde<unknown>
      valueSerde: Serde<unknown>
    }
  | {
      kind: 'window'
      assigner: WindowAssigner
      aggregator: Aggregator<unknown, unknown, unknown>
      lateness: number
      emit: EmitMode
    }
  | { kind: 'process'; fn: ProcessFunction<unknown, unknown, unknown>; ttl: number | null }
  | {
      kind: 'join-stream'
      within: number
      lateness: number
      joiner: (left: unknown, right: unknown, key: unknown) => unknown
    }
  | { kind: 'source-table'; topic: string; keySerde: Serde<unknown>; valueSerde: Serde<unknown> }
  | { kind: 'join-table'; joiner: (value: unknown, row: unknown, key: unknown) => unknown; inner: boolean }
  | { kind: 'sink-topic'; topic: string; keySerde: Serde<unknown>; valueSerde: Serde<unknown> }
  | { kind: 'sink-fn'; fn: (record: Rec) => void }
  | { kind: 'sink'; factory: SinkFactory }
  | { kind: 'side-output' }

export type NodeKind = NodeSpec['kind']

export interface Edge {
  from: number
  /** The output port of `from`: 'main', 'late', or a branch index. */
  port: string
}

export interface GraphNode {
  id: number
  name: string
  /** True when the user named the step; stateful steps must be named. */
  named: boolean
  spec: NodeSpec
  inputs: Edge[]
}

const STATEFUL: ReadonlySet<NodeKind> = new Set([
  'window',
  'process',
  'join-stream',
  'repartition',
  'source-table',
])

export class LogicalGraph {
  readonly nodes: GraphNode[] = []
  readonly #names = new Map<string, number>()
  readonly #counters = new Map<string, number>()

  add(spec: NodeSpec, inputs: Edge[], name: string | undefined): GraphNode {
    if (name === undefined && STATEFUL.has(spec.kind)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `a ${spec.kind} step needs an explicit name ({ name: '...' }): its state, topics and metrics are derived from it`,
      )
    }
    let resolved = name
    if (resolved === undefined) {
      const n = (this.#counters.get(spec.kind) ?? 0) + 1
      this.#counters.set(spec.kind, n)
      resolved = `${spec.kind}-${n}`
    } else if (!/^[a-zA-Z0-9._-]{1,100}$/.test(resolved)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `step name ${JSON.stringify(resolved)} is invalid: use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`,
      )
    }
    if (this.#names.has(resolved)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `two steps are named ${JSON.stringify(resolved)}; step names must be unique within a pipeline`,
      )
    }
    const node: GraphNode = { id: this.nodes.length, name: resolved, named: name !== undefined, spec, inputs }
    this.nodes.push(node)
    this.#names.set(resolved, node.id)
    return node
  }

  node(id: number): GraphNode {
    return this.nodes[id]
  }

  /** Downstream edges of every node, by node id. */
  outputs(): Map<number, { to: number; port: string; input: number }[]> {
    const out = new Map<number, { to: number; port: string; input: number }[]>()
    for (const n of this.nodes) {
      n.inputs.forEach((e, input) => {
        const list = out.get(e.from) ?? []
        list.push({ to: n.id, port: e.port, input })
        out.set(e.from, list)
      })
    }
    return out
  }
}
