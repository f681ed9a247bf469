// The state backends' benchmark: puts, gets, read-modify-writes and scans of window-state-like entries (a key per
// user and window, a {count, sum} value) on memory and lmdb, with the bytes each key costs. Medians of --reps runs.
// Run with `node bench/state.ts [--keys N] [--reps N] [--dir DIR]`; it prints a markdown table.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { deserialize, serialize, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { open } from 'lmdb'
import type { StateBackendFactory } from '../src/state/backend.ts'
import { LMDB_STATE_FILE, lmdbState } from '../src/state/backends/lmdb.ts'
import { memoryState } from '../src/state/backends/memory.ts'
import { decodeValue, encodeValue } from '../src/state/backends/value-codec.ts'

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    reps: { type: 'string', default: '3' },
    'sync-keys': { type: 'string', default: '2000' },
    dir: { type: 'string', default: tmpdir() },
  },
})
const KEYS = Number(args.keys)
const REPS = Number(args.reps)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** A deterministic shuffle, so that keys arrive in no particular order, as records do. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = xs.slice()
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

// 50,000 users × 20 one-minute windows for a million keys.
const keys = Array.from(
  { length: KEYS },
  (_, i) =>
    `w:user-${String(i % Math.ceil(KEYS / 20)).padStart(6, '0')}:${1_700_000_000_000 + Math.floor(i / Math.ceil(KEYS / 20)) * 60_000}`,
)
const putOrder = shuffled(keys, 1)
const getOrder = shuffled(keys, 2)

/** Seconds of wall clock and of this process's CPU (the machine may be shared). */
interface Took {
  wall: number
  cpu: number
}

interface Run {
  put: Took
  flush: Took
  get: Took
  update: Took
  scan: Took
  bytesPerKey: number
}

const seconds = (start: number) => (performance.now() - start) / 1000

function timer(): () => Took {
  const wall = performance.now()
  const cpu = process.cpuUsage()
  return () => {
    const used = process.cpuUsage(cpu)
    return { wall: seconds(wall), cpu: (used.user + used.system) / 1e6 }
  }
}

