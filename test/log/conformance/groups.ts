// Conformance: consumer groups: partition assignment among members, handover when a member leaves, rebalance
// listeners, committed offsets (and their durability), describe and list.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TopicPartition } from '../../../src/log/contract.ts'
import { tpKey } from '../../../src/log/contract.ts'
import type { Member } from './group-members.ts'
import {
  allValues,
  assigned,
  join,
  pollMembers,
  produceRound,
  splitAmong,
  subscribe,
} from './group-members.ts'
import type { ConformanceContext, LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import {
  bytes,
  ofPartition,
  partitionsOf,
  pollUntil,
  rejectsWithCode,
  sortTps,
  valuesOf,
  waitFor,
} from './helpers.ts'

export function groupTests(factory: LogFactory): void {
  describe('consumer groups', () => {
    const ctx = useLog(factory, 'grp')
    const opts = { timeout: ctx.testTimeoutMs }

    it(
      'two members split a 4-partition topic: no overlap, full coverage, each reads its own',
      opts,
      async () => {
        const topic = await ctx.createTopic(4)
        const tps = partitionsOf(topic, 4)
        const groupId = ctx.name('group')
        const a = join(ctx, 'a', groupId)
        const b = join(ctx, 'b', groupId)
        await subscribe(a, topic)
        await subscribe(b, topic)
        await pollMembers(ctx, [a, b], 'the partitions to be split', () => splitAmong([a, b], tps))
        assert.deepEqual([assigned(a).length, assigned(b).length], [2, 2], 'balanced')

        await produceRound(ctx, topic, 4, 'r1')
        await produceRound(ctx, topic, 4, 'r2')
        await pollMembers(ctx, [a, b], 'all 8 records', () => a.records.length + b.records.length >= 8)
        const expected = ['r1', 'r2'].flatMap((r) => [0, 1, 2, 3].map((p) => `${r}-p${p}`)).sort()
        assert.deepEqual(allValues([a, b]), expected, 'every record once')
        for (const m of [a, b]) {
          for (const tp of m.consumer.assignment()) {
            const p = tp.partition
            assert.deepEqual(
              valuesOf(ofPartition(m.records, tp)),
              [`r1-p${p}`, `r2-p${p}`],
              `${m.name} reads ${p}`,
            )
          }
        }
      },
    )

    it(
      'when a member closes, the other gets all partitions and resumes from committed offsets',
      opts,
      async () => {
        const topic = await ctx.createTopic(4)
        const tps = partitionsOf(topic, 4)
        const groupId = ctx.name('group')
        const a = join(ctx, 'a', groupId)
        const b = join(ctx, 'b', groupId)
        await subscribe(a, topic)
        await subscribe(b, topic)
        await pollMembers(ctx, [a, b], 'the partitions to be split', () => splitAmong([a, b], tps))
        await produceRound(ctx, topic, 4, 'r1')
        await pollMembers(ctx, [a, b], 'round 1', () => a.records.length + b.records.length >= 4)
        await a.consumer.commit()
        await b.consumer.commit()

        await a.consumer.close()
        await pollMembers(ctx, [b], 'b to own all partitions', () => assigned(b).length === 4)
        assert.deepEqual(assigned(b), tps.map(tpKey).sort())
        const before = b.records.length
        await produceRound(ctx, topic, 4, 'r2')
        await pollMembers(ctx, [b], 'round 2', () => b.records.length >= before + 4)
        assert.deepEqual(
          (valuesOf(b.records.slice(before)) as string[]).sort(),
          [0, 1, 2, 3].map((p) => `r2-p${p}`),
          'b resumes from the committed offsets: nothing lost, nothing repeated',
        )
      },
    )

    it(
      'rebalance listeners track the assignment; commits in onRevoked hand over without repeats',
      opts,
      async () => {
        const topic = await ctx.createTopic(4)
        const tps = partitionsOf(topic, 4)
        const groupId = ctx.name('group')
        const a = join(ctx, 'a', groupId)
        await subscribe(a, topic, true)
        await pollMembers(ctx, [a], 'a to own everything', () => assigned(a).length === 4)
        await produceRound(ctx, topic, 4, 'r1')
        await produceRound(ctx, topic, 4, 'r2')
        await pollMembers(ctx, [a], 'rounds 1 and 2', () => a.records.length >= 8)

        const b = join(ctx, 'b', groupId)
        await subscribe(b, topic, true)
        await pollMembers(ctx, [a, b], 'the partitions to be split', () => splitAmong([a, b], tps))
        await produceRound(ctx, topic, 4, 'r3')
        await pollMembers(
          ctx,
          [a, b],
          'round 3',
          () => allValues([a, b]).filter((v) => v.startsWith('r3')).length >= 4,
        )

        const expected = ['r1', 'r2', 'r3'].flatMap((r) => [0, 1, 2, 3].map((p) => `${r}-p${p}`)).sort()
        assert.deepEqual(allValues([a, b]), expected, 'every record exactly once across the handover')
        for (const m of [a, b]) {
          assert.deepEqual([...m.heard].sort(), assigned(m), `${m.name}: listener view = assignment()`)
        }
        for (const key of assigned(b)) assert.ok(a.revoked.has(key), `a was told it lost ${key}`)
      },
    )

    it('a member beyond the partition count idles, and takes over when an owner leaves', opts, async () => {
      const topic = await ctx.createTopic(2)
      const tps = partitionsOf(topic, 2)
      const groupId = ctx.name('group')
      const members = ['a', 'b', 'c'].map((name) => join(ctx, name, groupId))
      for (const m of members) await subscribe(m, topic)
      const owners = () => members.filter((m) => assigned(m).length > 0)
      await pollMembers(ctx, members, 'two owners of one partition each', () => {
        const all = members.flatMap(assigned)
        return owners().length === 2 && all.length === 2 && new Set(all).size === 2
      })
      const idle = members.find((m) => assigned(m).length === 0)!
      const leaving = owners()[0]
      await leaving.consumer.commit()
      await leaving.consumer.close()
      const rest = members.filter((m) => m !== leaving)
      await pollMembers(ctx, rest, 'the idle member to take over', () => splitAmong(rest, tps))
      assert.equal(assigned(idle).length, 1)
      await produceRound(ctx, topic, 2, 'r1')
      await pollMembers(ctx, rest, 'round 1', () => rest.reduce((n, m) => n + m.records.length, 0) >= 2)
      assert.deepEqual(allValues(rest), ['r1-p0', 'r1-p1'])
    })

    it('groups are independent: each group reads every record of its topics', opts, async () => {
      const t1 = await ctx.createTopic(2)
      const t2 = await ctx.createTopic(1)
      const g1 = join(ctx, 'g1', ctx.name('group'))
      const g2 = join(ctx, 'g2', ctx.name('group'))
      for (const m of [g1, g2]) await m.consumer.subscribe([t1, t2])
      await produceRound(ctx, t1, 2, 't1')
      await produceRound(ctx, t2, 1, 't2')
      await pollMembers(ctx, [g1, g2], 'both groups to read all', () =>
        [g1, g2].every((m) => m.records.length >= 3),
      )
      for (const m of [g1, g2]) {
        assert.deepEqual((valuesOf(m.records) as string[]).sort(), ['t1-p0', 't1-p1', 't2-p0'], m.name)
        assert.deepEqual(assigned(m), [...partitionsOf(t1, 2), ...partitionsOf(t2, 1)].map(tpKey).sort())
      }
    })

    it('commit() without offsets commits the current positions', opts, async () => {
      const topic = await ctx.createTopic(2)
      const tps = partitionsOf(topic, 2)
      await ctx.producer().send([
        { topic, partition: 0, value: bytes('a') },
        { topic, partition: 0, value: bytes('b') },
        { topic, partition: 1, value: bytes('c') },
      ])
      const groupId = ctx.name('group')
      const consumer = ctx.consumer({ groupId, autoOffsetReset: 'earliest' })
      await consumer.assign(tps)
      await pollUntil(consumer, (r) => r.length >= 3, ctx.waitTimeoutMs)
      await consumer.commit()
      const committed = await consumer.committed(tps)
      assert.equal(committed.get(tpKey(tps[0])), 2)
      assert.equal(committed.get(tpKey(tps[1])), 1)
    })

    it("committed offsets are where the group's next consumer starts", opts, async () => {
      const topic = await ctx.createTopic(3)
      const tps = partitionsOf(topic, 3)
      const groupId = ctx.name('group')
      await commitThenResume(ctx, topic, tps, groupId, false)
    })

    it('committed offsets survive close and reopen', { ...opts, skip: !factory.reopen }, async () => {
      const topic = await ctx.createTopic(3)
      const tps = partitionsOf(topic, 3)
      const groupId = ctx.name('group')
      await commitThenResume(ctx, topic, tps, groupId, true)
    })

    it('a new group starts at the end by default (autoOffsetReset latest)', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      await ctx.producer().send([{ ...tp, value: bytes('old') }])
      const consumer = ctx.consumer({ groupId: ctx.name('group') })
      await consumer.subscribe([topic])
      const member: Member = { name: 'c', consumer, records: [], heard: new Set(), revoked: new Set() }
      await pollMembers(ctx, [member], 'the position to resolve', () => consumer.position(tp) !== undefined)
      assert.equal(consumer.position(tp), 1)
      await ctx.producer().send([{ ...tp, value: bytes('new') }])
      await pollMembers(ctx, [member], 'the new record', () => member.records.length >= 1)
      assert.deepEqual(valuesOf(member.records), ['new'])
    })

    it('describeGroup lists members, their assignment, the generation and the offsets', opts, async () => {
      const topic = await ctx.createTopic(4)
      const tps = partitionsOf(topic, 4)
      const groupId = ctx.name('group')
      const a = join(ctx, 'a', groupId)
      const b = join(ctx, 'b', groupId)
      await subscribe(a, topic)
      await subscribe(b, topic)
      await pollMembers(ctx, [a, b], 'the partitions to be split', () => splitAmong([a, b], tps))
      const [tpA] = sortTps(a.consumer.assignment())
      await a.consumer.commit([{ ...tpA, offset: 0, metadata: 'conformance' }])

      assert.ok((await ctx.admin.listGroups()).includes(groupId), 'listGroups includes the group')
      const d = await ctx.admin.describeGroup(groupId)
      assert.equal(d.groupId, groupId)
      assert.equal(d.state, 'Stable')
      const metaA = a.consumer.groupMetadata()
      const metaB = b.consumer.groupMetadata()
      assert.equal(metaA.groupId, groupId)
      assert.equal(d.generationId, metaA.generationId)
      assert.equal(d.generationId, metaB.generationId)
      assert.notEqual(metaA.memberId, metaB.memberId)
      assert.deepEqual(d.members.map((m) => m.memberId).sort(), [metaA.memberId, metaB.memberId].sort())
      for (const [m, meta] of [
        [a, metaA],
        [b, metaB],
      ] as const) {
        const described = d.members.find((x) => x.memberId === meta.memberId)!
        assert.equal(described.clientId, `${m.name}-client`)
        assert.deepEqual(sortTps(described.assignment), sortTps(m.consumer.assignment()))
      }
      const offset = d.offsets.find((o) => o.topic === tpA.topic && o.partition === tpA.partition)
      assert.equal(offset?.offset, 0)
      assert.equal(offset?.metadata, 'conformance')

      await a.consumer.close()
      await b.consumer.close()
      await waitFor(
        'the group to be empty',
        async () => (await ctx.admin.describeGroup(groupId)).state === 'Empty',
        ctx.waitTimeoutMs,
      )
      const empty = await ctx.admin.describeGroup(groupId)
      assert.deepEqual(empty.members, [])
      assert.ok(
        empty.offsets.some((o) => o.topic === tpA.topic && o.partition === tpA.partition && o.offset === 0),
        'offsets outlive the members',
      )
      assert.ok((await ctx.admin.listGroups()).includes(groupId), 'an empty group with offsets is listed')
    })

    it(
      'while a group has members, an outsider cannot commit for it (SLUICE_ERR_UNKNOWN_MEMBER)',
      opts,
      async () => {
        // Kafka commits a member-less (generation -1) commit only while the group is Empty.
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        const groupId = ctx.name('group')
        const member = join(ctx, 'member', groupId)
        await subscribe(member, topic)
        await pollMembers(
          ctx,
          [member],
          'the member to own the partition',
          () => assigned(member).length === 1,
        )
        const outsider = ctx.consumer({ groupId })
        await outsider.assign([tp])
        await rejectsWithCode(() => outsider.commit([{ ...tp, offset: 7 }]), 'SLUICE_ERR_UNKNOWN_MEMBER')
        assert.equal((await member.consumer.committed([tp])).get(tpKey(tp)), undefined)
      },
    )

    it('subscribe, commit and committed need a groupId (SLUICE_ERR_INVALID_ARGUMENT)', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const consumer = ctx.consumer()
      await rejectsWithCode(() => consumer.subscribe([topic]), 'SLUICE_ERR_INVALID_ARGUMENT')
      await consumer.assign([tp])
      await rejectsWithCode(() => consumer.commit([{ ...tp, offset: 0 }]), 'SLUICE_ERR_INVALID_ARGUMENT')
      await rejectsWithCode(() => consumer.committed([tp]), 'SLUICE_ERR_INVALID_ARGUMENT')
    })

    it('describing an unknown group fails with SLUICE_ERR_GROUP_NOT_FOUND', opts, async () => {
      await rejectsWithCode(() => ctx.admin.describeGroup(ctx.name('nogroup')), 'SLUICE_ERR_GROUP_NOT_FOUND')
    })
  })
}

