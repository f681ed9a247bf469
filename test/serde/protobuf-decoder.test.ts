// The compiled Protobuf decoder against protobufjs's own decode + toObject: on random messages it gives the same
// plain object, key order included; on random or damaged wire bytes the same, or a refusal that leaves the record to
// protobufjs, so that the serde answers what protobufjs answers or SLUICE_ERR_SERDE.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type protobuf from 'protobufjs'
import { isSluiceError } from '../../src/errors/index.ts'
import { parseProto, protobufSerde } from '../../src/serde/protobuf.ts'
import { compilePlainDecoder, type Longs, toObjectOptions } from '../../src/serde/protobuf-decoder.ts'
import { writeHeader } from '../../src/serde/wire-format.ts'

const proto3 = `
syntax = "proto3";
package t;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Inner { int32 a = 1; string s = 2; repeated sint64 zs = 3; Inner next = 4; Color color = 5; }
message All {
  double d = 1; float f = 2; int32 i32 = 3; uint32 u32 = 4; sint32 s32 = 5; fixed32 fx32 = 6; sfixed32 sfx32 = 7;
  int64 i64 = 8; uint64 u64 = 9; sint64 s64 = 10; fixed64 fx64 = 11; sfixed64 sfx64 = 12;
  bool flag = 13; string str = 14; bytes raw = 15; Color color = 16; Inner inner = 17;
  repeated int32 ri32 = 18; repeated int64 ri64 = 19 [packed = false]; repeated double rd = 20;
  repeated string rs = 21; repeated Inner rinner = 22; repeated Color rcolor = 23; repeated bool rflag = 24;
  repeated fixed64 rfx64 = 25; repeated bytes rraw = 26; repeated sint32 rs32 = 27 [packed = false];
  repeated float rf = 28; repeated uint64 ru64 = 29;
  optional int32 oi32 = 30; optional string ostr = 31; optional Inner oinner = 32; optional int64 oi64 = 33;
  oneof choice { int64 c64 = 34; string cstr = 35; Inner cinner = 36; Color ccolor = 37; }
}
`
// proto2: closed enums (unknown values dropped), required fields, declared defaults, explicit presence.
const proto2 = `
syntax = "proto2";
package p;
enum Kind { A = 1; B = 2; C = 5; }
message Sub { optional int32 x = 1; repeated Kind ks = 2; }
message M {
  required int32 id = 1; optional string name = 2 [default = "anon"]; optional int64 n = 3 [default = -7];
  optional Kind kind = 4 [default = B]; repeated Kind kinds = 5; repeated int32 nums = 6 [packed = true];
  optional bytes data = 7 [default = "ab"]; optional double x = 8 [default = inf]; optional bool flag = 9 [default = true];
  optional Sub sub = 10; oneof o { Kind ok = 11; string os = 12; Sub osub = 13; }
  optional uint64 big = 14 [default = 18446744073709551615]; optional sint32 z = 15;
}
`
const all = parseProto(proto3).root.lookupType('t.All')
const m2 = parseProto(proto2).root.lookupType('p.M')

/** A value's structure with its key order, which deepStrictEqual does not compare. */
function shape(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return ['buffer', v.toString('hex')]
  if (Array.isArray(v)) return v.map(shape)
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, shape(x)])
  return v
}

function same(got: unknown, expected: unknown): void {
  assert.deepStrictEqual(got, expected)
  assert.deepStrictEqual(shape(got), shape(expected))
}

type Outcome = { value: unknown } | { error: unknown }

function reference(type: protobuf.Type, bytes: Uint8Array, longs: Longs): Outcome {
  try {
    return { value: type.toObject(type.decode(bytes), toObjectOptions(longs)) }
  } catch (error) {
    return { error }
  }
}

function compiled(type: protobuf.Type, longs: Longs) {
  const decode = compilePlainDecoder(type, longs)
  assert.ok(decode, `${type.name} compiles`)
  return decode
}

