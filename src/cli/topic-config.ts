// Turns `--config key=value` flags into a TopicConfig before the log is opened, so that a typo is reported
// against the flag and leaves no data directory behind. The rules themselves are the log's (resolveTopicConfig),
// so the CLI and the API refuse the same settings.
import { SluiceError } from '../errors/index.ts'
import type { TopicConfig } from '../log/contract.ts'
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from '../log/index.ts'

export const TOPIC_CONFIG_KEYS: readonly string[] = Object.keys(DEFAULT_TOPIC_CONFIG)

export function parseTopicConfig(topic: string, entries: readonly string[]): TopicConfig {
  const raw: Record<string, string> = {}
  for (const entry of entries) {
    const eq = entry.indexOf('=')
    if (eq <= 0) {
      throw new SluiceError('SLUICE_ERR_INVALID_CONFIG', `--config ${entry}: expected key=value`, {
        details: { entry },
      })
    }
    raw[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim()
  }
  const resolved = resolveTopicConfig(topic, raw, DEFAULT_TOPIC_CONFIG)
  // Only what the user set: unset keys keep following the log's defaults.
  return Object.fromEntries(Object.keys(raw).map((key) => [key, resolved[key as keyof TopicConfig]]))
}
