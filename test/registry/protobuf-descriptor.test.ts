// A .proto text's FileDescriptorProto (Confluent's serialized form) and back: the descriptor links as protoc's would,
// the same declarations give the same bytes, and printing a descriptor as text loses nothing the descriptor says.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf'
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
  FieldDescriptorProto_Type as Type,
} from '@bufbuild/protobuf/wkt'
import fc from 'fast-check'
import { isSluiceError } from '../../src/errors/index.ts'
import { fileDescriptorOf } from '../../src/registry/protobuf-descriptor.ts'
import { protoTextFromSerialized, protoTextOf } from '../../src/registry/protobuf-print.ts'

const money = 'syntax = "proto3";\npackage money;\nmessage Amount { int64 cents = 1; string currency = 2; }\n'
const shop = `// orders and what they cost
syntax = "proto3";
package shop;
import "money.proto";
import "google/protobuf/timestamp.proto";
option java_package = "com.example.shop";

message Order {
  string id = 1;
  repeated Line lines = 2;
  map<string, int64> line_tags = 3;
  Status status = 4;
  optional string note = 5;
  money.Amount total = 6;
  google.protobuf.Timestamp placed_at = 7;
  oneof payment { string card = 8; string voucher = 9; }
  message Line { string sku = 1; repeated int32 sizes = 2 [packed = false]; }
  reserved 20 to 25, 30;
  reserved "old";
}
enum Status { NEW = 0; PAID = 1; }
message Refund { string order_id = 1 [json_name = "oid"]; Order.Line line = 2; }
service Orders { rpc Watch(Order) returns (stream Refund); }
`

// Generated .proto files: proto2 or proto3, enums, messages with nested ones, every scalar type, references to
// enums and messages (nested ones by their relative names), maps, oneofs, labels, gaps in field numbers, reserved.
const scalars = [
  'double',
  'float',
  'int64',
  'uint64',
  'int32',
  'fixed64',
  'fixed32',
  'bool',
  'string',
  'bytes',
].concat(['uint32', 'sfixed32', 'sfixed64', 'sint32', 'sint64'])
const mapKeys = ['int32', 'int64', 'uint32', 'sint64', 'fixed32', 'sfixed64', 'bool', 'string']

const fieldModel = fc.record({
  kind: fc.constantFrom('scalar', 'enum', 'message', 'nested', 'map'),
  scalar: fc.constantFrom(...scalars),
  key: fc.constantFrom(...mapKeys),
  pick: fc.nat(5),
  label: fc.constantFrom('', 'optional', 'required', 'repeated'),
  oneof: fc.boolean(),
  gap: fc.nat(3),
})
type FieldModel = typeof fieldModel extends fc.Arbitrary<infer T> ? T : never
const messageModel = fc.record({
  fields: fc.array(fieldModel, { maxLength: 6 }),
  nested: fc.array(fc.array(fieldModel, { maxLength: 3 }), { maxLength: 2 }),
  reserved: fc.boolean(),
})
type MessageModel = typeof messageModel extends fc.Arbitrary<infer T> ? T : never

