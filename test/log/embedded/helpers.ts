// Shared fixtures of the embedded log's storage tests: throwaway directories, a virtual clock, logs opened on
// them, whole-partition reads and a comparable form of records. Nothing here sleeps.
import assert from 'node:assert/strict'
import { accessSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'node:test'
import type { Header, IsolationLevel, LogRecord, TopicConfig } from '../../../src/log/contract.ts'
import type { EmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import type { EmbeddedLogOptions } from '../../../src/log/embedded/options.ts'
import { DEFAULT_TOPIC_CONFIG } from '../../../src/log/embedded/options.ts'
import type { PartitionLog } from '../../../src/log/embedded/partition-log.ts'
import { openEmbeddedLog } from '../../../src/log/index.ts'

/**
 * Where property tests put their logs. Tiny segments make the log fsync at every roll and every compaction, a few
 * hundred times per run; on a RAM-backed file system (/dev/shm) those cost nothing, and nothing these tests check
 * depends on the medium. Tests about durability itself use the ordinary temp directory.
 */
function fastTmpRoot(): string {
  const shm = '/dev/shm'
  try {
    accessSync(shm, constants.W_OK)
    return shm
  } catch {
    return tmpdir()
  }
}

/**
 * Registers cleanup of every directory made through the returned function once the current test ends. Property
 * tests make one directory per run. `inMemory` prefers a RAM-backed file system (see fastTmpRoot).
 */
export function useTempDirs(prefix: string, options: { inMemory?: boolean } = {}): () => string {
  const root = options.inMemory ? fastTmpRoot() : tmpdir()
  const dirs: string[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  return () => {
    const d = mkdtempSync(join(root, `sluice-${prefix}-`))
    dirs.push(d)
    return d
  }
}

/** A clock the test moves by hand; starts well before the wall clock so that file mtimes never win. */
export class VirtualClock {
  t: number
  constructor(start = 1_000_000) {
    this.t = start
  }
  readonly now = (): number => this.t
  advance(ms: number): number {
    this.t += ms
    return this.t
  }
}

/** Opens an embedded log on `dir` driven by `clock`, with the maintenance timer off. */
export function openLog(
  dir: string,
  clock: VirtualClock,
  options: Omit<EmbeddedLogOptions, 'dataDir' | 'now'> = {},
): Promise<EmbeddedLog> {
  return openEmbeddedLog({
    dataDir: dir,
    now: clock.now,
    maintenanceIntervalMs: 0,
    fsync: { mode: 'os' },
    ...options,
  })
}

export function topicConfig(config: TopicConfig = {}): Required<TopicConfig> {
  return { ...DEFAULT_TOPIC_CONFIG, ...config }
}

/**
 * Reads a partition from `from` up to the end a reader of `isolation` can see, `maxBytes` at a time, checking on
 * the way that every read makes progress.
 */
export function readPartition(
  p: PartitionLog,
  options: { from?: number; isolation?: IsolationLevel; maxBytes?: number } = {},
): LogRecord[] {
  const isolation = options.isolation ?? 'read_uncommitted'
  const end = isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark
  let offset = options.from ?? p.logStartOffset
  const out: LogRecord[] = []
  while (offset < end) {
    const { records, nextOffset } = p.read(offset, options.maxBytes ?? 1 << 20, isolation)
    assert.ok(nextOffset > offset, `read at ${offset} of ${p.name} made no progress (end ${end})`)
    out.push(...records)
    offset = nextOffset
  }
  return out
}

export interface PlainRecord {
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: [string, string][]
}

const hex = (b: Buffer | null | undefined): string | null => (b == null ? null : b.toString('hex'))

/** A record with its bytes as hex, for deepEqual with readable diffs. */
export function plain(r: LogRecord): PlainRecord {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: hex(r.key),
    value: hex(r.value),
    headers: r.headers.map(([k, v]: Header) => [k, v.toString('hex')]),
  }
}

export const plainAll = (records: readonly LogRecord[]): PlainRecord[] => records.map(plain)

/** The directory of a partition's segment files. */
export function partitionDir(dataDir: string, topic: string, partition = 0): string {
  return join(dataDir, 'topics', topic, String(partition))
}

/** File names in a partition directory ending with `ext`, sorted. */
export function filesWith(dir: string, ext: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith(ext))
    .sort()
}

/** Asserts that `call` throws a SluiceError with this code. */
export function throwsCode(call: () => unknown, code: string, message?: string): void {
  assert.throws(call, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code, message ?? `expected ${code}, got ${String(err)}`)
    return true
  })
}

/** Asserts that `call` rejects with a SluiceError with this code. */
export async function rejectsCode(call: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code, `expected ${code}, got ${String(err)}`)
    return true
  })
}
