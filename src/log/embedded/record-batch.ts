// The on-disk batch format of the embedded log: a fixed header with length and CRC32C, then varint-framed records
// in Kafka's record layout. The CRC covers every byte but its own field, base offset and length included, and is
// checked on every read.
import { crc32c } from '@node-rs/crc32'
import type { Header, LogRecord } from '../contract.ts'

/** Format 2: the CRC also covers base offset and length (format 1 left them out, as Kafka does). */
export const MAGIC = 2

// Header layout (big endian):
//   0 baseOffset int64 | 8 batchLength int32 (bytes after this field) | 12 crc uint32 | 16 magic int8
//  17 attributes int16 | 19 lastOffsetDelta int32 | 23 baseTimestamp int64 | 31 maxTimestamp int64
//  39 producerId int64 | 47 producerEpoch int16 | 49 baseSequence int32 | 53 deleteHorizon int64
//  61 recordCount int32 | 65 records...
// crc = CRC32C of bytes [0, 12) continued over [16, end): a flipped bit in the base offset or length is caught like any
// other, instead of giving records wrong offsets or a wrong batch boundary.
export const BATCH_HEADER_SIZE = 65
/** Bytes before batchLength's payload starts: baseOffset + batchLength. */
export const LOG_OVERHEAD = 12
const CRC_START = 16

/** The CRC of the batch in `buf` from `pos` to `end`: base offset and length, then everything after the crc field. */
function batchCrc(buf: Buffer, pos: number, end: number): number {
  return crc32c(buf.subarray(pos + CRC_START, end), prefixCrc(buf, pos))
}

// CRC32C (Castagnoli, reflected) of the 12 bytes before the crc field in JavaScript: a second native call and
// subarray per batch would cost about as much as checking a whole small batch.
const CRC_TABLE = new Int32Array(256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  CRC_TABLE[n] = c
}

function prefixCrc(buf: Buffer, pos: number): number {
  let c = -1
  for (let i = pos; i < pos + LOG_OVERHEAD; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8)
  return ~c >>> 0
}

export const ATTR_TRANSACTIONAL = 0x10
export const ATTR_CONTROL = 0x20

export const CONTROL_ABORT = 0
export const CONTROL_COMMIT = 1

const TWO_32 = 0x1_0000_0000
const NO_HEADERS: readonly Header[] = Object.freeze([]) as readonly Header[]

export interface BatchHeader {
  baseOffset: number
  /** Total size on disk, header included. */
  sizeInBytes: number
  crc: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  deleteHorizon: number
  recordCount: number
}

export interface BatchInput {
  baseOffset: number
  records: readonly {
    key?: Buffer | null
    value: Buffer | null
    headers?: readonly Header[]
    timestamp: number
  }[]
  /** Offsets relative to baseOffset; when absent, records take consecutive offsets. Compaction leaves gaps. */
  offsetDeltas?: readonly number[]
  attributes?: number
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  deleteHorizon?: number
}

export function isTransactional(h: BatchHeader): boolean {
  return (h.attributes & ATTR_TRANSACTIONAL) !== 0
}

export function isControl(h: BatchHeader): boolean {
  return (h.attributes & ATTR_CONTROL) !== 0
}

export function lastOffsetOf(h: BatchHeader): number {
  return h.baseOffset + h.lastOffsetDelta
}

export function writeInt64(buf: Buffer, pos: number, n: number): void {
  const hi = Math.floor(n / TWO_32)
  buf.writeInt32BE(hi, pos)
  buf.writeUInt32BE(n - hi * TWO_32, pos + 4)
}

export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4)
}

// Varints are zigzag-encoded, 7 bits per byte. Records of small batches have one- and two-byte varints almost
// everywhere (lengths under 64 or 8192, deltas under 64 or 8192), so those take branch-only fast paths; the loops
// handle the rest up to 2^53 with arithmetic that does not overflow 32 bits.

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1
}

function varintSize(n: number): number {
  let z = zigzag(n)
  if (z < 0x80) return 1
  if (z < 0x4000) return 2
  let size = 1
  while (z >= 0x80) {
    z = Math.floor(z / 128)
    size++
  }
  return size
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  let z = zigzag(n)
  if (z < 0x80) {
    buf[pos] = z
    return pos + 1
  }
  if (z < 0x4000) {
    buf[pos] = (z & 0x7f) | 0x80
    buf[pos + 1] = z >>> 7
    return pos + 2
  }
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80
    z = Math.floor(z / 128)
  }
  buf[pos++] = z
  return pos
}

// Decoding state shared by readVarint, to return two values without allocating.
let cursor = 0