const protoFile = fc
  .record({
    syntax: fc.constantFrom('proto2', 'proto3'),
    enums: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    messages: fc.array(messageModel, { minLength: 1, maxLength: 3 }),
  })
  .map(({ syntax, enums, messages }) => {
    const typeOf = (f: FieldModel, own: number) => {
      if (f.kind === 'enum' && enums.length > 0) return `E${f.pick % enums.length}`
      if (f.kind === 'message') return `M${f.pick % messages.length}`
      const nested = messages[own].nested.length
      if (f.kind === 'nested' && nested > 0) return `M${own}.N${f.pick % nested}`
      return f.scalar
    }
    const body = (fields: readonly FieldModel[], own: number, pad: string) => {
      const lines: string[] = []
      let number = 0
      let oneof = -1
      fields.forEach((f, i) => {
        number += 1 + f.gap
        const type = typeOf(f, own)
        const inOneof = f.oneof && f.kind !== 'map' && f.label !== 'repeated'
        if (inOneof && oneof < 0) {
          oneof = i
          lines.push(`${pad}oneof o${i} {`)
        } else if (!inOneof && oneof >= 0) {
          oneof = -1
          lines.push(`${pad}}`)
        }
        const at = inOneof ? `${pad}  ` : pad
        if (f.kind === 'map') lines.push(`${at}map<${f.key}, ${type}> f${i} = ${number};`)
        else if (inOneof) lines.push(`${at}${type} f${i} = ${number};`)
        else {
          const label = syntax === 'proto3' ? (f.label === 'required' ? '' : f.label) : f.label || 'optional'
          lines.push(`${at}${label === '' ? '' : `${label} `}${type} f${i} = ${number};`)
        }
      })
      if (oneof >= 0) lines.push(`${pad}}`)
      return { lines, last: number }
    }
    const out = [`syntax = "${syntax}";`, 'package gen;']
    enums.forEach((n, i) => {
      const values = Array.from({ length: n }, (_, j) => `E${i}_V${j} = ${j};`)
      out.push(`enum E${i} { ${values.join(' ')} }`)
    })
    messages.forEach((m: MessageModel, i) => {
      const { lines, last } = body(m.fields, i, '  ')
      out.push(`message M${i} {`, ...lines)
      m.nested.forEach((fields, j) => {
        out.push(`  message N${j} {`, ...body(fields, i, '    ').lines, '  }')
      })
      if (m.reserved) out.push(`  reserved ${last + 1} to ${last + 3};`, '  reserved "gone";')
      out.push('}')
    })
    return `${out.join('\n')}\n`
  })

const decode = (bytes: Uint8Array) => fromBinary(FileDescriptorProtoSchema, bytes)
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

