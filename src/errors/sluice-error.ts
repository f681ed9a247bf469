// The one error class of Sluice: a literal code, a domain (whose fault) and whether retrying can help.
import { type ErrorCode, type ErrorDomain, errorCodes } from './codes.ts'

export interface SluiceErrorOptions {
  cause?: unknown
  /** Structured facts about the failure (topic, partition, offset...), for logs and dead letters. */
  details?: Record<string, unknown>
}

export class SluiceError extends Error {
  readonly code: ErrorCode
  readonly domain: ErrorDomain
  readonly retriable: boolean
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SluiceError'
    this.code = code
    this.domain = errorCodes[code].domain
    this.retriable = errorCodes[code].retriable
    this.details = options.details ?? {}
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      domain: this.domain,
      retriable: this.retriable,
      message: this.message,
      details: this.details,
    }
  }
}

export function isSluiceError(err: unknown, code?: ErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code)
}
