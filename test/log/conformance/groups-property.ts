// Conformance, property-based: members join and leave a group at random while records arrive. Whenever the group
// settles, every partition has exactly one owner; members that commit in onRevoked and before leaving hand over
// without losing or repeating a record.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { tpKey } from '../../../src/log/contract.ts'
import type { Member } from './group-members.ts'
import { allValues, assigned, join, pollMembers, produceRound, subscribe } from './group-members.ts'
import type { ConformanceContext, LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import { partitionsOf } from './helpers.ts'

const PARTITIONS = 3

type Op = { kind: 'join' } | { kind: 'leave'; pick: number } | { kind: 'produce' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: 'join' as const }),
  fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }),
  fc.constant({ kind: 'produce' as const }),
)

/** Settled: each partition owned by exactly one live member, and nobody idle while there are enough partitions. */
function settled(members: Member[]): boolean {
  if (members.length === 0) return true
  const owned = members.flatMap(assigned)
  const expected = Array.from({ length: PARTITIONS }, (_, p) => p)
  const idle = members.filter((m) => assigned(m).length === 0).length
  return (
    owned.length === PARTITIONS &&
    new Set(owned).size === PARTITIONS &&
    expected.every((p) => owned.some((key) => key.endsWith(`:${p}`))) &&
    idle === Math.max(0, members.length - PARTITIONS)
  )
}

async function runScenario(ctx: ConformanceContext, ops: Op[]): Promise<void> {
  const topic = await ctx.createTopic(PARTITIONS)
  const groupId = ctx.name('group')
  const live: Member[] = []
  const everyone: Member[] = []
  const produced: string[] = []
  let rounds = 0
  let joined = 0

  const settle = (what: string) =>
    pollMembers(ctx, live, what, () => {
      if (!settled(live)) return false
      const owners = live.flatMap(assigned)
      return owners.every((key) => key.startsWith(`${topic}:`))
    })
  const addMember = async () => {
    const member = join(ctx, `m${joined++}`, groupId)
    await subscribe(member, topic, true)
    live.push(member)
    everyone.push(member)
    await settle(`${member.name} to join`)
  }

  for (const op of ops) {
    if (op.kind === 'join') await addMember()
    else if (op.kind === 'leave' && live.length > 0) {
      const [leaving] = live.splice(op.pick % live.length, 1)
      await leaving.consumer.commit()
      await leaving.consumer.close()
      await settle(`${leaving.name} to leave`)
    } else if (op.kind === 'produce') {
      const round = `r${rounds++}`
      await produceRound(ctx, topic, PARTITIONS, round)
      for (let p = 0; p < PARTITIONS; p++) produced.push(`${round}-p${p}`)
    }
  }
  if (live.length === 0) await addMember()
  await pollMembers(
    ctx,
    live,
    'every record to be read',
    () => new Set(allValues(everyone)).size === produced.length,
  )

  assert.deepEqual(allValues(everyone), [...produced].sort(), 'every record read exactly once')
  const finalOwners = live.flatMap(assigned).sort()
  assert.deepEqual(finalOwners, partitionsOf(topic, PARTITIONS).map(tpKey).sort())
  for (const m of live) await m.consumer.close()
}

export function groupPropertyTests(factory: LogFactory): void {
  describe('consumer groups (property)', () => {
    const ctx = useLog(factory, 'grpprop')
    // Rebalances are slow on Kafka: fewer runs than the transaction property.
    const numRuns = Math.max(3, Math.ceil((factory.propertyRuns ?? 25) / 3))
    const budgetMs = ctx.testTimeoutMs * 4

    it('members joining and leaving: one owner per partition, every record exactly once', {
      timeout: budgetMs + ctx.testTimeoutMs,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 10 }), (ops) => runScenario(ctx, ops)),
        { numRuns, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: true },
      )
    })
  })
}
