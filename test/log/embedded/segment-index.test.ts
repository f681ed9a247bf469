// The sparse offset and time indexes, through what they serve: fetching from any offset and listing offsets by
// timestamp, over many small segments with non-monotonic timestamps, live, after a restart (indexes loaded from
// their files), and after the index files were lost or damaged (indexes rebuilt from the log).
import assert from 'node:assert/strict'
import { truncateSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { EmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import {
  filesWith,
  openLog,
  type PlainRecord,
  partitionDir,
  plain,
  plainAll,
  readPartition,
  useTempDirs,
  VirtualClock,
} from './helpers.ts'

const TOPIC = 'indexed'
const T0 = 1_700_000_000_000

interface BatchSpec {
  records: { ts: number; size: number; key: boolean }[]
}

const batchArb: fc.Arbitrary<BatchSpec> = fc.record({
  records: fc.array(
    fc.record({
      ts: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, 500, 1000)),
      size: fc.nat(120),
      key: fc.boolean(),
    }),
    { minLength: 1, maxLength: 8 },
  ),
})

const paramsArb = fc.record({
  indexIntervalBytes: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.constant(4096)),
  segmentBytes: fc.integer({ min: 100, max: 1500 }),
  batches: fc.array(batchArb, { minLength: 1, maxLength: 60, size: 'medium' }),
  probes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 2000 })), { minLength: 1, maxLength: 12 }),
})

type Params = typeof paramsArb extends fc.Arbitrary<infer P> ? P : never

class Fixture {
  readonly dir: string
  readonly clock = new VirtualClock()
  readonly params: Params
  log!: EmbeddedLog
  readonly written: PlainRecord[] = []
  #n = 0

  constructor(dir: string, params: Params) {
    this.dir = dir
    this.params = params
  }

  async open(): Promise<void> {
    this.log = await openLog(this.dir, this.clock, { indexIntervalBytes: this.params.indexIntervalBytes })
  }

  async create(): Promise<void> {
    await this.open()
    await this.log.admin().createTopic(TOPIC, {
      partitions: 1,
      config: { 'segment.bytes': this.params.segmentBytes },
    })
  }

  async append(batch: BatchSpec): Promise<void> {
    const records = batch.records.map((r) => {
      const n = this.#n++
      return {
        topic: TOPIC,
        partition: 0,
        key: r.key ? Buffer.from(`k${n}`) : null,
        value: Buffer.alloc(r.size, n % 251),
        timestamp: T0 + r.ts,
      }
    })
    const meta = await this.log.producer().send(records)
    meta.forEach((m, i) => {
      const r = records[i]
      this.written.push(
        plain({ offset: m.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: [] }),
      )
    })
  }

  async reopen(beforeOpen?: () => void): Promise<void> {
    await this.log.close()
    beforeOpen?.()
    await this.open()
  }

  get files(): string {
    return partitionDir(this.dir, TOPIC)
  }

  /** Fetching from every offset returns exactly the records from there on; the first one is at that offset. */
  checkFetch(): void {
    const p = this.log.partition(TOPIC, 0)
    assert.equal(p.highWatermark, this.written.length)
    assert.deepEqual(plainAll(readPartition(p)), this.written, 'whole partition')
    const probes = this.params.probes
    for (let offset = 0; offset <= this.written.length; offset++) {
      const maxBytes = probes[offset % probes.length][1]
      const { records } = p.read(offset, maxBytes, 'read_uncommitted')
      if (offset < this.written.length) {
        assert.ok(records.length > 0, `a read at ${offset} returns at least one record`)
        assert.deepEqual(plain(records[0]), this.written[offset], `first record read at ${offset}`)
      } else assert.equal(records.length, 0)
    }
    for (const [at, maxBytes] of probes) {
      const from = at % (this.written.length + 1)
      assert.deepEqual(
        plainAll(readPartition(p, { from, maxBytes })),
        this.written.slice(from),
        `read from ${from}, ${maxBytes} bytes at a time`,
      )
    }
  }

