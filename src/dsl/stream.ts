// The typed fluent API. Each call adds a node to the pipeline's graph and returns a new, immutable builder whose
// type says what may follow: .window() only on a keyed stream, .aggregate() only on a windowed one.
import type { SinkFactory } from '../connectors/sink.ts'
import { SluiceError } from '../errors/index.ts'
import type {
  EmitMode,
  GraphNode,
  LogicalGraph,
  NodeSpec,
  ProcessFunction,
  Rec,
  Windowed,
} from '../graph/logical.ts'
import { json } from '../serde/builtin.ts'
import type { Serde } from '../serde/serde.ts'
import { type Duration, toMillis } from '../time/duration.ts'
import type { Aggregator } from '../windows/aggregator.ts'
import type { WindowAssigner } from '../windows/assigners/types.ts'

export interface StepOptions {
  name?: string
}

export interface NamedStep {
  name: string
}

/** Where a stream's records are, relative to their key: already in the partition their key hashes to, or not. */
interface StreamState {
  graph: LogicalGraph
  node: GraphNode
  port: string
  /** True when each key's records are all in one partition (a topic source, or after a repartition). */
  partitionedByKey: boolean
}

export interface SinkOptions<K, V> extends StepOptions {
  key?: Serde<K>
  value?: Serde<V>
}

export interface KeyByOptions<K, V> extends NamedStep {
  /** Partitions of the repartition topic; default: the most partitions among the pipeline's input topics. */
  partitions?: number
  key?: Serde<K>
  value?: Serde<V>
}

export interface WindowOptions extends NamedStep {
  /** How long after the watermark passes a window's end records may still update it. Default 0. */
  lateness?: Duration
  /** 'final': one result per window once it can no longer change (default). 'update': an upsert per change. */
  emit?: EmitMode
}

function positive(ms: number, what: string): number {
  if (ms <= 0)
    throw new SluiceError('SLUICE_ERR_INVALID_ARGUMENT', `${what} must be longer than 0 ms, got ${ms}`)
  return ms
}

export class Stream<K, V> {
  protected readonly s: StreamState

  constructor(state: StreamState) {
    this.s = state
  }

  /** The name of the step that produces this stream. */
  get stepName(): string {
    return this.s.node.name
  }

  protected add<K2, V2>(
    spec: NodeSpec,
    name: string | undefined,
    partitionedByKey = this.s.partitionedByKey,
  ): Stream<K2, V2> {
    const node = this.s.graph.add(spec, [{ from: this.s.node.id, port: this.s.port }], name)
    return new Stream<K2, V2>({ graph: this.s.graph, node, port: 'main', partitionedByKey })
  }

  map<V2>(fn: (value: V, key: K, timestamp: number) => V2, options: StepOptions = {}): Stream<K, V2> {
    return this.add({ kind: 'map', fn: fn as (v: unknown, k: unknown, t: number) => unknown }, options.name)
  }

  filter(fn: (value: V, key: K) => boolean, options: StepOptions = {}): Stream<K, V> {
    return this.add({ kind: 'filter', fn: fn as (v: unknown, k: unknown) => boolean }, options.name)
  }

  flatMap<V2>(
    fn: (value: V, key: K, timestamp: number) => Iterable<V2>,
    options: StepOptions = {},
  ): Stream<K, V2> {
    return this.add(
      { kind: 'flat-map', fn: fn as (v: unknown, k: unknown, t: number) => Iterable<unknown> },
      options.name,
    )
  }

  peek(fn: (value: V, key: K, timestamp: number) => void, options: StepOptions = {}): Stream<K, V> {
    return this.add({ kind: 'peek', fn: fn as (v: unknown, k: unknown, t: number) => void }, options.name)
  }

  /** Gives records a new key. The stream is no longer partitioned by its key: a later keyBy repartitions. */
  selectKey<K2>(fn: (value: V, key: K) => K2, options: StepOptions = {}): Stream<K2, V> {
    return this.add(
      { kind: 'select-key', fn: fn as (v: unknown, k: unknown) => unknown },
      options.name,
      false,
    )
  }

  /**
   * Splits the stream: each record goes to the first branch whose predicate holds; records matching none go to
   * the last stream returned (one more than there are predicates).
   */
  branch(predicates: ((value: V, key: K) => boolean)[], options: StepOptions = {}): Stream<K, V>[] {
    const node = this.s.graph.add(
      { kind: 'branch', predicates: predicates as ((v: unknown, k: unknown) => boolean)[] },
      [{ from: this.s.node.id, port: this.s.port }],
      options.name,
    )
    const out: Stream<K, V>[] = []
    for (let i = 0; i <= predicates.length; i++) {
      out.push(
        new Stream({ graph: this.s.graph, node, port: String(i), partitionedByKey: this.s.partitionedByKey }),
      )
    }
    return out
  }