// Random messages, encoded by protobufjs
const int64 = fc.oneof(fc.integer().map(String), fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map(String))
const uint64 = fc.oneof(fc.nat().map(String), fc.bigInt(0n, 2n ** 64n - 1n).map(String))
const color = fc.oneof(fc.constantFrom('RED', 'GREEN', 'BLUE'), fc.integer({ min: -2, max: 9 }))
const text = fc.string({ unit: 'grapheme', maxLength: 80 })
const bytes = fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b))
const { inner } = fc.letrec((tie) => ({
  inner: fc.record(
    {
      a: fc.integer(),
      s: text,
      zs: fc.array(int64, { maxLength: 3 }),
      next: fc.option(tie('inner'), { nil: undefined, depthSize: 'small' }),
      color,
    },
    { requiredKeys: [] },
  ),
}))
const allValue = fc.record(
  {
    d: fc.double(),
    f: fc.float(),
    i32: fc.integer(),
    u32: fc.integer({ min: 0, max: 0xffffffff }),
    s32: fc.integer(),
    fx32: fc.integer({ min: 0, max: 0xffffffff }),
    sfx32: fc.integer(),
    i64: int64,
    u64: uint64,
    s64: int64,
    fx64: uint64,
    sfx64: int64,
    flag: fc.boolean(),
    str: text,
    raw: bytes,
    color,
    inner,
    ri32: fc.array(fc.integer(), { maxLength: 4 }),
    ri64: fc.array(int64, { maxLength: 4 }),
    rd: fc.array(fc.double(), { maxLength: 4 }),
    rs: fc.array(text, { maxLength: 3 }),
    rinner: fc.array(inner, { maxLength: 2 }),
    rcolor: fc.array(color, { maxLength: 4 }),
    rflag: fc.array(fc.boolean(), { maxLength: 4 }),
    rfx64: fc.array(uint64, { maxLength: 3 }),
    rraw: fc.array(bytes, { maxLength: 3 }),
    rs32: fc.array(fc.integer(), { maxLength: 4 }),
    rf: fc.array(fc.float(), { maxLength: 4 }),
    ru64: fc.array(uint64, { maxLength: 3 }),
    oi32: fc.integer(),
    ostr: text,
    oinner: inner,
    oi64: int64,
    // several members of the oneof may be set: the last one written wins
    c64: int64,
    cstr: text,
    cinner: inner,
    ccolor: color,
  },
  { requiredKeys: [] },
)
const kind = fc.oneof(fc.constantFrom('A', 'B', 'C'), fc.constantFrom(1, 2, 5))
const sub = fc.record({ x: fc.integer(), ks: fc.array(kind, { maxLength: 3 }) }, { requiredKeys: [] })
const m2Value = fc.record(
  {
    id: fc.integer(),
    name: text,
    n: int64,
    kind,
    kinds: fc.array(kind, { maxLength: 4 }),
    nums: fc.array(fc.integer(), { maxLength: 4 }),
    data: bytes,
    x: fc.double(),
    flag: fc.boolean(),
    sub,
    ok: kind,
    os: text,
    osub: sub,
    big: uint64,
    z: fc.integer(),
  },
  { requiredKeys: ['id'] },
)

function encode(type: protobuf.Type, value: object): Buffer {
  return Buffer.from(type.encode(type.fromObject(value)).finish())
}

const encoded = (type: protobuf.Type, value: fc.Arbitrary<object>) => value.map((v) => encode(type, v))

// Random wire bytes: known and unknown field numbers, right and wrong wire types, packed and unpacked runs,
// nested messages, repeated singular fields, non-canonical varints, groups and invalid wire types now and then.
function varint(value: bigint, padding = 0): number[] {
  const out: number[] = []
  let v = value
  do {
    out.push(Number(v & 0x7fn) | (v > 0x7fn ? 0x80 : 0))
    v >>= 7n
  } while (v > 0n)
  for (let i = 0; i < padding; i++) {
    out[out.length - 1] |= 0x80
    out.push(0)
  }
  return out
}
const fieldNumber = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1000, 536870911) },
)
const varintBytes = fc
  .tuple(fc.oneof(fc.bigInt(0n, 300n), fc.bigInt(0n, 2n ** 64n - 1n)), fc.nat({ max: 3 }))
  .map(([v, pad]) => varint(v, pad))
