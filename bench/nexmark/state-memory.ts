// Memory per key of window state: one tumbling-window count per key for N keys, all in one open window, on the
// memory backend (heap growth over the keys) or lmdb (bytes of the file, and the heap left after the flush).
// Run by run.ts in a child process with --expose-gc: `node --expose-gc bench/nexmark/state-memory.ts --backend
// memory --keys 1000000`. Prints one JSON line.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pipeline, type Rec, tumbling } from '../../src/index.ts'
import { Task } from '../../src/runtime/task.ts'
import type { StateBackendFactory } from '../../src/state/backend.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { memoryState } from '../../src/state/backends/memory.ts'

export interface StateMemory {
  backend: 'memory' | 'lmdb'
  keys: number
  /** Heap growth (after a full GC) over the keys, in bytes a key. */
  heapBytesPerKey: number
  /** lmdb: size of the file over the keys (allocated blocks, as du counts). */
  diskBytesPerKey: number | null
  entries: number
  seconds: number
}

const { values } = parseArgs({
  options: { backend: { type: 'string', default: 'memory' }, keys: { type: 'string', default: '1000000' } },
})
const backendName = values.backend === 'lmdb' ? 'lmdb' : 'memory'
const keys = Number(values.keys)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

function heapAfterGc(): number {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

const p = pipeline('state-memory')
p.fromRecords<number, number>('in', [])
  .keyBy(null, { name: 'by-key' })
  .window(tumbling('1h'), { name: 'counts' })
  .count()
  .forEach(() => {})
const topology = p.build(() => 1)
const stateDir = mkdtempSync(join(tmpdir(), 'sluice-state-memory-'))
const backend: StateBackendFactory = backendName === 'lmdb' ? lmdbState() : memoryState()
const task = new Task({
  topology,
  subtopology: topology.subtopologies[0],
  partition: 0,
  backend,
  stateDir,
  clock: () => 0,
})

const before = heapAfterGc()
const t0 = performance.now()
const BATCH = 1000
for (let k = 0; k < keys; k += BATCH) {
  const batch: Rec<number, number>[] = []
  for (let i = k; i < Math.min(keys, k + BATCH); i++)
    batch.push({ key: i, value: 1, timestamp: 1000 + (i % 1000) })
  task.processMemoryRecords('in', batch) // the window [0, 1h) stays open: the input never ends
  task.drainChangelog() // as commits do: the changed-key set would otherwise hold every key
  if (backendName === 'lmdb' && k % 100_000 === 0) await task.flushState()
}
await task.flushState()
const seconds = (performance.now() - t0) / 1000
const after = heapAfterGc()
const store = task.stores.get('counts')!
let diskBytesPerKey: number | null = null
if (backendName === 'lmdb') {
  const file = join(stateDir, task.id, 'state.lmdb')
  diskBytesPerKey = (statSync(file).blocks * 512) / keys
}
const result: StateMemory = {
  backend: backendName,
  keys,
  heapBytesPerKey: (after - before) / keys,
  diskBytesPerKey,
  entries: store.backend.size(),
  seconds,
}
await task.close()
rmSync(stateDir, { recursive: true, force: true })
process.stdout.write(`${JSON.stringify(result)}\n`)
