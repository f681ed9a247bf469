// Stream-table joins: each record meets the table's row for its key as it is at processing time; a null value in
// the table's topic deletes the row; a left join keeps records without a row.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pipeline } from '../../src/index.ts'
import { TestDriver } from '../../src/testing/index.ts'

interface Order {
  user: string
  amount: number
}

function build(leftJoin: boolean) {
  const p = pipeline('enrich')
  const users = p.table<string, { country: string }>('users', { topic: 'users' })
  p.source<string, Order>('orders', { topic: 'orders' })
    .joinTable(users, (o, u, user) => ({ user, amount: o.amount, country: u?.country ?? null }), { leftJoin })
    .to('enriched')
  return p
}

describe('stream-table join', () => {
  it('joins with the current row, follows updates and deletes', async () => {
    const d = new TestDriver(build(false), { partitions: { users: 2, orders: 2 } })
    d.pipeInput('users', [
      { key: 'ann', value: { country: 'FR' } },
      { key: 'bob', value: { country: 'DE' } },
    ])
    d.pipeInput('orders', [
      { key: 'ann', value: { user: 'ann', amount: 10 } },
      { key: 'cid', value: { user: 'cid', amount: 5 } }, // no row: an inner join drops it (counted)
    ])
    d.pipeInput('users', [{ key: 'ann', value: { country: 'IT' } }])
    d.pipeInput('orders', [{ key: 'ann', value: { user: 'ann', amount: 20 } }])
    d.pipeInput('users', [{ key: 'bob', value: null }])
    d.pipeInput('orders', [{ key: 'bob', value: { user: 'bob', amount: 7 } }])
    assert.deepEqual(
      d.readOutput('enriched').map((r) => r.value),
      [
        { user: 'ann', amount: 10, country: 'FR' },
        { user: 'ann', amount: 20, country: 'IT' },
      ],
    )
    assert.equal(d.counters()['join-table-1.unmatched'], 2)
    await d.close()
  })

  it('a left join keeps records without a row', async () => {
    const d = new TestDriver(build(true))
    d.pipeInput('orders', [{ key: 'zoe', value: { user: 'zoe', amount: 1 } }])
    assert.deepEqual(
      d.readOutput('enriched').map((r) => r.value),
      [{ user: 'zoe', amount: 1, country: null }],
    )
    await d.close()
  })

  it('refuses tables and streams that are not co-partitioned', () => {
    assert.throws(() => new TestDriver(build(false), { partitions: { users: 3, orders: 2 } }), {
      code: 'SLUICE_ERR_NOT_COPARTITIONED',
      message: /topic orders has 2, topic users has 3|topic users has 3, topic orders has 2/,
    })
  })
})

describe('stream-table join on the embedded log', () => {
  it('restores the table from its topic on start and keeps following it', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { openEmbeddedLog } = await import('../../src/log/index.ts')
    const { runPipeline } = await import('../../src/runtime/runner.ts')
    const dir = mkdtempSync(join(tmpdir(), 'sluice-table-'))
    const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    try {
      const admin = log.admin()
      await admin.createTopic('users', { partitions: 2, config: { 'cleanup.policy': 'compact' } })
      await admin.createTopic('orders', { partitions: 2 })
      await admin.createTopic('enriched', { partitions: 1 })
      const send = async (topic: string, key: string, value: unknown) => {
        const producer = log.producer()
        await producer.send([
          {
            topic,
            key: Buffer.from(JSON.stringify(key)),
            value: value === null ? null : Buffer.from(JSON.stringify(value)),
          },
        ])
      }
      const read = async () => {
        const c = log.consumer({ isolationLevel: 'read_committed' })
        await c.assign([{ topic: 'enriched', partition: 0 }])
        await c.seek({ topic: 'enriched', partition: 0 }, 'earliest')
        const out = (await c.poll()).map((r) => JSON.parse(r.value!.toString()))
        await c.close()
        return out
      }
      const waitFor = async (n: number) => {
        const deadline = Date.now() + 15_000
        while ((await read()).length < n) {
          if (Date.now() > deadline)
            throw new Error(`expected ${n} results, got ${JSON.stringify(await read())}`)
          await new Promise((r) => setTimeout(r, 20))
        }
      }
      await send('users', 'ann', { country: 'FR' })
      const options = { log, stateDir: join(dir, 'state'), commitIntervalMs: 10 }
      let run = await runPipeline(build(false), options)
      await send('orders', 'ann', { user: 'ann', amount: 1 })
      await waitFor(1)
      await run.stop()
      await send('users', 'ann', { country: 'IT' })
      run = await runPipeline(build(false), options)
      await send('orders', 'ann', { user: 'ann', amount: 2 })
      await waitFor(2)
      await run.stop()
      assert.deepEqual(await read(), [
        { user: 'ann', amount: 1, country: 'FR' },
        { user: 'ann', amount: 2, country: 'IT' },
      ])
    } finally {
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
