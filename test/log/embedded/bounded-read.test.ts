// PartitionLog.read with a byte bound, across segment boundaries: every read makes progress, returns a contiguous
// run of records from where it started, and stops at whole batches, whatever the bound and batch sizes.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { LogRecord } from '../../../src/log/contract.ts'
import { openLog, useTempDirs, VirtualClock } from './helpers.ts'

const tempDir = useTempDirs('bounded-read')

describe('bounded reads', () => {
  test('reading maxBytes at a time from any offset returns every later record once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ count: fc.integer({ min: 1, max: 40 }), size: fc.integer({ min: 0, max: 300 }) }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        fc.integer({ min: 1, max: 20_000 }),
        fc.nat(),
        async (batches, maxBytes, startSeed) => {
          const clock = new VirtualClock()
          const log = await openLog(tempDir(), clock)
          try {
            log.createTopic('t', { partitions: 1, config: { 'segment.bytes': 4096 } })
            const p = log.partition('t', 0)
            let n = 0
            for (const b of batches) {
              const records = []
              for (let i = 0; i < b.count; i++) {
                records.push({ key: null, value: Buffer.alloc(b.size, n++ & 0xff), timestamp: clock.now() })
              }
              p.append(records)
            }
            const start = startSeed % n
            const got: LogRecord[] = []
            let offset = start
            while (offset < p.highWatermark) {
              const { records, nextOffset } = p.read(offset, maxBytes, 'read_uncommitted')
              assert.ok(records.length > 0, `read at ${offset} returned nothing`)
              assert.equal(records[0].offset, offset)
              assert.equal(nextOffset, records[records.length - 1].offset + 1)
              got.push(...records)
              offset = nextOffset
            }
            assert.deepEqual(
              got.map((r) => r.offset),
              Array.from({ length: n - start }, (_, i) => start + i),
            )
            for (const r of got) assert.ok(r.value?.every((x) => x === (r.offset & 0xff)))
          } finally {
            await log.close()
          }
        },
      ),
      { numRuns: 60 },
    )
  })
})
