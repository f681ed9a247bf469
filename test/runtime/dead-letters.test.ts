// Dead letters: records a pipeline cannot read, process or write are failed, skipped (counted) or written to the
// dead-letter topic with their original bytes and headers naming the failure and the record, per the pipeline's
// error policies; under the runner they are committed with the rest of the output, exactly once.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { isSluiceError, json, type PipelineOptions, pipeline, type Serde, tumbling } from '../../src/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { PipelineMetrics } from '../../src/metrics/pipeline-metrics.ts'
import { parseDeadLetter } from '../../src/runtime/dead-letters.ts'
import { runPipeline } from '../../src/runtime/runner.ts'
import { TestDriver } from '../../src/testing/index.ts'

interface Order {
  id: number
  amount: number
}

/** Orders in, each order's amount doubled out; `fail` makes the map throw on chosen orders. */
function ordersPipeline(options: PipelineOptions = {}, fail: (o: Order) => boolean = () => false) {
  const p = pipeline('orders', options)
  p.source<string, Order>('orders', { topic: 'orders' })
    .map(
      (o) => {
        if (fail(o)) throw new Error(`order ${o.id} is cursed`)
        return { id: o.id, amount: o.amount * 2 }
      },
      { name: 'double' },
    )
    .to('doubled')
  return p
}

const bytes = (s: string) => Buffer.from(s, 'utf8')

