// The ingest endpoint's bodies: JSON (one value or an array of values) and NDJSON, read as bytes so that a body that
// is not UTF-8 is refused rather than stored with U+FFFD in place of its bad bytes, and the checks a parsed value
// must pass to be stored as it was sent.
import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'

const JSON_TYPE = 'application/json'
const NDJSON_TYPE = 'application/x-ndjson'

/**
 * Deepest nesting of arrays and objects a record may have (Jackson's default limit too). Deeper values would make
 * JSON.stringify, which recurses, overflow the stack.
 */
const MAX_DEPTH = 1000

/** A body's values in order. A value NDJSON could not parse is `undefined`, and `problems` has the reason. */
export interface ParsedBody {
  values: unknown[]
  problems: Map<number, string>
}

function invalidBody(message: string): Error {
  // a 4xx status: toHttpError() answers with it and this message
  return Object.assign(new Error(message), { statusCode: 400 })
}

export function parseJsonBody(body: Buffer): ParsedBody {
  if (!isUtf8(body)) throw invalidBody('it is not UTF-8, which JSON must be')
  let text = body.toString('utf8')
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1) // a byte-order mark is not part of the JSON
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw invalidBody(
      `it is not JSON (${(err as Error).message}); send one JSON value or a JSON array of them`,
    )
  }
  return { values: Array.isArray(value) ? value : [value], problems: new Map() }
}

/** Parses NDJSON, collecting a problem per bad line instead of stopping at the first. Blank lines are skipped. */
export function parseNdjsonBody(body: Buffer): ParsedBody {
  const values: unknown[] = []
  const problems = new Map<number, string>()
  const allUtf8 = isUtf8(body)
  let lineNumber = 0
  for (let start = 0; start <= body.length; ) {
    let end = body.indexOf(0x0a, start)
    if (end === -1) end = body.length
    const line = body.subarray(start, end)
    start = end + 1
    lineNumber++
    if (!allUtf8 && !isUtf8(line)) {
      problems.set(values.length, `line ${lineNumber} is not UTF-8, which JSON must be`)
      values.push(undefined)
      continue
    }
    const text = line.toString('utf8').trim()
    if (text === '') continue
    try {
      values.push(JSON.parse(text))
    } catch (err) {
      problems.set(values.length, `line ${lineNumber} is not JSON: ${(err as Error).message}`)
      values.push(undefined)
    }
  }
  return { values, problems }
}

/**
 * Makes `scope` parse JSON and NDJSON bodies into a ParsedBody, and refuse every other content type with a 415.
 * Plain JSON.parse, as for NDJSON lines: a `__proto__` key is an own property of the parsed value, harmless here, and
 * kept in the record as sent (readers parse the stored bytes again anyway).
 */
export function registerBodyParsers(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser(JSON_TYPE, { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
  scope.addContentTypeParser(NDJSON_TYPE, { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, parseNdjsonBody(body as Buffer))
  })
}

/** Why a parsed value cannot be stored as it was sent, or null when it can. */
export function valueProblem(value: unknown): string | null {
  const stack: unknown[] = [value]
  const depths: number[] = [0] // how many arrays and objects enclose the value beside it in `stack`
  while (stack.length > 0) {
    const v = stack.pop()
    const depth = depths.pop()!
    if (typeof v === 'number' && !Number.isFinite(v)) {
      // JSON.parse gives Infinity for 1e400, which JSON.stringify would write as null
      return 'record has a number beyond the range of a double (about 1.8e308), which cannot be stored as sent'
    }
    if (v === null || typeof v !== 'object') continue
    if (depth >= MAX_DEPTH) return `record is nested more than ${MAX_DEPTH} levels deep`
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      stack.push(child)
      depths.push(depth + 1)
    }
  }
  return null
}
