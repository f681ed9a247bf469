// Kafka's errors, as @platformatic/kafka reports them, turned into SluiceErrors with Sluice's codes, so that code
// above the Log contract handles one set of errors on both logs.
import type { ErrorCode } from '../errors/index.ts'
import { SluiceError } from '../errors/index.ts'

/** Kafka protocol error names (apiId) and the Sluice code each one means. */
const BY_PROTOCOL_ERROR: Record<string, ErrorCode> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'SLUICE_ERR_TOPIC_NOT_FOUND',
  UNKNOWN_TOPIC_ID: 'SLUICE_ERR_TOPIC_NOT_FOUND',
  TOPIC_ALREADY_EXISTS: 'SLUICE_ERR_TOPIC_EXISTS',
  INVALID_TOPIC_EXCEPTION: 'SLUICE_ERR_INVALID_ARGUMENT',
  INVALID_PARTITIONS: 'SLUICE_ERR_INVALID_ARGUMENT',
  INVALID_REPLICATION_FACTOR: 'SLUICE_ERR_INVALID_CONFIG',
  INVALID_CONFIG: 'SLUICE_ERR_INVALID_CONFIG',
  INVALID_TIMESTAMP: 'SLUICE_ERR_INVALID_ARGUMENT',
  INVALID_RECORD: 'SLUICE_ERR_INVALID_ARGUMENT',
  CORRUPT_MESSAGE: 'SLUICE_ERR_CORRUPT_RECORD',
  MESSAGE_TOO_LARGE: 'SLUICE_ERR_RECORD_TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'SLUICE_ERR_RECORD_TOO_LARGE',
  OFFSET_OUT_OF_RANGE: 'SLUICE_ERR_OFFSET_OUT_OF_RANGE',
  OUT_OF_ORDER_SEQUENCE_NUMBER: 'SLUICE_ERR_OUT_OF_ORDER_SEQUENCE',
  INVALID_PRODUCER_EPOCH: 'SLUICE_ERR_PRODUCER_FENCED',
  PRODUCER_FENCED: 'SLUICE_ERR_PRODUCER_FENCED',
  TRANSACTIONAL_ID_NOT_FOUND: 'SLUICE_ERR_INVALID_TXN_STATE',
  INVALID_TXN_STATE: 'SLUICE_ERR_INVALID_TXN_STATE',
  INVALID_PRODUCER_ID_MAPPING: 'SLUICE_ERR_INVALID_TXN_STATE',
  CONCURRENT_TRANSACTIONS: 'SLUICE_ERR_INVALID_TXN_STATE',
  TRANSACTION_ABORTABLE: 'SLUICE_ERR_TXN_TIMED_OUT',
  ILLEGAL_GENERATION: 'SLUICE_ERR_ILLEGAL_GENERATION',
  FENCED_INSTANCE_ID: 'SLUICE_ERR_ILLEGAL_GENERATION',
  REBALANCE_IN_PROGRESS: 'SLUICE_ERR_ILLEGAL_GENERATION',
  UNKNOWN_MEMBER_ID: 'SLUICE_ERR_UNKNOWN_MEMBER',
  GROUP_ID_NOT_FOUND: 'SLUICE_ERR_GROUP_NOT_FOUND',
  INVALID_GROUP_ID: 'SLUICE_ERR_INVALID_ARGUMENT',
  POLICY_VIOLATION: 'SLUICE_ERR_INVALID_CONFIG',
  COORDINATOR_NOT_AVAILABLE: 'SLUICE_ERR_CONNECTION',
  COORDINATOR_LOAD_IN_PROGRESS: 'SLUICE_ERR_CONNECTION',
  NOT_COORDINATOR: 'SLUICE_ERR_CONNECTION',
  NOT_LEADER_OR_FOLLOWER: 'SLUICE_ERR_CONNECTION',
  LEADER_NOT_AVAILABLE: 'SLUICE_ERR_CONNECTION',
  NOT_ENOUGH_REPLICAS: 'SLUICE_ERR_CONNECTION',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'SLUICE_ERR_CONNECTION',
  REQUEST_TIMED_OUT: 'SLUICE_ERR_CONNECTION',
}

/** Errors of a cluster that is starting, electing leaders or moving coordinators: worth waiting out. */
const TRANSIENT = [
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'CONCURRENT_TRANSACTIONS',
]

/**
 * Runs `work` until it succeeds or fails with a non-transient error. A lost connection is not retried here: a
 * produce resent by @platformatic/kafka after a broker died was seen written twice (see docs/kafka.md), for up to `timeoutMs`: the first transaction
 * or group on a fresh cluster waits for Kafka to create its internal topic, much as the Java client blocks up to
 * max.block.ms.
 */
export async function retryTransient<T>(work: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      return await work()
    } catch (error) {
      if (!hasProtocolError(error, ...TRANSIENT) || Date.now() + delay > deadline) throw error
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

interface ProtocolLike {
  apiId?: string
  code?: string
  serverErrorMessage?: string | null
  errors?: unknown[]
  cause?: unknown
}

/** The Kafka protocol errors inside a (possibly nested) @platformatic/kafka error, outermost first. */
export function protocolErrorIds(error: unknown, seen = new Set<unknown>()): string[] {
  if (typeof error !== 'object' || error === null || seen.has(error)) return []
  seen.add(error)
  const e = error as ProtocolLike
  const ids = typeof e.apiId === 'string' ? [e.apiId] : []
  for (const inner of e.errors ?? []) ids.push(...protocolErrorIds(inner, seen))
  if (e.cause !== undefined) ids.push(...protocolErrorIds(e.cause, seen))
  return ids
}

export function hasProtocolError(error: unknown, ...ids: string[]): boolean {
  return protocolErrorIds(error).some((id) => ids.includes(id))
}

export function isNetworkError(error: unknown, seen = new Set<unknown>()): boolean {
  if (typeof error !== 'object' || error === null || seen.has(error)) return false
  seen.add(error)
  const e = error as ProtocolLike & { code?: string }
  if (e.code === 'PLT_KFK_NETWORK' || e.code === 'PLT_KFK_TIMEOUT' || e.code === 'ECONNREFUSED') return true
  return (e.errors ?? []).some((inner) => isNetworkError(inner, seen)) || isNetworkError(e.cause, seen)
}

/**
 * A SluiceError for a failed Kafka call: `what` says what Sluice was doing ("sending to topic clicks"), so the
 * message reads as what happened to what. SluiceErrors pass through unchanged.
 */
export function toSluiceError(
  error: unknown,
  what: string,
  details: Record<string, unknown> = {},
): SluiceError {
  if (error instanceof SluiceError) return error
  const ids = protocolErrorIds(error)
  for (const id of ids) {
    const code = BY_PROTOCOL_ERROR[id]
    if (code !== undefined) {
      return new SluiceError(code, `Kafka refused ${what}: ${id}`, {
        cause: error,
        details: { ...details, kafkaError: id },
      })
    }
  }
  if (isNetworkError(error)) {
    return new SluiceError(
      'SLUICE_ERR_CONNECTION',
      `could not reach Kafka while ${what}: ${(error as Error).message} (check the brokers list and that they run)`,
      { cause: error, details },
    )
  }
  const message = error instanceof Error ? error.message : String(error)
  const suffix = ids.length > 0 ? ` (${ids.join(', ')})` : ''
  return new SluiceError('SLUICE_ERR_INTERNAL', `Kafka failed while ${what}: ${message}${suffix}`, {
    cause: error,
    details: { ...details, kafkaErrors: ids },
  })
}