  merge(others: Stream<K, V>[], options: StepOptions = {}): Stream<K, V> {
    const all = [this, ...others]
    for (const o of others) {
      if (o.s.graph !== this.s.graph) {
        throw new SluiceError('SLUICE_ERR_INVALID_PIPELINE', 'merge() needs streams of the same pipeline')
      }
    }
    const node = this.s.graph.add(
      { kind: 'merge' },
      all.map((x) => ({ from: x.s.node.id, port: x.s.port })),
      options.name,
    )
    return new Stream({
      graph: this.s.graph,
      node,
      port: 'main',
      partitionedByKey: all.every((x) => x.s.partitionedByKey),
    })
  }

  /**
   * Groups records by key so stateful steps can follow. With a function, records get that key and go through a
   * repartition topic named after the step; without one, the current key is used, and the stream is repartitioned
   * only if an earlier step changed keys.
   */
  keyBy<K2 = K>(fn: ((value: V, key: K) => K2) | null, options: KeyByOptions<K2, V>): KeyedStream<K2, V> {
    let stream: Stream<K2, V> = this as unknown as Stream<K2, V>
    if (fn !== null) stream = this.selectKey(fn, { name: `${options.name}-select-key` })
    if (stream.s.partitionedByKey) {
      return new KeyedStream<K2, V>({ ...stream.s })
    }
    const node = stream.s.graph.add(
      {
        kind: 'repartition',
        topic: options.name,
        partitions: options.partitions ?? null,
        keySerde: (options.key ?? json()) as Serde<unknown>,
        valueSerde: (options.value ?? json()) as Serde<unknown>,
      },
      [{ from: stream.s.node.id, port: stream.s.port }],
      options.name,
    )
    return new KeyedStream<K2, V>({ graph: stream.s.graph, node, port: 'main', partitionedByKey: true })
  }

  /** Writes the stream to a log topic (key and value as JSON unless serdes are given). */
  to(topic: string, options: SinkOptions<K, V> = {}): void {
    this.s.graph.add(
      {
        kind: 'sink-topic',
        topic,
        keySerde: (options.key ?? json()) as Serde<unknown>,
        valueSerde: (options.value ?? json()) as Serde<unknown>,
      },
      [{ from: this.s.node.id, port: this.s.port }],
      options.name ?? `to-${topic}`,
    )
  }

  /** Calls `fn` for every record, in the task that processes it. At-least-once: after a crash it may see a record again. */
  forEach(fn: (value: V, key: K, timestamp: number) => void, options: StepOptions = {}): void {
    this.s.graph.add(
      { kind: 'sink-fn', fn: (r: Rec) => fn(r.value as V, r.key as K, r.timestamp) },
      [{ from: this.s.node.id, port: this.s.port }],
      options.name,
    )
  }

  /**
   * Writes the stream to a sink outside the log (a database, a file, a service). The sink is created per task and
   * committed with the pipeline's commits; its guarantee (transactional, idempotent, at-least-once) is its own.
   */
  sink(factory: SinkFactory<K, V>, options: NamedStep): void {
    this.s.graph.add(
      { kind: 'sink', factory: factory as SinkFactory },
      [{ from: this.s.node.id, port: this.s.port }],
      options.name,
    )
  }

  /** Joins each record with the current row of a table for its key (inner join unless `leftJoin`). */
  joinTable<T, R>(
    table: Table<K, T>,
    joiner: (value: V, row: T, key: K) => R,
    options: StepOptions & { leftJoin?: boolean } = {},
  ): Stream<K, R> {
    if (!this.s.partitionedByKey) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `joinTable() with table ${table.stepName} needs a stream partitioned by its key: call keyBy() before the join`,
      )
    }
    const node = this.s.graph.add(
      {
        kind: 'join-table',
        joiner: joiner as (v: unknown, r: unknown, k: unknown) => unknown,
        inner: !options.leftJoin,
      },
      [
        { from: this.s.node.id, port: this.s.port },
        { from: table.nodeId, port: 'main' },
      ],
      options.name,
    )
    return new Stream<K, R>({ graph: this.s.graph, node, port: 'main', partitionedByKey: true })
  }
}

