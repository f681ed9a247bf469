// The JSON Schema serde: records are validated on write and on read, in the Confluent wire format.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isSluiceError } from '../../src/errors/index.ts'
import { jsonSchema } from '../../src/serde/json-schema.ts'

const schema = {
  type: 'object',
  properties: { user: { type: 'string' }, clicks: { type: 'integer', minimum: 0 }, tags: { type: 'array' } },
  required: ['user', 'clicks'],
}

describe('json-schema serde', () => {
  it('round-trips valid values', () => {
    const serde = jsonSchema({ schema: JSON.stringify(schema), id: 7 })
    const value = fc.record({ user: fc.string(), clicks: fc.nat(), tags: fc.array(fc.string()) })
    fc.assert(fc.property(value, (v) => assert.deepEqual(serde.deserialize(serde.serialize(v)), { ...v })))
  })

  it('refuses invalid values on write and invalid records on read', () => {
    const serde = jsonSchema({ schema, id: 7 })
    assert.throws(() => serde.serialize({ user: 'a', clicks: -1 }), /clicks must be >= 0/)
    const record = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from('{"user":1}')])
    assert.throws(
      () => serde.deserialize(record),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
    )
    assert.deepEqual(jsonSchema({ schema, id: 7, validateOnRead: false }).deserialize(record), { user: 1 })
    assert.throws(
      () => serde.deserialize(Buffer.from('{"user":"a"}')),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
    )
  })

  it('answers random and mutated bytes with a value or SLUICE_ERR_SERDE, nothing else', () => {
    const serde = jsonSchema({ schema, id: 7 })
    const good = serde.serialize({ user: 'a', clicks: 1, tags: ['x'] }) as Buffer
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
        const m = Buffer.from(good)
        m[at % m.length] = byte
        return m
      }),
    )
    fc.assert(
      fc.property(input, (bytes) => {
        try {
          serde.deserialize(bytes)
        } catch (e) {
          assert.ok(isSluiceError(e, 'SLUICE_ERR_SERDE'), String(e))
        }
      }),
    )
  })
})

describe('json-schema serde with referenced schemas', () => {
  const customer = {
    type: 'object',
    properties: { name: { type: 'string' }, address: { $ref: '#/definitions/Address' } },
    required: ['name'],
    definitions: {
      Address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  }
  const order = {
    type: 'object',
    properties: {
      buyer: { $ref: 'customer.json' },
      shipTo: { $ref: 'customer.json#/definitions/Address' },
    },
  }
  const serde = jsonSchema({ schema: order, id: 9, referencedByName: { 'customer.json': customer } })

  it('validates through a $ref to the name, and to a pointer into it, on write and on read', () => {
    const good = { buyer: { name: 'Ada', address: { city: 'Oslo' } }, shipTo: { city: 'Bergen' } }
    assert.deepEqual(serde.deserialize(serde.serialize(good)), good)
    assert.throws(
      () => serde.serialize({ buyer: { name: 'Ada', address: { city: 7 } } }),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE') && /buyer\/address\/city must be string/.test(e.message),
    )
    assert.throws(() => serde.serialize({ shipTo: {} }), /shipTo must have required property 'city'/)
    const record = Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), Buffer.from('{"buyer":{"name":1}}')])
    assert.throws(
      () => serde.deserialize(record),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE') && /buyer\/name must be string/.test(e.message),
    )
  })

  it("resolves a reference's name against the schema's $id, as Confluent does", () => {
    const withId = { ...order, $id: 'https://example.com/schemas/order.json' }
    const relative = jsonSchema({ schema: withId, id: 9, referencedByName: { 'customer.json': customer } })
    assert.throws(() => relative.serialize({ buyer: {} }), /buyer must have required property 'name'/)
    const absolute = jsonSchema({
      schema: { properties: { buyer: { $ref: 'https://example.com/customer.schema.json' } } },
      id: 9,
      referencedByName: { 'https://example.com/customer.schema.json': customer },
    })
    assert.throws(() => absolute.serialize({ buyer: { name: 1 } }), /buyer\/name must be string/)
  })

  it('refuses a schema whose $ref names no reference, or points at nothing in one', () => {
    assert.throws(
      () => jsonSchema({ schema: order, id: 9 }),
      /\$ref "customer.json" names no schema: it is not among the schema's references \(it has none\)/,
    )
    const bad = { properties: { at: { $ref: 'customer.json#/definitions/Nowhere' } } }
    assert.throws(
      () => jsonSchema({ schema: bad, id: 9, referencedByName: { 'customer.json': customer } }),
      /\$ref "customer.json#\/definitions\/Nowhere" points at nothing in the referenced schema "customer.json"/,
    )
  })
})
