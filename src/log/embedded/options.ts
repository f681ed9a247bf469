// Settings of the embedded log: where it lives and how hard it tries to survive a power cut.
import type { TopicConfig } from '../contract.ts'

/**
 * When appended data is forced to disk. A process crash loses nothing acknowledged under any policy (the data is in
 * the OS page cache); a power failure or kernel crash can lose what was not yet fsynced:
 * - `always`: fsync before every append is acknowledged. Loses nothing; slowest.
 * - `interval`: fsync every `intervalMs`. Loses at most the last interval of acknowledged appends.
 * - `os`: never fsync explicitly (only on segment roll and close); the kernel writes back, typically within 30 s.
 */
export type FsyncPolicy = { mode: 'always' } | { mode: 'interval'; intervalMs: number } | { mode: 'os' }

export interface EmbeddedLogOptions {
  /** Directory holding all topics; one process at a time may open it. Default `./.sluice`. */
  dataDir?: string
  fsync?: FsyncPolicy
  /** Defaults for topics created without an explicit setting. */
  topicDefaults?: TopicConfig
  /** How often retention, compaction and transaction timeouts are checked. Default 30 s; 0 disables the timer. */
  maintenanceIntervalMs?: number
  /** Sparse index granularity: one index entry per this many bytes of log. Default 4096. */
  indexIntervalBytes?: number
  /** Clock for append times, retention and timeouts; tests pass a virtual one. */
  now?: () => number
}

export const DEFAULT_TOPIC_CONFIG: Required<TopicConfig> = {
  'cleanup.policy': 'delete',
  'retention.ms': 7 * 24 * 3600_000,
  'retention.bytes': -1,
  'segment.bytes': 128 * 1024 * 1024,
  'segment.ms': 7 * 24 * 3600_000,
  'delete.retention.ms': 24 * 3600_000,
  'max.message.bytes': 8 * 1024 * 1024,
}
