// Ingest over HTTP: good requests are durable before the 2xx; bad ones get the documented 4xx with what was wrong
// with which record, and nothing of a rejected request, nor anything accepted before it, is lost or changed.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

let dir: string
let log: Log
let server: SluiceServer
let url: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  await log.admin().createTopic('clicks', { partitions: 2, config: { 'max.message.bytes': 64 * 1024 } })
  server = createServer({ log, bodyLimit: 256 * 1024, dashboardDir: null })
  ;({ url } = await server.listen({ port: 0 }))
})
after(async () => {
  await server.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

async function post(path: string, body: string, contentType = 'application/json') {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body })
  return {
    status: res.status,
    body: (await res.json()) as {
      error: { code: string; message: string; records: { index: number; message: string }[] }
    },
  }
}

async function stored(): Promise<unknown[]> {
  const c = log.consumer()
  await c.assign([
    { topic: 'clicks', partition: 0 },
    { topic: 'clicks', partition: 1 },
  ])
  await c.seek({ topic: 'clicks', partition: 0 }, 'earliest')
  await c.seek({ topic: 'clicks', partition: 1 }, 'earliest')
  const out: unknown[] = []
  for (let batch = await c.poll(); batch.length > 0; batch = await c.poll()) {
    for (const r of batch) out.push(JSON.parse(r.value!.toString()))
  }
  await c.close()
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}

describe('POST /v1/topics/:topic/records', () => {
  it('accepts one value, an array, and NDJSON, keyed by a field', async () => {
    assert.deepEqual(await post('/v1/topics/clicks/records?key=user', JSON.stringify({ user: 'a', n: 1 })), {
      status: 200,
      body: { accepted: 1 },
    })
    const arr = await post(
      '/v1/topics/clicks/records?key=user',
      JSON.stringify([
        { user: 'b', n: 2 },
        { user: 'c', n: 3 },
      ]),
    )
    assert.deepEqual(arr, { status: 200, body: { accepted: 2 } })
    const nd = await post(
      '/v1/topics/clicks/records',
      '{"user":"d","n":4}\n\n{"user":"e","n":5}\n',
      'application/x-ndjson',
    )
    assert.deepEqual(nd, { status: 200, body: { accepted: 2 } })
    assert.equal((await stored()).length, 5)
  })

  it('rejects bad input with a clear 4xx and writes nothing of it', async () => {
    const before = await stored()
    const cases: [string, string, string, number, RegExp][] = [
      ['invalid JSON', '/v1/topics/clicks/records', '{"user": ', 400, /not valid|JSON/],
      [
        'invalid NDJSON line',
        '/v1/topics/clicks/records',
        '{"user":"x"}\n{nope}\n',
        400,
        /1 of 2 records are invalid/,
      ],
      [
        'missing key field',
        '/v1/topics/clicks/records?key=user',
        '[{"user":"x"},{"name":"y"}]',
        400,
        /no field "user"/,
      ],
      ['unknown topic', '/v1/topics/nope/records', '{"a":1}', 404, /topic nope does not exist/],
      ['empty body', '/v1/topics/clicks/records', '[]', 400, /no records/],
      [
        'oversized body',
        '/v1/topics/clicks/records',
        JSON.stringify([{ pad: 'x'.repeat(300 * 1024) }]),
        413,
        /larger than the server accepts/,
      ],
      [
        'record over max.message.bytes',
        '/v1/topics/clicks/records',
        JSON.stringify({ pad: 'x'.repeat(100 * 1024) }),
        413,
        /max.message.bytes/,
      ],
    ]
    for (const [what, path, body, status, message] of cases) {
      const type = what.includes('NDJSON') ? 'application/x-ndjson' : 'application/json'
      const res = await post(path, body, type)
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`)
      assert.match(res.body.error.message, message, what)
      assert.match(res.body.error.code, /^SLUICE_ERR_/, what)
    }
    const ndjson = await post(
      '/v1/topics/clicks/records',
      '{"ok":1}\n{bad\n{"ok":2}\nalso bad\n',
      'application/x-ndjson',
    )
    assert.deepEqual(
      ndjson.body.error.records.map((r: { index: number }) => r.index),
      [1, 3],
    )
    assert.match(ndjson.body.error.records[0].message, /line 2 is not JSON/)
    assert.deepEqual(await stored(), before, 'nothing of a rejected request was written')
  })

  it('refuses an unsupported content type', async () => {
    const res = await post('/v1/topics/clicks/records', 'a,b,c', 'text/csv')
    assert.equal(res.status, 415)
    assert.match(res.body.error.message, /application\/json or application\/x-ndjson/)
  })
})

describe('status, metrics, health', () => {
  it('answers health, readiness, topics and metrics', async () => {
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' })
    assert.equal((await fetch(`${url}/readyz`)).status, 200)
    const topics = (await (await fetch(`${url}/v1/topics`)).json()) as { topics: { name: string }[] }
    assert.ok(topics.topics.some((t) => t.name === 'clicks'))
    const metrics = await fetch(`${url}/metrics`)
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/)
    assert.deepEqual(await (await fetch(`${url}/v1/pipelines`)).json(), { pipelines: [] })
    assert.equal((await fetch(`${url}/nowhere`)).status, 404)
  })

  it('streams status on the live feed', async () => {
    const controller = new AbortController()
    const res = await fetch(`${url}/v1/feed`, { signal: controller.signal })
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/)
    const reader = res.body!.getReader()
    const { value } = await reader.read()
    assert.match(new TextDecoder().decode(value), /event: status\ndata: \[\]/)
    controller.abort()
  })
})