function readVarint(buf: Buffer, pos: number): number {
  const b0 = buf[pos]
  if (b0 < 0x80) {
    cursor = pos + 1
    return (b0 >>> 1) ^ -(b0 & 1)
  }
  const b1 = buf[pos + 1]
  if (b1 < 0x80) {
    const z = (b0 & 0x7f) | (b1 << 7)
    cursor = pos + 2
    return (z >>> 1) ^ -(z & 1)
  }
  return readLongVarint(buf, pos)
}

function readLongVarint(buf: Buffer, pos: number): number {
  let b = buf[pos++]
  if (b === undefined) throw new RangeError('varint runs past the end of the batch')
  let z = b & 0x7f
  let mul = 128
  while (b & 0x80) {
    b = buf[pos++]
    if (b === undefined) throw new RangeError('varint runs past the end of the batch')
    z += (b & 0x7f) * mul
    mul *= 128
  }
  cursor = pos
  // zigzag decode without 32-bit overflow
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2
}

function headersSize(headers: readonly Header[]): number {
  let size = varintSize(headers.length)
  for (const [hk, hv] of headers) {
    const kl = Buffer.byteLength(hk)
    size += varintSize(kl) + kl + varintSize(hv.length) + hv.length
  }
  return size
}

/** Body sizes of the batch being encoded, kept between calls so that encoding allocates only its output. */
let bodySizes = new Float64Array(1024)

/** Encodes one batch into a fresh buffer. */
export function encodeBatch(input: BatchInput): Buffer {
  return encodeWith(input, Buffer.allocUnsafe)
}

/** Batches up to this size are encoded by encodeTransientBatch into one buffer kept for the purpose. */
const SCRATCH_MAX = 1 << 20
let scratch = Buffer.allocUnsafe(0)

function scratchBuffer(size: number): Buffer {
  if (size > SCRATCH_MAX) return Buffer.allocUnsafe(size)
  if (scratch.length < size)
    scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(size, 2 * scratch.length)))
  return scratch.subarray(0, size)
}

/**
 * Encodes one batch into a buffer that the next call reuses: for appends, which write the batch out at once and
 * keep nothing. Saves allocating (and the kernel zeroing) a fresh buffer per batch.
 */
export function encodeTransientBatch(input: BatchInput): Buffer {
  return encodeWith(input, scratchBuffer)
}

function encodeWith(input: BatchInput, alloc: (size: number) => Buffer): Buffer {
  const records = input.records
  const count = records.length
  if (count === 0) throw new RangeError('a batch needs at least one record')
  const deltas = input.offsetDeltas
  const baseTimestamp = records[0].timestamp
  let maxTimestamp = baseTimestamp
  if (bodySizes.length < count) bodySizes = new Float64Array(Math.max(count, bodySizes.length * 2))
  const sizes = bodySizes
  let total = BATCH_HEADER_SIZE
  for (let i = 0; i < count; i++) {
    const r = records[i]
    const ts = r.timestamp
    if (ts > maxTimestamp) maxTimestamp = ts
    // attributes, timestamp delta, offset delta
    let body = 1 + varintSize(ts - baseTimestamp) + varintSize(deltas === undefined ? i : deltas[i])
    const key = r.key
    body += key == null ? 1 : varintSize(key.length) + key.length
    const value = r.value
    body += value === null ? 1 : varintSize(value.length) + value.length
    const headers = r.headers
    body += headers === undefined || headers.length === 0 ? 1 : headersSize(headers)
    sizes[i] = body
    total += varintSize(body) + body
  }
  const buf = alloc(total)
  let pos = BATCH_HEADER_SIZE
  for (let i = 0; i < count; i++) {
    const r = records[i]
    pos = writeVarint(buf, pos, sizes[i])
    buf[pos++] = 0
    pos = writeVarint(buf, pos, r.timestamp - baseTimestamp)
    pos = writeVarint(buf, pos, deltas === undefined ? i : deltas[i])
    const key = r.key
    if (key == null) buf[pos++] = 1
    else {
      pos = writeVarint(buf, pos, key.length)
      buf.set(key, pos)
      pos += key.length
    }
    const value = r.value
    if (value === null) buf[pos++] = 1
    else {
      pos = writeVarint(buf, pos, value.length)
      buf.set(value, pos)
      pos += value.length
    }
    const headers = r.headers
    if (headers === undefined || headers.length === 0) buf[pos++] = 0
    else {
      pos = writeVarint(buf, pos, headers.length)
      for (const [hk, hv] of headers) {
        const kl = Buffer.byteLength(hk)
        pos = writeVarint(buf, pos, kl)
        pos += buf.write(hk, pos)
        pos = writeVarint(buf, pos, hv.length)
        buf.set(hv, pos)
        pos += hv.length
      }
    }
  }
  const lastOffsetDelta = deltas ? deltas[deltas.length - 1] : count - 1
  writeHeader(buf, {
    baseOffset: input.baseOffset,
    attributes: input.attributes ?? 0,
    lastOffsetDelta,
    baseTimestamp,
    maxTimestamp,
    producerId: input.producerId ?? -1,
    producerEpoch: input.producerEpoch ?? -1,
    baseSequence: input.baseSequence ?? -1,
    deleteHorizon: input.deleteHorizon ?? -1,
    recordCount: count,
  })
  return buf
}