async function commitThenResume(
  ctx: ConformanceContext,
  topic: string,
  tps: TopicPartition[],
  groupId: string,
  reopen: boolean,
): Promise<void> {
  await ctx
    .producer()
    .send(tps.flatMap((tp) => [0, 1, 2, 3].map((i) => ({ ...tp, value: bytes(`p${tp.partition}-${i}`) }))))
  const first = ctx.consumer({ groupId })
  await first.assign(tps)
  await first.commit([
    { ...tps[0], offset: 2, metadata: 'm0' },
    { ...tps[1], offset: 1 },
  ])
  const committed = await first.committed(tps)
  assert.equal(committed.get(tpKey(tps[0])), 2)
  assert.equal(committed.get(tpKey(tps[1])), 1)
  assert.equal(committed.get(tpKey(tps[2])), undefined, 'no entry for a partition never committed')
  await first.close()
  if (reopen) await ctx.reopen()

  const next = ctx.consumer({ groupId, autoOffsetReset: 'earliest' })
  const again = await next.committed(tps)
  assert.equal(again.get(tpKey(tps[0])), 2)
  assert.equal(again.get(tpKey(tps[1])), 1)
  const offset = (await ctx.admin.describeGroup(groupId)).offsets.find(
    (o) => o.topic === topic && o.partition === 0,
  )
  assert.equal(offset?.metadata, 'm0')
  await next.subscribe([topic])
  const got = await pollUntil(next, (r) => r.length >= 2 + 3 + 4, ctx.waitTimeoutMs)
  assert.deepEqual(valuesOf(ofPartition(got, tps[0])), ['p0-2', 'p0-3'])
  assert.deepEqual(valuesOf(ofPartition(got, tps[1])), ['p1-1', 'p1-2', 'p1-3'])
  assert.deepEqual(
    valuesOf(ofPartition(got, tps[2])),
    ['p2-0', 'p2-1', 'p2-2', 'p2-3'],
    'no commit: earliest',
  )
}