  /** listOffsets by timestamp: the first offset whose timestamp is >= t, else the high watermark. */
  async checkTimestamps(): Promise<void> {
    const admin = this.log.admin()
    const stamps = new Set<number>([T0 - 1, T0 + 1001])
    for (const r of this.written) for (const d of [-1, 0, 1]) stamps.add(r.timestamp + d)
    for (const t of stamps) {
      const want = this.written.find((r) => r.timestamp >= t)?.offset ?? this.written.length
      assert.equal(
        await admin.listOffsets(TOPIC, 0, { timestamp: t }),
        want,
        `offset for timestamp T0+${t - T0}`,
      )
    }
  }

  async check(): Promise<void> {
    this.checkFetch()
    await this.checkTimestamps()
  }
}

describe('segment indexes', () => {
  const tempDir = useTempDirs('index', { inMemory: true })

  test('fetch from any offset and listOffsets by timestamp match the reference, live and after restarts', async () => {
    await fc.assert(
      fc.asyncProperty(paramsArb, batchArb, async (params, extra) => {
        const f = new Fixture(tempDir(), params)
        await f.create()
        try {
          for (const b of params.batches) await f.append(b)
          await f.check()
          // indexes loaded from their files
          await f.reopen()
          await f.check()
          await f.append(extra)
          await f.check()
          // offset indexes lost: sealed segments are scanned from their start
          await f.reopen(() => {
            for (const n of filesWith(f.files, '.index')) unlinkSync(join(f.files, n))
          })
          await f.check()
          // offset indexes torn mid-entry: rebuilt from the log
          await f.reopen(() => {
            for (const n of filesWith(f.files, '.index')) truncateSync(join(f.files, n), 3)
          })
          await f.check()
          // time indexes lost: rebuilt from the log
          await f.reopen(() => {
            for (const n of filesWith(f.files, '.timeindex')) unlinkSync(join(f.files, n))
          })
          await f.check()
          await f.append(extra)
          await f.check()
        } finally {
          await f.log.close()
        }
      }),
      { numRuns: 60 },
    )
  })

  test('indexes rebuilt from the log still serve listOffsets by timestamp after the next restart', async () => {
    await fc.assert(
      fc.asyncProperty(paramsArb, async (params) => {
        const f = new Fixture(tempDir(), params)
        await f.create()
        try {
          for (const b of params.batches) await f.append(b)
          await f.reopen(() => {
            for (const n of filesWith(f.files, '.timeindex')) unlinkSync(join(f.files, n))
          })
          await f.check()
          await f.reopen()
          await f.check()
        } finally {
          await f.log.close()
        }
      }),
      { numRuns: 60 },
    )
  })

  test('a rebuilt time index keeps the segment max timestamp (worked example)', async () => {
    const params: Params = {
      indexIntervalBytes: 4096,
      segmentBytes: 200,
      // one segment of two batches whose second holds the latest timestamp, then the active segment
      batches: [
        { records: [{ ts: 10, size: 1, key: false }] },
        { records: [{ ts: 20, size: 1, key: false }] },
      ],
      probes: [[0, 1000]],
    }
    const f = new Fixture(tempDir(), params)
    await f.create()
    try {
      for (const b of params.batches) await f.append(b)
      await f.append({ records: [{ ts: 5, size: 100, key: false }] })
      assert.deepEqual(
        f.log.partition(TOPIC, 0).segments.map((s) => s.baseOffset),
        [0, 2],
      )
      await f.reopen(() => unlinkSync(join(f.files, '00000000000000000000.timeindex')))
      assert.equal(await f.log.admin().listOffsets(TOPIC, 0, { timestamp: T0 + 20 }), 1, 'after the rebuild')
      await f.reopen()
      assert.equal(
        await f.log.admin().listOffsets(TOPIC, 0, { timestamp: T0 + 20 }),
        1,
        'after the next restart',
      )
      assert.equal(f.log.partition(TOPIC, 0).segments[0].maxTimestamp, T0 + 20, 'max timestamp of segment 0')
    } finally {
      await f.log.close()
    }
  })
})
