// Every error code Sluice can raise, in one place. docs/errors.md documents each one; a test keeps them in sync.

export type ErrorDomain = 'user' | 'external' | 'internal'

interface CodeSpec {
  readonly domain: ErrorDomain
  readonly retriable: boolean
}

export const errorCodes = {
  SLUICE_ERR_INVALID_ARGUMENT: { domain: 'user', retriable: false },
  SLUICE_ERR_INVALID_CONFIG: { domain: 'user', retriable: false },
  SLUICE_ERR_TOPIC_NOT_FOUND: { domain: 'user', retriable: false },
  SLUICE_ERR_TOPIC_EXISTS: { domain: 'user', retriable: false },
  SLUICE_ERR_PARTITION_NOT_FOUND: { domain: 'user', retriable: false },
  SLUICE_ERR_OFFSET_OUT_OF_RANGE: { domain: 'user', retriable: false },
  SLUICE_ERR_RECORD_TOO_LARGE: { domain: 'user', retriable: false },
  SLUICE_ERR_CORRUPT_RECORD: { domain: 'internal', retriable: false },
  SLUICE_ERR_DATA_DIR_LOCKED: { domain: 'user', retriable: false },
  SLUICE_ERR_LOG_CLOSED: { domain: 'user', retriable: false },
  SLUICE_ERR_IO: { domain: 'external', retriable: true },
  SLUICE_ERR_CONNECTION: { domain: 'external', retriable: true },
  SLUICE_ERR_OUT_OF_ORDER_SEQUENCE: { domain: 'internal', retriable: false },
  SLUICE_ERR_PRODUCER_FENCED: { domain: 'user', retriable: false },
  SLUICE_ERR_INVALID_TXN_STATE: { domain: 'user', retriable: false },
  SLUICE_ERR_TXN_TIMED_OUT: { domain: 'external', retriable: false },
  SLUICE_ERR_ILLEGAL_GENERATION: { domain: 'external', retriable: true },
  SLUICE_ERR_UNKNOWN_MEMBER: { domain: 'external', retriable: true },
  SLUICE_ERR_GROUP_NOT_FOUND: { domain: 'user', retriable: false },
  SLUICE_ERR_INPUT_PARSE: { domain: 'user', retriable: false },
  SLUICE_ERR_SERDE: { domain: 'user', retriable: false },
  SLUICE_ERR_INVALID_PIPELINE: { domain: 'user', retriable: false },
  SLUICE_ERR_NOT_COPARTITIONED: { domain: 'user', retriable: false },
  SLUICE_ERR_STATE: { domain: 'internal', retriable: false },
  SLUICE_ERR_OPERATOR: { domain: 'user', retriable: false },
  SLUICE_ERR_NOT_FOUND: { domain: 'user', retriable: false },
  SLUICE_ERR_INTERNAL: { domain: 'internal', retriable: false },
} as const satisfies Record<string, CodeSpec>

export type ErrorCode = keyof typeof errorCodes