describe('dead letters under the test driver', () => {
  it('sends unreadable records to the dead-letter topic with their bytes, headers and provenance', async () => {
    const d = new TestDriver(ordersPipeline())
    try {
      d.pipeRawInput('orders', [
        { key: bytes('"a"'), value: bytes('{"id":1,"amount":5}') },
        {
          key: bytes('"b"'),
          value: bytes('{"id":2,"amo'),
          headers: [['trace', bytes('t-2')]],
          timestamp: 77,
        },
        { key: bytes('not json'), value: bytes('{"id":3,"amount":1}') },
        { key: bytes('"d"'), value: bytes('{"id":4,"amount":7}') },
      ])
      assert.deepEqual(
        d.readOutput('doubled').map((r) => r.value),
        [
          { id: 1, amount: 10 },
          { id: 4, amount: 14 },
        ],
      )
      const dead = d.deadLetters()
      assert.equal(dead.length, 2)
      const [cut, badKey] = dead
      assert.equal(cut.kind, 'deserialization')
      assert.equal(cut.code, 'SLUICE_ERR_SERDE')
      assert.match(cut.message, /^step orders cannot read the record at orders\/0 offset 1: /)
      assert.equal(cut.pipeline, 'orders')
      assert.equal(cut.step, 'orders')
      assert.equal(cut.topic, 'orders')
      assert.equal(cut.partition, 0)
      assert.equal(cut.offset, 1)
      assert.equal(cut.timestamp, 77)
      assert.equal(cut.payload, 'original')
      assert.deepEqual(cut.value, bytes('{"id":2,"amo'))
      assert.deepEqual(cut.key, bytes('"b"'))
      assert.deepEqual(
        cut.headers.map(([k, v]) => [k, Buffer.from(v).toString()]),
        [['trace', 't-2']],
      )
      assert.equal(badKey.offset, 2)
      assert.deepEqual(badKey.key, bytes('not json'))
      assert.equal(d.counters()['orders.dead-letters'], 2)
    } finally {
      await d.close()
    }
  })

  it("drops and counts them under 'skip', and stops with an error naming the record under 'fail'", async () => {
    const skip = new TestDriver(ordersPipeline({ errors: { deserialization: 'skip' } }))
    try {
      skip.pipeRawInput('orders', [{ value: bytes('{') }, { value: bytes('{"id":1,"amount":1}') }])
      assert.equal(skip.readOutput('doubled').length, 1)
      assert.deepEqual(skip.deadLetters(), [])
      assert.equal(skip.counters()['orders.skipped'], 1)
      assert.equal(skip.topology.deadLetterTopic, null, 'no policy dead-letters: no topic')
    } finally {
      await skip.close()
    }
    const fail = new TestDriver(ordersPipeline({ errors: { deserialization: 'fail' } }))
    try {
      assert.throws(
        () =>
          fail.pipeRawInput('orders', [{ value: bytes('{"id":1,"amount":1}') }, { value: bytes('nope') }]),
        (err: unknown) =>
          isSluiceError(err) &&
          err.code === 'SLUICE_ERR_SERDE' &&
          err.message.startsWith('step orders cannot read the record at orders/0 offset 1: '),
      )
    } finally {
      await fail.close()
    }
  })

  it('a failing user function stops the pipeline by default, or dead-letters the record as JSON', async () => {
    const cursed = (o: Order) => o.id % 3 === 0
    const orders = [1, 2, 3, 4, 5, 6].map((id) => ({ key: `k${id}`, value: { id, amount: id } }))
    const failing = new TestDriver(ordersPipeline({}, cursed), { batchSize: 10 })
    try {
      assert.throws(
        () => failing.pipeInput('orders', orders),
        (err: unknown) =>
          isSluiceError(err) && err.code === 'SLUICE_ERR_OPERATOR' && /step double failed/.test(err.message),
      )
    } finally {
      await failing.close()
    }
    const d = new TestDriver(ordersPipeline({ errors: { processing: 'dead-letter' } }, cursed), {
      batchSize: 10,
    })
    try {
      d.pipeInput('orders', orders)
      assert.deepEqual(
        d.readOutput('doubled').map((r) => (r.value as Order).id),
        [1, 2, 4, 5],
      )
      const dead = d.deadLetters()
      assert.deepEqual(
        dead.map((x) => JSON.parse(x.value!.toString())),
        [
          { id: 3, amount: 3 },
          { id: 6, amount: 6 },
        ],
      )
      for (const x of dead) {
        assert.equal(x.kind, 'processing')
        assert.equal(x.code, 'SLUICE_ERR_OPERATOR')
        assert.equal(x.step, 'double')
        assert.equal(x.payload, 'json')
        assert.equal(x.offset, null, 'the exact offset is not known inside the pipeline')
        assert.equal(x.offsets, '0-5', 'the batch in flight')
        assert.match(x.message, /is cursed/)
      }
      assert.deepEqual(JSON.parse(dead[0].key!.toString()), 'k3')
    } finally {
      await d.close()
    }
  })

  it('dead-letters records a window aggregator or keyed process function fails on, and goes on', async () => {
    const p = pipeline('agg', { errors: { processing: 'dead-letter' } })
    const s = p.source<string, Order>('orders', { topic: 'orders' })
    s.keyBy(null, { name: 'by-key' })
      .window(tumbling(1000), { name: 'sums' })
      .aggregate({
        name: 'sum',
        init: () => 0,
        add: (acc: number, o: Order) => {
          if (o.amount < 0) throw new Error('negative amount')
          return acc + o.amount
        },
        result: (acc: number) => acc,
      })
      .map((n, w) => ({ key: w.key, start: w.start, n }))
      .to('sums')
    s.keyBy(null, { name: 'by-key-2' })
      .process<number>(
        {
          process(o, ctx) {
            if (o.amount < 0) throw new Error('refused')
            ctx.emit(o.amount)
          },
        },
        { name: 'amounts' },
      )
      .to('amounts')
    const d = new TestDriver(p)
    try {
      d.pipeInput('orders', [
        { key: 'a', value: { id: 1, amount: 2 }, timestamp: 100 },
        { key: 'a', value: { id: 2, amount: -1 }, timestamp: 200 },
        { key: 'a', value: { id: 3, amount: 5 }, timestamp: 300 },
      ])
      d.endInput('orders')
      assert.deepEqual(
        d.readOutput('sums').map((r) => r.value),
        [{ key: 'a', start: 0, n: 7 }],
      )
      assert.deepEqual(
        d.readOutput('amounts').map((r) => r.value),
        [2, 5],
      )
      assert.deepEqual(
        d
          .deadLetters()
          .map((x) => [x.step, x.kind, JSON.parse(x.value!.toString()).id])
          .sort(),
        [
          ['amounts', 'processing', 2],
          ['sums', 'processing', 2],
        ],
      )
    } finally {
      await d.close()
    }
  })

  it('dead-letters a result the sink serde refuses (production)', async () => {
    const picky: Serde<Order> = {
      name: 'picky',
      serialize(v) {
        if (v.amount > 10) throw new Error(`amount ${v.amount} is too large for this serde`)
        return json().serialize(v)
      },
      deserialize: (b) => json().deserialize(b) as Order,
    }
    const p = pipeline('out', { errors: { production: 'dead-letter' } })
    p.source<string, Order>('orders', { topic: 'orders' }).to('big', { value: picky })
    const d = new TestDriver(p)
    try {
      d.pipeInput('orders', [
        { key: 'x', value: { id: 1, amount: 3 } },
        { key: 'y', value: { id: 2, amount: 30 } },
      ])
      assert.deepEqual(
        d.readOutput('big').map((r) => r.value),
        [{ id: 1, amount: 3 }],
      )
      const [dead] = d.deadLetters()
      assert.equal(dead.kind, 'production')
      assert.equal(dead.code, 'SLUICE_ERR_SERDE')
      assert.match(dead.message, /step .* cannot write a record to topic big: amount 30 is too large/)
      assert.deepEqual(JSON.parse(dead.value!.toString()), { id: 2, amount: 30 })
    } finally {
      await d.close()
    }
  })

  it('refuses an unknown policy or kind of failure by name', () => {
    assert.throws(
      () => ordersPipeline({ errors: { processing: 'ignore' as 'skip' } }).build(() => 1),
      /errors.processing is "ignore"; use 'fail', 'skip' or 'dead-letter'/,
    )
    assert.throws(
      () => ordersPipeline({ errors: { parsing: 'skip' } as PipelineOptions['errors'] }).build(() => 1),
      /errors.parsing is not a kind of failure/,
    )
  })

  it('loses nothing: for random bytes, every record is processed or dead-lettered, with its bytes', async () => {
    const good = fc.record({ id: fc.nat(), amount: fc.integer({ min: -1000, max: 1000 }) })
    const input = fc.array(
      fc.oneof(
        good.map((o) => Buffer.from(JSON.stringify(o))),
        fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
        good.map((o) => Buffer.from(JSON.stringify(o)).subarray(0, 5)),
        fc.constantFrom('null', '0', '"x"', '[]', '{}').map((t) => Buffer.from(t)),
      ),
      { maxLength: 60 },
    )
    /** The reference: what becomes of each record, from JSON.parse and the map's own code. */
    const fate = (v: Buffer): 'out' | 'deserialization' | 'processing' => {
      let o: unknown
      try {
        o = JSON.parse(v.toString('utf8'))
      } catch {
        return 'deserialization'
      }
      return o === null ? 'processing' : 'out' // `null.amount` throws; any other value maps (maybe to NaN)
    }
    await fc.assert(
      fc.asyncProperty(input, fc.integer({ min: 1, max: 8 }), async (values, batchSize) => {
        const d = new TestDriver(ordersPipeline({ errors: { processing: 'dead-letter' } }), { batchSize })
        try {
          d.pipeRawInput(
            'orders',
            values.map((value) => ({ value })),
          )
          const out = d.readOutput('doubled')
          const dead = d.deadLetters()
          assert.equal(out.length, values.filter((v) => fate(v) === 'out').length)
          const unreadable = dead.filter((x) => x.kind === 'deserialization')
          assert.deepEqual(
            unreadable.map((x) => x.offset),
            values.flatMap((v, i) => (fate(v) === 'deserialization' ? [i] : [])),
          )
          for (const x of unreadable) assert.deepEqual(x.value, values[x.offset!])
          assert.equal(
            dead.filter((x) => x.kind === 'processing').length,
            values.filter((v) => fate(v) === 'processing').length,
          )
        } finally {
          await d.close()
        }
      }),
      { numRuns: 60 },
    )
  })
})

