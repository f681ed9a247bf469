// The sink contract's two-phase commit: the file sink makes each commit's part visible exactly once, finishes a
// part the log committed before a crash, and discards one it did not; the memory sink shows only committed records.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { fileSink, memorySink, pipeline, runPipeline } from '../../src/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-sinks-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const ctx = { pipeline: 'p', step: 'out', taskId: '0_0', partition: 0 }

function lines(d: string): string[] {
  return readdirSync(d)
    .filter((n) => n.endsWith('.ndjson'))
    .sort()
    .flatMap((n) => readFileSync(join(d, n), 'utf8').trim().split('\n'))
}

describe('file sink', () => {
  it('a prepared part becomes visible only at commit', async () => {
    const sink = fileSink({ dir })(ctx)
    await sink.open(ctx, null)
    sink.write([{ key: 'a', value: 1, timestamp: 5 }])
    await sink.prepare(1)
    assert.deepEqual(lines(dir), [])
    await sink.commit(1)
    assert.deepEqual(lines(dir), ['{"key":"a","value":1,"timestamp":5}'])
    await sink.commit(1) // repeated after a crash: no effect
    assert.equal(lines(dir).length, 1)
  })

  it('after a crash, open() commits parts up to the log-committed id and discards later ones', async () => {
    const before = fileSink({ dir })(ctx)
    await before.open(ctx, null)
    before.write([{ key: 'a', value: 1, timestamp: 1 }])
    await before.prepare(1)
    before.write([{ key: 'b', value: 2, timestamp: 2 }])
    await before.prepare(2)
    // the process dies here: the log committed id 1, not id 2
    const after = fileSink({ dir })(ctx)
    await after.open(ctx, 1)
    assert.deepEqual(lines(dir), ['{"key":"a","value":1,"timestamp":1}'])
    assert.ok(!readdirSync(dir).some((n) => n.endsWith('.pending')))
  })

  it('an aborted commit leaves nothing', async () => {
    const sink = fileSink({ dir })(ctx)
    await sink.open(ctx, null)
    sink.write([{ key: 'a', value: 1, timestamp: 1 }])
    await sink.prepare(1)
    await sink.abort(1)
    assert.deepEqual(readdirSync(dir), [])
  })

  it('through the runner, every result is written once across a restart', async () => {
    const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    try {
      await log.admin().createTopic('in', { partitions: 2 })
      const out = join(dir, 'out')
      const build = () => {
        const p = pipeline('files')
        p.source<string, number>('in', { topic: 'in' })
          .map((n) => n * 2)
          .sink(fileSink({ dir: out }), { name: 'doubled' })
        return p
      }
      const send = async (from: number, to: number) => {
        const producer = log.producer()
        const recs = []
        for (let i = from; i < to; i++) {
          recs.push({
            topic: 'in',
            key: Buffer.from(JSON.stringify(`k${i % 5}`)),
            value: Buffer.from(String(i)),
          })
        }
        await producer.send(recs)
      }
      const waitLines = async (n: number) => {
        const deadline = Date.now() + 15_000
        while ((existsSync(out) ? lines(out).length : 0) < n) {
          if (Date.now() > deadline)
            throw new Error(`expected ${n} lines, have ${existsSync(out) ? lines(out).length : 0}`)
          await new Promise((r) => setTimeout(r, 20))
        }
      }
      const options = { log, stateDir: join(dir, 'state'), commitIntervalMs: 10 }
      await send(0, 50)
      let run = await runPipeline(build(), options)
      await waitLines(50)
      await run.stop()
      await send(50, 100)
      run = await runPipeline(build(), options)
      await waitLines(100)
      await run.stop()
      const values = lines(out)
        .map((l) => JSON.parse(l).value as number)
        .sort((a, b) => a - b)
      assert.deepEqual(
        values,
        Array.from({ length: 100 }, (_, i) => i * 2),
      )
    } finally {
      await log.close()
    }
  })
})

describe('memory sink', () => {
  it('shows records once the pipeline commits them', async () => {
    const sink = memorySink<string, number>()
    const s = sink.factory(ctx)
    await s.open(ctx, null)
    s.write([{ key: 'a', value: 1, timestamp: 0 }])
    await s.prepare(1)
    assert.deepEqual(sink.committed(), [])
    await s.commit(1)
    assert.deepEqual(sink.committed(), [{ key: 'a', value: 1, timestamp: 0 }])
    s.write([{ key: 'b', value: 2, timestamp: 0 }])
    await s.prepare(2)
    await s.abort(2)
    assert.equal(sink.committed().length, 1)
  })
})
