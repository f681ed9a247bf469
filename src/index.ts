// The public surface of Sluice: the DSL, time and window factories, serdes, the errors, and config types.
// Internals stay internal; the log and the test driver have their own entry points (sluice/log, sluice/testing).

export {
  afterMatch,
  type Condition,
  type DetectOptions,
  detect,
  type Match,
  type MatchContext,
  type Pattern,
  type PatternStream,
  pattern,
  type SkipStrategy,
  type TimedOut,
} from './cep/index.ts'
export {
  type FileSinkOptions,
  fileSink,
  type MemorySink,
  memorySink,
  type PostgresSinkOptions,
  postgresSink,
  type RedisSinkOptions,
  type RedisWrite,
  redisSink,
  type Sink,
  type SinkContext,
  type SinkFactory,
  type SinkGuarantee,
  type SqlStatement,
  type WebhookSinkOptions,
  webhookSink,
} from './connectors/index.ts'
export { type Pipeline, type PipelineOptions, pipeline } from './dsl/pipeline.ts'
export type { KeyedStream, Stream, Table, WindowedStream, WindowResultStream } from './dsl/stream.ts'
export { type ErrorCode, type ErrorDomain, isSluiceError, SluiceError } from './errors/index.ts'
export type { ErrorPolicies, ErrorPolicy, FailureKind } from './graph/error-policies.ts'
export type {
  EmitMode,
  ListState,
  MapState,
  ProcessContext,
  ProcessFunction,
  Rec,
  ValueState,
  Windowed,
} from './graph/logical.ts'
export type { RegistryApi, SubjectSerdeOptions } from './registry/client.ts'
export { type SubjectBoundSerde, subject } from './registry/subject.ts'
export {
  type ProcessingGuarantee,
  type RunningPipeline,
  type RunOptions,
  runPipeline,
} from './runtime/runner.ts'
export { bytes, double, json, type Serde, string } from './serde/index.ts'
export type { Duration } from './time/duration.ts'
export {
  boundedOutOfOrderness,
  customWatermarks,
  monotonic,
  type WatermarkGenerator,
  type WatermarkStrategy,
} from './time/watermarks.ts'
export {
  avg,
  collect,
  combine,
  count,
  countDistinct,
  max,
  min,
  reduce,
  sum,
  topN,
} from './windows/aggregations/index.ts'
export type { Aggregator } from './windows/aggregator.ts'
export { hopping, sliding } from './windows/assigners/hopping.ts'
export { session } from './windows/assigners/session.ts'
export { tumbling } from './windows/assigners/tumbling.ts'
