// The clickstream app end to end on the embedded log with a real redis-server: exactly the expected keys and values
// (from the reference), with expiry; and a replay of the same input from scratch leaves Redis exactly as it was.
// Traffic without late events, so that results do not depend on how the runtime batches records.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { createClickstreamApp, createClickstreamTopics } from '../../../apps/clickstream/app.ts'
import { generateClicks, type SimEvent } from '../../../apps/clickstream/simulator.ts'
import type { ClickstreamSnapshot } from '../../../apps/clickstream/view.ts'
import { openEmbeddedLog } from '../../../src/log/index.ts'
import { runPipeline } from '../../../src/runtime/runner.ts'
import { dump, type RedisServer, skipWithoutRedis, startRedis } from '../../connectors/redis-server.ts'
import { type Reference, reference, top10 } from './reference.ts'

const PARTITIONS = 4
const SLIDE = 300_000
const LATENESS = 10_000

/** What Redis must hold once every input record is processed (and the input has not ended). */
function expectedKeys(ref: Reference): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const windows: Record<string, number> = {}
  for (const w of ref.windows.values()) {
    out[`clickstream:views:${w.start}`] = Object.fromEntries([...w.views].map(([p, n]) => [p, String(n)]))
    out[`clickstream:active:${w.start}`] = String(w.users.size)
    out[`clickstream:top:${w.start}`] = Object.fromEntries(top10(w.views).map((p) => [p.page, p.views]))
    windows[w.start] = w.start
  }
  out['clickstream:windows'] = windows
  // five-minute windows are final: only those the watermark closed
  for (const [start, users] of ref.slidingUsers) {
    if (start + SLIDE - 1 + LATENESS <= ref.watermark)
      out[`clickstream:active5m:${start}`] = String(users.size)
  }
  out['clickstream:totals'] = { 'dead-letters': String(ref.deadLetters) }
  return out
}

/** True once the view shows every result: Redis is written first in the same commit, so it has them too. */
function complete(s: ClickstreamSnapshot, ref: Reference, lastSliding: number): boolean {
  const latestSliding = s.activeUsers5m[0]?.start ?? Number.NEGATIVE_INFINITY
  return (
    s.totals.views === ref.accepted &&
    s.totals.deadLetters === ref.deadLetters &&
    latestSliding === lastSliding &&
    s.windows.length === ref.windows.size &&
    s.windows.every((w) => {
      const r = ref.windows.get(w.start)
      return (
        r !== undefined &&
        w.activeUsers === r.users.size &&
        JSON.stringify(w.topPages) === JSON.stringify(top10(r.views))
      )
    })
  )
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('clickstream results in Redis', { skip: skipWithoutRedis() }, () => {
  let server: RedisServer
  let client: Redis
  let dir: string
  before(async () => {
    server = await startRedis()
    client = server.client()
    dir = mkdtempSync(join(tmpdir(), 'sluice-clickstream-redis-'))
  })
  after(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const events = generateClicks({
    seed: 7,
    rate: 20,
    durationMs: 8 * 60_000,
    delayedShare: 0.1,
    lateShare: 0,
    malformedShare: 0.03,
  })
  const ref = reference(events, PARTITIONS)
  const want = expectedKeys(ref)
  const lastSliding = Math.max(
    ...Object.keys(want)
      .filter((k) => k.startsWith('clickstream:active5m:'))
      .map((k) => Number(k.split(':')[2])),
  )

  /** One run from an empty log: the events produced as ingest would, the app run until its results are complete. */
  async function runFromScratch(name: string, input: readonly SimEvent[]): Promise<void> {
    const log = await openEmbeddedLog({ dataDir: join(dir, name, 'log') })
    try {
      await createClickstreamTopics(log, { partitions: PARTITIONS })
      const producer = log.producer()
      await producer.send(
        input.map((e, i) => ({
          topic: 'clicks',
          partition: ref.partitions[i],
          key: e.key === undefined ? null : Buffer.from(JSON.stringify(e.key)),
          value: Buffer.from(e.line),
          timestamp: e.at,
        })),
      )
      await producer.close()
      const app = createClickstreamApp({ redisUrl: server.url, viewWindows: 60 })
      assert.equal(app.store, 'redis')
      const run = await runPipeline(app.pipeline, {
        log,
        stateDir: join(dir, name, 'state'),
        commitIntervalMs: 50,
      })
      try {
        await waitFor(`${name}: every result committed`, () =>
          complete(app.view.snapshot(), ref, lastSliding),
        )
      } finally {
        await run.stop()
      }
    } finally {
      await log.close()
    }
  }

  it('holds exactly the expected keys and values, each with an expiry', async () => {
    assert.ok(ref.windows.size >= 8 && ref.deadLetters > 0 && Number.isFinite(lastSliding))
    await runFromScratch('first', events)
    assert.deepEqual(await dump(client), want)
    for (const key of Object.keys(want)) {
      const ttl = await client.ttl(key)
      assert.ok(ttl > 0 && ttl <= 86_400, `${key} expires in ${ttl} s`)
    }
  })

  it('a replay of the same input from scratch leaves Redis exactly as it was', async () => {
    const before = await dump(client)
    assert.deepEqual(before, want)
    await runFromScratch('replay', events)
    assert.deepEqual(await dump(client), before)
  })
})