function writeHeader(buf: Buffer, h: Omit<BatchHeader, 'sizeInBytes' | 'crc'>): void {
  writeInt64(buf, 0, h.baseOffset)
  buf.writeInt32BE(buf.length - LOG_OVERHEAD, 8)
  buf.writeInt8(MAGIC, 16)
  buf.writeInt16BE(h.attributes, 17)
  buf.writeInt32BE(h.lastOffsetDelta, 19)
  writeInt64(buf, 23, h.baseTimestamp)
  writeInt64(buf, 31, h.maxTimestamp)
  writeInt64(buf, 39, h.producerId)
  buf.writeInt16BE(h.producerEpoch, 47)
  buf.writeInt32BE(h.baseSequence, 49)
  writeInt64(buf, 53, h.deleteHorizon)
  buf.writeInt32BE(h.recordCount, 61)
  buf.writeUInt32BE(batchCrc(buf, 0, buf.length), 12)
}

/** Rewrites the base offset of an encoded batch in place, and its CRC, which covers the offset. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  writeInt64(batch, 0, baseOffset)
  batch.writeUInt32BE(batchCrc(batch, 0, batch.length), 12)
}

/** Reads the size of the batch at `pos`, or -1 if fewer than LOG_OVERHEAD bytes remain. */
export function peekBatchSize(buf: Buffer, pos: number): number {
  if (buf.length - pos < LOG_OVERHEAD) return -1
  return buf.readInt32BE(pos + 8) + LOG_OVERHEAD
}

export function readHeader(buf: Buffer, pos: number): BatchHeader {
  return {
    baseOffset: readInt64(buf, pos),
    sizeInBytes: buf.readInt32BE(pos + 8) + LOG_OVERHEAD,
    crc: buf.readUInt32BE(pos + 12),
    attributes: buf.readInt16BE(pos + 17),
    lastOffsetDelta: buf.readInt32BE(pos + 19),
    baseTimestamp: readInt64(buf, pos + 23),
    maxTimestamp: readInt64(buf, pos + 31),
    producerId: readInt64(buf, pos + 39),
    producerEpoch: buf.readInt16BE(pos + 47),
    baseSequence: buf.readInt32BE(pos + 49),
    deleteHorizon: readInt64(buf, pos + 53),
    recordCount: buf.readInt32BE(pos + 61),
  }
}

export type BatchCheck = 'ok' | 'truncated' | 'corrupt'

/**
 * Checks the batch at `pos` in `buf`: its framing, magic byte and CRC. `truncated` means the bytes end inside the
 * batch (a torn write at the tail); `corrupt` means they are all there but wrong.
 */
export function checkBatch(buf: Buffer, pos: number): BatchCheck {
  const remaining = buf.length - pos
  if (remaining < BATCH_HEADER_SIZE) return 'truncated'
  const size = buf.readInt32BE(pos + 8) + LOG_OVERHEAD
  if (size < BATCH_HEADER_SIZE) return 'corrupt'
  if (size > remaining) return 'truncated'
  if (buf[pos + 16] !== MAGIC) return 'corrupt'
  const stored = buf.readUInt32BE(pos + 12)
  return batchCrc(buf, pos, pos + size) === stored ? 'ok' : 'corrupt'
}

/**
 * Decodes the records of a batch whose CRC has been checked, appending those at or after `minOffset` to `out`.
 * Keys, values and header values are views into `buf`, not copies.
 */