describe('dead letters under the runner (exactly-once, embedded log)', () => {
  let dir: string
  let log: Log
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dlq-'))
    log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  })
  afterEach(async () => {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates the topic and commits dead letters with the outputs; status and metrics count them', async () => {
    const admin = log.admin()
    await admin.createTopic('orders', { partitions: 2 })
    await admin.createTopic('doubled', { partitions: 1 })
    const producer = log.producer()
    const values = [
      '{"id":1,"amount":1}',
      '{"id":2',
      '{"id":3,"amount":3}',
      '\u0000\u0001',
      '{"id":5,"amount":5}',
    ]
    await producer.send(values.map((v, i) => ({ topic: 'orders', partition: i % 2, value: bytes(v) })))
    await producer.close()
    const metrics = new PipelineMetrics(new Registry())
    const run = await runPipeline(ordersPipeline(), {
      log,
      stateDir: join(dir, 'state'),
      commitIntervalMs: 20,
      metrics,
    })
    const deadline = Date.now() + 20_000
    while ([...run.committedOffsets().values()].reduce((a, b) => a + b, 0) < values.length) {
      assert.ok(Date.now() < deadline, 'timed out waiting for the input to be committed')
      await new Promise((r) => setTimeout(r, 20))
    }
    const status = run.status()
    await run.stop()
    assert.equal(status.deadLetters, 2)
    assert.equal(status.deadLetterTopic, 'orders-dead-letters')
    const counted = (await metrics.registry.getSingleMetric('sluice_dead_letters_total')!.get()).values
    assert.deepEqual(
      counted.map((v) => [v.labels.step, v.value]),
      [['orders', 2]],
    )

    const read = async (topic: string) => {
      const c = log.consumer({ isolationLevel: 'read_committed' })
      await c.assign([{ topic, partition: 0 }])
      await c.seek({ topic, partition: 0 }, 'earliest')
      const out = await c.poll({ timeoutMs: 0 })
      await c.close()
      return out
    }
    assert.deepEqual((await read('doubled')).map((r) => JSON.parse(r.value!.toString()).id).sort(), [1, 3, 5])
    const dead = (await read('orders-dead-letters')).map((r) => parseDeadLetter(r)!)
    assert.deepEqual(dead.map((x) => [x.value!.toString(), x.topic, x.partition, x.offset]).sort(), [
      ['\u0000\u0001', 'orders', 1, 1],
      ['{"id":2', 'orders', 1, 0],
    ])
  })
})
