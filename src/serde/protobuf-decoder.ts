// A Protobuf decoder compiled per reader message type, straight into the plain object protobufjs's decode then
// toObject make (defaults, enums by name, 64-bit integers as strings or numbers, oneof names, the same key order),
// in one pass, with no protobufjs message or Long in between. It reads less than protobufjs, never more: what it
// cannot read the same way (a group, a singular message sent twice, bytes protobufjs may refuse) throws BAIL, and
// the serde asks protobufjs, whose answer counts. Types it does not compile (maps, groups, Any) stay with protobufjs.
import protobuf from 'protobufjs'
import { BAIL, bool, cursor, decimal, longReads, size, skip, tag, u32 } from './protobuf-read.ts'

type PbType = protobuf.Type
type PbField = protobuf.Field
type Features = { _features: Record<string, string | undefined> }

export type Longs = 'string' | 'number'

/** Decodes the message from `start` to the end of `bytes`; throws on anything it does not read as protobufjs does. */
export type PlainDecoder = (bytes: Buffer, start: number) => unknown

/** The toObject options whose output the compiled decoders reproduce. */
export function toObjectOptions(longs: Longs): protobuf.IConversionOptions {
  return {
    longs: longs === 'number' ? Number : String,
    enums: String,
    defaults: true,
    arrays: true,
    oneofs: true,
  }
}

const WIRE: Record<string, number> = {
  double: 1,
  float: 5,
  int32: 0,
  uint32: 0,
  sint32: 0,
  fixed32: 5,
  sfixed32: 5,
  int64: 0,
  uint64: 0,
  sint64: 0,
  fixed64: 1,
  sfixed64: 1,
  bool: 0,
  string: 2,
  bytes: 2,
  enum: 0,
  message: 2,
}
const FIXED_SIZE: Record<string, number> = {
  double: 8,
  float: 4,
  fixed32: 4,
  sfixed32: 4,
  fixed64: 8,
  sfixed64: 8,
}
const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64'])
const RECURSION_LIMIT = protobuf.util.recursionLimit

const u32At = (end: string) => `if(p<${end}&&(v=b[p])<128)p++;else{v=u32(b,p,${end});p=cur.p}`
const sizeAt = (end: string) => `if(p<${end}&&(n=b[p])<128)p++;else{n=size(b,p,${end});p=cur.p}`

/** Statements that read one value of `kind` into `v`, not reading past `end`. */
function read(kind: string, end: string, verify: boolean, longs: Longs): string {
  switch (kind) {
    case 'int32':
    case 'enum':
      return `${u32At(end)}v|=0;`
    case 'uint32':
      return u32At(end)
    case 'sint32':
      return `${u32At(end)}v=(v>>>1^-(v&1))|0;`
    case 'bool':
      return `if(p<${end}&&(v=b[p])<128){p++;v=v!==0}else{v=bool(b,p,${end});p=cur.p}`
    case 'fixed32':
    case 'sfixed32':
      return `if(p+4>${end})throw BAIL;v=(b[p]|b[p+1]<<8|b[p+2]<<16|b[p+3]<<24)${kind === 'fixed32' ? '>>>0' : '|0'};p+=4;`
    case 'float':
      return `if(p+4>${end})throw BAIL;v=f32(b,p);p+=4;`
    case 'double':
      return `if(p+8>${end})throw BAIL;v=f64(b,p);p+=8;`
    case 'string':
      // utf8Slice is protobufjs's own read; invalid UTF-8 always leaves a U+FFFD in it, so only then can a
      // verifying read differ, and it decides
      return (
        `${sizeAt(end)}if(p+n>${end})throw BAIL;v=b.utf8Slice(p,p+n);` +
        `${verify ? 'if(v.indexOf("\\ufffd")!==-1)v=strict(b,p,p+n);' : ''}p+=n;`
      )
    case 'bytes':
      return `${sizeAt(end)}if(p+n>${end})throw BAIL;v=b.subarray(p,p+n);p+=n;`
    case 'int64':
    case 'uint64':
    case 'sint64': {
      // up to 4 bytes (below 2^28) inline, in int32 arithmetic; longer ones from the start again, in the helper
      const zigzag = kind === 'sint64' ? 'v=v>>>1^-(v&1);' : ''
      return (
        `v=0;for(var s=0;;s+=7){if(p>=${end})throw BAIL;n=b[p++];v|=(n&127)<<s;if(n<128)break;` +
        `if(s===21){p-=4;v=-1;break}}if(v<0){v=L${kind}(b,p,${end});p=cur.p}` +
        `else{${zigzag}${longs === 'string' ? 'v=dec(v);' : ''}}`
      )
    }
    default:
      return `v=L${kind}(b,p,${end});p=cur.p;`
  }
}

