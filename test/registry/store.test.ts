// The registry store keeps its state in the compacted `_schemas` topic: a restarted registry, and a second one over
// the same log, see the same subjects, versions, ids and levels.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isSluiceError } from '../../src/errors/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { openSchemaRegistry, parseVersion } from '../../src/registry/store.ts'

let dir: string
let log: Log

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-registry-store-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
})
after(async () => {
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

const schema = (n: number) =>
  JSON.stringify({
    type: 'record',
    name: 'R',
    fields: Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: 'int', default: 0 })),
  })

describe('schema registry store', () => {
  it('two registries over one log agree, and a reopened one sees everything', async () => {
    const a = await openSchemaRegistry({ log })
    const b = await openSchemaRegistry({ log })
    assert.deepEqual(await a.register('s', { schema: schema(1) }), { id: 1, version: 1 })
    assert.deepEqual(await b.register('s', { schema: schema(2) }), { id: 2, version: 2 })
    assert.deepEqual(await a.register('t', { schema: schema(2) }), { id: 2, version: 1 })
    await b.setLevel('s', 'FULL_TRANSITIVE')
    await a.deleteVersion('s', 1)
    assert.deepEqual(await b.versions('s'), [2])
    assert.equal(await a.subjectLevel('s'), 'FULL_TRANSITIVE')
    await a.close()
    await b.close()

    const c = await openSchemaRegistry({ log })
    assert.deepEqual(await c.subjects(), ['s', 't'])
    assert.deepEqual(await c.versions('s', { deleted: true }), [1, 2])
    assert.equal((await c.version('s', 'latest')).id, 2)
    assert.equal((await c.schemaById(1)).schema, schema(1))
    assert.equal(await c.subjectLevel('s'), 'FULL_TRANSITIVE')
    // New ids continue after the highest one seen.
    assert.deepEqual(await c.register('u', { schema: schema(3) }), { id: 3, version: 1 })
    await c.close()
  })

  it('resolves JSON Schema references: $ref by reference name, 42201 for what does not resolve', async () => {
    const registry = await openSchemaRegistry({ log, topic: '_schemas_json_refs' })
    const customer = (name: object) =>
      JSON.stringify({ type: 'object', properties: { name }, definitions: { Tag: { type: 'string' } } })
    // A subject of shared definitions, evolved freely; its users' subjects judge each change.
    await registry.setLevel('customer', 'NONE')
    await registry.register('customer', { schemaType: 'JSON', schema: customer({ type: 'string' }) })
    const order = JSON.stringify({
      type: 'object',
      properties: { buyer: { $ref: 'customer.json' }, tag: { $ref: 'customer.json#/definitions/Tag' } },
    })
    const on = (version: number) => [{ name: 'customer.json', subject: 'customer', version }]
    const v1 = await registry.register('order', { schemaType: 'JSON', schema: order, references: on(1) })
    assert.deepEqual((await registry.version('order', 1)).references, on(1))

    const invalid = (pattern: RegExp) => (e: unknown) =>
      isSluiceError(e) && e.details.errorCode === 42201 && pattern.test(e.message)
    await assert.rejects(
      registry.register('order', { schemaType: 'JSON', schema: order }),
      invalid(/\$ref "customer.json" names no schema: it is not among the schema's references/),
    )
    await assert.rejects(
      registry.register('order', { schemaType: 'JSON', schema: order, references: on(9) }),
      invalid(/the reference "customer.json" names version 9 of subject "customer", which does not exist/),
    )
    const elsewhere = [{ name: 'other.json', subject: 'customer', version: 1 }]
    await assert.rejects(
      registry.register('order', { schemaType: 'JSON', schema: order, references: elsewhere }),
      invalid(
        /\$ref "customer.json" names no schema: it is not among the schema's references \("other.json"\)/,
      ),
    )

    // The same order over a narrower customer: incompatible, and not the version already registered.
    await registry.register('customer', {
      schemaType: 'JSON',
      schema: customer({ type: 'string', maxLength: 5 }),
    })
    const narrower = { schemaType: 'JSON' as const, schema: order, references: on(2) }
    assert.deepEqual(await registry.compatibility('order', undefined, narrower), [
      'BACKWARD: the new schema cannot read version 1: /buyer/name: maxLength was lowered or added',
    ])
    await assert.rejects(
      registry.register('order', narrower),
      (e) => isSluiceError(e) && e.details.errorCode === 409,
    )
    // Over a wider one it is compatible, and a new version with an id of its own.
    await registry.register('customer', {
      schemaType: 'JSON',
      schema: customer({ type: ['string', 'null'] }),
    })
    const wider = { schemaType: 'JSON' as const, schema: order, references: on(3) }
    assert.deepEqual(await registry.compatibility('order', undefined, wider), [])
    const v2 = await registry.register('order', wider)
    assert.equal(v2.version, 2)
    assert.notEqual(v2.id, v1.id)
    assert.equal((await registry.lookup('order', wider)).version, 2)
    await registry.close()
  })

  it('parses versions as Confluent does', () => {
    assert.equal(parseVersion('latest'), 'latest')
    assert.equal(parseVersion('-1'), 'latest')
    assert.equal(parseVersion('7'), 7)
    for (const bad of ['0', '1.5', 'x', '2147483648', '']) {
      assert.throws(
        () => parseVersion(bad),
        (e) => isSluiceError(e) && e.details.errorCode === 42202,
        bad,
      )
    }
  })
})
