// The click event, how the pipeline tells a good one from a bad one, and the lenient serde that lets bytes which are
// not even JSON reach the pipeline (and its dead-letter topic) instead of failing it.
import type { Serde } from '../../src/index.ts'

export interface Click {
  user: string
  page: string
  /** Event time, epoch ms. */
  ts: number
  session?: string
  referrer?: string | null
  device?: string
}

/** Bytes the JSON parser refused, kept whole so that the dead-letter record carries them. */
export class Unparseable {
  readonly text: string
  readonly reason: string
  constructor(text: string, reason: string) {
    this.text = text
    this.reason = reason
  }
}

export type ProblemCode = 'invalid-json' | 'not-an-object' | 'missing-field' | 'wrong-type'

export interface Problem {
  code: ProblemCode
  message: string
}

/** What the clicks topic is read with: JSON, except that unparseable bytes become an Unparseable, not an error. */
export function lenientJson(): Serde<unknown> {
  return {
    name: 'lenient-json',
    serialize: (value) => {
      if (value === null || value === undefined) return null
      if (value instanceof Unparseable) return Buffer.from(value.text)
      // raw bytes pass as they are: how tests and replays put invalid JSON on the topic
      if (Buffer.isBuffer(value)) return value
      return Buffer.from(JSON.stringify(value))
    },
    deserialize: (bytes) => {
      if (bytes === null) return null
      const text = bytes.toString('utf8')
      try {
        return JSON.parse(text)
      } catch (err) {
        return new Unparseable(text, (err as Error).message)
      }
    },
  }
}

/** Keys as ingest writes them (JSON), but any other bytes as their text rather than an error. */
export function lenientKey(): Serde<unknown> {
  return {
    name: 'lenient-json-key',
    serialize: (key) => (key === null || key === undefined ? null : Buffer.from(JSON.stringify(key))),
    deserialize: (bytes) => {
      if (bytes === null) return null
      const text = bytes.toString('utf8')
      try {
        return JSON.parse(text)
      } catch {
        return text
      }
    },
  }
}

const MAX_FIELD = 2048

/** A checked value: the click, or what is wrong with it (and the value, for the dead-letter record). */
export type Checked = { ok: true; click: Click } | { ok: false; problem: Problem; value: unknown }

/** Checks a value read from the clicks topic; the first problem found wins. */
export function checkClick(value: unknown): Checked {
  const problem = problemOf(value)
  return problem === null ? { ok: true, click: value as Click } : { ok: false, problem, value }
}

function problemOf(value: unknown): Problem | null {
  if (value instanceof Unparseable) return { code: 'invalid-json', message: `not JSON: ${value.reason}` }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`
    return { code: 'not-an-object', message: `a click is a JSON object, got ${what}` }
  }
  const v = value as Record<string, unknown>
  for (const field of ['user', 'page', 'ts'] as const) {
    if (v[field] === undefined || v[field] === null)
      return { code: 'missing-field', message: `field ${field} is missing` }
  }
  if (typeof v.user !== 'string' || v.user === '' || v.user.length > MAX_FIELD)
    return { code: 'wrong-type', message: `field user must be a non-empty string, got ${show(v.user)}` }
  if (typeof v.page !== 'string' || !v.page.startsWith('/') || v.page.length > MAX_FIELD)
    return { code: 'wrong-type', message: `field page must be a path starting with /, got ${show(v.page)}` }
  if (typeof v.ts !== 'number' || !Number.isSafeInteger(v.ts) || v.ts < 0)
    return {
      code: 'wrong-type',
      message: `field ts must be epoch milliseconds (an integer), got ${show(v.ts)}`,
    }
  return null
}

const show = (x: unknown): string => JSON.stringify(x)?.slice(0, 80) ?? String(x)
