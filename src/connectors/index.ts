export { type FileSinkOptions, fileSink } from './file-sink.ts'
export { type MemorySink, memorySink } from './memory-sink.ts'
export { type RedisSinkOptions, type RedisWrite, redisSink } from './redis-sink.ts'
export type { Sink, SinkContext, SinkFactory, SinkGuarantee } from './sink.ts'
