// Registry errors carry Confluent's numeric error code (40401, 409, 42201...), which registry clients match on,
// next to the Sluice code; the HTTP status is its first three digits.
import { SluiceError } from '../errors/index.ts'

export const registryErrorCodes = {
  SUBJECT_NOT_FOUND: 40401,
  VERSION_NOT_FOUND: 40402,
  SCHEMA_NOT_FOUND: 40403,
  SUBJECT_SOFT_DELETED: 40404,
  SUBJECT_NOT_SOFT_DELETED: 40405,
  VERSION_SOFT_DELETED: 40406,
  VERSION_NOT_SOFT_DELETED: 40407,
  SUBJECT_LEVEL_NOT_CONFIGURED: 40408,
  // Confluent answers 409, not 40901, for an incompatible schema; clients match on what the server sends.
  INCOMPATIBLE_SCHEMA: 409,
  INVALID_SCHEMA: 42201,
  INVALID_VERSION: 42202,
  INVALID_COMPATIBILITY_LEVEL: 42203,
} as const

export type RegistryErrorName = keyof typeof registryErrorCodes

export function registryError(name: RegistryErrorName, message: string, messages?: string[]): SluiceError {
  const errorCode = registryErrorCodes[name]
  const code =
    errorCode >= 40400 && errorCode < 40500 ? 'SLUICE_ERR_NOT_FOUND' : 'SLUICE_ERR_INVALID_ARGUMENT'
  return new SluiceError(code, message, { details: { errorCode, ...(messages ? { messages } : {}) } })
}

export function registryErrorCode(err: unknown): number | undefined {
  if (!(err instanceof SluiceError)) return undefined
  const code = err.details.errorCode
  return typeof code === 'number' ? code : undefined
}
