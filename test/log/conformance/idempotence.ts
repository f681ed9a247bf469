// Conformance: idempotent producers. Deduplication of retried batches cannot be provoked through the contract
// (retries are internal), so this checks what is observable: metadata, per-partition order of concurrent sends,
// and no loss or duplication under concurrency.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import { bytes, readAll, valuesOf } from './helpers.ts'

export function idempotenceTests(factory: LogFactory): void {
  describe('idempotent producer', () => {
    const ctx = useLog(factory, 'idem')
    const opts = { timeout: ctx.testTimeoutMs }

    for (const idempotent of [true, undefined, false]) {
      it(`send returns metadata with offsets (idempotent: ${idempotent})`, opts, async () => {
        const topic = await ctx.createTopic(1)
        const producer = ctx.producer(idempotent === undefined ? {} : { idempotent })
        const meta = await producer.send([
          { topic, partition: 0, value: bytes('a'), timestamp: 10 },
          { topic, partition: 0, value: bytes('b'), timestamp: 20 },
        ])
        assert.deepEqual(
          meta.map(({ topic, partition, offset, timestamp }) => ({ topic, partition, offset, timestamp })),
          [
            { topic, partition: 0, offset: 0, timestamp: 10 },
            { topic, partition: 0, offset: 1, timestamp: 20 },
          ],
        )
        const [next] = await producer.send([{ topic, partition: 0, value: bytes('c'), timestamp: 30 }])
        assert.equal(next.offset, 2)
      })
    }

    it('concurrent sends of one producer keep their call order per partition', opts, async () => {
      const topic = await ctx.createTopic(2)
      const producer = ctx.producer({ idempotent: true })
      const pending = Array.from({ length: 30 }, (_, i) =>
        producer.send([{ topic, partition: i % 2, value: bytes(`${i}`) }]),
      )
      const meta = (await Promise.all(pending)).map(([m]) => m)
      for (const partition of [0, 1]) {
        const offsets = meta.filter((m) => m.partition === partition).map((m) => m.offset)
        assert.deepEqual(
          offsets,
          offsets.map((_, i) => i),
          `partition ${partition}: offsets follow call order`,
        )
      }
      const records = await readAll(ctx, [{ topic, partition: 0 }], 'read_uncommitted')
      assert.deepEqual(
        valuesOf(records),
        Array.from({ length: 15 }, (_, i) => `${i * 2}`),
      )
    })

    it('a producer keeps writing to a topic that was deleted and created again', opts, async () => {
      const topic = await ctx.createTopic(1)
      const producer = ctx.producer({ idempotent: true })
      await producer.send([1, 2, 3].map((i) => ({ topic, partition: 0, value: bytes(`old${i}`) })))
      await ctx.admin.deleteTopic(topic)
      await ctx.admin.createTopic(topic, { partitions: 1 })
      const [m] = await producer.send([{ topic, partition: 0, value: bytes('new') }])
      assert.equal(m.offset, 0, 'the new topic starts at 0; old sequence numbers do not get in the way')
      assert.deepEqual(valuesOf(await readAll(ctx, [{ topic, partition: 0 }], 'read_uncommitted')), ['new'])
    })

    it('several producers writing one partition at once lose and duplicate nothing', opts, async () => {
      const topic = await ctx.createTopic(1)
      const producers = [0, 1, 2].map(() => ctx.producer({ idempotent: true }))
      await Promise.all(
        producers.map(async (producer, p) => {
          for (let i = 0; i < 10; i++) {
            await producer.send([
              { topic, partition: 0, value: bytes(`${p}-${i}-a`) },
              { topic, partition: 0, value: bytes(`${p}-${i}-b`) },
            ])
          }
        }),
      )
      const records = await readAll(ctx, [{ topic, partition: 0 }], 'read_uncommitted')
      assert.deepEqual(
        records.map((r) => r.offset),
        Array.from({ length: 60 }, (_, i) => i),
      )
      const values = valuesOf(records) as string[]
      assert.equal(new Set(values).size, 60, 'no duplicates')
      for (const p of [0, 1, 2]) {
        const mine = values.filter((v) => v.startsWith(`${p}-`))
        const expected = Array.from({ length: 10 }, (_, i) => [`${p}-${i}-a`, `${p}-${i}-b`]).flat()
        assert.deepEqual(mine, expected, `producer ${p}'s records in its order`)
      }
    })
  })
}
