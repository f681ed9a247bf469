// The Protobuf wire reads behind the compiled decoders (protobuf-decoder.ts): each accepts what protobufjs's Reader
// accepts, or less, and turns 64-bit integers into what protobufjs's toObject makes of them. The decoders keep the
// position in a local; a read that moves it leaves the new one in `cursor.p`.
import protobuf from 'protobufjs'

/**
 * Thrown where the compiled decoder stops: bytes protobufjs may refuse or may read differently. The caller then
 * decodes with protobufjs, whose answer counts. One object, no stack: garbage input is not an exceptional cost.
 */
export const BAIL: Error = Object.freeze(Object.create(Error.prototype, { message: { value: 'bail' } }))

export const cursor = { p: 0 }

const { Long, LongBits } = protobuf.util

/** A varint of up to 32 bits, as protobufjs's `uint32`: at most 10 bytes, the bits past 32 dropped. */
export function u32(buf: Buffer, p: number, end: number): number {
  let v = 0
  for (let i = 0; i < 4; i++) {
    if (p >= end) throw BAIL
    const b = buf[p++]
    v |= (b & 127) << (7 * i)
    if (b < 128) {
      cursor.p = p
      return v >>> 0
    }
  }
  if (p >= end) throw BAIL
  const b = buf[p++]
  v |= (b & 15) << 28
  if (b >= 128) {
    let i = 0
    for (; i < 5; i++) {
      if (p >= end) throw BAIL
      if (buf[p++] < 128) break
    }
    if (i === 5) throw BAIL
  }
  cursor.p = p
  return v >>> 0
}

/** A tag: at most 5 bytes, the fifth at most 15 (protobufjs's `tag`). */
export function tag(buf: Buffer, p: number, end: number): number {
  let v = 0
  for (let i = 0; i < 4; i++) {
    if (p >= end) throw BAIL
    const b = buf[p++]
    v |= (b & 127) << (7 * i)
    if (b < 128) {
      cursor.p = p
      return v >>> 0
    }
  }
  if (p >= end || buf[p] > 15) throw BAIL
  cursor.p = p + 1
  return (v | (buf[p] << 28)) >>> 0
}

/** A length: at most 5 bytes, the fifth at most 7, so below 2^31 (protobufjs's `size`). */
export function size(buf: Buffer, p: number, end: number): number {
  const v = tag(buf, p, end)
  if (cursor.p - p === 5 && buf[p + 4] > 7) throw BAIL
  return v
}

export function bool(buf: Buffer, p: number, end: number): boolean {
  let v = false
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw BAIL
    const b = buf[p++]
    if (b & 127) v = true
    if (b < 128) {
      cursor.p = p
      return v
    }
  }
  throw BAIL
}

/** Moves past a field the reader type does not know, or knows with another wire type, as protobufjs skips it. */
export function skip(buf: Buffer, p: number, end: number, t: number): number {
  if (t >>> 3 === 0) throw BAIL
  switch (t & 7) {
    case 0:
      do {
        if (p >= end) throw BAIL
      } while (buf[p++] & 128)
      return p
    case 1:
      if (p + 8 > end) throw BAIL
      return p + 8
    case 2: {
      const n = size(buf, p, end)
      if (cursor.p + n > end) throw BAIL
      return cursor.p + n
    }
    case 5:
      if (p + 4 > end) throw BAIL
      return p + 4
    default:
      // 3 is a group, left to protobufjs; 4, 6 and 7 are refused by it
      throw BAIL
  }
}

// A 64-bit varint below 2^49 (7 bytes) is exact as a double, the common case (the decoders read those below 2^28
// inline, as small integers). Longer ones go through the same bits and conversions as protobufjs's readLongVarint
// and toObject, so that the digits are the same.
let lo = 0
let hi = 0

