// Validation of topic names and settings, shared by both logs so that both refuse the same mistakes.
import { SluiceError } from '../errors/index.ts'
import type { TopicConfig } from './contract.ts'

const NAME = /^[a-zA-Z0-9._-]{1,249}$/

export function validateTopicName(name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `topic name ${JSON.stringify(name)} is invalid: use 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'`,
      { details: { topic: name } },
    )
  }
}

export function validatePartitionCount(name: string, partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `topic ${name} needs a whole number of partitions between 1 and 10000, got ${partitions}`,
      { details: { topic: name, partitions } },
    )
  }
}

const NUMERIC_KEYS = [
  'retention.ms',
  'retention.bytes',
  'segment.bytes',
  'segment.ms',
  'delete.retention.ms',
  'max.message.bytes',
] as const

/** Checks a topic config and fills in defaults. Accepts string values too (from the CLI's k=v pairs). */
export function resolveTopicConfig(
  topic: string,
  config: Record<string, unknown>,
  defaults: Required<TopicConfig>,
): Required<TopicConfig> {
  const out: Required<TopicConfig> = { ...defaults }
  for (const [key, raw] of Object.entries(config)) {
    if (raw === undefined) continue
    if (key === 'cleanup.policy') {
      if (raw !== 'delete' && raw !== 'compact') {
        throw invalid(topic, key, raw, "'delete' or 'compact'")
      }
      out['cleanup.policy'] = raw
      continue
    }
    if (!(NUMERIC_KEYS as readonly string[]).includes(key)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_CONFIG',
        `unknown setting ${JSON.stringify(key)} for topic ${topic}; known settings: cleanup.policy, ${NUMERIC_KEYS.join(', ')}`,
        { details: { topic, key } },
      )
    }
    const n = typeof raw === 'string' ? Number(raw) : raw
    const min = key === 'retention.ms' || key === 'retention.bytes' ? -1 : 1
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
      throw invalid(topic, key, raw, `a whole number >= ${min}`)
    }
    out[key as (typeof NUMERIC_KEYS)[number]] = n
  }
  return out
}

function invalid(topic: string, key: string, value: unknown, expected: string): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_INVALID_CONFIG',
    `setting ${key}=${JSON.stringify(value)} for topic ${topic} is invalid: expected ${expected}`,
    { details: { topic, key, value } },
  )
}
