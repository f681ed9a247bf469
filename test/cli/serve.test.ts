// `sluice serve`: one process serves ingest, the schema registry, metrics and health on loopback, and stops on
// SIGINT.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { Sandbox } from './helpers.ts'

let sb: Sandbox
beforeEach(async () => {
  sb = await Sandbox.create()
})
afterEach(async () => {
  await sb.cleanup()
})

describe('sluice serve', () => {
  it('serves ingest and the schema registry, then stops on SIGINT', async () => {
    await sb.ok(['topics', 'create', 'events', '--partitions', '1'])
    const proc = sb.start(['serve', '--port', '0', '--json'])
    await proc.waitFor((p) => p.stderr.includes('"listening"'), 'the server to listen')
    const url = JSON.parse(proc.stderr.split('\n').find((l) => l.includes('"listening"'))!).url as string
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const ingest = await fetch(`${url}/v1/topics/events/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ a: 1 }, { a: 2 }]),
    })
    assert.deepEqual(await ingest.json(), { accepted: 2 })
    const schema = JSON.stringify({ type: 'record', name: 'E', fields: [{ name: 'a', type: 'int' }] })
    const registered = await fetch(`${url}/subjects/events-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema }),
    })
    assert.equal(registered.status, 200)
    const { id } = (await registered.json()) as { id: number }
    const fetched = (await (await fetch(`${url}/schemas/ids/${id}`)).json()) as { schema: string }
    assert.deepEqual(JSON.parse(fetched.schema), JSON.parse(schema))
    assert.deepEqual(await (await fetch(`${url}/subjects`)).json(), ['events-value'])
    proc.child.kill('SIGINT')
    const result = await proc.exited
    assert.equal(result.code, 0, result.stderr)
  })
})