function varint64(buf: Buffer, p: number, end: number): number {
  const start = p
  let small = 0
  for (let i = 0; i < 4; i++) {
    if (p >= end) throw BAIL
    const b = buf[p++]
    small |= (b & 127) << (7 * i)
    if (b < 128) {
      cursor.p = p
      return small
    }
  }
  let v = small
  let scale = 268435456
  for (let i = 4; i < 7; i++) {
    if (p >= end) throw BAIL
    const b = buf[p++]
    v += (b & 127) * scale
    if (b < 128) {
      cursor.p = p
      return v
    }
    scale *= 128
  }
  p = start
  lo = 0
  hi = 0
  for (let i = 0; i < 4; i++) lo |= (buf[p++] & 127) << (7 * i)
  let b = buf[p++]
  lo |= (b & 127) << 28
  hi = (b & 127) >> 4
  for (let i = 0; i < 5; i++) {
    if (p >= end) throw BAIL
    b = buf[p++]
    hi |= (b & 127) << (7 * i + 3)
    if (b < 128) {
      cursor.p = p
      lo >>>= 0
      hi >>>= 0
      return -1
    }
  }
  throw BAIL
}

function fixed64(buf: Buffer, p: number, end: number): number {
  if (p + 8 > end) throw BAIL
  cursor.p = p + 8
  lo = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24)) >>> 0
  hi = (buf[p + 4] | (buf[p + 5] << 8) | (buf[p + 6] << 16) | (buf[p + 7] << 24)) >>> 0
  return hi < 0x200000 ? hi * 4294967296 + lo : -1
}

function zigzag(v: number): number {
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2
}

function zzBits(): void {
  const mask = -(lo & 1)
  const l = (((lo >>> 1) | (hi << 31)) ^ mask) >>> 0
  hi = ((hi >>> 1) ^ mask) >>> 0
  lo = l
}

// Decimal digits two at a time: below 10^8, V8's number-to-string misses its cache for most distinct values and
// takes a slow path; joining strings of under 13 characters makes a flat string, as `${v}` does.
const PAIRS = Array.from({ length: 100 }, (_, i) => `${i}`.padStart(2, '0'))
const SHORT = Array.from({ length: 100 }, (_, i) => `${i}`)

/** `${v}` for an integer below 2^53. */
export function decimal(v: number): string {
  if (!(v >= 0 && v < 1e8)) return `${v}`
  if (v < 100) return SHORT[v]
  if (v < 10000) return SHORT[(v / 100) | 0] + PAIRS[v % 100]
  const hi = (v / 10000) | 0
  const lo = v - hi * 10000
  const tail = PAIRS[(lo / 100) | 0] + PAIRS[lo % 100]
  return hi < 100 ? SHORT[hi] + tail : SHORT[(hi / 100) | 0] + PAIRS[hi % 100] + tail
}

const bitsString = (unsigned: boolean): string => String(new Long(lo | 0, hi | 0, unsigned))
const bitsNumber = (unsigned: boolean): number => new LongBits(lo, hi).toNumber(unsigned)

export const longReads = {
  string: {
    int64: (b: Buffer, p: number, e: number) => {
      const v = varint64(b, p, e)
      return v >= 0 ? decimal(v) : bitsString(false)
    },
    uint64: (b: Buffer, p: number, e: number) => {
      const v = varint64(b, p, e)
      return v >= 0 ? decimal(v) : bitsString(true)
    },
    sint64: (b: Buffer, p: number, e: number) => {
      const v = varint64(b, p, e)
      if (v >= 0) return decimal(zigzag(v))
      zzBits()
      return bitsString(false)
    },
    fixed64: (b: Buffer, p: number, e: number) => {
      const v = fixed64(b, p, e)
      return v >= 0 ? decimal(v) : bitsString(true)
    },
    sfixed64: (b: Buffer, p: number, e: number) => {
      const v = fixed64(b, p, e)
      return v >= 0 ? decimal(v) : bitsString(false)
    },
  },
  number: {
    int64: (b: Buffer, p: number, e: number) => {
      const v = varint64(b, p, e)
      return v >= 0 ? v : bitsNumber(false)
    },
    uint64: (b: Buffer, p: number, e: number) => {
      const v = varint64(b, p, e)
      return v >= 0 ? v : bitsNumber(true)
    },
    sint64: (b: Buffer, p: number, e: number) => {
      const v = varint64(b, p, e)
      if (v >= 0) return zigzag(v)
      zzBits()
      return bitsNumber(false)
    },
    fixed64: (b: Buffer, p: number, e: number) => {
      const v = fixed64(b, p, e)
      return v >= 0 ? v : bitsNumber(true)
    },
    sfixed64: (b: Buffer, p: number, e: number) => {
      const v = fixed64(b, p, e)
      return v >= 0 ? v : bitsNumber(false)
    },
  },
}
