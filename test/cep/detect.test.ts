// Pattern detection in a pipeline: hand-written cases of the constructs (the canonical fraud rule, negation, timeouts,
// late events), a property test in event time (out-of-order input through watermarks gives the brute-force matcher's
// matches on the time-ordered, on-time events), and partial matches surviving a restart of the runner.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  afterMatch,
  boundedOutOfOrderness,
  detect,
  type Match,
  type Pattern,
  pattern,
  pipeline,
  type TimedOut,
} from '../../src/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { runPipeline } from '../../src/runtime/runner.ts'
import { TestDriver } from '../../src/testing/index.ts'
import { bruteForce } from './brute-force.ts'

interface Tx {
  id: number
  account: string
  amount: number
  ts: number
}

const MIN = 60_000

function txPipeline(p: Pattern<Tx>, outOfOrderness = 0) {
  const pipe = pipeline('cep')
  const found = detect(
    pipe
      .source<string, Tx>('txs', {
        topic: 'txs',
        timestamp: (t) => t.ts,
        watermarks: boundedOutOfOrderness(outOfOrderness),
      })
      .keyBy(null, { name: 'by-account' }),
    p,
    { name: 'fraud' },
  )
  found.matches().to('matches')
  found.timeouts().to('timeouts')
  found.late().to('late')
  return pipe
}

const tx = (id: number, amount: number, ts: number, account = 'acc-1') => ({
  key: account,
  value: { id, account, amount, ts },
})

const ids = (m: Match<Tx> | TimedOut<Tx>) =>
  Object.fromEntries(Object.entries(m.stages).map(([k, v]) => [k, v.map((t) => t.id)]))

async function run(p: Pattern<Tx>, input: ReturnType<typeof tx>[], outOfOrderness = 0) {
  const d = new TestDriver(txPipeline(p, outOfOrderness))
  try {
    d.pipeInput('txs', input)
    d.endInput('txs')
    return {
      matches: d.readOutput<string, Match<Tx>>('matches').map((r) => r.value),
      timeouts: d.readOutput<string, TimedOut<Tx>>('timeouts').map((r) => r.value),
      late: d.readOutput<string, Tx>('late').map((r) => r.value.id),
    }
  } finally {
    await d.close()
  }
}

