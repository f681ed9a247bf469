// A bounds check of Avro bytes before avsc decodes them. avsc trusts array and map block counts, so ten bytes that
// claim two billion items make it allocate until the process dies; this walk refuses such records first. It runs
// only for schemas with arrays or maps (elsewhere avsc's own checks bound the work).

// The reflective view of avsc types this walk needs.
interface AvroTypeView {
  typeName: string
  size?: number
  types?: AvroTypeView[]
  itemsType?: AvroTypeView
  valuesType?: AvroTypeView
  fields?: { type: AvroTypeView }[]
}

/** Items of zero bytes (nulls, empty records) one record may hold in all its arrays and maps. */
const ZERO_WIDTH_BUDGET = 1_000_000

function kind(t: AvroTypeView): string {
  return t.typeName.startsWith('union') ? 'union' : t.typeName
}

export function hasBlocks(t: AvroTypeView, seen = new Set<AvroTypeView>()): boolean {
  if (seen.has(t)) return false
  seen.add(t)
  const k = kind(t)
  if (k === 'array' || k === 'map') return true
  if (k === 'union') return (t.types ?? []).some((b) => hasBlocks(b, seen))
  if (k === 'record' || k === 'error') return (t.fields ?? []).some((f) => hasBlocks(f.type, seen))
  return false
}

function minSize(t: AvroTypeView, seen = new Set<AvroTypeView>()): number {
  switch (kind(t)) {
    case 'null':
      return 0
    case 'float':
      return 4
    case 'double':
      return 8
    case 'fixed':
      return t.size ?? 0
    case 'record':
    case 'error': {
      if (seen.has(t)) return 0
      seen.add(t)
      return (t.fields ?? []).reduce((sum, f) => sum + minSize(f.type, seen), 0)
    }
    default:
      return 1 // every other encoding takes at least one byte (a varint, a length, a union index, an end block)
  }
}

class Cursor {
  pos: number
  budget = ZERO_WIDTH_BUDGET
  readonly buf: Buffer
  constructor(buf: Buffer, pos: number) {
    this.buf = buf
    this.pos = pos
  }

  long(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Error('truncated Avro varint')
      const b = this.buf[this.pos++]
      result += (b & 0x7f) * scale
      if (b < 0x80) return result % 2 === 0 ? result / 2 : -(result + 1) / 2
      scale *= 128
    }
    throw new Error('Avro varint longer than 10 bytes')
  }

  advance(n: number): void {
    this.pos += n
    if (this.pos > this.buf.length) throw new Error('truncated Avro record')
  }
}

function skip(t: AvroTypeView, c: Cursor): void {
  switch (kind(t)) {
    case 'null':
      return
    case 'boolean':
      c.advance(1)
      return
    case 'int':
    case 'long':
    case 'enum':
      c.long()
      return
    case 'float':
      c.advance(4)
      return
    case 'double':
      c.advance(8)
      return
    case 'bytes':
    case 'string': {
      const n = c.long()
      if (n < 0) throw new Error(`negative Avro length ${n}`)
      c.advance(n)
      return
    }
    case 'fixed':
      c.advance(t.size ?? 0)
      return
    case 'union': {
      const branch = t.types?.[c.long()]
      if (branch === undefined) throw new Error('Avro union index out of range')
      skip(branch, c)
      return
    }
    case 'record':
    case 'error':
      for (const f of t.fields ?? []) skip(f.type, c)
      return
    case 'array':
    case 'map':
      skipBlocks(t, c)
      return
    default:
      throw new Error(`unexpected Avro type ${t.typeName}`)
  }
}

function skipBlocks(t: AvroTypeView, c: Cursor): void {
  const isMap = kind(t) === 'map'
  const item = (isMap ? t.valuesType : t.itemsType) as AvroTypeView
  const width = isMap ? 1 : minSize(item)
  for (;;) {
    let n = c.long()
    if (n === 0) return
    if (n < 0) {
      n = -n
      c.long() // the block's size in bytes
    }
    if (width === 0) {
      c.budget -= n
      if (c.budget < 0) throw new Error(`Avro blocks claim more than ${ZERO_WIDTH_BUDGET} empty items`)
    } else if (n * width > c.buf.length - c.pos) {
      throw new Error(`an Avro block claims ${n} items in ${c.buf.length - c.pos} bytes`)
    }
    for (let i = 0; i < n; i++) {
      if (isMap) skip({ typeName: 'string' }, c)
      skip(item, c)
    }
  }
}

/** Throws when the bytes from `pos` cannot be a record of type `t` (block counts past the data, truncation). */
export function checkAvroBounds(t: AvroTypeView, buf: Buffer, pos = 0): void {
  skip(t, new Cursor(buf, pos))
}