type Payload = readonly [wireType: number, body: number[]]
const { wire } = fc.letrec<{ wire: number[]; field: number[]; payload: Payload }>((tie) => ({
  wire: fc.array(tie('field'), { maxLength: 8 }).map((fields) => fields.flat()),
  field: fc
    .tuple(fieldNumber, tie('payload'))
    .map(([n, [wt, body]]) => [
      ...varint(BigInt(n) * 8n + BigInt(wt)),
      ...(wt === 2 ? varint(BigInt(body.length)) : []),
      ...body,
    ]),
  payload: fc.oneof(
    { maxDepth: 3 },
    { weight: 4, arbitrary: varintBytes.map((b): Payload => [0, b]) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b): Payload => [1, [...b]]) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b): Payload => [5, [...b]]) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 80 }).map((b): Payload => [2, [...b]]) },
    // lone surrogates become U+FFFD in UTF-8: valid text that holds the replacement character
    {
      weight: 2,
      arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s): Payload => [2, [...Buffer.from(s)]]),
    },
    { weight: 2, arbitrary: fc.array(varintBytes, { maxLength: 4 }).map((vs): Payload => [2, vs.flat()]) },
    { weight: 3, arbitrary: tie('wire').map((b): Payload => [2, b]) },
    { weight: 1, arbitrary: fc.constantFrom<Payload>([3, []], [4, []], [6, []]) },
  ),
}))
const wireBytes = wire.map((b) => Buffer.from(b))

/** Two messages one after the other, which Protobuf reads as one: the second's fields merged into the first's. */
const concatenated = (valid: fc.Arbitrary<Buffer>) => fc.tuple(valid, valid).map((bs) => Buffer.concat(bs))

/** A message with some bytes changed, or cut short. */
const damaged = (valid: fc.Arbitrary<Buffer>) =>
  fc
    .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat())
    .map(([b, edits, cut]) => {
      const out = Buffer.from(b)
      for (const [at, byte] of edits) if (out.length > 0) out[at % out.length] = byte
      return edits.length === 0 && out.length > 0 ? out.subarray(0, cut % out.length) : out
    })

const LONGS: Longs[] = ['string', 'number']
const cases = [
  { type: all, value: allValue as fc.Arbitrary<object> },
  { type: m2, value: m2Value as fc.Arbitrary<object> },
]

