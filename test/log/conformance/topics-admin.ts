// Conformance: topic administration (create, describe, list, delete) and its errors, as Kafka's admin client
// behaves.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import { bytes, rejectsWithCode } from './helpers.ts'

export function topicsAdminTests(factory: LogFactory): void {
  describe('topics admin', () => {
    const ctx = useLog(factory, 'admin')
    const opts = { timeout: ctx.testTimeoutMs }

    it('the log says which kind it is', opts, () => {
      assert.ok(ctx.log.kind === 'embedded' || ctx.log.kind === 'kafka', `kind ${ctx.log.kind}`)
    })

    it('creates a topic that is listed and described with empty partitions', opts, async () => {
      const name = await ctx.createTopic(3)
      assert.ok((await ctx.admin.listTopics()).includes(name), 'listTopics includes the new topic')
      const d = await ctx.admin.describeTopic(name)
      assert.equal(d.name, name)
      assert.equal(d.internal, false)
      assert.deepEqual(
        d.partitions.map((p) => p.partition),
        [0, 1, 2],
      )
      for (const p of d.partitions) {
        assert.equal(p.logStartOffset, 0, `partition ${p.partition} logStartOffset`)
        assert.equal(p.highWatermark, 0, `partition ${p.partition} highWatermark`)
        assert.equal(p.lastStableOffset, 0, `partition ${p.partition} lastStableOffset`)
      }
    })

    it('describes every config key, keeping the ones given at creation', opts, async () => {
      const name = await ctx.createTopic(1, {
        'cleanup.policy': 'compact',
        'retention.ms': 3_600_000,
        'max.message.bytes': 65_536,
      })
      const { config } = await ctx.admin.describeTopic(name)
      assert.equal(config['cleanup.policy'], 'compact')
      assert.equal(config['retention.ms'], 3_600_000)
      assert.equal(config['max.message.bytes'], 65_536)
      for (const key of ['retention.bytes', 'segment.bytes', 'segment.ms', 'delete.retention.ms'] as const) {
        assert.equal(typeof config[key], 'number', `config ${key} is described`)
      }
      const plain = await ctx.admin.describeTopic(await ctx.createTopic(1))
      assert.equal(plain.config['cleanup.policy'], 'delete', 'the default cleanup policy is delete')
    })

    it('describes high watermark and size after appends', opts, async () => {
      const name = await ctx.createTopic(2)
      const producer = ctx.producer()
      await producer.send([1, 2, 3].map((i) => ({ topic: name, partition: 1, value: bytes(`v${i}`) })))
      const d = await ctx.admin.describeTopic(name)
      const [p0, p1] = d.partitions
      assert.equal(p0.highWatermark, 0)
      assert.equal(p1.highWatermark, 3)
      assert.equal(p1.lastStableOffset, 3)
      assert.equal(p1.logStartOffset, 0)
      assert.ok(p1.sizeBytes >= 6, `sizeBytes ${p1.sizeBytes} counts the stored records`)
      assert.ok(p0.sizeBytes < p1.sizeBytes, 'an empty partition is smaller than a written one')
    })

    it(
      'creating an existing topic fails with SLUICE_ERR_TOPIC_EXISTS and leaves it alone',
      opts,
      async () => {
        const name = await ctx.createTopic(2)
        await rejectsWithCode(() => ctx.admin.createTopic(name, { partitions: 5 }), 'SLUICE_ERR_TOPIC_EXISTS')
        assert.equal((await ctx.admin.describeTopic(name)).partitions.length, 2)
      },
    )

    it('rejects a partition count below 1 with SLUICE_ERR_INVALID_ARGUMENT', opts, async () => {
      for (const partitions of [0, -1]) {
        const name = ctx.name('bad')
        await rejectsWithCode(
          () => ctx.admin.createTopic(name, { partitions }),
          'SLUICE_ERR_INVALID_ARGUMENT',
        )
        assert.ok(!(await ctx.admin.listTopics()).includes(name))
      }
    })

    it('rejects names Kafka rejects with SLUICE_ERR_INVALID_ARGUMENT', opts, async () => {
      // Kafka allows [a-zA-Z0-9._-], at most 249 characters, and not "." or "..". A name with a slash would
      // escape a per-topic directory.
      for (const name of ['', '.', '..', 'a/b', '../escape', 'has space', 'x'.repeat(250)]) {
        await rejectsWithCode(
          () => ctx.admin.createTopic(name, { partitions: 1 }),
          'SLUICE_ERR_INVALID_ARGUMENT',
        )
      }
    })

    it('rejects an invalid config value with SLUICE_ERR_INVALID_CONFIG', opts, async () => {
      const name = ctx.name('badcfg')
      await rejectsWithCode(
        () =>
          ctx.admin.createTopic(name, {
            partitions: 1,
            config: { 'cleanup.policy': 'shred' as 'delete' },
          }),
        'SLUICE_ERR_INVALID_CONFIG',
      )
      assert.ok(!(await ctx.admin.listTopics()).includes(name))
    })

    it('unknown topics fail with SLUICE_ERR_TOPIC_NOT_FOUND', opts, async () => {
      const missing = ctx.name('missing')
      await rejectsWithCode(() => ctx.admin.describeTopic(missing), 'SLUICE_ERR_TOPIC_NOT_FOUND')
      await rejectsWithCode(() => ctx.admin.deleteTopic(missing), 'SLUICE_ERR_TOPIC_NOT_FOUND')
      await rejectsWithCode(() => ctx.admin.listOffsets(missing, 0, 'latest'), 'SLUICE_ERR_TOPIC_NOT_FOUND')
      await rejectsWithCode(
        () => ctx.producer().send([{ topic: missing, partition: 0, value: bytes('x') }]),
        'SLUICE_ERR_TOPIC_NOT_FOUND',
      )
    })

    it('unknown partitions fail with SLUICE_ERR_PARTITION_NOT_FOUND', opts, async () => {
      const name = await ctx.createTopic(2)
      await rejectsWithCode(() => ctx.admin.listOffsets(name, 2, 'latest'), 'SLUICE_ERR_PARTITION_NOT_FOUND')
      await rejectsWithCode(
        () => ctx.producer().send([{ topic: name, partition: 2, value: bytes('x') }]),
        'SLUICE_ERR_PARTITION_NOT_FOUND',
      )
    })

    it('deletes a topic: gone from list and describe, and the name can be created anew', opts, async () => {
      const name = await ctx.createTopic(2)
      await ctx.producer().send([{ topic: name, partition: 0, value: bytes('old') }])
      await ctx.admin.deleteTopic(name)
      assert.ok(!(await ctx.admin.listTopics()).includes(name), 'deleted topic not listed')
      await rejectsWithCode(() => ctx.admin.describeTopic(name), 'SLUICE_ERR_TOPIC_NOT_FOUND')
      await ctx.admin.createTopic(name, { partitions: 1 })
      const d = await ctx.admin.describeTopic(name)
      assert.equal(d.partitions.length, 1)
      assert.equal(d.partitions[0].highWatermark, 0, 'a recreated topic starts empty')
    })

    it('listTopics without internal topics is a subset of listTopics with them', opts, async () => {
      const name = await ctx.createTopic(1)
      const visible = await ctx.admin.listTopics()
      const all = await ctx.admin.listTopics({ includeInternal: true })
      assert.ok(all.includes(name))
      for (const t of visible) assert.ok(all.includes(t), `${t} listed with internal topics too`)
      for (const t of all.filter((t) => !visible.includes(t))) {
        assert.equal((await ctx.admin.describeTopic(t)).internal, true, `${t} is only listed as internal`)
      }
    })

    it('topics and their config survive close and reopen', { ...opts, skip: !factory.reopen }, async () => {
      const name = await ctx.createTopic(3, { 'cleanup.policy': 'compact', 'retention.ms': 120_000 })
      await ctx.producer().send([{ topic: name, partition: 2, key: bytes('k'), value: bytes('kept') }])
      await ctx.reopen()
      assert.ok((await ctx.admin.listTopics()).includes(name))
      const d = await ctx.admin.describeTopic(name)
      assert.equal(d.partitions.length, 3)
      assert.equal(d.partitions[2].highWatermark, 1)
      assert.equal(d.config['cleanup.policy'], 'compact')
      assert.equal(d.config['retention.ms'], 120_000)
    })

    it('calls after the log is closed fail with SLUICE_ERR_LOG_CLOSED', opts, async () => {
      const admin = ctx.admin
      const producer = ctx.producer()
      await ctx.closeLog()
      await rejectsWithCode(() => admin.listTopics(), 'SLUICE_ERR_LOG_CLOSED')
      await rejectsWithCode(
        () => producer.send([{ topic: ctx.name('any'), partition: 0, value: bytes('x') }]),
        'SLUICE_ERR_LOG_CLOSED',
      )
    })
  })
}
