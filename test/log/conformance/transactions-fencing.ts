// Conformance: the safety of transactional producers: fencing by transactional id and by group generation,
// restarts, calls in the wrong state, and transaction timeouts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tpKey } from '../../../src/log/contract.ts'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import {
  committedAndAll,
  partitionsOf,
  pollUntil,
  readAll,
  rejectsWithCode,
  sendValues as send,
  throwsWithCode,
  valuesOf,
  waitUntilStable,
} from './helpers.ts'

export function transactionFencingTests(factory: LogFactory): void {
  describe('transactions: fencing and state', () => {
    const ctx = useLog(factory, 'fence')
    const opts = { timeout: ctx.testTimeoutMs }

    it(
      'a second producer with the same transactional id fences the first and aborts its transaction',
      opts,
      async () => {
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        const transactionalId = ctx.name('txn')
        const zombie = ctx.producer({ transactionalId })
        await zombie.initTransactions()
        zombie.beginTransaction()
        await send(zombie, tp, 'zombie')

        const successor = ctx.producer({ transactionalId })
        await successor.initTransactions()
        await waitUntilStable(ctx, [tp])
        assert.deepEqual(
          valuesOf(await readAll(ctx, [tp], 'read_committed')),
          [],
          'the zombie txn was aborted',
        )
        assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_uncommitted')), ['zombie'])

        await rejectsWithCode(() => send(zombie, tp, 'late'), 'SLUICE_ERR_PRODUCER_FENCED')

        successor.beginTransaction()
        await send(successor, tp, 'successor')
        await successor.commitTransaction()
        await waitUntilStable(ctx, [tp])
        assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), ['successor'])
      },
    )

    it('a fenced producer cannot commit its transaction', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const transactionalId = ctx.name('txn')
      const zombie = ctx.producer({ transactionalId })
      await zombie.initTransactions()
      zombie.beginTransaction()
      await send(zombie, tp, 'zombie')
      await ctx.producer({ transactionalId }).initTransactions()
      await rejectsWithCode(() => zombie.commitTransaction(), 'SLUICE_ERR_PRODUCER_FENCED')
      await waitUntilStable(ctx, [tp])
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), [])
    })

    it('an idle producer is fenced too: its next transaction fails on send', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const transactionalId = ctx.name('txn')
      const zombie = ctx.producer({ transactionalId })
      await zombie.initTransactions()
      zombie.beginTransaction()
      await send(zombie, tp, 'before')
      await zombie.commitTransaction()
      await ctx.producer({ transactionalId }).initTransactions()
      await rejectsWithCode(async () => {
        zombie.beginTransaction()
        await send(zombie, tp, 'after')
        await zombie.commitTransaction()
      }, 'SLUICE_ERR_PRODUCER_FENCED')
      await waitUntilStable(ctx, [tp])
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), ['before'])
    })

    for (const reopen of [false, true]) {
      const how = reopen ? 'after close and reopen of the log' : 'after the old producer closed'
      it(`a restarted producer aborts the transaction its predecessor left open (${how})`, {
        ...opts,
        skip: reopen && !factory.reopen,
      }, async () => {
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        const transactionalId = ctx.name('txn')
        const crashed = ctx.producer({ transactionalId })
        await crashed.initTransactions()
        crashed.beginTransaction()
        await send(crashed, tp, 'left-open')
        await crashed.close()
        if (reopen) await ctx.reopen()
        await send(ctx.producer(), tp, 'plain')

        const restarted = ctx.producer({ transactionalId })
        await restarted.initTransactions()
        await waitUntilStable(ctx, [tp])
        const { committed, all } = await committedAndAll(ctx, [tp])
        assert.deepEqual(committed, ['plain'])
        assert.deepEqual(all, ['left-open', 'plain'])
      })
    }

    // Kafka: "If isolation.level=read_committed, the end offset will be the Last Stable Offset". A reader that

    it('offsets sent with a stale group generation are refused (KIP-447 zombie fencing)', opts, async () => {
      const input = await ctx.createTopic(2)
      const output = await ctx.createTopic(1)
      const tps = partitionsOf(input, 2)
      const groupId = ctx.name('group')
      const first = ctx.consumer({ groupId, autoOffsetReset: 'earliest' })
      await first.subscribe([input])
      await pollUntil(first, () => first.assignment().length === 2, ctx.waitTimeoutMs)
      const stale = first.groupMetadata()

      const second = ctx.consumer({ groupId, autoOffsetReset: 'earliest' })
      await second.subscribe([input])
      const deadline = Date.now() + ctx.waitTimeoutMs
      while (first.assignment().length !== 1 || second.assignment().length !== 1) {
        assert.ok(Date.now() < deadline, 'timed out waiting for the rebalance')
        await Promise.all([first.poll({ timeoutMs: 50 }), second.poll({ timeoutMs: 50 })])
      }
      assert.ok(
        first.groupMetadata().generationId > stale.generationId,
        'the rebalance made a new generation',
      )

      const producer = await ctx.transactionalProducer()
      producer.beginTransaction()
      await send(producer, { topic: output, partition: 0 }, 'zombie-output')
      await rejectsWithCode(async () => {
        await producer.sendOffsetsToTransaction([{ ...tps[0], offset: 1 }], stale)
        await producer.commitTransaction()
      }, 'SLUICE_ERR_ILLEGAL_GENERATION')
      await producer.abortTransaction().catch(() => {})
      assert.equal((await first.committed(tps)).get(tpKey(tps[0])), undefined, 'no offset committed')
      await waitUntilStable(ctx, [{ topic: output, partition: 0 }])
      assert.deepEqual(valuesOf(await readAll(ctx, [{ topic: output, partition: 0 }], 'read_committed')), [])
    })

    it('calls in the wrong transaction state fail with SLUICE_ERR_INVALID_TXN_STATE', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const group = { groupId: ctx.name('group'), generationId: -1, memberId: '' }

      const uninitialized = ctx.producer({ transactionalId: ctx.name('txn') })
      throwsWithCode(() => uninitialized.beginTransaction(), 'SLUICE_ERR_INVALID_TXN_STATE')

      const producer = await ctx.transactionalProducer()
      await rejectsWithCode(() => producer.commitTransaction(), 'SLUICE_ERR_INVALID_TXN_STATE')
      await rejectsWithCode(() => producer.abortTransaction(), 'SLUICE_ERR_INVALID_TXN_STATE')
      await rejectsWithCode(() => send(producer, tp, 'outside'), 'SLUICE_ERR_INVALID_TXN_STATE')
      await rejectsWithCode(
        () => producer.sendOffsetsToTransaction([{ ...tp, offset: 1 }], group),
        'SLUICE_ERR_INVALID_TXN_STATE',
      )
      producer.beginTransaction()
      throwsWithCode(() => producer.beginTransaction(), 'SLUICE_ERR_INVALID_TXN_STATE')
      await send(producer, tp, 'inside')
      await producer.commitTransaction()
      await rejectsWithCode(() => producer.commitTransaction(), 'SLUICE_ERR_INVALID_TXN_STATE')

      const plain = ctx.producer()
      await rejectsWithCode(() => plain.initTransactions(), 'SLUICE_ERR_INVALID_TXN_STATE')
      throwsWithCode(() => plain.beginTransaction(), 'SLUICE_ERR_INVALID_TXN_STATE')
      await rejectsWithCode(() => plain.commitTransaction(), 'SLUICE_ERR_INVALID_TXN_STATE')

      await waitUntilStable(ctx, [tp])
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), ['inside'])
    })

    it('the log aborts a transaction open longer than transactionTimeoutMs', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const producer = await ctx.transactionalProducer({ transactionTimeoutMs: 500 })
      producer.beginTransaction()
      await send(producer, tp, 'expired')
      await waitUntilStable(ctx, [tp])
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), [])
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_uncommitted')), ['expired'])
      // Kafka answers the late commit with an epoch error; Sluice names it TXN_TIMED_OUT (or FENCED, as Kafka
      // before KIP-588 did).
      await rejectsWithCode(
        () => producer.commitTransaction(),
        'SLUICE_ERR_TXN_TIMED_OUT',
        'SLUICE_ERR_PRODUCER_FENCED',
      )
      assert.deepEqual(valuesOf(await readAll(ctx, [tp], 'read_committed')), [])
    })
  })
}
