// Durability settings of the embedded log (fsync 'always', 'interval', 'os'): the API behaves the same under each,
// everything survives a close and reopen, and under 'always' a send or commit resolves only once what it wrote
// has been forced to disk. Power loss cannot be tested here; these tests run on the ordinary temp directory.
import assert from 'node:assert/strict'
import fs, { existsSync, readlinkSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { after, before, describe, test } from 'node:test'
import type { ConsumedRecord, IsolationLevel, TopicPartition } from '../../../src/log/contract.ts'
import type { EmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import type { FsyncPolicy } from '../../../src/log/embedded/options.ts'
import { openLog, useTempDirs, VirtualClock } from './helpers.ts'

const TOPIC = 'durable'
const tps: TopicPartition[] = [
  { topic: TOPIC, partition: 0 },
  { topic: TOPIC, partition: 1 },
]
const MODES: FsyncPolicy[] = [{ mode: 'always' }, { mode: 'interval', intervalMs: 5 }, { mode: 'os' }]
const text = (b: Buffer | null) => (b === null ? null : b.toString())

/** Everything a client can observe of the topic, as plain data. */
async function observe(log: EmbeddedLog): Promise<unknown> {
  const admin = log.admin()
  const description = await admin.describeTopic(TOPIC)
  const offsets: unknown[] = []
  for (const tp of tps) {
    for (const spec of ['earliest', 'latest', 'lastStable', { timestamp: 1_000_010 }] as const)
      offsets.push(await admin.listOffsets(TOPIC, tp.partition, spec))
  }
  const read = async (isolationLevel: IsolationLevel) => {
    const consumer = log.consumer({ isolationLevel, autoOffsetReset: 'earliest', maxBytesPerPartition: 200 })
    await consumer.assign(tps)
    const out: ConsumedRecord[] = []
    for (let polls = 0; polls < 1000; polls++) {
      const got = await consumer.poll()
      if (got.length === 0) break
      out.push(...got)
    }
    await consumer.close()
    return out
      .map((r) => [
        r.partition,
        r.offset,
        r.timestamp,
        text(r.key),
        text(r.value),
        r.headers.map(([k, v]) => [k, text(v)]),
      ])
      .sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number))
  }
  const group = log.consumer({ groupId: 'g' })
  const committed = [...(await group.committed(tps))]
  await group.close()
  return {
    partitions: description.partitions.map(({ sizeBytes: _, ...rest }) => rest),
    offsets,
    uncommitted: await read('read_uncommitted'),
    committed: await read('read_committed'),
    groupOffsets: committed,
  }
}

/** A workload touching every kind of write: plain, concurrent, transactional (both outcomes), group commits. */
async function workload(log: EmbeddedLog, clock: VirtualClock): Promise<unknown[]> {
  const results: unknown[] = []
  await log.admin().createTopic(TOPIC, { partitions: 2, config: { 'segment.bytes': 300 } })
  const producer = log.producer()
  for (let i = 0; i < 12; i++) {
    clock.advance(1)
    const meta = await producer.send([
      {
        topic: TOPIC,
        partition: i % 2,
        key: Buffer.from(`k${i}`),
        value: Buffer.from(`v${i}`),
        headers: [['h', Buffer.from('x')]],
      },
    ])
    results.push(meta)
  }
  const others = [log.producer(), log.producer({ idempotent: false })]
  results.push(
    await Promise.all(
      others.flatMap((p, j) =>
        [0, 1, 2].map((i) => p.send([{ topic: TOPIC, partition: i % 2, value: Buffer.from(`c${j}.${i}`) }])),
      ),
    ),
  )
  const tx = log.producer({ transactionalId: 'tx' })
  await tx.initTransactions()
  for (const commit of [true, false]) {
    tx.beginTransaction()
    results.push(await tx.send(tps.map((tp) => ({ ...tp, value: Buffer.from(`t${commit}`) }))))
    await (commit ? tx.commitTransaction() : tx.abortTransaction())
  }
  const consumer = log.consumer({ groupId: 'g', autoOffsetReset: 'earliest' })
  await consumer.subscribe([TOPIC])
  results.push((await consumer.poll({ maxRecords: 7 })).map((r) => [r.partition, r.offset]))
  await consumer.commit()
  await consumer.close()
  return results
}