export function decodeRecords(buf: Buffer, pos: number, minOffset: number, out: LogRecord[]): void {
  const baseOffset = readInt64(buf, pos)
  const end = pos + buf.readInt32BE(pos + 8) + LOG_OVERHEAD
  const baseTimestamp = readInt64(buf, pos + 23)
  const count = buf.readInt32BE(pos + 61)
  let p = pos + BATCH_HEADER_SIZE
  // Each varint of a record is decoded inline when it has one or two bytes (absolute values under 8192),
  // through readVarint otherwise: inlining by hand decodes ~15% faster than calling readVarint everywhere.
  for (let i = 0; i < count; i++) {
    let v = buf[p]
    let bodyLength: number
    if (v < 0x80) {
      bodyLength = (v >>> 1) ^ -(v & 1)
      p++
    } else if (buf[p + 1] < 0x80) {
      v = (v & 0x7f) | (buf[p + 1] << 7)
      bodyLength = (v >>> 1) ^ -(v & 1)
      p += 2
    } else {
      bodyLength = readVarint(buf, p)
      p = cursor
    }
    const recordEnd = p + bodyLength
    if (recordEnd > end) throw new RangeError('record runs past the end of its batch')
    p++ // attributes
    v = buf[p]
    let timestamp: number
    if (v < 0x80) {
      timestamp = baseTimestamp + ((v >>> 1) ^ -(v & 1))
      p++
    } else if (buf[p + 1] < 0x80) {
      v = (v & 0x7f) | (buf[p + 1] << 7)
      timestamp = baseTimestamp + ((v >>> 1) ^ -(v & 1))
      p += 2
    } else {
      timestamp = baseTimestamp + readVarint(buf, p)
      p = cursor
    }
    v = buf[p]
    let offset: number
    if (v < 0x80) {
      offset = baseOffset + ((v >>> 1) ^ -(v & 1))
      p++
    } else if (buf[p + 1] < 0x80) {
      v = (v & 0x7f) | (buf[p + 1] << 7)
      offset = baseOffset + ((v >>> 1) ^ -(v & 1))
      p += 2
    } else {
      offset = baseOffset + readVarint(buf, p)
      p = cursor
    }
    v = buf[p]
    let keyLength: number
    if (v < 0x80) {
      keyLength = (v >>> 1) ^ -(v & 1)
      p++
    } else if (buf[p + 1] < 0x80) {
      v = (v & 0x7f) | (buf[p + 1] << 7)
      keyLength = (v >>> 1) ^ -(v & 1)
      p += 2
    } else {
      keyLength = readVarint(buf, p)
      p = cursor
    }
    let key: Buffer | null = null
    if (keyLength >= 0) {
      key = buf.subarray(p, p + keyLength)
      p += keyLength
    }
    v = buf[p]
    let valueLength: number
    if (v < 0x80) {
      valueLength = (v >>> 1) ^ -(v & 1)
      p++
    } else if (buf[p + 1] < 0x80) {
      v = (v & 0x7f) | (buf[p + 1] << 7)
      valueLength = (v >>> 1) ^ -(v & 1)
      p += 2
    } else {
      valueLength = readVarint(buf, p)
      p = cursor
    }
    let value: Buffer | null = null
    if (valueLength >= 0) {
      value = buf.subarray(p, p + valueLength)
      p += valueLength
    }
    let headers = NO_HEADERS
    if (buf[p] === 0) p++
    else {
      const headerCount = readVarint(buf, p)
      p = cursor
      if (headerCount > 0) {
        const hs: Header[] = new Array(headerCount)
        for (let h = 0; h < headerCount; h++) {
          const kl = readVarint(buf, p)
          p = cursor
          const hk = buf.toString('utf8', p, p + kl)
          p += kl
          const vl = readVarint(buf, p)
          p = cursor
          hs[h] = [hk, buf.subarray(p, p + vl)]
          p += vl
        }
        headers = hs
      }
    }
    if (p !== recordEnd) throw new RangeError('record length does not match its contents')
    if (offset >= minOffset) out.push({ offset, timestamp, key, value, headers })
  }
}

/** A control batch ends a transaction on one partition: COMMIT or ABORT. */
export function encodeControlBatch(
  baseOffset: number,
  type: typeof CONTROL_ABORT | typeof CONTROL_COMMIT,
  producerId: number,
  producerEpoch: number,
  timestamp: number,
): Buffer {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0) // version
  key.writeInt16BE(type, 2)
  return encodeBatch({
    baseOffset,
    records: [{ key, value: Buffer.alloc(6), timestamp }],
    attributes: ATTR_TRANSACTIONAL | ATTR_CONTROL,
    producerId,
    producerEpoch,
    baseSequence: -1,
  })
}

/** The marker type of a control batch at `pos`. */
export function controlType(buf: Buffer, pos: number): number {
  const out: LogRecord[] = []
  decodeRecords(buf, pos, 0, out)
  const key = out[0]?.key
  if (!key || key.length < 4) throw new RangeError('control batch without a valid marker key')
  return key.readInt16BE(2)
}
