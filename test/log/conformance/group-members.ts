// Consumer-group members for the conformance tests: a consumer, what it received, and what its rebalance listener
// heard, plus polling all members together until the group settles.
import assert from 'node:assert/strict'
import type {
  ConsumedRecord,
  LogConsumer,
  RebalanceListener,
  TopicPartition,
} from '../../../src/log/contract.ts'
import { tpKey } from '../../../src/log/contract.ts'
import type { ConformanceContext } from './harness.ts'
import { bytes, valuesOf } from './helpers.ts'

export interface Member {
  name: string
  consumer: LogConsumer
  records: ConsumedRecord[]
  /** The assignment as the rebalance listener saw it: assigned minus revoked. */
  heard: Set<string>
  revoked: Set<string>
}

export function join(ctx: ConformanceContext, name: string, groupId: string): Member {
  const consumer = ctx.consumer({ groupId, clientId: `${name}-client`, autoOffsetReset: 'earliest' })
  return { name, consumer, records: [], heard: new Set(), revoked: new Set() }
}

function listenerFor(member: Member, commitOnRevoke: boolean): RebalanceListener {
  return {
    onAssigned(partitions) {
      for (const tp of partitions) member.heard.add(tpKey(tp))
    },
    async onRevoked(partitions) {
      // The contract's promise: the partitions are still ours here, so their progress can be committed.
      if (commitOnRevoke) await member.consumer.commit()
      for (const tp of partitions) {
        member.heard.delete(tpKey(tp))
        member.revoked.add(tpKey(tp))
      }
    },
  }
}

export async function subscribe(member: Member, topic: string, commitOnRevoke = false): Promise<void> {
  await member.consumer.subscribe([topic], listenerFor(member, commitOnRevoke))
}

export const assigned = (m: Member) => m.consumer.assignment().map(tpKey).sort()

/**
 * Polls all members together (group protocols make progress while members poll) until `done`, checking that every
 * record returned belongs to a partition the member owns after that poll.
 */
export async function pollMembers(
  ctx: ConformanceContext,
  members: Member[],
  what: string,
  done: () => boolean,
): Promise<void> {
  const deadline = Date.now() + ctx.waitTimeoutMs
  while (!done()) {
    if (Date.now() > deadline) {
      const state = members.map((m) => `${m.name}: [${assigned(m).join(', ')}] ${m.records.length} records`)
      assert.fail(`timed out waiting for ${what}; ${state.join('; ')}`)
    }
    await Promise.all(
      members.map(async (m) => {
        const batch = await m.consumer.poll({ timeoutMs: 50 })
        const owned = new Set(assigned(m))
        for (const r of batch)
          assert.ok(owned.has(tpKey(r)), `${m.name} got a record of ${tpKey(r)}, not its own`)
        m.records.push(...batch)
      }),
    )
  }
}

/** Every member owns something, nobody shares, together they own exactly `tps`. */
export function splitAmong(members: Member[], tps: TopicPartition[]): boolean {
  const owned = members.map(assigned)
  const all = owned.flat()
  return (
    owned.every((o) => o.length > 0) &&
    all.length === tps.length &&
    new Set(all).size === tps.length &&
    tps.every((tp) => all.includes(tpKey(tp)))
  )
}

export async function produceRound(
  ctx: ConformanceContext,
  topic: string,
  partitions: number,
  round: string,
) {
  await ctx.producer().send(
    Array.from({ length: partitions }, (_, partition) => ({
      topic,
      partition,
      value: bytes(`${round}-p${partition}`),
    })),
  )
}

export const allValues = (members: Member[]) => members.flatMap((m) => valuesOf(m.records) as string[]).sort()
