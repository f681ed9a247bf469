// The Redis sink against a real redis-server: results appear only at commit, as upserts (a replay leaves Redis as it
// was), with expiry; after a crash, open() applies what the log committed and drops the rest; errors name Redis.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { Redis } from 'ioredis'
import { isSluiceError, type Rec, type RedisWrite, redisSink, type SinkContext } from '../../src/index.ts'
import { dump, type RedisServer, skipWithoutRedis, startRedis } from './redis-server.ts'

const ctx: SinkContext = { pipeline: 'p', step: 'out', taskId: '0_0', partition: 0 }
const staging = 'sluice:staging:p:out:0_0'

/** Records say what to write: page views per window as a hash, a top list as a sorted set, a total as a string. */
type Result =
  | { window: number; page: string; views: number }
  | { top: Record<string, number> }
  | { total: number }

function writes(r: Rec<unknown, Result>): RedisWrite[] {
  const v = r.value
  if ('page' in v) return [{ type: 'hash', key: `views:${v.window}`, fields: { [v.page]: v.views } }]
  if ('top' in v) return [{ type: 'zset', key: 'top', members: v.top }]
  return [{ type: 'string', key: 'total', value: v.total }]
}

const rec = (value: Result): Rec<unknown, Result> => ({ key: null, value, timestamp: 0 })

describe('redis sink', { skip: skipWithoutRedis() }, () => {
  let server: RedisServer
  let client: Redis
  before(async () => {
    server = await startRedis()
    client = server.client()
  })
  after(async () => {
    await server?.stop()
  })
  beforeEach(async () => {
    await client.flushall()
  })

  const sink = (ttlSeconds?: number) =>
    redisSink<unknown, Result>({ url: server.url, writes, ttlSeconds })(ctx)
  const batch = [
    rec({ window: 0, page: '/a', views: 1 }),
    rec({ window: 0, page: '/b', views: 1 }),
    rec({ window: 0, page: '/a', views: 2 }),
    rec({ top: { '/a': 2, '/b': 1 } }),
    rec({ total: 3 }),
  ]
  const after1 = { 'views:0': { '/a': '2', '/b': '1' }, top: { '/a': 2, '/b': 1 }, total: '3' }

  it('shows results only once committed, then exactly the upserts, with expiry', async () => {
    const s = sink(600)
    await s.open(ctx, null)
    s.write(batch)
    await s.prepare(1)
    assert.deepEqual(Object.keys(await dump(client)), [staging])
    await s.commit(1)
    assert.deepEqual(await dump(client), after1)
    for (const key of ['views:0', 'top', 'total']) {
      const ttl = await client.ttl(key)
      assert.ok(ttl > 590 && ttl <= 600, `${key} ttl ${ttl}`)
    }
    await s.commit(1) // repeated after a crash: nothing changes
    assert.deepEqual(await dump(client), after1)
    await s.close()
  })

  it('a replay of the same records leaves Redis as it was; later results replace earlier ones', async () => {
    for (let run = 0; run < 2; run++) {
      const s = sink()
      await s.open(ctx, null)
      s.write(batch)
      await s.prepare(1)
      await s.commit(1)
      await s.close()
      assert.deepEqual(await dump(client), after1, `run ${run}`)
    }
    const s = sink()
    await s.open(ctx, 1)
    s.write([rec({ window: 0, page: '/c', views: 5 }), rec({ top: { '/c': 5 } })])
    await s.prepare(2)
    await s.commit(2)
    await s.close()
    // hash fields merge; the sorted set is replaced whole, so /a and /b leave it
    assert.deepEqual(await dump(client), {
      ...after1,
      'views:0': { '/a': '2', '/b': '1', '/c': '5' },
      top: { '/c': 5 },
    })
  })

  it('after a crash, open() applies what the log committed and drops what it did not', async () => {
    const before = sink()
    await before.open(ctx, null)
    before.write([rec({ total: 1 })])
    await before.prepare(1)
    before.write([rec({ total: 2 })])
    await before.prepare(2)
    // the process dies here, before either sink commit; the log had committed id 1 only
    const restarted = redisSink<unknown, Result>({ url: server.url, writes })(ctx)
    await restarted.open(ctx, 1)
    assert.deepEqual(await dump(client), { total: '1' })
    await restarted.close()
    await before.close()
  })

  it('an aborted commit leaves nothing behind', async () => {
    const s = sink()
    await s.open(ctx, null)
    s.write(batch)
    await s.prepare(1)
    await s.abort(1)
    await s.prepare(2) // nothing written since: nothing staged
    await s.commit(2)
    assert.deepEqual(await dump(client), {})
    await s.close()
  })

  it('tasks share one connection, closed with the last of them', async () => {
    const factory = redisSink<unknown, Result>({ url: server.url, writes })
    const a = factory(ctx)
    const b = factory({ ...ctx, taskId: '0_1', partition: 1 })
    await a.open(ctx, null)
    await b.open({ ...ctx, taskId: '0_1', partition: 1 }, null)
    const clientsWhileOpen = (await client.client('LIST')) as string
    await a.close()
    await b.close()
    await new Promise((r) => setTimeout(r, 100))
    const clientsAfter = (await client.client('LIST')) as string
    assert.equal(clientsWhileOpen.trim().split('\n').length, 2) // the test's own client and the sink's
    assert.equal(clientsAfter.trim().split('\n').length, 1)
  })

  it('an unreachable Redis is a SLUICE_ERR_CONNECTION naming its address', async () => {
    const s = redisSink({ url: 'redis://127.0.0.1:1', writes: () => [] })(ctx)
    await assert.rejects(
      s.open(ctx, null),
      (err) => isSluiceError(err, 'SLUICE_ERR_CONNECTION') && /127\.0\.0\.1:1\b/.test(err.message),
    )
    await s.close()
  })
})
