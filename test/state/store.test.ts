// The store's changelog: what drainChanges hands out between two commits, replayed in order onto an empty store,
// must give the store's state at each commit, on both backends. Keys created and deleted between two commits need
// no record at all; a key the changelog holds needs its delete.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import type { StateBackendFactory } from '../../src/state/backend.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { memoryState } from '../../src/state/backends/memory.ts'
import { decodeValue } from '../../src/state/backends/value-codec.ts'
import { Store } from '../../src/state/store.ts'

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'))
  dirs.push(dir)
  return dir
}

function open(factory: StateBackendFactory, store = 's'): Store {
  return new Store(store, factory.open({ dir: tempDir(), store, taskId: '0_0' }), true)
}

function sorted(entries: Iterable<[string, unknown]>): [string, unknown][] {
  return [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

type Op = ['put', string, number] | ['delete', string] | ['commit'] | ['flush']

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(fc.constant('put' as const), fc.constantFrom('a', 'b', 'c', 'd'), fc.nat(9)),
  },
  { weight: 4, arbitrary: fc.tuple(fc.constant('delete' as const), fc.constantFrom('a', 'b', 'c', 'd')) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('commit' as const)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('flush' as const)) },
)

for (const [kind, factory] of [
  ['memory', memoryState],
  ['lmdb', lmdbState],
] as const) {
  describe(`store on ${kind}`, () => {
    it('drains changes that, replayed, give its state at every commit', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
          const store = open(factory())
          const replica = open(memoryState(), 'replica')
          for (const op of [...ops, ['commit'] as Op]) {
            if (op[0] === 'put') store.put(op[1], op[2])
            else if (op[0] === 'delete') store.delete(op[1])
            else if (op[0] === 'flush') await store.backend.flush()
            else {
              const changes = store.drainChanges()
              assert.equal(new Set(changes.map((c) => c.key.toString())).size, changes.length, 'a key once')
              for (const c of changes) replica.applyChange(c.key, c.value)
              assert.deepStrictEqual(sorted(replica.entries()), sorted(store.entries()))
            }
          }
          await store.backend.close()
          await replica.backend.close()
        }),
        { numRuns: kind === 'lmdb' ? 100 : 400 },
      )
    })

    it('logs nothing for a key created and deleted between two commits, and a delete for one it logged', async () => {
      const store = open(factory())
      store.put('kept', 1)
      store.put('gone', 1)
      store.drainChanges()
      store.put('brief', 2)
      store.put('brief', 3)
      store.delete('brief')
      store.delete('gone')
      store.put('kept', 4)
      const changes = store.drainChanges().map((c) => [c.key.toString(), c.value && decodeValue(c.value)])
      assert.deepStrictEqual(sorted(changes as [string, unknown][]), [
        ['gone', null],
        ['kept', 4],
      ])
      // created again after its delete, it is logged like any new key
      store.put('brief', 5)
      store.delete('kept')
      store.put('kept', 6)
      const again = store.drainChanges().map((c) => [c.key.toString(), c.value && decodeValue(c.value)])
      assert.deepStrictEqual(sorted(again as [string, unknown][]), [
        ['brief', 5],
        ['kept', 6],
      ])
      await store.backend.close()
    })

    it('runs its before-drain hooks first, so what they put is in the drain', async () => {
      const store = open(factory())
      const held = new Map([['timer', 7]])
      store.beforeDrain(() => {
        for (const [k, v] of held) store.put(k, v)
        held.clear()
      })
      store.put('state', 1)
      const changes = store.drainChanges().map((c) => [c.key.toString(), c.value && decodeValue(c.value)])
      assert.deepStrictEqual(sorted(changes as [string, unknown][]), [
        ['state', 1],
        ['timer', 7],
      ])
      assert.deepStrictEqual(store.drainChanges(), [])
      await store.backend.close()
    })

    it('leaves its changes as they were when a value cannot be encoded', async () => {
      const store = open(factory())
      store.put('a', [1, 2])
      store.put('f', () => {})
      assert.throws(() => store.drainChanges())
      store.delete('f')
      const changes = store.drainChanges().map((c) => [c.key.toString(), c.value && decodeValue(c.value)])
      assert.deepStrictEqual(changes, [['a', [1, 2]]])
      store.put('b', 3)
      assert.deepStrictEqual(
        store.drainChanges().map((c) => [c.key.toString(), c.value && decodeValue(c.value)]),
        [['b', 3]],
      )
      await store.backend.close().catch(() => {})
    })

    it('counts what a flush would write, and records the snapshot offset with the flush', async () => {
      const store = open(factory())
      store.put('a', 1)
      store.put('a', 2)
      store.put('b', 1)
      assert.equal(store.unflushed, 0, 'a logged store counts changelog records, at the drain')
      store.drainChanges()
      assert.equal(store.unflushed, 2)
      store.applyChange(Buffer.from('c'), null)
      assert.equal(store.unflushed, 3)
      await store.flush(17)
      assert.equal(store.unflushed, 0)
      assert.equal(store.snapshotOffset, 17)
      assert.deepStrictEqual(sorted(store.entries()), [
        ['a', 2],
        ['b', 1],
      ])
      // after a failed commit: back to the flush, changes not drained forgotten
      store.put('a', 3)
      store.drainChanges()
      store.put('d', 4)
      store.discardUnflushed()
      assert.equal(store.unflushed, 0)
      assert.deepStrictEqual(store.drainChanges(), [])
      if (kind === 'lmdb') {
        assert.deepStrictEqual(sorted(store.entries()), [
          ['a', 2],
          ['b', 1],
        ])
      }
      await store.backend.close()

      const unlogged = new Store('t', factory().open({ dir: tempDir(), store: 't', taskId: '0_0' }), false)
      unlogged.put('x', 1)
      unlogged.delete('x')
      assert.equal(unlogged.unflushed, 2, 'a store without a changelog counts its writes')
      await unlogged.backend.close()
    })
  })
}
