// Interop with Confluent's own client (@confluentinc/schemaregistry): it registers and looks up schemas on Sluice's
// registry, and records serialized by either side deserialize on the other, for Avro, JSON Schema and Protobuf.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { create, createFileRegistry, createMutableRegistry, type FileRegistry } from '@bufbuild/protobuf'
import {
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from '@bufbuild/protobuf/wkt'
import {
  AvroDeserializer,
  AvroSerializer,
  JsonDeserializer,
  JsonSerializer,
  ProtobufDeserializer,
  ProtobufSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { httpRegistry, subjectSerde } from '../../src/registry/client.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { avro } from '../../src/serde/avro.ts'
import { jsonSchema } from '../../src/serde/json-schema.ts'
import { protobufSerde } from '../../src/serde/protobuf.ts'
import { registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

let dir: string
let log: Log
let registry: SchemaRegistry
let server: SluiceServer
let client: SchemaRegistryClient
let url: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-interop-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  registry = await openSchemaRegistry({ log })
  server = createServer({ log, dashboardDir: null })
  registerSchemaRegistry(server.app, registry)
  ;({ url } = await server.listen({ port: 0 }))
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

// Three message types, a nested one, an enum and a map: Refund is the second message (message indexes [1]),
// Shipment the third ([2]), Order.Line the first nested one of the first ([0, 0]).
const shopProto = `syntax = "proto3";
package shop;

message Order {
  string id = 1;
  repeated Line lines = 2;
  Status status = 3;
  int64 placed_at = 4;
  map<string, string> tags = 5;

  message Line {
    string sku = 1;
    int32 quantity = 2;
    int64 cents = 3;
  }
}

enum Status {
  STATUS_UNSPECIFIED = 0;
  PLACED = 1;
  SHIPPED = 2;
}

message Refund {
  string order_id = 1;
  Order.Line line = 2;
  int64 cents = 3;
  optional string reason = 4;
}

message Shipment {
  string order_id = 1;
  repeated string parcels = 2;
}
`

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
const field = (name: string, number: number, type: Type, more: object = {}) => ({
  name,
  number,
  type,
  label: Label.OPTIONAL,
  jsonName: camel(name),
  ...more,
})

// The same file as protoc describes it to Confluent's client (what protoc-gen-es embeds in generated code): written
// out independently of Sluice, with fully qualified type names, json names, and the map entry type where protoc
// puts it, before Line.
const shopFile = create(FileDescriptorProtoSchema, {
  name: 'shop.proto',
  package: 'shop',
  syntax: 'proto3',
  messageType: [
    {
      name: 'Order',
      field: [
        field('id', 1, Type.STRING),
        field('lines', 2, Type.MESSAGE, { label: Label.REPEATED, typeName: '.shop.Order.Line' }),
        field('status', 3, Type.ENUM, { typeName: '.shop.Status' }),
        field('placed_at', 4, Type.INT64),
        field('tags', 5, Type.MESSAGE, { label: Label.REPEATED, typeName: '.shop.Order.TagsEntry' }),
      ],
      nestedType: [
        {
          name: 'TagsEntry',
          field: [field('key', 1, Type.STRING), field('value', 2, Type.STRING)],
          options: { mapEntry: true },
        },
        {
          name: 'Line',
          field: [
            field('sku', 1, Type.STRING),
            field('quantity', 2, Type.INT32),
            field('cents', 3, Type.INT64),
          ],
        },
      ],
    },
    {
      name: 'Refund',
      field: [
        field('order_id', 1, Type.STRING),
        field('line', 2, Type.MESSAGE, { typeName: '.shop.Order.Line' }),
        field('cents', 3, Type.INT64),
        field('reason', 4, Type.STRING, { oneofIndex: 0, proto3Optional: true }),
      ],
      oneofDecl: [{ name: '_reason' }],
    },
    {
      name: 'Shipment',
      field: [field('order_id', 1, Type.STRING), field('parcels', 2, Type.STRING, { label: Label.REPEATED })],
    },
  ],
  enumType: [
    {
      name: 'Status',
      value: [
        { name: 'STATUS_UNSPECIFIED', number: 0 },
        { name: 'PLACED', number: 1 },
        { name: 'SHIPPED', number: 2 },
      ],
    },
  ],
})
const shop: FileRegistry = createFileRegistry(shopFile, () => undefined)
const message = (typeName: string) => {
  const desc = shop.getMessage(typeName)
  assert.ok(desc, typeName)
  return desc
}

/** The message indexes after the magic byte and schema id, as the bytes Confluent's wire format gives them. */
const indexBytes = (bytes: Buffer, n: number) => [...bytes.subarray(5, 5 + n)]

describe('Protobuf interop with @confluentinc/schemaregistry', () => {
  let id: number

  before(async () => {
    id = await client.register('orders-value', { schemaType: 'PROTOBUF', schema: shopProto })
  })

  it('Confluent serializes each message type (looking its descriptor up by its serialized form); Sluice reads it by the message indexes', async () => {
    // Default configuration: the serializer sends the file's descriptor, base64, and asks for its id.
    const ser = new ProtobufSerializer(client, SerdeType.VALUE, { registry: createMutableRegistry(shop) })
    const ours = protobufSerde<Record<string, unknown>>({ schema: shopProto, id })

    const refund = await ser.serialize(
      'orders',
      create(message('shop.Refund'), {
        orderId: 'o-1',
        line: { sku: 'tea', quantity: 2, cents: 450n },
        cents: 900n,
        reason: 'cold',
      }),
    )
    assert.equal(refund.readUInt32BE(1), id)
    assert.deepEqual(indexBytes(refund, 2), [2, 2]) // one index, 1: zigzag varints
    const r = ours.deserialize(refund)
    assert.equal(r.order_id, 'o-1')
    assert.deepEqual(r.line, { sku: 'tea', quantity: 2, cents: '450' })
    assert.equal(r.cents, '900')
    assert.equal(r.reason, 'cold')

    const shipment = await ser.serialize(
      'orders',
      create(message('shop.Shipment'), { orderId: 'o-1', parcels: ['p-1', 'p-2'] }),
    )
    assert.deepEqual(indexBytes(shipment, 2), [2, 4])
    const s = ours.deserialize(shipment)
    assert.equal(s.order_id, 'o-1')
    assert.deepEqual(s.parcels, ['p-1', 'p-2'])

    const line = await ser.serialize(
      'orders',
      create(message('shop.Order.Line'), { sku: 'cake', quantity: 1 }),
    )
    assert.deepEqual(indexBytes(line, 3), [4, 0, 0])
    assert.deepEqual(ours.deserialize(line), { sku: 'cake', quantity: 1, cents: '0' })

    const order = await ser.serialize(
      'orders',
      create(message('shop.Order'), {
        id: 'o-1',
        lines: [{ sku: 'tea', quantity: 2, cents: 450n }],
        status: 2,
        placedAt: 1_700_000_000_000n,
        tags: { channel: 'app' },
      }),
    )
    assert.deepEqual(indexBytes(order, 1), [0]) // the first message: Confluent's single 0
    const o = ours.deserialize(order)
    assert.equal(o.id, 'o-1')
    assert.deepEqual(o.lines, [{ sku: 'tea', quantity: 2, cents: '450' }])
    assert.equal(o.status, 'SHIPPED')
    assert.equal(o.placed_at, '1700000000000')
    assert.deepEqual(o.tags, { channel: 'app' })
  })

  it('Sluice serializes messages that are not the first in the file; Confluent reads them from the serialized descriptor', async () => {
    const de = new ProtobufDeserializer(client, SerdeType.VALUE, {})

    const refunds = protobufSerde({ schema: shopProto, id, messageName: 'shop.Refund' })
    const refund = await de.deserialize(
      'orders',
      refunds.serialize({
        order_id: 'o-2',
        line: { sku: 'jam', quantity: 3, cents: '300' },
        cents: '9007199254740993', // past 2^53: exact both ways
        reason: 'late',
      }) as Buffer,
    )
    assert.equal(refund.$typeName, 'shop.Refund')
    assert.equal(refund.orderId, 'o-2')
    assert.equal(refund.line.$typeName, 'shop.Order.Line')
    assert.equal(refund.line.sku, 'jam')
    assert.equal(refund.line.quantity, 3)
    assert.equal(refund.line.cents, 300n)
    assert.equal(refund.cents, 9007199254740993n)
    assert.equal(refund.reason, 'late')

    const shipments = protobufSerde({ schema: shopProto, id, messageName: 'shop.Shipment' })
    const shipment = await de.deserialize(
      'orders',
      shipments.serialize({ order_id: 'o-2', parcels: ['p-9'] }) as Buffer,
    )
    assert.equal(shipment.$typeName, 'shop.Shipment')
    assert.equal(shipment.orderId, 'o-2')
    assert.deepEqual(shipment.parcels, ['p-9'])

    const lines = protobufSerde({ schema: shopProto, id, messageName: 'shop.Order.Line' })
    const line = await de.deserialize('orders', lines.serialize({ sku: 'tea', quantity: 4 }) as Buffer)
    assert.equal(line.$typeName, 'shop.Order.Line')
    assert.equal(line.sku, 'tea')
    assert.equal(line.quantity, 4)
    assert.equal(line.cents, 0n)
  })

  it('the serializer registers its descriptor: the same schema keeps its id, a new one is kept as .proto text', async () => {
    const ser = new ProtobufSerializer(client, SerdeType.VALUE, {
      autoRegisterSchemas: true,
      registry: createMutableRegistry(shop),
    })
    const bytes = await ser.serialize(
      'refunds',
      create(message('shop.Refund'), { orderId: 'o-3', cents: 5n }),
    )
    assert.equal(bytes.readUInt32BE(1), id)
    assert.equal((await client.getLatestSchemaMetadata('refunds-value')).schema, shopProto)

    // A file the registry has never seen: what the serializer registers is readable as text by Sluice's serde.
    const auditFile = create(FileDescriptorProtoSchema, {
      name: 'audit.proto',
      package: 'audit',
      syntax: 'proto3',
      messageType: [
        { name: 'Event', field: [field('id', 1, Type.STRING), field('at', 2, Type.INT64)] },
        {
          name: 'Batch',
          field: [field('events', 1, Type.MESSAGE, { label: Label.REPEATED, typeName: '.audit.Event' })],
        },
      ],
    })
    const audit = createFileRegistry(auditFile, () => undefined)
    const auditSer = new ProtobufSerializer(client, SerdeType.VALUE, {
      autoRegisterSchemas: true,
      registry: createMutableRegistry(audit),
    })
    const batchType = audit.getMessage('audit.Batch')
    assert.ok(batchType)
    const batch = await auditSer.serialize(
      'audit',
      create(batchType, {
        events: [
          { id: 'e-1', at: 17n },
          { id: 'e-2', at: 18n },
        ],
      }),
    )
    const latest = await client.getLatestSchemaMetadata('audit-value')
    assert.equal(batch.readUInt32BE(1), latest.id)
    assert.match(latest.schema, /^syntax = "proto3";\npackage audit;\n/)
    const ours = await subjectSerde<{ events: { id: string; at: string }[] }>(httpRegistry(url), {
      subject: 'audit-value',
    })
    assert.deepEqual(ours.deserialize(batch).events, [
      { id: 'e-1', at: '17' },
      { id: 'e-2', at: '18' },
    ])
  })
})
