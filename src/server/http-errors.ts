// Errors as HTTP answers: a status, and a JSON body with the Sluice error code and a message that says what was
// wrong and what to do.
import type { FastifyReply } from 'fastify'
import { SluiceError } from '../errors/index.ts'

export interface HttpError {
  status: number
  body: { error: { code: string; message: string; [extra: string]: unknown } }
}

export function httpError(status: number, code: string, message: string): HttpError {
  return { status, body: { error: { code, message } } }
}

export function sendError(reply: FastifyReply, err: HttpError): FastifyReply {
  return reply.code(err.status).send(err.body)
}

const STATUS_BY_CODE: Record<string, number> = {
  SLUICE_ERR_TOPIC_NOT_FOUND: 404,
  SLUICE_ERR_PARTITION_NOT_FOUND: 404,
  SLUICE_ERR_GROUP_NOT_FOUND: 404,
  SLUICE_ERR_INVALID_ARGUMENT: 400,
  SLUICE_ERR_INVALID_CONFIG: 400,
  SLUICE_ERR_INPUT_PARSE: 400,
  SLUICE_ERR_SERDE: 400,
  SLUICE_ERR_RECORD_TOO_LARGE: 413,
  SLUICE_ERR_LOG_CLOSED: 503,
}

/** Maps any thrown error to an answer: SluiceErrors by code, fastify's own 4xx as they are, the rest 500. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof SluiceError) {
    return httpError(STATUS_BY_CODE[err.code] ?? (err.retriable ? 503 : 500), err.code, err.message)
  }
  const e = err as { statusCode?: number; code?: string; message?: string }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 413 ? 'SLUICE_ERR_RECORD_TOO_LARGE' : 'SLUICE_ERR_INPUT_PARSE'
    const detail =
      e.statusCode === 413
        ? 'the request body is larger than the server accepts: send smaller batches'
        : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'unsupported content type: send application/json or application/x-ndjson'
          : `the request body is not valid: ${e.message}`
    return httpError(e.statusCode, code, detail)
  }
  return httpError(500, 'SLUICE_ERR_INTERNAL', `internal error: ${e?.message ?? String(err)}`)
}
