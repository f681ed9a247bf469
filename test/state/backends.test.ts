// The state backends: one contract run against memory and lmdb, a differential property test of random writes,
// reads, flushes and clears against a plain Map, and for lmdb what survives a close and a kill -9.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { isSluiceError } from '../../src/errors/index.ts'
import { MAX_STATE_KEY_BYTES, type StateBackend, type StateBackendFactory } from '../../src/state/backend.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { memoryState } from '../../src/state/backends/memory.ts'
import { decodeValue, encodeValue } from '../../src/state/backends/value-codec.ts'
import { CRASH_STORE, roundState } from './fixtures/lmdb-writer.ts'

const WRITER = fileURLToPath(new URL('./fixtures/lmdb-writer.ts', import.meta.url))
const children = new Set<ChildProcess>()
const tempDirs: string[] = []

after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-state-'))
  tempDirs.push(d)
  return d
}

function sorted(entries: Iterable<[string, unknown]>): [string, unknown][] {
  return [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

// lmdb keeps the values of recently written keys decoded after a flush: with none kept, reads after a flush come
// from the file; with two, some do and some come from the cache.
const factories: [string, () => StateBackendFactory][] = [
  ['memory', memoryState],
  ['lmdb', lmdbState],
  ['lmdb (no cached values)', () => lmdbState({ cachedValues: 0 })],
  ['lmdb (2 cached values)', () => lmdbState({ cachedValues: 2 })],
]

for (const [kind, makeFactory] of factories) {
  describe(`${kind} state backend`, () => {
    const open = (dir = tempDir(), store = 'counts'): StateBackend =>
      makeFactory().open({ dir, store, taskId: '0_0' })

    // Each check runs on writes still pending and again after a flush, where lmdb reads them from the file (or
    // from the values it keeps decoded).
    for (const flushed of [false, true]) {
      const settle = (s: StateBackend) => (flushed ? s.flush() : Promise.resolve())
      const when = flushed ? 'after a flush' : 'before a flush'

      it(`gets what was put, and undefined for absent keys; null is a value (${when})`, async () => {
        const s = open()
        s.put('a', 1)
        s.put('n', null)
        s.put('', 'empty key')
        s.put('\u0000meta', { offset: 42 })
        await settle(s)
        assert.equal(s.get('a'), 1)
        assert.equal(s.get('n'), null)
        assert.equal(s.get(''), 'empty key')
        assert.deepEqual(s.get('\u0000meta'), { offset: 42 })
        assert.equal(s.get('missing'), undefined)
        assert.equal(s.has('a'), true)
        assert.equal(s.has('n'), true)
        assert.equal(s.has(''), true)
        assert.equal(s.has('missing'), false)
        assert.equal(s.size(), 4)
        await s.close()
      })

      it(`overwrites and deletes (${when})`, async () => {
        const s = open()
        s.put('a', 1)
        s.put('b', 2)
        await settle(s)
        s.put('a', 10)
        s.delete('b')
        s.delete('never-there')
        await settle(s)
        assert.equal(s.get('a'), 10)
        assert.equal(s.get('b'), undefined)
        assert.equal(s.has('b'), false)
        assert.equal(s.has('never-there'), false)
        assert.equal(s.size(), 1)
        s.put('b', 3)
        assert.equal(s.get('b'), 3)
        assert.equal(s.size(), 2)
        await s.close()
      })

      it(`keeps Map, Set, Buffer, Date, nested and odd numbers (${when})`, async () => {
        const s = open()
        const values: Record<string, unknown> = {
          map: new Map<unknown, unknown>([
            ['x', 1],
            [2, new Set(['y'])],
          ]),
          set: new Set([1, 'two', null]),
          buffer: Buffer.from([0, 1, 255]),
          date: new Date(1_700_000_000_000),
          nested: { window: { start: 0, end: 60_000 }, panes: [{ count: 1, sum: 2.5 }, null], label: 'é😀' },
          numbers: [-0, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, 1e-300],
          window: { count: 3, sum: 4.5 },
          string: 'lone \ud800 surrogate in a value is fine',
          undefinedMember: { a: undefined, b: [undefined] },
          bigint: 12345678901234567890n,
        }
        for (const [k, v] of Object.entries(values)) s.put(k, v)
        await settle(s)
        for (const [k, v] of Object.entries(values)) assert.deepStrictEqual(s.get(k), v, k)
        await s.close()
      })

      it(`lists entries by prefix (${when})`, async () => {
        const s = open()
        const keys = [
          'user:1:w0',
          'user:1:w1',
          'user:10:w0',
          'user:2:w0',
          'usr',
          'é:1',
          'é😀',
          '\u0000meta',
          '',
        ]
        keys.forEach((k, i) => {
          s.put(k, i)
        })
        s.put('user:1:gone', 0)
        await settle(s)
        s.delete('user:1:gone')
        const expect = (prefix: string) =>
          sorted(keys.filter((k) => k.startsWith(prefix)).map((k): [string, unknown] => [k, keys.indexOf(k)]))
        for (const prefix of ['', 'user:', 'user:1', 'user:1:', 'é', 'é😀', '\u0000', 'nothing', '\ud83d']) {
          assert.deepStrictEqual(
            sorted(s.entries(prefix)),
            expect(prefix),
            `prefix ${JSON.stringify(prefix)}`,
          )
        }
        assert.deepStrictEqual(sorted(s.entries()), expect(''))
        await s.close()
      })

      it(`lets entries be deleted while they are listed (${when})`, async () => {
        const s = open()
        for (let i = 0; i < 100; i++) s.put(`w:${i}`, i)
        s.put('keep', true)
        await settle(s)
        let seen = 0
        for (const [k] of s.entries('w:')) {
          s.delete(k)
          seen++
        }
        assert.equal(seen, 100)
        assert.deepStrictEqual(sorted(s.entries()), [['keep', true]])
        assert.equal(s.size(), 1)
        await s.close()
      })

      it(`clears, then takes new writes (${when})`, async () => {
        const s = open()
        s.put('a', 1)
        s.put('b', 2)
        await settle(s)
        s.clear()
        assert.equal(s.size(), 0)
        assert.equal(s.get('a'), undefined)
        assert.equal(s.has('a'), false)
        assert.deepStrictEqual([...s.entries()], [])
        s.put('c', 3)
        s.delete('a')
        await settle(s)
        assert.equal(s.size(), 1)
        assert.deepStrictEqual(sorted(s.entries()), [['c', 3]])
        await s.close()
      })
    }

    it('refuses undefined values, malformed keys and keys over the size limit', async () => {
      const s = open()
      const invalid = (f: () => void) =>
        assert.throws(f, (err: unknown) => isSluiceError(err, 'SLUICE_ERR_INVALID_ARGUMENT'))
      invalid(() => s.put('a', undefined))
      invalid(() => s.put('\ud800', 1))
      invalid(() => s.put('x'.repeat(MAX_STATE_KEY_BYTES + 1), 1))
      invalid(() => s.put('é'.repeat(Math.floor(MAX_STATE_KEY_BYTES / 2) + 1), 1))
      const longest = `${'é'.repeat(Math.floor(MAX_STATE_KEY_BYTES / 2))}${'x'.repeat(MAX_STATE_KEY_BYTES % 2)}`
      s.put(longest, 'longest')
      await s.flush()
      assert.equal(s.get(longest), 'longest')
      assert.equal(s.get('\ud800'), undefined)
      assert.equal(s.get('\ufffd'), undefined)
      assert.equal(s.size(), 1)
      await s.close()
    })

    it('takes a value as its encoded bytes, and hands back one object for them until it is put again', async () => {
      const dir = tempDir()
      const s = open(dir)
      const bytes = Buffer.concat([Buffer.from('xx'), encodeValue({ count: 2 }), Buffer.from('yy')])
      s.putEncoded('w', bytes.subarray(2, bytes.length - 2))
      bytes.fill(0) // the backend keeps a copy, not a view into the buffer it was given
      s.putEncoded('m', encodeValue(new Map([['a', 1]])))
      assert.equal(s.has('w'), true)
      assert.equal(s.size(), 2)
      const got = s.get('w') as { count: number }
      assert.deepStrictEqual(got, { count: 2 })
      assert.equal(s.get('w'), got)
      assert.deepStrictEqual(sorted(s.entries()), [
        ['m', new Map([['a', 1]])],
        ['w', { count: 2 }],
      ])
      await s.close()
      const again = open(dir)
      if (kind !== 'memory') assert.deepStrictEqual(again.get('m'), new Map([['a', 1]]))
      assert.throws(
        () => again.putEncoded('bad', Buffer.from([0x42])),
        (err: unknown) => isSluiceError(err, 'SLUICE_ERR_STATE'),
      )
      await again.close()
    })

    it('hands back the object it was given until it is put again', async () => {
      const s = open()
      const acc = { count: 1, sum: 1 }
      s.put('w', acc)
      const got = s.get('w') as { count: number; sum: number }
      got.count++
      s.put('w', got)
      await s.flush()
      assert.deepStrictEqual(s.get('w'), { count: 2, sum: 1 })
      await s.close()
    })

    if (kind !== 'memory') {
      it('discards the writes since the last flush, also a value changed in place and put again', async () => {
        const dir = tempDir()
        const s = open(dir)
        const acc = { count: 1 }
        s.put('w', acc)
        s.put('gone', 1)
        await s.flush()
        const got = s.get('w') as { count: number }
        got.count++
        s.put('w', got)
        s.delete('gone')
        s.put('new', 2)
        s.discard()
        assert.deepStrictEqual(s.get('w'), { count: 1 })
        assert.deepStrictEqual(sorted(s.entries()), [
          ['gone', 1],
          ['w', { count: 1 }],
        ])
        assert.equal(s.size(), 2)
        await s.close()
        const again = open(dir)
        assert.deepStrictEqual(again.get('w'), { count: 1 })
        assert.equal(again.get('new'), undefined)
        await again.close()
      })
    }

    it('throws SLUICE_ERR_STATE once closed; close may be called twice', async () => {
      const s = open()
      s.put('a', 1)
      await Promise.all([s.close(), s.close()])
      await s.close()
      assert.throws(
        () => s.get('a'),
        (err: unknown) => isSluiceError(err, 'SLUICE_ERR_STATE'),
      )
      assert.throws(
        () => s.put('a', 1),
        (err: unknown) => isSluiceError(err, 'SLUICE_ERR_STATE'),
      )
    })

    it('agrees with a Map under random puts, deletes, gets, scans, flushes, clears and discards', async () => {
      // Few keys, so that writes collide; code points on both sides of the surrogates, so that order matters.
      const key = fc.constantFrom(
        '',
        'a',
        'ab',
        'b',
        'a\u0000',
        '\u0000m',
        'é',
        '\uffee',
        '😀',
        '😀x',
        'a😀',
        'a\uffee',
      )
      const value = fc.oneof(
        fc.integer(),
        fc.double(),
        fc.string(),
        fc.constant(null),
        fc.record({ count: fc.nat(), sum: fc.double({ noNaN: true }) }, { noNullPrototype: true }),
        fc.array(fc.integer(), { maxLength: 3 }).map((xs) => new Set(xs)),
        fc.array(fc.tuple(fc.string(), fc.integer()), { maxLength: 3 }).map((kv) => new Map(kv)),
      )
      const op = fc.oneof(
        { weight: 6, arbitrary: fc.tuple(fc.constant('put' as const), key, value) },
        { weight: 2, arbitrary: fc.tuple(fc.constant('putEncoded' as const), key, value) },
        { weight: 3, arbitrary: fc.tuple(fc.constant('delete' as const), key) },
        { weight: 4, arbitrary: fc.tuple(fc.constant('get' as const), key) },
        {
          weight: 2,
          arbitrary: fc.tuple(fc.constant('scan' as const), fc.constantFrom('', 'a', '😀', 'é', '\ud83d')),
        },
        { weight: 2, arbitrary: fc.tuple(fc.constant('flush' as const)) },
        { weight: 1, arbitrary: fc.tuple(fc.constant('clear' as const)) },
        { weight: 1, arbitrary: fc.tuple(fc.constant('discard' as const)) },
        { weight: 1, arbitrary: fc.tuple(fc.constant('size' as const)) },
      )
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
          const dir = tempDir()
          const s = open(dir)
          let model = new Map<string, unknown>()
          /** What the last flush wrote: lmdb goes back to it on discard (memory keeps everything). */
          let flushedModel = new Map<string, unknown>()
          const persistent = kind !== 'memory'
          try {
            for (const [name, k, v] of ops) {
              if (name === 'put') {
                s.put(k, v)
                model.set(k, v)
              } else if (name === 'putEncoded') {
                s.putEncoded(k, encodeValue(v))
                model.set(k, decodeValue(encodeValue(v)))
              } else if (name === 'delete') {
                s.delete(k)
                model.delete(k)
              } else if (name === 'get') {
                assert.deepStrictEqual(s.get(k), model.get(k))
                assert.equal(s.has(k), model.has(k))
              } else if (name === 'scan') {
                const expected = sorted([...model].filter(([mk]) => mk.startsWith(k)))
                assert.deepStrictEqual(sorted(s.entries(k)), expected)
              } else if (name === 'flush') {
                await s.flush()
                flushedModel = new Map(model)
              } else if (name === 'discard') {
                s.discard()
                if (persistent) model = new Map(flushedModel)
              } else if (name === 'clear') {
                s.clear()
                model.clear()
              } else {
                assert.equal(s.size(), model.size)
              }
            }
            assert.equal(s.size(), model.size)
            assert.deepStrictEqual(sorted(s.entries()), sorted(model))
            await s.close()
            // Reopened, lmdb has everything (close flushes); memory starts empty.
            const again = open(dir)
            const expected = persistent ? sorted(model) : []
            assert.deepStrictEqual(sorted(again.entries()), expected)
            await again.close()
          } finally {
            await s.close()
            rmSync(dir, { recursive: true, force: true })
          }
        }),
        { numRuns: kind === 'memory' ? 300 : 150 },
      )
    })
  })
}

