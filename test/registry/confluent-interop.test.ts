// Interop with Confluent's own client (@confluentinc/schemaregistry): it registers and looks up schemas on Sluice's
// registry, and records serialized by either side deserialize on the other, for Avro and JSON Schema.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  AvroDeserializer,
  AvroSerializer,
  JsonDeserializer,
  JsonSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { avro } from '../../src/serde/avro.ts'
import { jsonSchema } from '../../src/serde/json-schema.ts'
import { registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

let dir: string
let log: Log
let registry: SchemaRegistry
let server: SluiceServer
let client: SchemaRegistryClient

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-interop-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  registry = await openSchemaRegistry({ log })
  server = createServer({ log, dashboardDir: null })
  registerSchemaRegistry(server.app, registry)
  const { url } = await server.listen({ port: 0 })
  client = new SchemaRegistryClient({ baseURLs: [url] })
})
after(async () => {
  client.close()
  await server.close()
  await registry.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

const bidV1 = {
  type: 'record',
  name: 'Bid',
  namespace: 'nexmark',
  fields: [
    { name: 'auction', type: 'long' },
    { name: 'price', type: 'long' },
  ],
}
const bidV2 = { ...bidV1, fields: [...bidV1.fields, { name: 'channel', type: 'string', default: 'web' }] }

describe('interop with @confluentinc/schemaregistry', () => {
  it('the client registers, looks up, and checks compatibility', async () => {
    const id = await client.register('c-value', { schemaType: 'AVRO', schema: JSON.stringify(bidV1) })
    assert.equal(await client.register('c-value', { schemaType: 'AVRO', schema: JSON.stringify(bidV1) }), id)
    const latest = await client.getLatestSchemaMetadata('c-value')
    assert.equal(latest.id, id)
    assert.equal(latest.version, 1)
    assert.equal(
      await client.testSubjectCompatibility('c-value', { schemaType: 'AVRO', schema: JSON.stringify(bidV2) }),
      true,
    )
    const broken = { ...bidV1, fields: [{ name: 'auction', type: 'string' }] }
    assert.equal(
      await client.testSubjectCompatibility('c-value', {
        schemaType: 'AVRO',
        schema: JSON.stringify(broken),
      }),
      false,
    )
    await assert.rejects(
      client.register('c-value', { schemaType: 'AVRO', schema: JSON.stringify(broken) }),
      (e: { status?: number; errorCode?: number }) => e.status === 409,
    )
    assert.deepEqual(await client.getAllSubjects(), ['c-value'])
  })

  it('Avro: Confluent serializes, Sluice deserializes with a newer reader; Sluice serializes, Confluent deserializes', async () => {
    await client.register('bids-value', { schemaType: 'AVRO', schema: JSON.stringify(bidV1) })
    const ser = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true })
    const bytes = await ser.serialize('bids', { auction: 7, price: 100 })
    const v1 = await client.getLatestSchemaMetadata('bids-value')
    const v2id = await client.register('bids-value', { schemaType: 'AVRO', schema: JSON.stringify(bidV2) })
    const ours = avro<Record<string, unknown>>({
      schema: bidV2,
      id: v2id,
      writerSchema: (id) => (id === v1.id ? v1.schema : undefined),
    })
    assert.deepEqual({ ...ours.deserialize(bytes) }, { auction: 7, price: 100, channel: 'web' })

    const written = ours.serialize({ auction: 8, price: 5, channel: 'app' }) as Buffer
    const de = new AvroDeserializer(client, SerdeType.VALUE, {})
    const read = await de.deserialize('bids', written)
    assert.deepEqual({ ...read }, { auction: 8, price: 5, channel: 'app' })
  })

  it('JSON Schema: both ways', async () => {
    const schema = JSON.stringify({
      type: 'object',
      properties: { user: { type: 'string' }, clicks: { type: 'integer' } },
      required: ['user'],
    })
    const id = await client.register('clicks-value', { schemaType: 'JSON', schema })
    const ser = new JsonSerializer(client, SerdeType.VALUE, { useLatestVersion: true })
    const bytes = await ser.serialize('clicks', { user: 'ann', clicks: 3 })
    const ours = jsonSchema({ schema, id })
    assert.deepEqual(ours.deserialize(bytes), { user: 'ann', clicks: 3 })
    const de = new JsonDeserializer(client, SerdeType.VALUE, {})
    assert.deepEqual(await de.deserialize('clicks', ours.serialize({ user: 'bo' }) as Buffer), { user: 'bo' })
  })
})
