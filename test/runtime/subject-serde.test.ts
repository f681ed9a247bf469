// Serdes named by subject in the DSL: bound to the registry when the pipeline starts, the reader schema checked
// against the subject first (an incompatible one stops the start, naming the step, subject and problem), old
// records read through the writer's schema, and records that are not of the subject dead-lettered.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isSluiceError, pipeline, subject } from '../../src/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { httpRegistry, subjectSerde } from '../../src/registry/client.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { parseDeadLetter } from '../../src/runtime/dead-letters.ts'
import { runPipeline } from '../../src/runtime/runner.ts'
import { registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

const record = (fields: object[]) =>
  JSON.stringify({ type: 'record', name: 'Order', namespace: 'shop', fields })
const v1 = record([
  { name: 'id', type: 'long' },
  { name: 'amount', type: 'double' },
])
const v2 = record([
  { name: 'id', type: 'long' },
  { name: 'amount', type: 'double' },
  { name: 'currency', type: 'string', default: 'EUR' },
])
const incompatible = record([
  { name: 'id', type: 'long' },
  { name: 'amount', type: 'double' },
  { name: 'country', type: 'string' }, // no default: records without it cannot be read
])

let dir: string
let log: Log
let registry: SchemaRegistry
let server: SluiceServer
let url: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-subject-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  registry = await openSchemaRegistry({ log })
  server = createServer({ log, dashboardDir: null })
  registerSchemaRegistry(server.app, registry)
  ;({ url } = await server.listen({ port: 0 }))
  const admin = log.admin()
  await admin.createTopic('orders', { partitions: 1 })
  await admin.createTopic('totals', { partitions: 1 })
  // a producer of v1 orders, and one record that is not Avro at all
  const writer = await subjectSerde<{ id: number; amount: number }>(httpRegistry(url), {
    subject: 'orders-value',
    schema: v1,
    register: true,
  })
  const producer = log.producer()
  await producer.send([
    { topic: 'orders', value: writer.serialize({ id: 1, amount: 2.5 }) },
    { topic: 'orders', value: Buffer.from('{"id":2,"amount":1}') },
    { topic: 'orders', value: writer.serialize({ id: 3, amount: 4 }) },
  ])
  await producer.close()
})
after(async () => {
  await server.close()
  await registry.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

function ordersPipeline(name: string, schema: string) {
  const p = pipeline(name)
  p.source<string | null, { id: number; amount: number; currency: string }>('read-orders', {
    topic: 'orders',
    value: subject({ subject: 'orders-value', schema, register: true }),
  })
    .map((o) => ({ id: o.id, amount: o.amount, currency: o.currency }), { name: 'row' })
    .to('totals')
  return p
}

async function readAll(topic: string) {
  const c = log.consumer({ isolationLevel: 'read_committed' })
  await c.assign([{ topic, partition: 0 }])
  await c.seek({ topic, partition: 0 }, 'earliest')
  const out = await c.poll({ timeoutMs: 0 })
  await c.close()
  return out
}

describe('subject serdes in the DSL', () => {
  it('are checked and bound at start, read old records with the new schema, and dead-letter the rest', async () => {
    const run = await runPipeline(ordersPipeline('orders-v2', v2), {
      log,
      registry: url,
      stateDir: join(dir, 'state'),
      commitIntervalMs: 10,
    })
    const deadline = Date.now() + 20_000
    while ((run.committedOffsets().get('orders:0') ?? 0) < 3) {
      assert.ok(Date.now() < deadline, 'the input was not committed')
      await new Promise((r) => setTimeout(r, 10))
    }
    await run.stop()
    assert.deepEqual(
      (await readAll('totals')).map((r) => JSON.parse(r.value!.toString())),
      [
        { id: 1, amount: 2.5, currency: 'EUR' },
        { id: 3, amount: 4, currency: 'EUR' },
      ],
    )
    const [dead] = (await readAll('orders-v2-dead-letters')).map((r) => parseDeadLetter(r)!)
    assert.equal(dead.offset, 1)
    assert.equal(dead.code, 'SLUICE_ERR_SERDE')
    assert.match(dead.message, /step read-orders cannot read the record at orders\/0 offset 1/)
    assert.equal(dead.value!.toString(), '{"id":2,"amount":1}')
    assert.ok((await registry.versions('orders-value')).length === 2, 'v2 was registered')
  })

  it('learn writer schemas registered after the pipeline started, before the records that need them', async () => {
    const admin = log.admin()
    await admin.createTopic('later', { partitions: 1 })
    await admin.createTopic('later-out', { partitions: 1 })
    const p = pipeline('later-app')
    p.source<string | null, { id: number; amount: number }>('read-later', {
      topic: 'later',
      value: subject({ subject: 'later-value', schema: v1, register: true }),
    })
      .map((o) => o.id, { name: 'id' })
      .to('later-out')
    const run = await runPipeline(p, {
      log,
      registry: url,
      stateDir: join(dir, 'state'),
      commitIntervalMs: 10,
    })
    // a producer evolves the subject while the pipeline runs
    const writer = await subjectSerde<Record<string, unknown>>(httpRegistry(url), {
      subject: 'later-value',
      schema: v2,
      register: true,
    })
    const producer = log.producer()
    await producer.send([{ topic: 'later', value: writer.serialize({ id: 7, amount: 1, currency: 'USD' }) }])
    await producer.close()
    const deadline = Date.now() + 20_000
    while ((run.committedOffsets().get('later:0') ?? 0) < 1) {
      assert.ok(Date.now() < deadline, 'the input was not committed')
      await new Promise((r) => setTimeout(r, 10))
    }
    await run.stop()
    assert.deepEqual(
      (await readAll('later-out')).map((r) => JSON.parse(r.value!.toString())),
      [7],
    )
    assert.deepEqual(await readAll('later-app-dead-letters'), [])
  })

  it('stop the start when the reader schema is not compatible with the subject, naming step and problem', async () => {
    await assert.rejects(
      runPipeline(ordersPipeline('orders-bad', incompatible), {
        log,
        registry: url,
        stateDir: join(dir, 'state'),
      }),
      (err: unknown) =>
        isSluiceError(err) &&
        err.code === 'SLUICE_ERR_INVALID_CONFIG' &&
        err.message.startsWith(
          'step read-orders (topic orders): the AVRO schema for subject "orders-value" is not compatible',
        ) &&
        /country/.test(err.message),
    )
  })

  it('need a registry, and say so', async () => {
    await assert.rejects(
      runPipeline(ordersPipeline('orders-none', v2), { log, stateDir: join(dir, 'state') }),
      /step read-orders \(topic orders\) uses the schema of subject "orders-value", but the pipeline was started without a registry/,
    )
  })
})
