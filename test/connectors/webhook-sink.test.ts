// The webhook sink against a real HTTP receiver on loopback that answers 503, 429 with Retry-After, drops
// connections and stalls: every record arrives, retries carry the same idempotency key so the receiver counts each
// once, and a receiver that refuses a record (4xx) stops the pipeline with a message naming the key.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pipeline, runPipeline, webhookSink } from '../../src/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'

interface Receiver {
  server: Server
  url: string
  /** Bodies by idempotency key, each kept once. */
  seen: Map<string, unknown>
  requests: number
}

async function body(req: IncomingMessage): Promise<string> {
  let s = ''
  for await (const chunk of req) s += chunk
  return s
}

/** A receiver that misbehaves on the first attempts of chosen keys, as a flaky alerting service would. */
async function receiver(misbehave: (key: string, attempt: number) => string | null): Promise<Receiver> {
  const attempts = new Map<string, number>()
  const r: Receiver = { server: null as unknown as Server, url: '', seen: new Map(), requests: 0 }
  r.server = createServer(async (req, res) => {
    r.requests++
    const key = String(req.headers['idempotency-key'])
    const text = await body(req)
    const n = (attempts.get(key) ?? 0) + 1
    attempts.set(key, n)
    const how = misbehave(key, n)
    if (how === 'drop') return req.socket.destroy()
    if (how === 'stall') return // never answers: the sink's timeout retries
    if (how === '503') return res.writeHead(503).end()
    if (how === '429') return res.writeHead(429, { 'retry-after': '0' }).end()
    if (how === '400') return res.writeHead(400).end('bad alert')
    if (!r.seen.has(key)) r.seen.set(key, JSON.parse(text))
    res.writeHead(r.seen.has(key) ? 200 : 201).end()
  })
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve))
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/alerts`
  return r
}

let dir: string
let log: Log
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-webhook-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
})
after(async () => {
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

function alertsPipeline(name: string, url: string, n: number) {
  const p = pipeline(name)
  const alerts = Array.from({ length: n }, (_, i) => ({
    key: `acc-${i % 7}`,
    value: { id: `alert-${i}`, i },
    timestamp: i,
  }))
  p.fromRecords('alerts', alerts).sink(
    webhookSink<string, { id: string; i: number }>({
      url,
      key: (r) => r.value.id,
      backoffMs: 5,
      maxBackoffMs: 20,
      timeoutMs: 300,
    }),
    { name: 'notify' },
  )
  return p
}

describe('webhook sink', () => {
  it('delivers every record once as the receiver counts, through 503s, 429s, dropped and stalled requests', async () => {
    const r = await receiver((key, attempt) => {
      const i = Number(key.slice('alert-'.length))
      if (attempt > 2) return null
      return ['503', '429', 'drop', 'stall', null, null][i % 6]
    })
    try {
      const run = await runPipeline(alertsPipeline('webhook-ok', r.url, 60), {
        log,
        stateDir: join(dir, 'state'),
      })
      await run.done
      assert.equal(r.seen.size, 60)
      for (let i = 0; i < 60; i++) assert.deepEqual(r.seen.get(`alert-${i}`), { id: `alert-${i}`, i })
      assert.ok(r.requests > 60 + 30, `retries happened: ${r.requests} requests`)
    } finally {
      r.server.closeAllConnections()
      r.server.close()
    }
  })

  it('stops the pipeline when the receiver refuses a record, naming its key', async () => {
    const r = await receiver((key) => (key === 'alert-3' ? '400' : null))
    try {
      const run = await runPipeline(alertsPipeline('webhook-refused', r.url, 5), {
        log,
        stateDir: join(dir, 'state'),
      })
      await assert.rejects(
        run.done,
        /webhook http:\/\/127\.0\.0\.1:\d+\/alerts refused the record with idempotency key alert-3: HTTP 400/,
      )
    } finally {
      r.server.closeAllConnections()
      r.server.close()
    }
  })
})
