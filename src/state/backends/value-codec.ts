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
  if (jsonExact(value, 0)) {
    const text = JSON.stringify(value)
    const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(text, 'utf8'))
    bytes[0] = JSON_TAG
    bytes.write(text, 1, 'utf8')
    return bytes
  }
  return serialize(value)
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

/** True when JSON.parse(JSON.stringify(value)) is a value that v8 would also give back, property for property. */
function jsonExact(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      // JSON has no NaN, Infinity or -0; every other double prints and parses back to itself.
      return Number.isFinite(value) && !Object.is(value, -0)
    case 'object': {
      if (value === null) return true
      if (depth === MAX_JSON_DEPTH) return false
      const proto = Object.getPrototypeOf(value)
      if (proto === Object.prototype) {
        // Own enumerable string keys, as both JSON and v8 see them; an undefined member would vanish in JSON.
        const obj = value as Record<string, unknown>
        for (const k in obj) {
          if (!Object.hasOwn(obj, k) || !jsonExact(obj[k], depth + 1)) return false
        }
        return true
      }
      if (proto === Array.prototype) {
        const arr = value as unknown[]
        // A hole reads as undefined and fails; an extra named property shows up as an extra key.
        for (let i = 0; i < arr.length; i++) if (!jsonExact(arr[i], depth + 1)) return false
        return Object.keys(arr).length === arr.length
      }
      return false
    }
    default:
      return false
  }
}
