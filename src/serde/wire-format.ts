// The Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then (Protobuf only) the message
// indexes as zigzag varints, then the payload. Clients of a Confluent-compatible registry all speak it.
import { SluiceError } from '../errors/index.ts'

export const MAGIC_BYTE = 0

export interface WireHeader {
  schemaId: number
  /** Where the payload (after the header, and after the message indexes when read) starts. */
  offset: number
}

function wireError(message: string, bytes: Buffer): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_SERDE',
    `${message} (${bytes.length} bytes starting with ${bytes.subarray(0, 8).toString('hex')}); ` +
      'the producer did not use a schema registry serializer, or used another format',
    { details: { format: 'confluent' } },
  )
}

/** Reads the magic byte and schema id. */
export function readHeader(bytes: Buffer): WireHeader {
  if (bytes.length < 5) throw wireError('too short for the Confluent wire format', bytes)
  if (bytes[0] !== MAGIC_BYTE) throw wireError(`unknown magic byte ${bytes[0]}`, bytes)
  return { schemaId: bytes.readUInt32BE(1), offset: 5 }
}

export function writeHeader(schemaId: number, payload: Buffer, indexes?: readonly number[]): Buffer {
  const idx = indexes === undefined ? Buffer.alloc(0) : encodeMessageIndexes(indexes)
  const out = Buffer.allocUnsafe(5 + idx.length + payload.length)
  out[0] = MAGIC_BYTE
  out.writeUInt32BE(schemaId >>> 0, 1)
  idx.copy(out, 5)
  payload.copy(out, 5 + idx.length)
  return out
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2
}

function writeVarint(out: number[], value: number): void {
  let v = value
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
}

/**
 * The path to a Protobuf message type in its file: [2, 0] is the first nested message of the third top-level one.
 * The common case [0] (the first message) is written as a single 0, Confluent's shortcut.
 */
export function encodeMessageIndexes(indexes: readonly number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.from([0])
  const out: number[] = []
  writeVarint(out, zigzag(indexes.length))
  for (const i of indexes) writeVarint(out, zigzag(i))
  return Buffer.from(out)
}

function readVarint(bytes: Buffer, pos: { at: number }): number {
  let result = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    if (pos.at >= bytes.length) throw wireError('truncated varint in the Protobuf message indexes', bytes)
    const b = bytes[pos.at++]
    result += (b & 0x7f) * scale
    if (b < 0x80) return result
    scale *= 0x80
  }
  throw wireError('varint too long in the Protobuf message indexes', bytes)
}

/** Reads the message indexes at `offset`; returns them and where the payload starts. */
export function decodeMessageIndexes(bytes: Buffer, offset: number): { indexes: number[]; offset: number } {
  const pos = { at: offset }
  const count = unzigzag(readVarint(bytes, pos))
  if (count === 0) return { indexes: [0], offset: pos.at }
  // Each index takes at least one byte, so a count past the remaining bytes is garbage, not a huge allocation.
  if (count < 0 || count > bytes.length - pos.at) throw wireError(`bad message index count ${count}`, bytes)
  const indexes: number[] = []
  for (let i = 0; i < count; i++) {
    const idx = unzigzag(readVarint(bytes, pos))
    if (idx < 0) throw wireError(`negative message index ${idx}`, bytes)
    indexes.push(idx)
  }
  return { indexes, offset: pos.at }
}
