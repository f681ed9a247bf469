// The Postgres sink against a real PostgreSQL server: rows appear only when their commit does, a crash between the
// sink's prepare and commit is finished by the next open() as the log decided, and a pipeline's results land
// exactly once (plain INSERTs into a primary key, so a repeated row would be an error, not a silent duplicate).
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { postgresSink } from '../../src/connectors/postgres-sink.ts'
import { pipeline, runPipeline } from '../../src/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { type PostgresServer, skipWithoutPostgres, startPostgres } from './postgres-server.ts'

const skip = skipWithoutPostgres()

describe('postgres sink', { skip }, () => {
  let pgServer: PostgresServer
  before(async () => {
    pgServer = await startPostgres()
  })
  after(() => pgServer?.stop())

  const rows = async (table: string) => {
    const c = await pgServer.client()
    const r = await c.query(`SELECT id, total FROM ${table} ORDER BY id`)
    await c.end()
    return r.rows.map((x) => [x.id, Number(x.total)])
  }
  const sinkFor = (table: string) =>
    postgresSink<string, { id: string; total: number }>({
      url: pgServer.url,
      setup: [{ text: `CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, total numeric NOT NULL)` }],
      statements: (r) => [
        { text: `INSERT INTO ${table} (id, total) VALUES ($1, $2)`, values: [r.value.id, r.value.total] },
      ],
    })
  const ctx = { pipeline: 'p', step: 'out', taskId: '0_0', partition: 0 }
  const rec = (id: string, total: number) => ({ key: id, value: { id, total }, timestamp: 0 })

  it('shows an interval only once it is committed, and a repeated commit is harmless', async () => {
    const sink = sinkFor('visible')(ctx)
    await sink.open(ctx, null)
    sink.write([rec('a', 1), rec('b', 2)])
    await sink.prepare(1)
    assert.deepEqual(await rows('visible'), [])
    await sink.commit(1)
    assert.deepEqual(await rows('visible'), [
      ['a', 1],
      ['b', 2],
    ])
    await sink.commit(1)
    await sink.close()
  })

  it('after a crash, open() commits what the log committed and rolls back the rest', async () => {
    const before = sinkFor('crash')(ctx)
    await before.open(ctx, null)
    before.write([rec('a', 1)])
    await before.prepare(1)
    await before.commit(1)
    before.write([rec('b', 2)])
    await before.prepare(2)
    await before.close() // the process dies here: commit 2 is prepared in Postgres, the log did not commit it
    const after = sinkFor('crash')(ctx)
    await after.open(ctx, 1)
    assert.deepEqual(await rows('crash'), [['a', 1]])
    after.write([rec('b', 2)])
    await after.prepare(2) // the replayed interval gets the same id
    await after.close() // dies again, but this time the log committed 2 before it died
    const again = sinkFor('crash')(ctx)
    await again.open(ctx, 2)
    assert.deepEqual(await rows('crash'), [
      ['a', 1],
      ['b', 2],
    ])
    await again.close()
  })

  it("a pipeline's results land exactly once, across a stop and restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-'))
    const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    try {
      await log.admin().createTopic('orders', { partitions: 2 })
      const send = async (from: number, n: number) => {
        const producer = log.producer()
        await producer.send(
          Array.from({ length: n }, (_, i) => ({
            topic: 'orders',
            key: Buffer.from(JSON.stringify(`o${from + i}`)),
            value: Buffer.from(JSON.stringify({ id: `o${from + i}`, total: from + i })),
          })),
        )
        await producer.close()
      }
      const p = () => {
        const x = pipeline('orders-to-pg')
        x.source<string, { id: string; total: number }>('orders', { topic: 'orders' }).sink(
          sinkFor('orders'),
          {
            name: 'to-pg',
          },
        )
        return x
      }
      const options = { log, stateDir: join(dir, 'state'), commitIntervalMs: 20 }
      const until = async (run: Awaited<ReturnType<typeof runPipeline>>, n: number) => {
        const deadline = Date.now() + 20_000
        while ([...run.committedOffsets().values()].reduce((a, b) => a + b, 0) < n) {
          assert.ok(Date.now() < deadline, 'the input was not committed')
          await new Promise((r) => setTimeout(r, 20))
        }
      }
      await send(0, 50)
      let run = await runPipeline(p(), options)
      await until(run, 50)
      await run.stop()
      await send(50, 50)
      run = await runPipeline(p(), options)
      await until(run, 100)
      await run.stop()
      const got = await rows('orders')
      assert.equal(got.length, 100)
      assert.deepEqual(got.map(([id]) => id).sort(), Array.from({ length: 100 }, (_, i) => `o${i}`).sort())
    } finally {
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