describe('the FileDescriptorProto of a .proto text', () => {
  it('links as protoc would describe it: the file in order, qualified names, map entries, proto3 optional', () => {
    const file = decode(fileDescriptorOf(shop, [money]))
    assert.equal(file.name, 'default')
    assert.deepEqual(file.dependency, ['money.proto', 'google/protobuf/timestamp.proto'])
    assert.equal(file.syntax, 'proto3')
    assert.equal(file.options?.javaPackage, 'com.example.shop')
    const moneyFile = decode(fileDescriptorOf(money))
    moneyFile.name = 'money.proto' // as Confluent's clients name a dependency: after its reference
    const registry = createFileRegistry(file, (name) =>
      name === 'money.proto'
        ? moneyFile
        : name === 'google/protobuf/timestamp.proto'
          ? file_google_protobuf_timestamp
          : undefined,
    )
    const own = registry.getFile('default')
    assert.deepEqual(
      own?.messages.map((m) => m.typeName),
      ['shop.Order', 'shop.Refund'],
    )
    const order = registry.getMessage('shop.Order')
    assert.deepEqual(
      order?.nestedMessages.map((m) => m.typeName),
      ['shop.Order.Line'],
    )
    assert.deepEqual(
      order?.fields.map((f) => [f.name, f.fieldKind]),
      [
        ['id', 'scalar'],
        ['lines', 'list'],
        ['line_tags', 'map'],
        ['status', 'enum'],
        ['note', 'scalar'],
        ['total', 'message'],
        ['placed_at', 'message'],
        ['card', 'scalar'],
        ['voucher', 'scalar'],
      ],
    )
    const proto = file.messageType[0]
    assert.deepEqual(
      proto.field.map((f) => f.typeName),
      [
        '',
        '.shop.Order.Line',
        '.shop.Order.LineTagsEntry',
        '.shop.Status',
        '',
        '.money.Amount',
        '.google.protobuf.Timestamp',
        '',
        '',
      ],
    )
    // The synthetic oneof of `optional note` comes after the declared one, as protoc puts it.
    assert.deepEqual(
      proto.oneofDecl.map((o) => o.name),
      ['payment', '_note'],
    )
    assert.deepEqual(
      proto.reservedRange.map((r) => [r.start, r.end]),
      [
        [20, 26],
        [30, 31],
      ],
    )
    assert.equal(file.messageType[1].field[0].jsonName, 'oid')
    assert.equal(file.service[0].method[0].serverStreaming, true)
  })

  it('is the same for texts that declare the same things, and differs when a field does', () => {
    const base = fileDescriptorOf(shop, [money])
    const reworded = shop
      .replace('// orders and what they cost\n', '/* another comment */\n\n')
      .replace('repeated Line lines = 2;', 'repeated .shop.Order.Line   lines=2 ;')
      .replace('Order.Line line = 2;', 'shop.Order.Line line = 2; // the line refunded\n')
    assert.ok(same(fileDescriptorOf(reworded, [money]), base))
    assert.ok(!same(fileDescriptorOf(shop.replace('string id = 1;', 'string id = 10;'), [money]), base))
  })

  it('prints as text that gives the same descriptor back (proto2: labels, defaults, extensions)', () => {
    const legacy = `syntax = "proto2";
package legacy;
message A {
  required int32 x = 1 [default = 5];
  optional string s = 2 [default = "say \\"hi\\""];
  repeated int32 r = 3 [packed = true];
  optional double d = 4 [default = inf];
  optional Kind kind = 5 [default = B, deprecated = true];
  enum Kind { K = 0; B = 1; }
  extensions 100 to max;
}
extend A { optional int32 extra = 100; }
`
    for (const text of [shop, legacy]) {
      const referenced = text === shop ? [money] : []
      const bytes = fileDescriptorOf(text, referenced)
      const printed = protoTextOf(bytes)
      assert.ok(same(fileDescriptorOf(printed, referenced), bytes), printed)
    }
  })

  it('prints any file the generator makes as text that gives the same descriptor back', () => {
    fc.assert(
      fc.property(protoFile, (text) => {
        const bytes = fileDescriptorOf(text)
        createFileRegistry(decode(bytes), () => undefined) // a descriptor that links
        const printed = protoTextOf(bytes)
        assert.ok(same(fileDescriptorOf(printed), bytes), `${text}\n---\n${printed}`)
        assert.equal(protoTextFromSerialized(Buffer.from(bytes).toString('base64')), printed)
      }),
      { numRuns: 150 },
    )
  })

  it('refuses what it cannot keep as .proto text, and leaves anything that is no descriptor alone', () => {
    const group = decode(fileDescriptorOf('syntax = "proto3"; message G { int32 a = 1; }'))
    group.messageType[0].field[0].type = Type.GROUP
    group.messageType[0].field[0].typeName = '.G'
    const editions = decode(fileDescriptorOf('edition = "2023"; message E { int32 a = 1; }'))
    for (const file of [group, editions]) {
      assert.throws(
        () => protoTextOf(toBinary(FileDescriptorProtoSchema, file)),
        (e) => isSluiceError(e) && e.details.errorCode === 42201,
      )
    }
    assert.equal(protoTextFromSerialized('abcd'), undefined)
    assert.equal(protoTextFromSerialized('message A {}'), undefined)
  })

  it('answers any bytes sent as a descriptor with text, "not a descriptor", or 42201, and nothing else', () => {
    const valid = [...fileDescriptorOf(shop, [money])]
    const mutated = fc
      .tuple(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { maxLength: 4 }),
        fc.nat(valid.length),
      )
      .map(([edits, cut]) => {
        const bytes = valid.slice(0, cut)
        for (const [at, b] of edits) if (at < bytes.length) bytes[at] = b
        return bytes
      })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (bytes) => {
        try {
          const text = protoTextFromSerialized(Buffer.from(bytes).toString('base64'))
          assert.ok(text === undefined || typeof text === 'string')
        } catch (e) {
          assert.ok(isSluiceError(e) && e.details.errorCode === 42201, String(e))
        }
      }),
      { numRuns: 300 },
    )
  })
})