/** The value that, read into a field without presence, leaves it unset for protobufjs, as source. */
function zeroOf(kind: string, field: PbField, longs: Longs): string {
  if (kind === 'enum') return String(field.typeDefault)
  if (kind === 'string') return '""'
  if (kind === 'bool') return 'false'
  return LONG.has(kind) && longs === 'string' ? '"0"' : '0'
}

/** A default as source: a literal when it has one, else a constant passed in. */
function literal(value: unknown, constants: unknown[]): string {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return JSON.stringify(value)
  if (value === undefined) return 'undefined'
  if (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0)) return String(value)
  constants.push(value)
  return `K${constants.length - 1}`
}

interface Unit {
  types: PbType[]
  enums: protobuf.Enum[]
  constants: unknown[]
  longs: Longs
}

function indexIn<T>(list: T[], item: T): number {
  const at = list.indexOf(item)
  return at === -1 ? list.push(item) - 1 : at
}

/** The source of function m<k>, or undefined when the type needs something only protobufjs does. */
function compileType(unit: Unit, k: number): string | undefined {
  const type = unit.types[k]
  if (protobuf.wrappers[type.fullName] !== undefined) return undefined
  // Also sets the type up (features resolved, fields resolved) as protobufjs's first decode would.
  const defaults = type.toObject(type.create(), toObjectOptions(unit.longs))
  const fields: PbField[] = type.fieldsArray.slice().sort((a, b) => a.id - b.id)
  const oneofs: protobuf.OneOf[] = []
  const keys = new Set<string>()
  const locals: string[] = ['v', 'n', 't']
  const cases: string[] = []
  const checks: string[] = []
  const entries: [PbField, string][] = []
  const members: string[] = []
  for (const [i, field] of fields.entries()) {
    field.resolve()
    const resolved = field.resolvedType
    const kind =
      resolved instanceof protobuf.Enum ? 'enum' : resolved instanceof protobuf.Type ? 'message' : field.type
    if (field.map || field.delimited || WIRE[kind] === undefined || field.name === '__proto__')
      return undefined
    const f = `f_${i}`
    const key = JSON.stringify(field.name)
    const closed =
      resolved instanceof protobuf.Enum && (resolved as unknown as Features)._features.enum_type === 'CLOSED'
    const verify = (field as unknown as Features)._features.utf8_validation === 'VERIFY'
    const e = resolved instanceof protobuf.Enum ? indexIn(unit.enums, resolved) : -1
    const value = kind === 'enum' ? `(E${e}[v]===undefined?v:E${e}[v])` : 'v'
    const known = (code: string) => (closed ? `if(VB${e}[v]!==undefined){${code}}` : code)
    let readOne = read(kind, 'e', verify, unit.longs)
    if (kind === 'message') {
      const m = indexIn(unit.types, resolved as PbType)
      readOne = `${sizeAt('e')}if(p+n>e)throw BAIL;v=m${m}(b,p,p+n,q+1);p+=n;`
    }
    const partOf = field.partOf ?? null
    const oneof = partOf === null ? '' : `o_${indexIn(oneofs, partOf)}=${field.id};`
    const present = field.required ? `h_${i}=true;` : ''
    if (field.required) {
      locals.push(`h_${i}=false`)
      checks.push(`if(!h_${i})throw BAIL;`)
    }
    const tag = field.id * 8 + WIRE[kind]
    let assign: string
    let initial = 'undefined'
    if (field.repeated) {
      assign = known(`if(${f}===undefined)${f}=[];${f}.push(${value});`)
      if (kind !== 'string' && kind !== 'bytes' && kind !== 'message') {
        // packed, accepted for every packable field whatever its declaration says, as protobufjs does
        const width = FIXED_SIZE[kind]
        cases.push(
          `case ${field.id * 8 + 2}:{${sizeAt('e')}var pe=p+n;if(pe>e${width ? `||n%${width}!==0` : ''})throw BAIL;` +
            `if(${f}===undefined)${f}=[];while(p<pe){${read(kind, 'pe', verify, unit.longs)}${known(`${f}.push(${value});`)}}continue}`,
        )
      }
      entries.push([field, `${f}===undefined?[]:${f}`])
    } else if (kind === 'message') {
      // a second one merges into the first in protobufjs: rare, left to it
      assign = `if(${f}!==undefined)throw BAIL;${f}=v;${oneof}${present}`
      if (partOf === null) {
        if (defaults[field.name] !== null) return undefined
        entries.push([field, `${f}===undefined?null:${f}`])
      }
    } else if (partOf !== null || field.hasPresence) {
      assign = known(`${f}=${value};${oneof}${present}`)
      if (partOf === null) {
        if (kind === 'bytes')
          entries.push([field, `${f}===undefined?nb(${bytesDefault(defaults, field, unit)}):${f}`])
        else {
          initial = literal(defaults[field.name], unit.constants)
          entries.push([field, f])
        }
      }
    } else {
      // implicit presence: a zero value, even after another, means the default (protobufjs deletes the field)
      if (closed) return undefined
      const def = kind === 'bytes' ? 'undefined' : literal(defaults[field.name], unit.constants)
      const zero = zeroOf(kind, field, unit.longs)
      const set =
        kind === 'string' || kind === 'bytes'
          ? 'v.length!==0'
          : kind === 'float' || kind === 'double'
            ? '!Object.is(v,0)'
            : `v!==${zero}`
      // where the default is that zero itself, as in every proto3 file, the value read is the answer
      assign =
        kind !== 'enum' && kind !== 'bytes' && def === zero ? `${f}=v;` : `${f}=${set}?${value}:${def};`
      if (kind === 'bytes')
        entries.push([field, `${f}===undefined?nb(${bytesDefault(defaults, field, unit)}):${f}`])
      else {
        initial = def
        entries.push([field, f])
      }
    }
    locals.push(`${f}=${initial}`)
    cases.push(`case ${tag}:{${readOne}${assign}continue}`)
    if (partOf !== null) {
      const which = `o_${oneofs.indexOf(partOf)}`
      const name = partOf.isProto3Optional
        ? ''
        : `d[${JSON.stringify(partOf.name)}]=${JSON.stringify(field.name)};`
      members.push(`if(${which}===${field.id}){d[${key}]=${f};${name}}`)
      if (!partOf.isProto3Optional) keys.add(partOf.name)
    }
    if (keys.has(field.name)) return undefined
    keys.add(field.name)
  }
  if (keys.size !== fields.length + oneofs.filter((o) => !o.isProto3Optional).length) return undefined
  for (let j = 0; j < oneofs.length; j++) locals.push(`o_${j}=0`)
  // toObject's key order: repeated fields, then the others, then the oneof members that are set
  const literalEntries = [
    ...entries.filter(([f]) => f.repeated),
    ...entries.filter(([f]) => !f.repeated),
  ].map(([f, expr]) => `${JSON.stringify(f.name)}:${expr}`)
  return (
    `function m${k}(b,p,e,q){if(q>${RECURSION_LIMIT})throw BAIL;var ${locals.join(',')};` +
    `while(p<e){if((t=b[p])<128)p++;else{t=tag(b,p,e);p=cur.p}` +
    `switch(t){${cases.join('')}}p=skip(b,p,e,t)}` +
    `${checks.join('')}var d={${literalEntries.join(',')}};${members.join('')}return d}`
  )
}

