// The log layer's public surface: the contract, and the embedded implementation.
export * from './contract.ts'
export { openEmbeddedLog } from './embedded/embedded-log.ts'
export type { EmbeddedLogOptions, FsyncPolicy } from './embedded/options.ts'
export { DEFAULT_TOPIC_CONFIG } from './embedded/options.ts'
export { partitionForKey } from './partitioner.ts'
export { resolveTopicConfig, validateTopicName } from './topic-config.ts'
