// The timer queue against a naive model: a list of (time, key) timers, at most one per key and time, polled in time
// order and, within a time, in the order the keys were added.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { TimerQueue } from '../../src/time/timer-queue.ts'

type Op = ['add' | 'delete', number, string] | ['poll', number]

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(
    fc.constantFrom('add' as const, 'delete' as const),
    fc.integer({ min: 0, max: 8 }),
    fc.constantFrom('a', 'b', 'c'),
  ),
  fc.tuple(fc.constant('poll' as const), fc.integer({ min: -1, max: 9 })),
)

describe('timer queue', () => {
  it('fires what a list of timers would, in time order, keys in the order they came', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const q = new TimerQueue()
        let model: [number, string][] = []
        for (const op of ops) {
          if (op[0] === 'add') {
            const isNew = !model.some(([t, k]) => t === op[1] && k === op[2])
            assert.equal(q.add(op[1], op[2]), isNew)
            if (isNew) model.push([op[1], op[2]])
          } else if (op[0] === 'delete') {
            q.delete(op[1], op[2])
            model = model.filter(([t, k]) => !(t === op[1] && k === op[2]))
          } else {
            const fired: [number, string][] = []
            for (let due = q.pollUntil(op[1]); due !== null; due = q.pollUntil(op[1]))
              for (const k of due.keys) fired.push([due.time, k])
            const due = model.filter(([t]) => t <= op[1])
            // stable sort: within a time, the order of adding
            assert.deepStrictEqual(
              fired,
              [...due].sort((x, y) => x[0] - y[0]),
            )
            model = model.filter(([t]) => t > op[1])
          }
          assert.equal(q.peek() <= Math.min(...model.map(([t]) => t)), true)
        }
      }),
      { numRuns: 1000 },
    )
  })
})
