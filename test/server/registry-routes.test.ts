// The schema registry's REST API, by Confluent's paths, bodies and error codes, through fastify's inject.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { REGISTRY_CONTENT_TYPE, registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

let dir: string
let log: Log
let registry: SchemaRegistry
let server: SluiceServer

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-registry-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  registry = await openSchemaRegistry({ log })
  server = createServer({ log, dashboardDir: null })
  registerSchemaRegistry(server.app, registry)
})
after(async () => {
  await server.close()
  await registry.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) {
  const res = await server.app.inject({
    method,
    url,
    headers: body === undefined ? {} : { 'content-type': REGISTRY_CONTENT_TYPE },
    payload: body === undefined ? undefined : JSON.stringify(body),
  })
  assert.equal(res.headers['content-type'], REGISTRY_CONTENT_TYPE, `${method} ${url}`)
  return { status: res.statusCode, body: res.json() }
}

const user = (fields: object[]) => JSON.stringify({ type: 'record', name: 'User', fields })
const v1 = user([{ name: 'id', type: 'int' }])
const v2 = user([
  { name: 'id', type: 'long' },
  { name: 'email', type: 'string', default: '' },
])
const bad = user([
  { name: 'id', type: 'long' },
  { name: 'email', type: 'string', default: '' },
  { name: 'age', type: 'int' },
])

describe('schema registry REST API', () => {
  it('registers versions, reuses ids, and lists subjects and versions', async () => {
    assert.deepEqual(await call('POST', '/subjects/users-value/versions', { schema: v1 }), {
      status: 200,
      body: { id: 1 },
    })
    assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: v1 })).body, { id: 1 })
    assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: v2 })).body, { id: 2 })
    // The same schema under another subject keeps its global id.
    assert.deepEqual((await call('POST', '/subjects/other-value/versions', { schema: v1 })).body, { id: 1 })
    assert.deepEqual((await call('GET', '/subjects')).body, ['other-value', 'users-value'])
    assert.deepEqual((await call('GET', '/subjects/users-value/versions')).body, [1, 2])
    assert.deepEqual((await call('GET', '/subjects/users-value/versions/latest')).body, {
      subject: 'users-value',
      version: 2,
      id: 2,
      schema: v2,
    })
    assert.deepEqual((await call('GET', '/subjects/users-value/versions/1')).body.id, 1)
    assert.deepEqual((await call('GET', '/schemas/ids/2')).body, { schema: v2 })
  })

  it('refuses an incompatible schema with 409 and says why; checks compatibility on request', async () => {
    const refused = await call('POST', '/subjects/users-value/versions', { schema: bad })
    assert.equal(refused.status, 409)
    assert.equal(refused.body.error_code, 409)
    assert.match(refused.body.message, /age: the reader has a field the writer lacks/)
    const check = await call('POST', '/compatibility/subjects/users-value/versions/latest?verbose=true', {
      schema: bad,
    })
    assert.equal(check.body.is_compatible, false)
    assert.equal(check.body.messages.length, 1)
    const ok = await call('POST', '/compatibility/subjects/users-value/versions/1', { schema: v2 })
    assert.deepEqual(ok.body, { is_compatible: true })
  })

  it('answers with Confluent error codes', async () => {
    const cases: [string, string, unknown, number][] = [
      ['GET', '/subjects/nope/versions', undefined, 40401],
      ['GET', '/subjects/users-value/versions/9', undefined, 40402],
      ['GET', '/subjects/users-value/versions/zero', undefined, 42202],
      ['GET', '/schemas/ids/99', undefined, 40403],
      ['POST', '/subjects/users-value/versions', { schema: '{"type":"nope"}' }, 42201],
      ['POST', '/subjects/users-value/versions', { schema: 'x', schemaType: 'XML' }, 42201],
      ['POST', '/subjects/users-value', { schema: user([{ name: 'z', type: 'int' }]) }, 40403],
      ['PUT', '/config', { compatibility: 'SIDEWAYS' }, 42203],
      ['GET', '/config/users-value', undefined, 40408],
    ]
    for (const [method, url, body, code] of cases) {
      const res = await call(method as 'GET', url, body)
      assert.equal(res.body.error_code, code, `${method} ${url}: ${JSON.stringify(res.body)}`)
      assert.equal(res.status, Math.floor(code / 100), url)
    }
  })

  it('looks a schema up in a subject', async () => {
    const found = await call('POST', '/subjects/users-value', { schema: v1 })
    assert.deepEqual(found.body, { subject: 'users-value', id: 1, version: 1, schema: v1 })
  })

  it('keeps a global level and per-subject levels', async () => {
    assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'BACKWARD' })
    assert.deepEqual((await call('PUT', '/config/users-value', { compatibility: 'NONE' })).body, {
      compatibility: 'NONE',
    })
    assert.deepEqual((await call('GET', '/config/users-value')).body, { compatibilityLevel: 'NONE' })
    assert.deepEqual((await call('GET', '/config/other-value?defaultToGlobal=true')).body, {
      compatibilityLevel: 'BACKWARD',
    })
    // With NONE, the incompatible schema goes in as version 3.
    assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: bad })).body, { id: 3 })
    assert.deepEqual((await call('DELETE', '/config/users-value')).body, { compatibilityLevel: 'NONE' })
    assert.deepEqual((await call('PUT', '/config', { compatibility: 'FULL' })).body, {
      compatibility: 'FULL',
    })
    assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'FULL' })
    await call('PUT', '/config', { compatibility: 'BACKWARD' })
  })

  it('soft-deletes and then permanently deletes versions and subjects, by the rules', async () => {
    assert.equal(
      (await call('DELETE', '/subjects/users-value/versions/3?permanent=true')).body.error_code,
      40407,
    )
    assert.deepEqual((await call('DELETE', '/subjects/users-value/versions/3')).body, 3)
    assert.equal((await call('DELETE', '/subjects/users-value/versions/3')).body.error_code, 40406)
    assert.deepEqual((await call('GET', '/subjects/users-value/versions')).body, [1, 2])
    assert.deepEqual((await call('GET', '/subjects/users-value/versions?deleted=true')).body, [1, 2, 3])
    assert.deepEqual((await call('DELETE', '/subjects/users-value/versions/3?permanent=true')).body, 3)

    assert.equal((await call('DELETE', '/subjects/other-value?permanent=true')).body.error_code, 40405)
    assert.deepEqual((await call('DELETE', '/subjects/other-value')).body, [1])
    assert.equal((await call('DELETE', '/subjects/other-value')).body.error_code, 40404)
    assert.deepEqual((await call('GET', '/subjects')).body, ['users-value'])
    assert.deepEqual((await call('GET', '/subjects?deleted=true')).body, ['other-value', 'users-value'])
    // A soft-deleted schema still resolves by id: records written with it must stay readable.
    assert.equal((await call('GET', '/schemas/ids/1')).status, 200)
    assert.deepEqual((await call('DELETE', '/subjects/other-value?permanent=true')).body, [1])
    assert.equal((await call('DELETE', '/subjects/other-value')).body.error_code, 40401)
  })

  it('registers Protobuf and JSON schemas with their type', async () => {
    const proto = 'syntax = "proto3";\npackage shop;\nmessage Order { string id = 1; }\n'
    const { id } = (
      await call('POST', '/subjects/orders-value/versions', { schema: proto, schemaType: 'PROTOBUF' })
    ).body
    assert.deepEqual((await call('GET', `/schemas/ids/${id}`)).body, {
      schemaType: 'PROTOBUF',
      schema: proto,
    })
    const json = JSON.stringify({ type: 'object', properties: { a: { type: 'string' } } })
    const j = await call('POST', '/subjects/j-value/versions', { schema: json, schemaType: 'JSON' })
    assert.equal(j.status, 200)
    assert.deepEqual((await call('GET', '/schemas/types')).body, ['AVRO', 'JSON', 'PROTOBUF'])
  })

  it('resolves references: Avro named types and Protobuf imports from other subjects', async () => {
    const address = JSON.stringify({
      type: 'record',
      name: 'Address',
      namespace: 'geo',
      fields: [{ name: 'city', type: 'string' }],
    })
    await call('POST', '/subjects/address-value/versions', { schema: address })
    const customer = (fields: object[]) => JSON.stringify({ type: 'record', name: 'Customer', fields })
    const ref = [{ name: 'geo.Address', subject: 'address-value', version: 1 }]
    const c1 = customer([{ name: 'home', type: 'geo.Address' }])
    const res = await call('POST', '/subjects/customer-value/versions', { schema: c1, references: ref })
    assert.equal(res.status, 200)
    const got = await call('GET', `/schemas/ids/${res.body.id}`)
    assert.deepEqual(got.body.references, ref)
    // Without its reference the schema does not parse; a reference to nothing is refused too.
    assert.equal(
      (await call('POST', '/subjects/customer-value/versions', { schema: c1 })).body.error_code,
      42201,
    )
    const dangling = [{ name: 'geo.Address', subject: 'address-value', version: 7 }]
    assert.equal(
      (await call('POST', '/subjects/c2-value/versions', { schema: c1, references: dangling })).body
        .error_code,
      42201,
    )
    assert.equal(
      (await call('POST', '/subjects/c2-value/versions', { schema: c1, references: [{ name: 1 }] })).body
        .error_code,
      42201,
    )
    // Compatibility sees through references.
    const c2 = customer([
      { name: 'home', type: 'geo.Address' },
      { name: 'work', type: ['null', 'geo.Address'], default: null },
    ])
    const check = await call('POST', '/compatibility/subjects/customer-value/versions/latest', {
      schema: c2,
      references: ref,
    })
    assert.deepEqual(check.body, { is_compatible: true })
    const c3 = customer([{ name: 'home', type: 'string' }])
    const broken = await call('POST', '/compatibility/subjects/customer-value/versions/latest', {
      schema: c3,
    })
    assert.deepEqual(broken.body, { is_compatible: false })

    const money =
      'syntax = "proto3";\npackage common;\nmessage Money { int64 cents = 1; string currency = 2; }\n'
    await call('POST', '/subjects/money/versions', { schema: money, schemaType: 'PROTOBUF' })
    const order =
      'syntax = "proto3";\npackage shop;\nimport "money.proto";\nmessage Order { common.Money total = 1; }\n'
    const orderRefs = [{ name: 'money.proto', subject: 'money', version: 1 }]
    const o = await call('POST', '/subjects/order-ref-value/versions', {
      schema: order,
      schemaType: 'PROTOBUF',
      references: orderRefs,
    })
    assert.equal(o.status, 200)
    const order2 = order.replace('common.Money total = 1;', 'string total = 1;')
    const c = await call('POST', '/compatibility/subjects/order-ref-value/versions/latest?verbose=true', {
      schema: order2,
      schemaType: 'PROTOBUF',
    })
    assert.equal(c.body.is_compatible, false)
    assert.match(c.body.messages.join(), /total \(1\): the type changed from message to string/)
  })

  it('answers random and mutated bodies with a 2xx or a 4xx Confluent error, never a 500', async () => {
    const valid = { schema: v1 }
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ schema: fc.string(), schemaType: fc.constantFrom('AVRO', 'JSON', 'PROTOBUF', 'XML', 7) }),
      fc.record({
        schema: fc.jsonValue().map((v) => JSON.stringify(v)),
        schemaType: fc.constantFrom('AVRO', 'JSON'),
      }),
      fc.constant(valid),
    )
    const paths = [
      '/subjects/fuzz-value/versions',
      '/subjects/users-value',
      '/compatibility/subjects/users-value/versions/latest',
      '/compatibility/subjects/fuzz-value/versions',
    ]
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom(...paths), fc.boolean(), async (b, path, raw) => {
        const res = await server.app.inject({
          method: 'POST',
          url: path,
          headers: { 'content-type': REGISTRY_CONTENT_TYPE },
          payload: raw ? JSON.stringify(b).slice(0, -1) : JSON.stringify(b),
        })
        assert.ok(res.statusCode < 500, `${path} ${JSON.stringify(b)}: ${res.statusCode} ${res.body}`)
        if (res.statusCode >= 400) assert.equal(typeof res.json().error_code, 'number')
      }),
      { numRuns: 200 },
    )
  })
})
