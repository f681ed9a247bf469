// Protobuf schemas in Confluent's serialized form over the registry's REST API: `format=serialized` answers a
// base64 FileDescriptorProto, and a schema sent as one is kept as .proto text and matched to the same schema.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf'
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { fileDescriptorOf, serializedProtobuf } from '../../src/registry/protobuf-descriptor.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { REGISTRY_CONTENT_TYPE, registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

let dir: string
let log: Log
let registry: SchemaRegistry
let server: SluiceServer

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-serialized-'))
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

async function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  const res = await server.app.inject({
    method,
    url,
    headers: body === undefined ? {} : { 'content-type': REGISTRY_CONTENT_TYPE },
    payload: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.statusCode, body: res.json() }
}

const money =
  'syntax = "proto3";\npackage money;\n\nmessage Amount {\n  int64 cents = 1;\n  string currency = 2;\n}\n'
const order = `syntax = "proto3";
package shop;
import "money.proto";

message Order {
  string id = 1;
  money.Amount total = 2;
  repeated Line lines = 3;
  message Line { string sku = 1; }
}
`
const moneyRef = [{ name: 'money.proto', subject: 'money-value', version: 1 }]
const avroUser = JSON.stringify({ type: 'record', name: 'User', fields: [{ name: 'id', type: 'int' }] })
const decode = (base64: string) => fromBinary(FileDescriptorProtoSchema, Buffer.from(base64, 'base64'))

describe('format=serialized', () => {
  it('answers a Protobuf schema as its FileDescriptorProto, importing its references by name; anything else as the text', async () => {
    await call('POST', '/subjects/money-value/versions', { schemaType: 'PROTOBUF', schema: money })
    const { body: registered } = await call('POST', '/subjects/orders-value/versions', {
      schemaType: 'PROTOBUF',
      schema: order,
      references: moneyRef,
    })
    const byId = await call('GET', `/schemas/ids/${registered.id}?format=serialized`)
    assert.equal(byId.status, 200)
    assert.equal(byId.body.schemaType, 'PROTOBUF')
    assert.deepEqual(byId.body.references, moneyRef)
    assert.equal(byId.body.schema, serializedProtobuf(order, [money]))
    const latest = await call('GET', '/subjects/orders-value/versions/latest?format=serialized')
    assert.equal(latest.body.schema, byId.body.schema)
    const text = await server.app.inject({
      url: '/subjects/orders-value/versions/1/schema?format=serialized',
    })
    assert.equal(text.body, byId.body.schema) // the schema alone, as the body

    // What Confluent's deserializer builds from it: the file, with the reference's descriptor under its name.
    const file = decode(byId.body.schema)
    assert.deepEqual(file.dependency, ['money.proto'])
    const dep = decode((await call('GET', '/subjects/money-value/versions/1?format=serialized')).body.schema)
    dep.name = 'money.proto'
    const linked = createFileRegistry(file, (name) => (name === 'money.proto' ? dep : undefined))
    assert.equal(linked.getMessage('shop.Order')?.field.total.message?.typeName, 'money.Amount')

    assert.equal((await call('GET', `/schemas/ids/${registered.id}`)).body.schema, order)
    const { body: avro } = await call('POST', '/subjects/users-value/versions', { schema: avroUser })
    assert.equal((await call('GET', `/schemas/ids/${avro.id}?format=serialized`)).body.schema, avroUser)
  })
})

describe('Protobuf schemas sent serialized', () => {
  // A descriptor of the same schema written differently, as a client would send it.
  const reformatted = order.replace(
    'repeated Line lines = 3;',
    'repeated .shop.Order.Line lines = 3; // lines',
  )
  const serialized = serializedProtobuf(reformatted, [money])
  const input = { schemaType: 'PROTOBUF', schema: serialized, references: moneyRef }

  it('find the version holding the same schema as text, and keep its id under another subject', async () => {
    const { body: v1 } = await call('GET', '/subjects/orders-value/versions/1')
    const found = await call('POST', '/subjects/orders-value', input)
    assert.equal(found.status, 200)
    assert.equal(found.body.id, v1.id)
    assert.equal(found.body.version, 1)
    assert.equal(found.body.schema, order)

    assert.deepEqual((await call('POST', '/subjects/orders-copy-value/versions', input)).body, { id: v1.id })
    assert.equal((await call('GET', '/subjects/orders-copy-value/versions/1')).body.schema, order)
    // Without the reference it is another schema (Confluent compares references too).
    const unreferenced = await call('POST', '/subjects/orders-value', { ...input, references: [] })
    assert.equal(unreferenced.body.error_code, 40403)
  })

  it('are kept as .proto text when new, checked for compatibility like text, and refused when not Protobuf', async () => {
    const v2 = order.replace('string id = 1;', 'string id = 1;\n  string note = 4;')
    const body = { ...input, schema: serializedProtobuf(v2, [money]) }
    assert.deepEqual((await call('POST', '/compatibility/subjects/orders-value/versions', body)).body, {
      is_compatible: true,
    })
    const { body: registered } = await call('POST', '/subjects/orders-value/versions', body)
    const { body: stored } = await call('GET', '/subjects/orders-value/versions/2')
    assert.equal(stored.id, registered.id)
    assert.match(stored.schema, /^syntax = "proto3";\npackage shop;\nimport "money.proto";\n/)
    assert.match(stored.schema, /\n {2}string note = 4;\n/)
    assert.ok(
      Buffer.from(fileDescriptorOf(stored.schema, [money])).equals(
        Buffer.from(fileDescriptorOf(v2, [money])),
      ),
    )

    const retyped = serializedProtobuf(order.replace('string id = 1;', 'int64 id = 1;'), [money])
    const verdict = await call('POST', '/compatibility/subjects/orders-value/versions/1?verbose=true', {
      ...input,
      schema: retyped,
    })
    assert.equal(verdict.body.is_compatible, false)
    assert.match(
      verdict.body.messages.join('\n'),
      /shop\.Order\.id \(1\): the type changed from string to int64/,
    )
    const bad = await call('POST', '/subjects/orders-value/versions', {
      schemaType: 'PROTOBUF',
      schema: Buffer.from('not a descriptor').toString('base64'),
    })
    assert.equal(bad.body.error_code, 42201)
  })
})
