// The group member's wire formats and range assignment, without a broker (the conformance suite covers the rest).
import assert from 'node:assert/strict'
import { it } from 'node:test'
import fc from 'fast-check'
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssign,
} from '../../src/kafka/group-member.ts'
import { tpKey } from '../../src/log/contract.ts'

it('subscriptions and assignments round-trip, the assignment carrying the generation', () => {
  assert.deepEqual(decodeSubscription(encodeSubscription(['a', 'ünï'])), ['a', 'ünï'])
  const tps = [
    { topic: 'a', partition: 0 },
    { topic: 'a', partition: 3 },
    { topic: 'b', partition: 1 },
  ]
  assert.deepEqual(decodeAssignment(encodeAssignment(tps, 7)), { partitions: tps, generationId: 7 })
  assert.deepEqual(decodeAssignment(Buffer.alloc(0)), { partitions: [], generationId: -1 })
})

it('range assignment gives every partition of a topic to exactly one subscribed member, balanced', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 20 }), (members, partitions) => {
      const subscriptions = new Map(Array.from({ length: members }, (_, i) => [`m-${i}`, ['t']]))
      const result = rangeAssign(subscriptions, new Map([['t', partitions]]))
      const all = [...result.values()].flat().map(tpKey).sort()
      assert.deepEqual(all, Array.from({ length: partitions }, (_, p) => `t:${p}`).sort())
      const sizes = [...result.values()].map((tps) => tps.length)
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1)
    }),
  )
})

it('a member not subscribed to a topic gets none of it', () => {
  const result = rangeAssign(
    new Map([
      ['a', ['x']],
      ['b', ['x', 'y']],
    ]),
    new Map([
      ['x', 2],
      ['y', 2],
    ]),
  )
  assert.deepEqual(result.get('a'), [{ topic: 'x', partition: 0 }])
  assert.deepEqual(result.get('b'), [
    { topic: 'x', partition: 1 },
    { topic: 'y', partition: 0 },
    { topic: 'y', partition: 1 },
  ])
})
