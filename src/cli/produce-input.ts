// Turns produce's stdin into records: splits bytes into lines and checks each one, so that a bad line is reported
// with its number and reason instead of being dropped or aborting the lines around it.
import { parseExact, scalarText } from './exact-json.ts'

export type InputFormat = 'ndjson' | 'lines'

export interface InputLine {
  /** 1-based, counting every line of the input, blank ones included, so that it matches an editor's numbering. */
  lineNumber: number
  bytes: Buffer
}

export type LineResult =
  | { kind: 'record'; key: Buffer | null; value: Buffer }
  | { kind: 'blank' }
  | { kind: 'rejected'; reason: string }

const LF = 0x0a
const CR = 0x0d

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line
}

/**
 * Splits a byte stream on \n (dropping a trailing \r), without decoding: a value is the line's exact bytes.
 * Yields the complete lines of each chunk together, so that the caller can write them before waiting for more
 * input: `tail -f app.log | sluice produce` must not hold lines back until some batch size is reached.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<InputLine[]> {
  let pending: Buffer = Buffer.alloc(0)
  let lineNumber = 0
  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    const data = pending.length > 0 ? Buffer.concat([pending, bytes]) : bytes
    const lines: InputLine[] = []
    let start = 0
    for (let nl = data.indexOf(LF); nl !== -1; nl = data.indexOf(LF, start)) {
      lines.push({ lineNumber: ++lineNumber, bytes: stripCr(data.subarray(start, nl)) })
      start = nl + 1
    }
    // Copy the tail so that the chunk it came from can be garbage-collected.
    pending = Buffer.from(data.subarray(start))
    if (lines.length > 0) yield lines
  }
  if (pending.length > 0) yield [{ lineNumber: ++lineNumber, bytes: stripCr(pending) }]
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

function describeJsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

/**
 * Checks one line. Blank lines are not records in either format (they are counted, not written). In `ndjson`
 * each line must be a JSON object; with `keyField` that object's top-level field becomes the key.
 */
export function parseLine(bytes: Buffer, format: InputFormat, keyField?: string): LineResult {
  if (bytes.every((b) => b === 0x20 || b === 0x09)) return { kind: 'blank' }
  if (format === 'lines') return { kind: 'record', key: null, value: bytes }

  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { kind: 'rejected', reason: 'not valid UTF-8, so not JSON' }
  }
  let parsed: unknown
  try {
    parsed = parseExact(text)
  } catch (err) {
    return { kind: 'rejected', reason: `not valid JSON (${(err as Error).message})` }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { kind: 'rejected', reason: `expected a JSON object, got ${describeJsonType(parsed)}` }
  }
  // A leading byte-order mark is not part of the value: strip it so that consumers can parse what they read.
  const value = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes
  if (keyField === undefined) return { kind: 'record', key: null, value }

  if (!Object.hasOwn(parsed, keyField)) {
    return { kind: 'rejected', reason: `key field "${keyField}" is missing` }
  }
  const keyValue = (parsed as Record<string, unknown>)[keyField]
  if (keyValue === null) return { kind: 'rejected', reason: `key field "${keyField}" is null` }
  return { kind: 'record', key: Buffer.from(scalarText(keyValue)), value }
}
