// Serdes bound to a subject, over HTTP and in process: the reader schema is checked against the subject before
// anything is read, old records resolve through the cached writer schemas, and problems are named.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isSluiceError } from '../../src/errors/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { httpRegistry, type RegistryApi, subjectSerde } from '../../src/registry/client.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

let dir: string
let log: Log
let registry: SchemaRegistry
let server: SluiceServer
let url: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-registry-client-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  registry = await openSchemaRegistry({ log })
  server = createServer({ log, dashboardDir: null })
  registerSchemaRegistry(server.app, registry)
  ;({ url } = await server.listen({ port: 0 }))
})
after(async () => {
  await server.close()
  await registry.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

const v = (fields: object[]) => JSON.stringify({ type: 'record', name: 'Click', fields })
const v1 = v([{ name: 'page', type: 'string' }])
const v2 = v([
  { name: 'page', type: 'string' },
  { name: 'ms', type: 'long', default: 0 },
])
const broken = v([{ name: 'page', type: 'int' }])

for (const [name, api] of [
  ['over HTTP', () => httpRegistry(url)],
  ['in process', () => registry],
] as const) {
  describe(`subject serdes ${name}`, () => {
    const subject = `clicks-${name.replace(' ', '-')}-value`
    it('registers, reads old records with a newer schema, and refuses an incompatible one naming the problem', async () => {
      const client: RegistryApi = api()
      const writer = await subjectSerde(client, { subject, schema: v1, register: true })
      const old = writer.serialize({ page: '/a' })
      await assert.rejects(
        subjectSerde(client, { subject, schema: v2 }),
        /does not hold the pipeline's schema/,
      )
      const reader = await subjectSerde<Record<string, unknown>>(client, {
        subject,
        schema: v2,
        register: true,
      })
      assert.notEqual(reader.id, writer.id)
      assert.deepEqual({ ...reader.deserialize(old) }, { page: '/a', ms: 0 })
      await assert.rejects(
        subjectSerde(client, { subject, schema: broken, register: true }),
        (e) =>
          isSluiceError(e, 'SLUICE_ERR_INVALID_CONFIG') &&
          /\/page: the reader's int cannot read/.test(e.message),
      )
      // Without a schema: the latest version.
      const latest = await subjectSerde(client, { subject })
      assert.equal(latest.id, reader.id)
      // A schema registered later is unknown until refresh().
      const newer = v([
        { name: 'page', type: 'string' },
        { name: 'ms', type: 'long', default: 0 },
        { name: 'ref', type: ['null', 'string'], default: null },
      ])
      const w3 = await subjectSerde(client, { subject, schema: newer, register: true })
      const rec = w3.serialize({ page: '/b', ms: 5, ref: null })
      assert.throws(
        () => reader.deserialize(rec),
        (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
      )
      await reader.refresh()
      assert.deepEqual({ ...reader.deserialize(rec) }, { page: '/b', ms: 5 })
    })
  })
}

describe('subject serdes with references', () => {
  it('Avro named types and Protobuf imports from other subjects, for the reader and for old writers', async () => {
    const api = httpRegistry(url)
    const address = JSON.stringify({
      type: 'record',
      name: 'Address',
      namespace: 'geo',
      fields: [{ name: 'city', type: 'string' }],
    })
    await api.register('geo-address', { schema: address, schemaType: 'AVRO' })
    const references = [{ name: 'geo.Address', subject: 'geo-address', version: 1 }]
    const c1 = JSON.stringify({
      type: 'record',
      name: 'Customer',
      fields: [{ name: 'home', type: 'geo.Address' }],
    })
    const writer = await subjectSerde(api, {
      subject: 'customers-value',
      schema: c1,
      references,
      register: true,
    })
    const bytes = writer.serialize({ home: { city: 'Oslo' } })
    const c2 = JSON.stringify({
      type: 'record',
      name: 'Customer',
      fields: [
        { name: 'home', type: 'geo.Address' },
        { name: 'vip', type: 'boolean', default: false },
      ],
    })
    const reader = await subjectSerde(api, {
      subject: 'customers-value',
      schema: c2,
      references,
      register: true,
    })
    assert.deepEqual(JSON.parse(JSON.stringify(reader.deserialize(bytes))), {
      home: { city: 'Oslo' },
      vip: false,
    })

    const money = 'syntax = "proto3";\npackage common;\nmessage Money { int64 cents = 1; }\n'
    await api.register('common-money', { schema: money, schemaType: 'PROTOBUF' })
    const order =
      'syntax = "proto3";\npackage shop;\nimport "money.proto";\nmessage Order { common.Money total = 1; }\n'
    const pb = await subjectSerde(api, {
      subject: 'orders-ref-value',
      schemaType: 'PROTOBUF',
      schema: order,
      references: [{ name: 'money.proto', subject: 'common-money', version: 1 }],
      register: true,
    })
    assert.deepEqual(pb.deserialize(pb.serialize({ total: { cents: '250' } })), { total: { cents: '250' } })
  })

  it('JSON Schema $refs to other subjects, by reference name, on write and on read', async () => {
    const api = httpRegistry(url)
    const address = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }
    await api.register('shared-address', { schema: JSON.stringify(address), schemaType: 'JSON' })
    const shipment = JSON.stringify({
      $id: 'https://example.com/schemas/shipment.json',
      type: 'object',
      properties: { to: { $ref: 'address.json' } },
    })
    const writer = await subjectSerde(api, {
      subject: 'shipments-value',
      schemaType: 'JSON',
      schema: shipment,
      references: [{ name: 'address.json', subject: 'shared-address', version: 1 }],
      register: true,
    })
    const bytes = writer.serialize({ to: { city: 'Oslo' } }) as Buffer
    assert.throws(
      () => writer.serialize({ to: { city: 7 } }),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE') && /to\/city must be string/.test(e.message),
    )
    // The latest version, with its references, from the registry alone.
    const reader = await subjectSerde(api, { subject: 'shipments-value' })
    assert.deepEqual(reader.deserialize(bytes), { to: { city: 'Oslo' } })
    const bad = Buffer.concat([bytes.subarray(0, 5), Buffer.from('{"to":{}}')])
    assert.throws(
      () => reader.deserialize(bad),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE') && /to must have required property 'city'/.test(e.message),
    )
  })
})

describe('httpRegistry', () => {
  it('maps Confluent error codes back, and says when the registry cannot be reached', async () => {
    await assert.rejects(
      httpRegistry(url).schemaById(999),
      (e) => isSluiceError(e) && e.details.errorCode === 40403,
    )
    await assert.rejects(httpRegistry('http://127.0.0.1:9').versions('x'), (e) =>
      isSluiceError(e, 'SLUICE_ERR_CONNECTION'),
    )
  })
})