function bytesDefault(defaults: Record<string, unknown>, field: PbField, unit: Unit): string {
  unit.constants.push(Array.from(defaults[field.name] as Uint8Array))
  return `K${unit.constants.length - 1}`
}

/**
 * Compiles the decoder of `type` and of the message types it contains, or answers undefined when one of them
 * needs what only protobufjs does.
 */
export function compilePlainDecoder(type: PbType, longs: Longs): PlainDecoder | undefined {
  const unit: Unit = { types: [type], enums: [], constants: [], longs }
  const bodies: string[] = []
  for (let k = 0; k < unit.types.length; k++) {
    const body = compileType(unit, k)
    if (body === undefined) return undefined
    bodies.push(body)
  }
  const reads = longReads[longs]
  const preamble = [
    ...unit.enums.map((_, i) => `E${i}=E[${i}],VB${i}=VB[${i}]`),
    ...unit.constants.map((_, i) => `K${i}=K[${i}]`),
    ...Object.keys(reads).map((kind) => `L${kind}=L.${kind}`),
  ]
  const source = `'use strict';var ${preamble.join(',')};${bodies.join('\n')}
return function(b,p){return m0(b,p,b.length,0)}`
  const factory = new Function(
    'cur',
    'BAIL',
    'u32',
    'tag',
    'size',
    'bool',
    'skip',
    'L',
    'E',
    'VB',
    'K',
    'strict',
    'f32',
    'f64',
    'nb',
    'dec',
    source,
  )
  const { utf8, float, newBuffer } = protobuf.util
  return factory(
    cursor,
    BAIL,
    u32,
    tag,
    size,
    bool,
    skip,
    reads,
    unit.enums.map((en) => en.values),
    unit.enums.map((en) => en.valuesById),
    unit.constants,
    utf8.readStrict,
    float.readFloatLE,
    float.readDoubleLE,
    newBuffer,
    decimal,
  ) as PlainDecoder
}
