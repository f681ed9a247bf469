// A table of schema changes with the verdict Confluent's rules give at each level: BACKWARD means the new schema
// reads data written with the old one, FORWARD the old reads the new, FULL both, NONE anything goes.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type CompatibilityLevel,
  checkCompatibility,
  compatibilityLevels,
  type SchemaType,
} from '../../src/registry/compatibility.ts'

interface Case {
  name: string
  old: unknown
  new: unknown
  backward: boolean
  forward: boolean
}

const rec = (fields: unknown[], extra: object = {}) => ({
  type: 'record',
  name: 'User',
  namespace: 'ns',
  fields,
  ...extra,
})
const id = { name: 'id', type: 'int' }

const avroCases: Case[] = [
  {
    name: 'field added with a default',
    old: rec([id]),
    new: rec([id, { name: 'e', type: 'string', default: '' }]),
    backward: true,
    forward: true,
  },
  {
    name: 'field added without a default',
    old: rec([id]),
    new: rec([id, { name: 'e', type: 'string' }]),
    backward: false,
    forward: true,
  },
  {
    name: 'field with a default removed',
    old: rec([id, { name: 'e', type: 'string', default: '' }]),
    new: rec([id]),
    backward: true,
    forward: true,
  },
  {
    name: 'field without a default removed',
    old: rec([id, { name: 'e', type: 'string' }]),
    new: rec([id]),
    backward: true,
    forward: false,
  },
  {
    name: 'field renamed with an alias',
    old: rec([id]),
    new: rec([{ name: 'key', type: 'int', aliases: ['id'] }]),
    backward: true,
    forward: false,
  },
  {
    name: 'field renamed without an alias',
    old: rec([id]),
    new: rec([{ name: 'key', type: 'int' }]),
    backward: false,
    forward: false,
  },
  {
    name: 'record renamed with an alias',
    old: rec([id]),
    new: rec([id], { name: 'Person', aliases: ['ns.User'] }),
    backward: true,
    forward: false,
  },
  {
    name: 'record renamed without an alias',
    old: rec([id]),
    new: rec([id], { name: 'Person' }),
    backward: false,
    forward: false,
  },
  {
    name: 'int promoted to long',
    old: rec([id]),
    new: rec([{ name: 'id', type: 'long' }]),
    backward: true,
    forward: false,
  },
  {
    name: 'long narrowed to int',
    old: rec([{ name: 'id', type: 'long' }]),
    new: rec([id]),
    backward: false,
    forward: true,
  },
  { name: 'int promoted to double', old: 'int', new: 'double', backward: true, forward: false },
  { name: 'long promoted to float', old: 'long', new: 'float', backward: true, forward: false },
  { name: 'float promoted to double', old: 'float', new: 'double', backward: true, forward: false },
  { name: 'string to bytes', old: 'string', new: 'bytes', backward: true, forward: true },
  { name: 'int to string', old: 'int', new: 'string', backward: false, forward: false },
  {
    name: 'enum symbol added',
    old: { type: 'enum', name: 'Color', symbols: ['RED'] },
    new: { type: 'enum', name: 'Color', symbols: ['RED', 'BLUE'] },
    backward: true,
    forward: false,
  },
  {
    name: 'enum symbol added, the old enum has a default',
    old: { type: 'enum', name: 'Color', symbols: ['RED', 'OTHER'], default: 'OTHER' },
    new: { type: 'enum', name: 'Color', symbols: ['RED', 'OTHER', 'BLUE'], default: 'OTHER' },
    backward: true,
    forward: true,
  },
  {
    name: 'union widened',
    old: ['null', 'string'],
    new: ['null', 'string', 'int'],
    backward: true,
    forward: false,
  },
  { name: 'type made nullable', old: 'string', new: ['null', 'string'], backward: true, forward: false },
  {
    name: 'union member promoted',
    old: ['null', 'int'],
    new: ['null', 'long'],
    backward: true,
    forward: false,
  },
  {
    name: 'array items promoted',
    old: { type: 'array', items: 'int' },
    new: { type: 'array', items: 'long' },
    backward: true,
    forward: false,
  },
  {
    name: 'map values changed',
    old: { type: 'map', values: 'int' },
    new: { type: 'map', values: 'string' },
    backward: false,
    forward: false,
  },
  {
    name: 'fixed size changed',
    old: { type: 'fixed', name: 'H', size: 16 },
    new: { type: 'fixed', name: 'H', size: 32 },
    backward: false,
    forward: false,
  },
  {
    name: 'nested record gains a field with a default',
    old: rec([{ name: 'a', type: rec([id], { name: 'Addr' }) }]),
    new: rec([
      { name: 'a', type: rec([id, { name: 'zip', type: 'string', default: '' }], { name: 'Addr' }) },
    ]),
    backward: true,
    forward: true,
  },
  {
    name: 'recursive type gains a field with a default',
    old: rec([id, { name: 'next', type: ['null', 'ns.User'], default: null }]),
    new: rec([
      id,
      { name: 'next', type: ['null', 'ns.User'], default: null },
      { name: 'x', type: 'int', default: 0 },
    ]),
    backward: true,
    forward: true,
  },
]

