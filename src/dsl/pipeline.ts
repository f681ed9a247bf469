// Where a pipeline definition starts: sources and tables, then build() plans it into a topology.
import { SluiceError } from '../errors/index.ts'
import type { ErrorPolicies } from '../graph/error-policies.ts'
import { LogicalGraph, type Rec } from '../graph/logical.ts'
import { planTopology, type Topology } from '../graph/planner.ts'
import { json } from '../serde/builtin.ts'
import type { Serde } from '../serde/serde.ts'
import { boundedOutOfOrderness, type WatermarkStrategy } from '../time/watermarks.ts'
import { Stream, Table } from './stream.ts'

export interface TopicSourceOptions<K, V> {
  topic: string
  key?: Serde<K>
  value?: Serde<V>
  /** Event time of a record; default: the log record's timestamp. */
  timestamp?: (value: V, key: K, recordTimestamp: number) => number
  /** Default: bounded out-of-orderness of 0 (monotonic per partition). */
  watermarks?: WatermarkStrategy
}

export interface MemorySourceOptions {
  watermarks?: WatermarkStrategy
}

export interface TableOptions<K, V> {
  topic: string
  key?: Serde<K>
  value?: Serde<V>
}

export interface PipelineOptions {
  /** Default partition count of repartition topics when the pipeline has no topic inputs. */
  defaultPartitions?: number
  /**
   * What a record that fails does, per kind of failure: 'fail' stops the pipeline, 'skip' drops and counts it,
   * 'dead-letter' writes it to the dead-letter topic. Default: deserialization 'dead-letter', processing and
   * production 'fail'. See docs/dead-letters.md.
   */
  errors?: Partial<ErrorPolicies>
  /** Default `<application id>-dead-letters`, created when missing. */
  deadLetterTopic?: string
}

export class Pipeline {
  readonly name: string
  readonly options: PipelineOptions
  readonly graph = new LogicalGraph()

  constructor(name: string, options: PipelineOptions = {}) {
    if (!/^[a-zA-Z0-9._-]{1,100}$/.test(name)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `pipeline name ${JSON.stringify(name)} is invalid: it prefixes topic names, so use a-z, A-Z, 0-9, '.', '_' and '-'`,
      )
    }
    this.name = name
    this.options = options
  }

  /** Reads a log topic. Records are assumed partitioned by their key (as producers partition them). */
  source<K = string | null, V = unknown>(name: string, options: TopicSourceOptions<K, V>): Stream<K, V> {
    const node = this.graph.add(
      {
        kind: 'source-topic',
        topic: options.topic,
        keySerde: (options.key ?? json()) as Serde<unknown>,
        valueSerde: (options.value ?? json()) as Serde<unknown>,
        timestamp: options.timestamp as ((v: unknown, k: unknown, t: number) => number) | undefined,
        watermarks: options.watermarks ?? boundedOutOfOrderness(0),
      },
      [],
      name,
    )
    return new Stream<K, V>({ graph: this.graph, node, port: 'main', partitionedByKey: true })
  }

  /**
   * A bounded in-memory source: an array, or a function returning an iterable (a generator). It is read by one
   * task; at its end the watermark jumps to the end of time, closing every window.
   */
  fromRecords<K, V>(
    name: string,
    records: readonly Rec<K, V>[] | (() => Iterable<Rec<K, V>>),
    options: MemorySourceOptions = {},
  ): Stream<K, V> {
    const node = this.graph.add(
      {
        kind: 'source-memory',
        records: records as readonly Rec[] | (() => Iterable<Rec>),
        watermarks: options.watermarks ?? boundedOutOfOrderness(0),
      },
      [],
      name,
    )
    return new Stream<K, V>({ graph: this.graph, node, port: 'main', partitionedByKey: false })
  }

  /** A table of the latest value per key of a (compacted) topic, for stream-table joins. */
  table<K, V>(name: string, options: TableOptions<K, V>): Table<K, V> {
    const node = this.graph.add(
      {
        kind: 'source-table',
        topic: options.topic,
        keySerde: (options.key ?? json()) as Serde<unknown>,
        valueSerde: (options.value ?? json()) as Serde<unknown>,
      },
      [],
      name,
    )
    return new Table<K, V>(node)
  }

  /**
   * Plans the pipeline. `partitionsOf` gives the partition count of each input topic (the runner asks the log);
   * the test driver passes its own. Internal topic names start with `applicationId` (default: the pipeline name).
   */
  build(partitionsOf: (topic: string) => number, applicationId: string = this.name): Topology {
    // internal topics are named after the application, so two applications of one pipeline never share them
    return planTopology({ name: applicationId, graph: this.graph, options: this.options }, partitionsOf)
  }
}

export function pipeline(name: string, options: PipelineOptions = {}): Pipeline {
  return new Pipeline(name, options)
}