async function runBackend(factory: StateBackendFactory, n = KEYS): Promise<Run> {
  const gets = n === KEYS ? getOrder : putOrder.slice(0, n)
  const dir = mkdtempSync(join(args.dir, 'sluice-bench-state-'))
  try {
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const s = factory.open({ dir, store: 'windows', taskId: '0_0' })
    let t = timer()
    for (let i = 0; i < n; i++) s.put(putOrder[i], { count: 1, sum: i * 0.25 })
    const put = t()
    t = timer()
    await s.flush()
    const flush = t()
    gc()
    const bytesPerKey =
      factory.kind === 'lmdb'
        ? statSync(join(dir, LMDB_STATE_FILE)).size / n
        : (process.memoryUsage().heapUsed - heapBefore) / n
    t = timer()
    let found = 0
    for (let i = 0; i < n; i++) if (s.get(gets[i]) !== undefined) found++
    const get = t()
    if (found !== n) throw new Error(`found ${found} of ${n} keys`)
    // What a window aggregation does with each record: read the accumulator, add, write it back; then commit.
    t = timer()
    for (let i = 0; i < n; i++) {
      const acc = s.get(putOrder[i]) as { count: number; sum: number }
      s.put(putOrder[i], { count: acc.count + 1, sum: acc.sum + 1 })
    }
    await s.flush()
    const update = t()
    t = timer()
    let scanned = 0
    for (const _ of s.entries('w:')) scanned++
    const scan = t()
    if (scanned !== n) throw new Error(`scanned ${scanned} of ${n} keys`)
    await s.close()
    return { put, flush, get, update, scan, bytesPerKey }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The design the lmdb backend does not use: a synced LMDB transaction per put (lmdb's putSync). */
async function putSyncRate(n: number): Promise<number> {
  const dir = mkdtempSync(join(args.dir, 'sluice-bench-state-'))
  const root = open({ path: join(dir, 'sync.lmdb'), overlappingSync: false })
  const db = root.openDB<Buffer, string>({ name: 'windows', encoding: 'binary' })
  try {
    const t = performance.now()
    for (let i = 0; i < n; i++) db.putSync(putOrder[i], encodeValue({ count: 1, sum: i * 0.25 }))
    return n / seconds(t)
  } finally {
    await root.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Encodings of a {count, sum} value a second: node:v8 alone against the codec lmdb uses. */
function codecRates(): { v8Encode: number; v8Decode: number; encode: number; decode: number } {
  const n = 200_000
  const rate = (f: (i: number) => unknown) => {
    const t = performance.now()
    for (let i = 0; i < n; i++) f(i)
    return n / seconds(t)
  }
  const v8Bytes = serialize({ count: 3, sum: 4.5 })
  const bytes = encodeValue({ count: 3, sum: 4.5 })
  return {
    v8Encode: rate((i) => serialize({ count: i, sum: i * 0.25 })),
    v8Decode: rate(() => deserialize(v8Bytes)),
    encode: rate((i) => encodeValue({ count: i, sum: i * 0.25 })),
    decode: rate(() => decodeValue(bytes)),
  }
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2))

// Warm-up runs (not counted) for the JIT and the heap's size, then the backends' runs taken in turns, so that
// neither runs on a heap the other has grown.
const factories = [memoryState(), lmdbState()]
const runsOf = factories.map((): Run[] => [])
for (const factory of factories) await runBackend(factory, Math.ceil(KEYS / 10))
for (let r = 0; r < REPS; r++) {
  for (let f = 0; f < factories.length; f++) runsOf[f].push(await runBackend(factories[f]))
}
const rows: string[] = []
for (let f = 0; f < factories.length; f++) {
  const factory = factories[f]
  const runs = runsOf[f]
  const m = (f: (r: Run) => number) => fmt(median(runs.map(f)))
  for (const clock of ['wall', 'cpu'] as const) {
    const rate = (phase: (r: Run) => Took) => m((r) => KEYS / phase(r)[clock])
    rows.push(
      `| ${factory.kind} | ${clock === 'wall' ? 'wall' : 'CPU'} | ${rate((r) => r.put)} | ${m((r) => r.flush[clock])} | ${rate((r) => r.get)} | ${rate((r) => r.update)} | ${rate((r) => r.scan)} | ${m((r) => r.bytesPerKey)} |`,
    )
  }
}
const syncKeys = Number(args['sync-keys'])
const syncRate = median(await Promise.all(Array.from({ length: REPS }, () => putSyncRate(syncKeys))))
const codec = Array.from({ length: REPS }, codecRates)
const cm = (f: (c: ReturnType<typeof codecRates>) => number) => fmt(median(codec.map(f)))

console.log(`${KEYS.toLocaleString('en-US')} keys (window-state-like: \`w:user-NNNNNN:<window start>\` → {count, sum}), \
keys in random order, medians of ${REPS} runs, Node ${process.versions.node}.

| backend | per second of | put/s | flush (s) | get/s | get+put/s, then flush | scan/s | bytes/key |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

- Rates per second of wall clock, and per second of this process's CPU (user + system), since the machine may be
  busy with other work; the flush also waits for fdatasync, which takes no CPU.
- put: new keys, before the flush (lmdb keeps them in memory until then); flush: one synced LMDB transaction.
- get: after the flush (lmdb reads the file); get+put: read-modify-write of every key, the flush included.
- bytes/key: lmdb, the size of ${LMDB_STATE_FILE} after the first flush; memory, JS heap growth.
- For comparison, lmdb with a synced transaction per put (putSync, no in-memory overlay): ${fmt(syncRate)} puts/s \
(${syncKeys.toLocaleString('en-US')} keys).
- A {count, sum} value through node:v8 alone: ${cm((c) => c.v8Encode)} encodes/s, ${cm((c) => c.v8Decode)} decodes/s; \
through the lmdb backend's codec (JSON for JSON-exact values): ${cm((c) => c.encode)} encodes/s, \
${cm((c) => c.decode)} decodes/s.`)