const proto = (body: string, pkg = 'shop') => `syntax = "proto3";\npackage ${pkg};\n${body}`
const order = proto('message Order { string id = 1; int32 qty = 2; }')
const protobufCases: Case[] = [
  {
    name: 'field added',
    old: order,
    new: proto('message Order { string id = 1; int32 qty = 2; string note = 3; }'),
    backward: true,
    forward: true,
  },
  {
    name: 'field removed',
    old: order,
    new: proto('message Order { string id = 1; }'),
    backward: true,
    forward: true,
  },
  {
    name: 'field renamed',
    old: order,
    new: proto('message Order { string key = 1; int32 qty = 2; }'),
    backward: true,
    forward: true,
  },
  {
    name: 'int32 widened to int64',
    old: order,
    new: proto('message Order { string id = 1; int64 qty = 2; }'),
    backward: true,
    forward: true,
  },
  {
    name: 'field number reused with another type',
    old: order,
    new: proto('message Order { string id = 1; string qty = 2; }'),
    backward: false,
    forward: false,
  },
  {
    name: 'string to bytes',
    old: order,
    new: proto('message Order { bytes id = 1; int32 qty = 2; }'),
    backward: true,
    forward: true,
  },
  {
    name: 'message removed',
    old: proto('message Order { string id = 1; } message Ping { int32 n = 1; }'),
    new: proto('message Order { string id = 1; }'),
    backward: false,
    forward: true,
  },
  {
    name: 'package changed',
    old: order,
    new: proto('message Order { string id = 1; int32 qty = 2; }', 'store'),
    backward: false,
    forward: false,
  },
  {
    name: 'required field added (proto2)',
    old: 'syntax = "proto2"; message M { optional string a = 1; }',
    new: 'syntax = "proto2"; message M { optional string a = 1; required int32 b = 2; }',
    backward: false,
    forward: false,
  },
  {
    name: 'fields taken out of a oneof (the other way: several moved into one)',
    old: proto('message M { oneof v { string s = 1; int32 n = 2; } }'),
    new: proto('message M { string s = 1; int32 n = 2; }'),
    backward: false,
    forward: false,
  },
]

const obj = (properties: object, extra: object = {}) => ({ type: 'object', properties, ...extra })
const jsonCases: Case[] = [
  {
    name: 'optional property added to an open model',
    old: obj({ a: { type: 'string' } }),
    new: obj({ a: { type: 'string' }, b: { type: 'integer' } }),
    backward: false,
    forward: true,
  },
  {
    name: 'optional property added to a closed model',
    old: obj({ a: { type: 'string' } }, { additionalProperties: false }),
    new: obj({ a: { type: 'string' }, b: { type: 'integer' } }, { additionalProperties: false }),
    backward: true,
    forward: false,
  },
  {
    name: 'property made required',
    old: obj({ a: { type: 'string' } }),
    new: obj({ a: { type: 'string' } }, { required: ['a'] }),
    backward: false,
    forward: true,
  },
  {
    name: 'integer widened to number',
    old: obj({ a: { type: 'integer' } }),
    new: obj({ a: { type: 'number' } }),
    backward: true,
    forward: false,
  },
  {
    name: 'enum value added',
    old: { enum: ['a'] },
    new: { enum: ['a', 'b'] },
    backward: true,
    forward: false,
  },
  {
    name: 'maxLength lowered',
    old: { type: 'string', maxLength: 10 },
    new: { type: 'string', maxLength: 5 },
    backward: false,
    forward: true,
  },
  {
    name: 'type changed',
    old: { type: 'string' },
    new: { type: 'integer' },
    backward: false,
    forward: false,
  },
]

function expected(level: CompatibilityLevel, c: Case): boolean {
  if (level === 'NONE') return true
  if (level.startsWith('BACKWARD')) return c.backward
  if (level.startsWith('FORWARD')) return c.forward
  return c.backward && c.forward
}

function text(schema: unknown, type: SchemaType): string {
  return type === 'PROTOBUF' ? (schema as string) : JSON.stringify(schema)
}