export class KeyedStream<K, V> extends Stream<K, V> {
  window(assigner: WindowAssigner, options: WindowOptions): WindowedStream<K, V> {
    return new WindowedStream<K, V>(this.s, assigner, options)
  }

  /** A keyed process function with value, map and list state and event- and processing-time timers. */
  process<Out>(fn: ProcessFunction<K, V, Out>, options: NamedStep & { ttl?: Duration }): Stream<K, Out> {
    return this.add(
      {
        kind: 'process',
        fn: fn as unknown as ProcessFunction<unknown, unknown, unknown>,
        ttl: options.ttl === undefined ? null : positive(toMillis(options.ttl, 'ttl'), 'ttl'),
      },
      options.name,
    )
  }

  /**
   * Inner join with another keyed stream: a pair for every two records of the same key whose timestamps are at
   * most `within` apart. The result carries the later of the two timestamps.
   */
  join<V2, R>(
    other: KeyedStream<K, V2>,
    joiner: (left: V, right: V2, key: K) => R,
    options: NamedStep & { within: Duration; lateness?: Duration },
  ): Stream<K, R> {
    const node = this.s.graph.add(
      {
        kind: 'join-stream',
        within: toMillis(options.within, 'within'),
        lateness: options.lateness === undefined ? 0 : toMillis(options.lateness, 'lateness'),
        joiner: joiner as (l: unknown, r: unknown, k: unknown) => unknown,
      },
      [
        { from: this.s.node.id, port: this.s.port },
        { from: other.s.node.id, port: other.s.port },
      ],
      options.name,
    )
    return new Stream<K, R>({ graph: this.s.graph, node, port: 'main', partitionedByKey: true })
  }
}

/** The results of a window step; `.late()` is the side output of records that came after allowed lateness. */
export class WindowResultStream<K, R, V> extends Stream<Windowed<K>, R> {
  late(options: StepOptions = {}): Stream<K, V> {
    const node = this.s.graph.add(
      { kind: 'side-output' },
      [{ from: this.s.node.id, port: 'late' }],
      options.name,
    )
    return new Stream<K, V>({
      graph: this.s.graph,
      node,
      port: 'main',
      partitionedByKey: this.s.partitionedByKey,
    })
  }
}

export class WindowedStream<K, V> {
  readonly #s: StreamState
  readonly #assigner: WindowAssigner
  readonly #options: WindowOptions

  constructor(state: StreamState, assigner: WindowAssigner, options: WindowOptions) {
    this.#s = state
    this.#assigner = assigner
    this.#options = options
  }

  aggregate<A, R>(aggregator: Aggregator<V, A, R>): WindowResultStream<K, R, V> {
    if (this.#assigner.kind === 'session' && aggregator.merge === undefined) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `session window ${this.#options.name} needs an aggregator with merge(): sessions merge when a record bridges them`,
      )
    }
    const node = this.#s.graph.add(
      {
        kind: 'window',
        assigner: this.#assigner,
        aggregator: aggregator as Aggregator<unknown, unknown, unknown>,
        lateness: this.#options.lateness === undefined ? 0 : toMillis(this.#options.lateness, 'lateness'),
        emit: this.#options.emit ?? 'final',
      },
      [{ from: this.#s.node.id, port: this.#s.port }],
      this.#options.name,
    )
    return new WindowResultStream<K, R, V>({
      graph: this.#s.graph,
      node,
      port: 'main',
      partitionedByKey: true,
    })
  }

  count(): WindowResultStream<K, number, V> {
    return this.aggregate<number, number>({
      name: 'count',
      init: () => 0,
      add: (acc) => acc + 1,
      merge: (a, b) => a + b,
      result: (acc) => acc,
    })
  }

  reduce(fn: (a: V, b: V) => V): WindowResultStream<K, V, V> {
    return this.aggregate<{ has: boolean; value: V | undefined }, V>({
      name: 'reduce',
      init: () => ({ has: false, value: undefined }),
      add: (acc, v) => (acc.has ? { has: true, value: fn(acc.value as V, v) } : { has: true, value: v }),
      merge: (a, b) => (!a.has ? b : !b.has ? a : { has: true, value: fn(a.value as V, b.value as V) }),
      result: (acc) => acc.value as V,
    })
  }
}

/** A table: the latest value per key of a compacted topic, materialized in the tasks that join against it. */
export class Table<K, T> {
  readonly nodeId: number
  readonly stepName: string
  declare readonly _types?: [K, T]

  constructor(node: GraphNode) {
    this.nodeId = node.id
    this.stepName = node.name
  }
}
