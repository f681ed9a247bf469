// How the lmdb backend turns state values into bytes. node:v8's structured serialization keeps Map, Set, Buffer,
// Date, -0, NaN, undefined members and cycles, but takes 4-7 µs to write a small value and 2-3 µs to read it; the
// common state value (a number, a string, a small plain object like {count, sum}) takes a sixth of that as JSON. So a
// value that JSON carries exactly is written as JSON behind a tag byte, and anything else as v8 bytes, which start
// with 0xff (the v8 format's version tag) and so cannot be mistaken for the JSON tag.
import { deserialize, serialize } from 'node:v8'

const JSON_TAG = 0x01
const V8_TAG = 0xff
/** Deeper values go to v8, which also settles cycles. */
const MAX_JSON_DEPTH = 8

export function encodeValue(value: unknown): Buffer {
  // Numbers first: the common value of counters, and the text JSON gives them is String()'s.
  if (typeof value === 'number') {
    return Number.isFinite(value) && !Object.is(value, -0) ? tagged(String(value), true) : serialize(value)
  }
  // Then arrays of numbers: a window slice [key, count], a keyed state's [value, expiry].
  if (Array.isArray(value)) {
    const text = numbersText(value)
    if (text !== undefined) return tagged(text, true)
  }
  const kind = jsonKind(value, 0)
  if (kind === NOT_JSON) return serialize(value)
  return tagged(JSON.stringify(value), kind === ASCII_JSON)
}

/** The JSON text of a plain array of numbers that JSON carries exactly, or undefined for any other array. */
function numbersText(arr: unknown[]): string | undefined {
  if (arr.length === 0 || Object.getPrototypeOf(arr) !== Array.prototype) return undefined
  let text = '['
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i]
    if (typeof x !== 'number' || !Number.isFinite(x) || Object.is(x, -0)) return undefined
    text += i === 0 ? String(x) : `,${x}`
  }
  // A hole failed above; an extra named property shows up as an extra key.
  return Object.keys(arr).length === arr.length ? `${text}]` : undefined
}

/** The JSON tag and `text`, whose UTF-8 is its Latin-1 when it is known to be ASCII (no bytes to count). */
function tagged(text: string, ascii: boolean): Buffer {
  const length = ascii ? text.length : Buffer.byteLength(text, 'utf8')
  const bytes = Buffer.allocUnsafe(1 + length)
  bytes[0] = JSON_TAG
  bytes.write(text, 1, ascii ? 'latin1' : 'utf8')
  return bytes
}

/** Whether `bytes` start as encodeValue's do (decodeValue may still find them damaged). */
export function isEncodedValue(bytes: Buffer): boolean {
  return bytes[0] === JSON_TAG || bytes[0] === V8_TAG
}

/**
 * `bytes` may be a buffer that the caller reuses once this returns, and whose byteLength exceeds its length
 * (lmdb's getBinaryFast): only the first `length` bytes are read.
 */
export function decodeValue(bytes: Buffer): unknown {
  const tag = bytes[0]
  if (tag === JSON_TAG) return JSON.parse(bytes.toString('utf8', 1, bytes.length))
  if (tag === V8_TAG) return deserialize(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))
  throw new Error(`unknown value encoding ${tag === undefined ? '(no bytes)' : `0x${tag.toString(16)}`}`)
}

const NOT_JSON = 0
/** JSON carries the value exactly, and its text is ASCII: it has no strings (numbers, booleans, null, arrays). */
const ASCII_JSON = 1
/** JSON carries the value exactly; its text may have other characters. */
const SOME_JSON = 2
type JsonKind = typeof NOT_JSON | typeof ASCII_JSON | typeof SOME_JSON

/**
 * Whether JSON.parse(JSON.stringify(value)) is a value that v8 would also give back, property for property
 * (NOT_JSON if not), and whether its JSON text is surely ASCII.
 */
function jsonKind(value: unknown, depth: number): JsonKind {
  switch (typeof value) {
    case 'string':
      return SOME_JSON
    case 'boolean':
      return ASCII_JSON
    case 'number':
      // JSON has no NaN, Infinity or -0; every other double prints and parses back to itself.
      return Number.isFinite(value) && !Object.is(value, -0) ? ASCII_JSON : NOT_JSON
    case 'object': {
      if (value === null) return ASCII_JSON
      if (depth === MAX_JSON_DEPTH) return NOT_JSON
      const proto = Object.getPrototypeOf(value)
      if (proto === Object.prototype) {
        // Own enumerable string keys, as both JSON and v8 see them; an undefined member would vanish in JSON.
        const obj = value as Record<string, unknown>
        for (const k in obj) {
          if (!Object.hasOwn(obj, k) || jsonKind(obj[k], depth + 1) === NOT_JSON) return NOT_JSON
        }
        return SOME_JSON
      }
      if (proto === Array.prototype) {
        const arr = value as unknown[]
        let kind: JsonKind = ASCII_JSON
        // A hole reads as undefined and fails; an extra named property shows up as an extra key.
        for (let i = 0; i < arr.length; i++) {
          const k = jsonKind(arr[i], depth + 1)
          if (k === NOT_JSON) return NOT_JSON
          if (k === SOME_JSON) kind = SOME_JSON
        }
        return Object.keys(arr).length === arr.length ? kind : NOT_JSON
      }
      return NOT_JSON
    }
    default:
      return NOT_JSON
  }
}