for (const [schemaType, cases] of [
  ['AVRO', avroCases],
  ['PROTOBUF', protobufCases],
  ['JSON', jsonCases],
] as const) {
  describe(`${schemaType} compatibility`, () => {
    for (const c of cases) {
      it(`${c.name}: backward ${c.backward ? 'yes' : 'no'}, forward ${c.forward ? 'yes' : 'no'}`, () => {
        const old = { schemaType, schema: text(c.old, schemaType), version: 1 }
        const candidate = { schemaType, schema: text(c.new, schemaType) }
        for (const level of compatibilityLevels) {
          const problems = checkCompatibility(level, candidate, [old])
          assert.equal(problems.length === 0, expected(level, c), `${level}: ${problems.join('; ')}`)
        }
      })
    }
  })
}

describe('transitive levels', () => {
  const v1 = { schemaType: 'AVRO' as const, version: 1, schema: JSON.stringify(rec([id])) }
  const v2 = {
    schemaType: 'AVRO' as const,
    version: 2,
    schema: JSON.stringify(rec([id, { name: 'e', type: 'string', default: '' }])),
  }
  const v3 = { schemaType: 'AVRO' as const, schema: JSON.stringify(rec([id, { name: 'e', type: 'string' }])) }

  it('check against the latest version only, or against all of them', () => {
    assert.deepEqual(checkCompatibility('BACKWARD', v3, [v1, v2]), [])
    const problems = checkCompatibility('BACKWARD_TRANSITIVE', v3, [v1, v2])
    assert.equal(problems.length, 1)
    assert.match(problems[0], /version 1.*\/e: the reader has a field the writer lacks, without a default/)
    assert.deepEqual(checkCompatibility('FULL', v3, [v1, v2]), [])
    assert.equal(checkCompatibility('FULL_TRANSITIVE', v3, [v1, v2]).length, 1)
  })

  it('a change of schema type is never compatible', () => {
    assert.equal(checkCompatibility('FORWARD', { schemaType: 'JSON', schema: '{}' }, [v1]).length, 1)
  })
})

describe('JSON Schema $ref', () => {
  const json = (schema: object) => JSON.stringify(schema)
  const order = json({
    type: 'object',
    properties: { buyer: { $ref: 'customer.json#/definitions/Customer' } },
  })
  const customer = (name: object) =>
    json({ definitions: { Customer: { type: 'object', properties: { name } } } })
  const using = (name: object, version: number | undefined = undefined) => ({
    schemaType: 'JSON' as const,
    schema: order,
    referenced: [{ name: 'customer.json', schema: customer(name) }],
    ...(version === undefined ? {} : { version }),
  })

  it('compares the referenced schemas: the same text over a changed reference has a verdict of its own', () => {
    const v1 = using({ type: 'string' }, 1)
    assert.deepEqual(checkCompatibility('FULL', using({ type: 'string' }), [v1]), [])
    assert.deepEqual(checkCompatibility('BACKWARD', using({ type: ['string', 'null'] }), [v1]), [])
    assert.deepEqual(checkCompatibility('FORWARD', using({ type: 'string', maxLength: 5 }), [v1]), [])
    assert.deepEqual(checkCompatibility('BACKWARD', using({ type: 'string', maxLength: 5 }), [v1]), [
      'BACKWARD: the new schema cannot read version 1: /buyer/name: maxLength was lowered or added',
    ])
  })

  it('follows $refs within a schema, and ends on recursive ones', () => {
    const tree = (value: object) =>
      json({
        definitions: {
          Node: {
            type: 'object',
            properties: { value, children: { type: 'array', items: { $ref: '#/definitions/Node' } } },
          },
        },
        $ref: '#/definitions/Node',
      })
    const old = { schemaType: 'JSON' as const, schema: tree({ type: 'integer' }), version: 1 }
    assert.deepEqual(checkCompatibility('BACKWARD', { ...old, schema: tree({ type: 'number' }) }, [old]), [])
    assert.deepEqual(checkCompatibility('FORWARD', { ...old, schema: tree({ type: 'number' }) }, [old]), [
      'FORWARD: version 1 cannot read the new schema: /value: the reader does not accept number',
    ])
    // Against a writer without the recursion, the reader's recursive part is compared once.
    const nested = { schemaType: 'JSON' as const, schema: json({ type: 'array', items: { $ref: '#' } }) }
    const flat = { schemaType: 'JSON' as const, schema: json({ type: 'array' }), version: 1 }
    assert.deepEqual(checkCompatibility('BACKWARD', nested, [flat]), [
      'BACKWARD: the new schema cannot read version 1: /items: the reader does not accept any type',
    ])
  })
})
