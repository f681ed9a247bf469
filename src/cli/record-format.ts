// How `consume` prints a record. Values are shown as what they most likely are (JSON, text, or binary) and the
// chosen encoding is printed next to them, so that a script can always get the exact bytes back.
import type { ConsumedRecord } from '../log/contract.ts'
import { parseExact } from './exact-json.ts'

/** `json`: the bytes are UTF-8 JSON, shown parsed. `utf8`: other text. `base64`: not valid UTF-8. */
export type Encoding = 'json' | 'utf8' | 'base64'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function text(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

export function decodeBytes(bytes: Buffer | null): {
  data: string | null
  encoding: 'utf8' | 'base64' | null
} {
  if (bytes === null) return { data: null, encoding: null }
  const decoded = text(bytes)
  return decoded === undefined
    ? { data: bytes.toString('base64'), encoding: 'base64' }
    : { data: decoded, encoding: 'utf8' }
}

export function decodeValue(bytes: Buffer | null): { data: unknown; encoding: Encoding | null } {
  const decoded = decodeBytes(bytes)
  if (decoded.encoding !== 'utf8') return decoded
  try {
    return { data: parseExact(decoded.data as string), encoding: 'json' }
  } catch {
    return decoded
  }
}

export interface RecordJson {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: string | null
  keyEncoding: 'utf8' | 'base64' | null
  value: unknown
  valueEncoding: Encoding | null
  headers: { key: string; value: string | null; valueEncoding: 'utf8' | 'base64' | null }[]
}

export function recordToJson(record: ConsumedRecord): RecordJson {
  const key = decodeBytes(record.key)
  const value = decodeValue(record.value)
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: key.data,
    keyEncoding: key.encoding,
    value: value.data,
    valueEncoding: value.encoding,
    headers: record.headers.map(([name, bytes]) => {
      const header = decodeBytes(bytes)
      return { key: name, value: header.data, valueEncoding: header.encoding }
    }),
  }
}

/** Text mode prints the value only, like kafka-console-consumer; binary values as base64, tombstones as (null). */
export function recordToText(record: ConsumedRecord): string {
  const value = decodeBytes(record.value)
  return value.data ?? '(null)'
}