describe('durability modes', () => {
  const tempDir = useTempDirs('durability')

  test('the API behaves the same under every fsync policy, and everything survives close and reopen', async () => {
    const seen: unknown[] = []
    for (const fsync of MODES) {
      const dir = tempDir()
      const clock = new VirtualClock()
      let log = await openLog(dir, clock, { fsync })
      try {
        const results = await workload(log, clock)
        const before = await observe(log)
        await log.close()
        log = await openLog(dir, clock, { fsync })
        assert.deepEqual(await observe(log), before, `${fsync.mode}: after reopen`)
        seen.push({ results, before })
      } finally {
        await log.close()
      }
    }
    assert.deepEqual(seen[1], seen[0], 'interval behaves as always')
    assert.deepEqual(seen[2], seen[0], 'os behaves as always')
  })

  test("under 'always' no segment is left dirty once a send resolves; under 'os' it is", async () => {
    for (const mode of ['always', 'os'] as const) {
      const clock = new VirtualClock()
      const log = await openLog(tempDir(), clock, { fsync: { mode } })
      try {
        await log.admin().createTopic(TOPIC, { partitions: 2, config: { 'segment.bytes': 300 } })
        const producer = log.producer()
        for (let i = 0; i < 10; i++) {
          await producer.send(tps.map((tp) => ({ ...tp, value: Buffer.from(`v${i}`) })))
          const dirty = tps.flatMap((tp) => log.partition(tp.topic, tp.partition).dirtySegments())
          assert.equal(dirty.length, mode === 'always' ? 0 : 2, `${mode}, send ${i}`)
        }
      } finally {
        await log.close()
      }
    }
  })

  test("under 'interval' the timer syncs what was written", async () => {
    const clock = new VirtualClock()
    const log = await openLog(tempDir(), clock, { fsync: { mode: 'interval', intervalMs: 5 } })
    try {
      await log.admin().createTopic(TOPIC, { partitions: 1 })
      await log.producer().send([{ topic: TOPIC, partition: 0, value: Buffer.from('x') }])
      const p = log.partition(TOPIC, 0)
      // wait on the condition, bounded: no fixed sleep
      const deadline = Date.now() + 10_000
      while (p.dirtySegments().length > 0) {
        assert.ok(Date.now() < deadline, 'the interval sync never ran')
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    } finally {
      await log.close()
    }
  })

  test('syncAll() covers writes made while an earlier sync was still running', async () => {
    const clock = new VirtualClock()
    // an interval too long to fire during the test: the two syncs below are the only ones
    const log = await openLog(tempDir(), clock, { fsync: { mode: 'interval', intervalMs: 3_600_000 } })
    try {
      await log.admin().createTopic(TOPIC, { partitions: 1 })
      const producer = log.producer()
      const p = log.partition(TOPIC, 0)
      await producer.send([{ topic: TOPIC, partition: 0, value: Buffer.from('a') }])
      const first = log.syncAll() // in flight, as a timer tick would be
      await producer.send([{ topic: TOPIC, partition: 0, value: Buffer.from('b') }])
      assert.equal(p.dirtySegments().length, 1, "'b' is written and not yet synced")
      await log.syncAll()
      await first
      // a sync that started after 'b' was written clears the flag; the one started before cannot have covered 'b'
      assert.equal(p.dirtySegments().length, 0, "'b' is still waiting for a sync after syncAll() resolved")
    } finally {
      await log.close()
    }
  })
})

// Watches the log's own calls to node:fs (the real calls still happen) to see which writes a completed sync covers.
describe("'always' resolves only after the data is on disk", { skip: !existsSync('/proc/self/fd') }, () => {
  const tempDir = useTempDirs('durability-spy')
  type Event =
    | { kind: 'write'; fd: number; path: string }
    | { kind: 'syncStart'; fd: number }
    | { kind: 'syncEnd'; fd: number; started: number }
    | { kind: 'fsyncSync'; fd: number }
  const events: Event[] = []
  const original = { fdatasync: fs.fdatasync, writeSync: fs.writeSync, fsyncSync: fs.fsyncSync }

  before(() => {
    fs.writeSync = ((fd: number, ...rest: unknown[]) => {
      let path = ''
      try {
        path = readlinkSync(`/proc/self/fd/${fd}`)
      } catch {}
      events.push({ kind: 'write', fd, path })
      return (original.writeSync as (...args: unknown[]) => number)(fd, ...rest)
    }) as typeof fs.writeSync
    fs.fdatasync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
      const started = events.push({ kind: 'syncStart', fd }) - 1
      original.fdatasync(fd, (err) => {
        events.push({ kind: 'syncEnd', fd, started })
        callback(err)
      })
    }) as typeof fs.fdatasync
    fs.fsyncSync = (fd: number) => {
      original.fsyncSync(fd)
      events.push({ kind: 'fsyncSync', fd })
    }
    syncBuiltinESMExports()
  })

  after(() => {
    Object.assign(fs, original)
    syncBuiltinESMExports()
  })

  /** Writes to segment files in events[from, to) that no sync started after them and finished before `now` covers. */
  function uncovered(from: number, to: number, now: number): string[] {
    const out: string[] = []
    for (let i = from; i < to; i++) {
      const e = events[i]
      if (e.kind !== 'write' || !e.path.endsWith('.log')) continue
      const covered = events
        .slice(i + 1, now)
        .some(
          (s) =>
            (s.kind === 'syncEnd' && s.fd === e.fd && s.started > i) ||
            (s.kind === 'fsyncSync' && s.fd === e.fd),
        )
      if (!covered) out.push(`write #${i} to ${e.path}`)
    }
    return out
  }

  test('concurrent sends from several producers, with segment rolls', async () => {
    const clock = new VirtualClock()
    const log = await openLog(tempDir(), clock, { fsync: { mode: 'always' } })
    try {
      await log.admin().createTopic(TOPIC, { partitions: 2, config: { 'segment.bytes': 250 } })
      const producers = [log.producer(), log.producer(), log.producer({ idempotent: false })]
      const problems: string[] = []
      const pending: Promise<unknown>[] = []
      for (let round = 0; round < 8; round++) {
        for (const [j, producer] of producers.entries()) {
          // an idempotent or plain send appends before its first await: its writes are those of this call
          const from = events.length
          const sent = producer.send([{ ...tps[(round + j) % 2], value: Buffer.alloc(40, round) }])
          const to = events.length
          assert.ok(to > from, 'the send appended synchronously')
          pending.push(sent.then(() => problems.push(...uncovered(from, to, events.length))))
        }
        if (round % 3 === 2) await Promise.all(pending.splice(0))
      }
      await Promise.all(pending)
      assert.ok(
        events.some((e) => e.kind === 'syncStart'),
        'the spy saw the syncs',
      )
      assert.deepEqual(problems, [], 'sends resolved before their data was synced')
    } finally {
      await log.close()
    }
  })

  test('transactional sends, commits and aborts', async () => {
    const clock = new VirtualClock()
    const log = await openLog(tempDir(), clock, { fsync: { mode: 'always' } })
    try {
      await log.admin().createTopic(TOPIC, { partitions: 2, config: { 'segment.bytes': 250 } })
      const tx = log.producer({ transactionalId: 'tx' })
      await tx.initTransactions()
      const check = async (what: string, call: () => Promise<unknown>) => {
        const from = events.length
        await call()
        assert.deepEqual(uncovered(from, events.length, events.length), [], what)
      }
      for (let i = 0; i < 4; i++) {
        tx.beginTransaction()
        await check(`send ${i}`, () => tx.send(tps.map((tp) => ({ ...tp, value: Buffer.alloc(30, i) }))))
        await check(`send ${i} again`, () => tx.send([{ ...tps[0], value: Buffer.from('more') }]))
        await check(i % 2 === 0 ? `commit ${i}` : `abort ${i}`, () =>
          i % 2 === 0 ? tx.commitTransaction() : tx.abortTransaction(),
        )
      }
    } finally {
      await log.close()
    }
  })
})
