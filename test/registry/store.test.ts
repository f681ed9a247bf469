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