describe('pattern detection', () => {
  it('flags 3 transactions over $1000 within 5 minutes, once per burst', async () => {
    const big = pattern<Tx>('big')
      .where((t) => t.amount > 1000)
      .times(3)
      .within('5m')
      .afterMatch(afterMatch.skipPastLastEvent())
    const out = await run(big, [
      tx(1, 1500, 0),
      tx(2, 20, MIN),
      tx(3, 2000, 2 * MIN),
      tx(4, 1200, 3 * MIN),
      tx(5, 5000, 4 * MIN), // past the match's last event: starts anew
      tx(6, 1100, 20 * MIN),
      tx(7, 1300, 21 * MIN),
      tx(8, 1400, 27 * MIN), // more than 5 minutes after 6: no second match
      tx(9, 50, 40 * MIN, 'acc-2'),
    ])
    assert.deepEqual(out.matches.map(ids), [{ big: [1, 3, 4] }])
    assert.deepEqual(out.matches[0].start, 0)
    assert.deepEqual(out.matches[0].end, 3 * MIN)
    // 5 alone, 6 and 7 together, 8 alone: partial matches that ran out of time
    assert.deepEqual(out.timeouts.map(ids), [{ big: [5] }, { big: [6, 7] }, { big: [7] }, { big: [8] }])
    assert.equal(out.timeouts[0].timedOutAt, 4 * MIN + 5 * MIN)
  })

  it('card testing: small amounts followed by a large one, with no refund in between', async () => {
    const testing = pattern<Tx>('small')
      .where((t) => t.amount > 0 && t.amount < 5)
      .timesOrMore(2)
      .consecutive()
      .notFollowedBy('refund')
      .where((t) => t.amount < 0)
      .followedBy('large')
      .where((t) => t.amount > 500)
      .within('10m')
      .afterMatch(afterMatch.skipPastLastEvent())
    const out = await run(testing, [
      tx(1, 1, 0),
      tx(2, 2, 1000),
      tx(3, 3, 2000),
      tx(4, 900, 3000),
      tx(10, 1, 0, 'acc-2'),
      tx(11, 1, 1000, 'acc-2'),
      tx(12, -1, 2000, 'acc-2'),
      tx(13, 900, 3000, 'acc-2'),
    ])
    assert.deepEqual(out.matches.map(ids), [{ small: [1, 2, 3], large: [4] }])
  })

  it('matches in event time: out-of-order events are put in order, late ones sent aside', async () => {
    const rising = pattern<Tx>('first')
      .where((t) => t.amount > 0)
      .next('second')
      .where((t, ctx) => t.amount > ctx.events('first')[0].amount)
    const out = await run(
      rising,
      [tx(2, 20, 2000), tx(1, 10, 1000), tx(3, 30, 5000), tx(4, 5, 1500), tx(5, 40, 6000)],
      1000,
    )
    // in time order: 1 (10) 2 (20) 3 (30) 5 (40); 4 came after the watermark passed 1500
    assert.deepEqual(out.late, [4])
    assert.deepEqual(out.matches.map(ids), [
      { first: [1], second: [2] },
      { first: [2], second: [3] },
      { first: [3], second: [5] },
    ])
  })

  it('in event time, equals the brute-force matcher on the on-time events in time order', async () => {
    const patterns: Pattern<Tx>[] = [
      pattern<Tx>('a')
        .where((t) => t.amount % 2 === 0)
        .followedBy('b')
        .where((t) => t.amount % 3 === 0)
        .oneOrMore()
        .within(40),
      pattern<Tx>('a')
        .where((t) => t.amount > 5)
        .followedByAny('b')
        .where((t, ctx) => t.amount < ctx.events('a')[0].amount)
        .afterMatch(afterMatch.skipToNext()),
      pattern<Tx>('a')
        .where((t) => t.amount < 3)
        .times(1, 2)
        .notNext('n')
        .where((t) => t.amount === 9)
        .next('b')
        .where(() => true),
    ]
    const events = fc.array(
      fc.record({
        account: fc.constantFrom('x', 'y'),
        amount: fc.nat(9),
        ts: fc.nat(60),
      }),
      { maxLength: 14 },
    )
    await fc.assert(
      fc.asyncProperty(events, fc.nat(patterns.length - 1), fc.nat(10), async (xs, which, delay) => {
        const p = patterns[which]
        const input = xs.map((x, id) => tx(id, x.amount, x.ts, x.account))
        const out = await run(p, input, delay)
        // the reference: late as the watermark before each record says, the rest in time order per account
        let max = Number.NEGATIVE_INFINITY
        const late: number[] = []
        const onTime = new Map<string, Tx[]>()
        for (const { value: t } of input) {
          if (t.ts <= max - delay - 1) late.push(t.id)
          else onTime.set(t.account, [...(onTime.get(t.account) ?? []), t])
          max = Math.max(max, t.ts)
        }
        assert.deepEqual(out.late, late)
        for (const [account, txs] of onTime) {
          const ordered = [...txs].sort((a, b) => a.ts - b.ts)
          const want = bruteForce(
            p,
            ordered.map((t) => ({ ts: t.ts, value: t })),
          ).map((m) => {
            const g: Record<string, number[]> = {}
            for (const [s, e] of m) (g[p.stages[s].name] ??= []).push(ordered[e].id)
            return g
          })
          const got = out.matches.filter((m) => Object.values(m.stages)[0][0].account === account).map(ids)
          assert.deepEqual(got, want)
        }
      }),
      { numRuns: 150 },
    )
  })

  it('keeps partial matches in state: a match spans a restart of the runner', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cep-'))
    const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    try {
      const admin = log.admin()
      await admin.createTopic('txs', { partitions: 2 })
      for (const t of ['matches', 'timeouts', 'late']) await admin.createTopic(t, { partitions: 1 })
      const big = pattern<Tx>('big')
        .where((t) => t.amount > 1000)
        .times(3)
      const send = async (records: ReturnType<typeof tx>[]) => {
        const producer = log.producer()
        await producer.send(
          records.map((r) => ({
            topic: 'txs',
            key: Buffer.from(JSON.stringify(r.key)),
            value: Buffer.from(JSON.stringify(r.value)),
          })),
        )
        await producer.close()
      }
      const options = { log, stateDir: join(dir, 'state'), commitIntervalMs: 10 }
      const committed = async (n: number, run: Awaited<ReturnType<typeof runPipeline>>) => {
        const deadline = Date.now() + 20_000
        while ([...run.committedOffsets().values()].reduce((a, b) => a + b, 0) < n) {
          assert.ok(Date.now() < deadline, 'the input was not committed')
          await new Promise((r) => setTimeout(r, 10))
        }
      }
      await send([tx(1, 2000, 1000), tx(2, 3000, 2000)])
      let run = await runPipeline(txPipeline(big), options)
      await committed(2, run)
      await run.stop()
      await send([tx(3, 4000, 3000), tx(4, 1, 4000)])
      run = await runPipeline(txPipeline(big), options)
      await committed(4, run)
      await run.stop()
      const c = log.consumer({ isolationLevel: 'read_committed' })
      await c.assign([{ topic: 'matches', partition: 0 }])
      await c.seek({ topic: 'matches', partition: 0 }, 'earliest')
      const matches = (await c.poll({ timeoutMs: 0 })).map(
        (r) => JSON.parse(r.value!.toString()) as Match<Tx>,
      )
      await c.close()
      assert.deepEqual(matches.map(ids), [{ big: [1, 2, 3] }])
    } finally {
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses patterns whose matches would be ill-defined, by name', () => {
    assert.throws(() => pattern<Tx>('a').followedBy('a'), /two stages are named "a"/)
    assert.throws(
      () =>
        detect(
          pipeline('x').source<string, Tx>('s', { topic: 't' }).keyBy(null, { name: 'k' }),
          pattern<Tx>('a').followedBy('b').optional(),
          { name: 'd' },
        ),
      /its last stage b cannot be optional/,
    )
    assert.throws(() => pattern<Tx>('a').until(() => true), /until\(\) of a needs a looping stage/)
    assert.throws(
      () =>
        pattern<Tx>('a')
          .notFollowedBy('n')
          .where(() => true)
          .check(),
      /cannot end with notFollowedBy/,
    )
  })
})