describe('lmdb state backend on disk', () => {
  it('keeps what was flushed across close and reopen, with a new factory', async () => {
    const dir = tempDir()
    const s = lmdbState().open({ dir, store: 'windows', taskId: '0_0' })
    for (let i = 0; i < 1000; i++) s.put(`w:${i}`, { count: i, sum: i / 2 })
    s.put('\u0000offset', 77)
    await s.close()
    const again = lmdbState().open({ dir, store: 'windows', taskId: '0_0' })
    assert.equal(again.size(), 1001)
    assert.deepStrictEqual(again.get('w:999'), { count: 999, sum: 499.5 })
    assert.equal(again.get('\u0000offset'), 77)
    await again.close()
  })

  it('lists entries in UTF-8 byte order, pending writes merged into the file', async () => {
    const s = lmdbState().open({ dir: tempDir(), store: 'order', taskId: '0_0' })
    const keys = ['b', '\uffee', '😀', 'a', '', '\u0000', 'é', 'ab', 'a\uffff', 'a😀']
    keys.slice(0, 5).forEach((k) => {
      s.put(k, k)
    })
    await s.flush()
    keys.slice(5).forEach((k) => {
      s.put(k, k)
    })
    const utf8Order = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    assert.deepStrictEqual(
      [...s.entries()].map(([k]) => k),
      utf8Order,
    )
    await s.close()
  })

  it('keeps the stores of a task apart in one file, and refuses to open a store twice', async () => {
    const dir = tempDir()
    const factory = lmdbState()
    const a = factory.open({ dir, store: 'a', taskId: '0_0' })
    const b = factory.open({ dir, store: 'b', taskId: '0_0' })
    assert.throws(
      () => factory.open({ dir, store: 'a', taskId: '0_0' }),
      (err: unknown) => isSluiceError(err, 'SLUICE_ERR_STATE') && /already open/.test(err.message),
    )
    a.put('k', 'from a')
    b.put('k', 'from b')
    await a.flush()
    await b.flush()
    b.clear()
    await b.flush()
    assert.equal(a.get('k'), 'from a')
    await a.close()
    b.put('k2', 2)
    await b.flush()
    assert.deepStrictEqual([...b.entries()], [['k2', 2]])
    const a2 = factory.open({ dir, store: 'a', taskId: '0_0' })
    assert.equal(a2.get('k'), 'from a')
    await Promise.all([a2.close(), b.close()])
  })

  it('fails a flush on a value it cannot store, names the key, and keeps the writes', async () => {
    const dir = tempDir()
    const s = lmdbState().open({ dir, store: 'bad', taskId: '0_0' })
    s.put('good', 1)
    s.put('bad', { f: () => 1 })
    await assert.rejects(
      s.flush(),
      (err: unknown) => isSluiceError(err, 'SLUICE_ERR_STATE') && /"bad"/.test(err.message),
    )
    assert.equal(s.get('good'), 1)
    s.delete('bad')
    await s.close()
    const again = lmdbState().open({ dir, store: 'bad', taskId: '0_0' })
    assert.deepStrictEqual([...again.entries()], [['good', 1]])
    await again.close()
  })

  /**
   * Runs the writer fixture and hands each line it prints to `onLine`, which may kill it; resolves when it has died
   * of SIGKILL, and fails if it exits any other way.
   */
  async function runWriter(
    args: string[],
    onLine: (line: string, child: ChildProcess) => void = () => {},
  ): Promise<void> {
    const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    let partial = ''
    child.stdout.on('data', (d) => {
      const lines = (partial + d).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) onLine(line, child)
    })
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, sig) => resolve([c, sig])),
    )
    children.delete(child)
    assert.equal(signal, 'SIGKILL', `the writer exited with code ${code} instead of being killed: ${stderr}`)
  }

  function reopenCrashed(dir: string): StateBackend {
    return lmdbState().open({ dir, store: CRASH_STORE, taskId: 'crash' })
  }

  /** Asserts that the reopened store is one of `states`, then that it takes writes again. */
  async function assertCrashedStateIs(dir: string, states: number[], what: string): Promise<number> {
    const s = reopenCrashed(dir)
    const found = sorted(s.entries())
    const match = states.find((r) => isDeepStrictEqual(found, sorted(roundState(r))))
    assert.ok(match !== undefined, `${what}: the store is not the state after round ${states.join(' or ')}`)
    assert.equal(s.size(), found.length)
    s.put('after-crash', true)
    await s.close()
    const again = reopenCrashed(dir)
    assert.equal(again.get('after-crash'), true)
    await again.close()
    return match
  }

  it('keeps everything flushed before a kill -9, and nothing written after', async () => {
    const dir = tempDir()
    await runWriter([dir, '3'], (line, child) => {
      if (line === 'flushed') child.kill('SIGKILL')
    })
    await assertCrashedStateIs(dir, [2], 'killed after the last flush')
  })

  it('keeps none of a flush killed halfway through its transaction', async () => {
    for (const round of [0, 2]) {
      const dir = tempDir()
      await runWriter([dir, '4', String(round)])
      await assertCrashedStateIs(dir, [round - 1], `killed while flushing round ${round}`)
    }
  })

  it('after a kill -9 at a random moment holds the state of some flush, never a mix', async () => {
    // The kill is aimed within twice the time the previous flush took: some land before the commit, some after,
    // some after the next round's flush too.
    for (let attempt = 0; attempt < 6; attempt++) {
      const dir = tempDir()
      const round = 1 + (attempt % 3)
      let lastFlushMs = 0
      await runWriter([dir, '6'], (line, child) => {
        const [word, r, ms] = line.split(' ')
        if (word === 'flushed' && Number(r) === round - 1) lastFlushMs = Number(ms)
        if (line === `flushing ${round}`)
          setTimeout(() => child.kill('SIGKILL'), Math.random() * 2 * lastFlushMs)
      })
      const found = await assertCrashedStateIs(
        dir,
        [0, 1, 2, 3, 4, 5],
        `killed while flushing round ${round}`,
      )
      assert.ok(
        found >= round - 1,
        `killed while flushing round ${round}, the store has lost round ${round - 1}`,
      )
    }
  })
})