// A decoder that looped on some bytes would fail here rather than hang the suite.
describe('compiled protobuf decoder', { timeout: 120_000 }, () => {
  for (const longs of LONGS) {
    for (const { type, value } of cases) {
      it(`reads random ${type.name} messages as protobufjs does, 64-bit integers as ${longs}s`, () => {
        const decode = compiled(type, longs)
        fc.assert(
          fc.property(value, (v) => {
            const bytes = encode(type, v)
            const expected = reference(type, bytes, longs)
            assert.ok('value' in expected, String((expected as { error: unknown }).error))
            same(decode(bytes, 0), expected.value)
          }),
          { numRuns: 300 },
        )
      })

      it(`reads random ${type.name} wire bytes as protobufjs does or refuses them, longs as ${longs}s`, () => {
        const decode = compiled(type, longs)
        let read = 0
        fc.assert(
          fc.property(
            fc.oneof(wireBytes, concatenated(encoded(type, value)), damaged(encoded(type, value))),
            (bytes) => {
              const expected = reference(type, bytes, longs)
              let got: unknown
              try {
                got = decode(bytes, 0)
              } catch {
                return // left to protobufjs
              }
              assert.ok('value' in expected, 'the compiled decoder read bytes protobufjs refuses')
              same(got, expected.value)
              read++
            },
          ),
          { numRuns: 1000 },
        )
        assert.ok(read > 100, `read ${read} of 1000 itself`)
      })
    }
  }

  it('gives the serde the same answers as protobufjs, or SLUICE_ERR_SERDE where protobufjs refuses', () => {
    for (const longs of LONGS) {
      const serde = protobufSerde({ schema: proto3, id: 9, messageName: 't.All', longs })
      fc.assert(
        fc.property(
          fc.oneof(wireBytes, concatenated(encoded(all, allValue)), damaged(encoded(all, allValue))),
          (payload) => {
            const expected = reference(all, payload, longs)
            const record = writeHeader(9, payload, [1])
            if ('value' in expected) same(serde.deserialize(record), expected.value)
            else
              assert.throws(
                () => serde.deserialize(record),
                (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
              )
          },
        ),
        { numRuns: 500 },
      )
    }
  })

  it('reads 64-bit integers past 2^53 exactly as strings, and as protobufjs rounds them as numbers', () => {
    const values = { i64: '-9007199254740993', u64: '18446744073709551615', s64: '9223372036854775807' }
    const bytes = encode(all, { ...values, fx64: '9007199254740993', sfx64: '-9223372036854775808' })
    const asStrings = compiled(all, 'string')(bytes, 0) as Record<string, unknown>
    assert.deepEqual(
      {
        i64: asStrings.i64,
        u64: asStrings.u64,
        s64: asStrings.s64,
        fx64: asStrings.fx64,
        sfx64: asStrings.sfx64,
      },
      { ...values, fx64: '9007199254740993', sfx64: '-9223372036854775808' },
    )
    same(compiled(all, 'number')(bytes, 0), (reference(all, bytes, 'number') as { value: unknown }).value)
  })

  it('writes the digits of 64-bit integers as protobufjs does at every length and sign', () => {
    // the lengths of the decimal digits, and of the varint (7 bits a byte, a last byte of 0x7f)
    const decimals = [1n, 9n, 10n, 99n, 100n, 9999n, 10000n, 99999999n, 100000000n]
    const varints = [
      0n,
      127n,
      16383n,
      2n ** 21n - 1n,
      2n ** 28n - 1n,
      2n ** 28n,
      2n ** 49n,
      2n ** 53n,
      2n ** 56n,
    ]
    const edges = [...decimals, ...varints]
    const values = edges
      .flatMap((v) => [v - 1n, v, v + 1n, -v - 1n, -v, -v + 1n])
      .filter((v) => v >= -(2n ** 63n))
    for (const longs of LONGS) {
      const decode = compiled(all, longs)
      for (const v of values) {
        const unsigned = (v < 0n ? v + 2n ** 64n : v).toString()
        const bytes = encode(all, {
          i64: `${v}`,
          s64: `${v}`,
          sfx64: `${v}`,
          u64: unsigned,
          fx64: unsigned,
          ri64: [`${v}`],
        })
        same(decode(bytes, 0), (reference(all, bytes, longs) as { value: unknown }).value)
      }
    }
  })

  it('skips fields the reader does not know, and gives the defaults of those the writer did not send', () => {
    const writer = parseProto(
      `${proto3.replace('Color color = 5; }', 'Color color = 5; string extra = 9; }')}`,
    )
    const inner2 = writer.root.lookupType('t.Inner')
    const bytes = encode(inner2, { a: 1, extra: 'not in the reader', zs: ['5'] })
    same(compiled(all.lookupType('t.Inner'), 'string')(bytes, 0), {
      zs: ['5'],
      a: 1,
      s: '',
      next: null,
      color: 'RED',
    })
  })

  it('nests messages as deep as protobufjs does (100), and refuses deeper ones with SLUICE_ERR_SERDE', () => {
    const serde = protobufSerde({ schema: proto3, id: 9, messageName: 't.Inner' })
    const innerType = all.lookupType('t.Inner')
    for (const depth of [99, 100, 101, 150]) {
      let payload = Buffer.from([8, 1]) // a = 1
      for (let i = 0; i < depth; i++)
        payload = Buffer.concat([Buffer.from([34, ...varint(BigInt(payload.length))]), payload])
      const expected = reference(innerType, payload, 'string')
      const record = writeHeader(9, payload, [0])
      if ('value' in expected) same(serde.deserialize(record), expected.value)
      else
        assert.throws(
          () => serde.deserialize(record),
          (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
        )
      assert.equal('value' in expected, depth <= 100)
    }
  })

  it('leaves maps and groups to protobufjs, whose answers the serde gives', () => {
    const schema = `syntax = "proto3"; message Tagged { map<string, int64> tags = 1; string id = 2; }`
    const tagged = parseProto(schema).messages[0]
    assert.equal(compilePlainDecoder(tagged, 'string'), undefined)
    const serde = protobufSerde({ schema, id: 3 })
    assert.deepEqual(serde.deserialize(serde.serialize({ tags: { a: '1' }, id: 'x' })), {
      tags: { a: '1' },
      id: 'x',
    })
    const grouped = `syntax = "proto2"; message Old { optional group G = 1 { optional int32 x = 2; } }`
    assert.equal(compilePlainDecoder(parseProto(grouped).messages[0], 'string'), undefined)
    const oldSerde = protobufSerde({ schema: grouped, id: 4 })
    assert.deepEqual(oldSerde.deserialize(oldSerde.serialize({ g: { x: 5 } })), { g: { x: 5 } })
  })
})
