// Conformance: transactions as Kafka's read_committed readers see them: visibility on commit and abort, the last
// stable offset, transactions over several partitions and topics, consumer offsets inside transactions.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tpKey } from '../../../src/log/contract.ts'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import {
  committedAndAll,
  drain,
  offsetsOf,
  partitionsOf,
  pollUntil,
  readAll,
  sendValues as send,
  valuesOf,
  waitFor,
  waitUntilStable,
} from './helpers.ts'

export function transactionTests(factory: LogFactory): void {
  describe('transactions', () => {
    const ctx = useLog(factory, 'txn')
    const opts = { timeout: ctx.testTimeoutMs }

    it(
      'a committed transaction becomes visible to read_committed; metadata has its offsets',
      opts,
      async () => {
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        const producer = await ctx.transactionalProducer()
        producer.beginTransaction()
        const meta = await send(producer, tp, 't1', 't2', 't3')
        assert.deepEqual(
          meta.map((m) => m.offset),
          [0, 1, 2],
        )
        assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), [], 'invisible before commit')
        await producer.commitTransaction()
        await waitUntilStable(ctx, [tp])
        const committed = await readAll(ctx, [tp], 'read_committed')
        assert.deepEqual(valuesOf(committed), ['t1', 't2', 't3'])
        assert.deepEqual(
          committed.map((r) => r.offset),
          [0, 1, 2],
        )
      },
    )

    it(
      'an aborted transaction is never visible to read_committed, but is to read_uncommitted',
      opts,
      async () => {
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        const producer = await ctx.transactionalProducer()
        producer.beginTransaction()
        await send(producer, tp, 'a1', 'a2')
        await producer.abortTransaction()
        await send(ctx.producer(), tp, 'plain')
        await waitUntilStable(ctx, [tp])
        const { committed, all } = await committedAndAll(ctx, [tp])
        assert.deepEqual(committed, ['plain'])
        assert.deepEqual(all, ['a1', 'a2', 'plain'])
      },
    )

    it('read_committed stops at the last stable offset while a transaction is open', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const plain = ctx.producer()
      const txn = await ctx.transactionalProducer()
      await send(plain, tp, 'p0', 'p1')
      txn.beginTransaction()
      await send(txn, tp, 't2', 't3')
      await send(plain, tp, 'p4', 'p5')

      assert.equal(await ctx.admin.listOffsets(topic, 0, 'lastStable'), 2, 'lastStable = first open offset')
      assert.equal(await ctx.admin.listOffsets(topic, 0, 'latest'), 6)
      assert.equal((await ctx.admin.describeTopic(topic)).partitions[0].lastStableOffset, 2)
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_uncommitted')), [
        'p0',
        'p1',
        't2',
        't3',
        'p4',
        'p5',
      ])

      const consumer = ctx.consumer({ isolationLevel: 'read_committed' })
      await consumer.assign([tp])
      await consumer.seek(tp, 'earliest')
      const head = await drain(consumer, new Map([[tpKey(tp), 2]]), ctx.waitTimeoutMs)
      assert.deepEqual(valuesOf(head), ['p0', 'p1'])
      assert.deepEqual(valuesOf(await consumer.poll({ timeoutMs: 200 })), [], 'nothing past the open txn')
      assert.equal(consumer.position(tp), 2)

      // A read_committed poll that is waiting wakes up when the transaction commits.
      const timeoutMs = ctx.waitTimeoutMs * 2
      const started = Date.now()
      const pending = consumer.poll({ timeoutMs })
      await txn.commitTransaction()
      const first = await pending
      assert.ok(first.length > 0, 'the waiting poll returned records')
      assert.ok(Date.now() - started < timeoutMs / 2, 'the waiting poll woke up on commit')
      const rest = await pollUntil(consumer, (r) => first.length + r.length >= 4, ctx.waitTimeoutMs)
      assert.deepEqual(valuesOf([...first, ...rest]), ['t2', 't3', 'p4', 'p5'])
      await waitUntilStable(ctx, [tp])
    })

    it('records after an open transaction that then aborts are returned without it', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const plain = ctx.producer()
      const txn = await ctx.transactionalProducer()
      txn.beginTransaction()
      await send(txn, tp, 't0', 't1')
      await send(plain, tp, 'p2', 'p3')
      assert.equal(await ctx.admin.listOffsets(topic, 0, 'lastStable'), 0)
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), [])
      await txn.abortTransaction()
      await waitUntilStable(ctx, [tp])
      const { committed, all } = await committedAndAll(ctx, [tp])
      assert.deepEqual(committed, ['p2', 'p3'])
      assert.deepEqual(all, ['t0', 't1', 'p2', 'p3'])
    })

    it('a transaction over several partitions and topics commits or aborts as one', opts, async () => {
      const a = await ctx.createTopic(2)
      const b = await ctx.createTopic(1)
      const bystander = await ctx.createTopic(1)
      const tps = [...partitionsOf(a, 2), ...partitionsOf(b, 1)]
      const producer = await ctx.transactionalProducer()

      producer.beginTransaction()
      for (const tp of tps) await send(producer, tp, `c-${tpKey(tp)}`)
      await send(ctx.producer(), { topic: bystander, partition: 0 }, 'x')
      const stable = await offsetsOf(ctx.admin, tps, 'lastStable')
      const latest = await offsetsOf(ctx.admin, tps, 'latest')
      for (const tp of tps) {
        assert.ok(stable.get(tpKey(tp))! < latest.get(tpKey(tp))!, `${tpKey(tp)} is unstable while open`)
      }
      assert.equal(await ctx.admin.listOffsets(bystander, 0, 'lastStable'), 1, 'other topics are unaffected')
      await producer.commitTransaction()
      await waitUntilStable(ctx, tps)
      const afterCommit = await committedAndAll(ctx, tps)
      assert.deepEqual(afterCommit.committed.sort(), tps.map((tp) => `c-${tpKey(tp)}`).sort())

      producer.beginTransaction()
      for (const tp of tps) await send(producer, tp, `a-${tpKey(tp)}`)
      await producer.abortTransaction()
      await waitUntilStable(ctx, tps)
      const afterAbort = await committedAndAll(ctx, tps)
      assert.deepEqual(afterAbort.committed.sort(), afterCommit.committed.sort(), 'no aborted record visible')
      assert.equal(afterAbort.all.length, 2 * tps.length, 'read_uncommitted sees both transactions')
    })

    it('a producer runs transactions back to back, empty ones included', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const producer = await ctx.transactionalProducer()
      producer.beginTransaction()
      await producer.commitTransaction()
      producer.beginTransaction()
      await producer.abortTransaction()
      for (const [i, outcome] of ['commit', 'abort', 'commit'].entries()) {
        producer.beginTransaction()
        await send(producer, tp, `${outcome}${i}`)
        if (outcome === 'commit') await producer.commitTransaction()
        else await producer.abortTransaction()
      }
      await waitUntilStable(ctx, [tp])
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), ['commit0', 'commit2'])
    })

    it('sendOffsetsToTransaction commits the offsets only if the transaction commits', opts, async () => {
      const input = await ctx.createTopic(1)
      const output = await ctx.createTopic(1)
      const inTp = { topic: input, partition: 0 }
      const outTp = { topic: output, partition: 0 }
      await send(ctx.producer(), inTp, 'i0', 'i1', 'i2', 'i3', 'i4')
      const groupId = ctx.name('group')
      const consumer = ctx.consumer({
        groupId,
        isolationLevel: 'read_committed',
        autoOffsetReset: 'earliest',
      })
      await consumer.subscribe([input])
      const records = await pollUntil(consumer, (r) => r.length >= 5, ctx.waitTimeoutMs)
      assert.deepEqual(valuesOf(records), ['i0', 'i1', 'i2', 'i3', 'i4'])
      const producer = await ctx.transactionalProducer()

      producer.beginTransaction()
      await send(producer, outTp, 'o0', 'o1')
      await producer.sendOffsetsToTransaction([{ ...inTp, offset: 2 }], consumer.groupMetadata())
      await producer.commitTransaction()
      const committedOffset = async () => (await consumer.committed([inTp])).get(tpKey(inTp))
      await waitFor(
        'the transactional offset commit',
        async () => (await committedOffset()) === 2,
        ctx.waitTimeoutMs,
      )

      producer.beginTransaction()
      await send(producer, outTp, 'o2', 'o3', 'o4')
      await producer.sendOffsetsToTransaction([{ ...inTp, offset: 5 }], consumer.groupMetadata())
      await producer.abortTransaction()
      await waitUntilStable(ctx, [outTp])
      assert.equal(await committedOffset(), 2, 'aborted offsets are not committed')
      const group = await ctx.admin.describeGroup(groupId)
      assert.deepEqual(
        group.offsets.filter((o) => o.topic === input).map((o) => [o.partition, o.offset]),
        [[0, 2]],
      )
      assert.deepEqual(valuesOf(await readAll(ctx, [outTp], 'read_committed')), ['o0', 'o1'])

      // The next member of the group resumes where the committed transaction left off.
      await consumer.close()
      const next = ctx.consumer({ groupId, isolationLevel: 'read_committed', autoOffsetReset: 'earliest' })
      await next.subscribe([input])
      assert.deepEqual(valuesOf(await pollUntil(next, (r) => r.length >= 3, ctx.waitTimeoutMs)), [
        'i2',
        'i3',
        'i4',
      ])
    })

    for (const how of ['seek', 'autoOffsetReset'] as const) {
      it(`for read_committed, latest is the last stable offset (${how})`, opts, async () => {
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        await send(ctx.producer(), tp, 'p0')
        const txn = await ctx.transactionalProducer()
        txn.beginTransaction()
        await send(txn, tp, 't1', 't2')

        const consumer = ctx.consumer({ isolationLevel: 'read_committed', autoOffsetReset: 'latest' })
        await consumer.assign([tp])
        if (how === 'seek') await consumer.seek(tp, 'latest')
        assert.deepEqual(valuesOf(await consumer.poll({ timeoutMs: 50 })), [])
        assert.equal(consumer.position(tp), 1, 'positioned at the last stable offset, before the open txn')

        await txn.commitTransaction()
        const got = await pollUntil(consumer, (r) => r.length >= 2, ctx.waitTimeoutMs)
        assert.deepEqual(valuesOf(got), ['t1', 't2'])
      })
    }

    it('commit and abort outcomes survive close and reopen', { ...opts, skip: !factory.reopen }, async () => {
      const topic = await ctx.createTopic(2)
      const tps = partitionsOf(topic, 2)
      const producer = await ctx.transactionalProducer()
      producer.beginTransaction()
      await send(producer, tps[0], 'c0')
      await send(producer, tps[1], 'c1')
      await producer.commitTransaction()
      producer.beginTransaction()
      await send(producer, tps[0], 'a0')
      await send(producer, tps[1], 'a1')
      await producer.abortTransaction()
      await send(ctx.producer(), tps[0], 'p0')
      await waitUntilStable(ctx, tps)
      await ctx.reopen()
      assert.deepEqual(
        await offsetsOf(ctx.admin, tps, 'lastStable'),
        await offsetsOf(ctx.admin, tps, 'latest'),
      )
      const { committed, all } = await committedAndAll(ctx, tps)
      assert.deepEqual(committed.sort(), ['c0', 'c1', 'p0'])
      assert.deepEqual(all.sort(), ['a0', 'a1', 'c0', 'c1', 'p0'])
    })
  })
}
