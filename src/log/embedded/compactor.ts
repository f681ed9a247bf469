// Log compaction for topics with cleanup.policy=compact: sealed segments are rewritten to keep only the latest
// record of each key. Offsets never change. Tombstones (null values) stay for delete.retention.ms after their first
// cleaning, so that readers catching up still see the delete; aborted transactional data is removed.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import type { LogRecord } from '../contract.ts'
import type { PartitionLog } from './partition-log.ts'
import { type BatchHeader, decodeRecords, encodeBatch, isControl, isTransactional } from './record-batch.ts'

interface Aborted {
  producerId: number
  firstOffset: number
  lastOffset: number
}

function abortedBatch(aborted: readonly Aborted[], h: BatchHeader): boolean {
  if (!isTransactional(h) || isControl(h)) return false
  return aborted.some(
    (a) => a.producerId === h.producerId && a.firstOffset <= h.baseOffset && h.baseOffset <= a.lastOffset,
  )
}

/** Compacts the sealed segments of `p` below its last stable offset. Returns how many segments were rewritten. */
export function compactPartition(p: PartitionLog, now: number): number {
  const lso = p.lastStableOffset
  const cleanable = p.segments.slice(0, -1).filter((s) => s.nextOffset <= lso).length
  if (cleanable === 0) return 0
  const aborted = p.aborted.from(0)

  // 1. the latest offset of every key, over everything stable (the active segment included)
  const latest = new Map<string, number>()
  const scratch: LogRecord[] = []
  for (const segment of p.segments) {
    segment.scan(0, (h, buf, pos) => {
      if (h.baseOffset >= lso) return 'stop'
      if (isControl(h) || abortedBatch(aborted, h)) return 'continue'
      scratch.length = 0
      decodeRecords(buf, pos, 0, scratch)
      for (const r of scratch) if (r.key !== null) latest.set(r.key.toString('latin1'), r.offset)
      return 'continue'
    })
  }

  // 2. rewrite each cleanable segment; a marker stays while data of its transaction remains before it
  const retainedData = new Set<number>()
  const deleteRetention = p.config['delete.retention.ms']
  let rewritten = 0
  for (let i = 0; i < cleanable; i++) {
    const segment = p.segments[i]
    const out: Buffer[] = []
    let changed = false
    segment.scan(0, (h, buf, pos) => {
      const whole = buf.subarray(pos, pos + h.sizeInBytes)
      if (isControl(h)) {
        if (retainedData.has(h.producerId)) out.push(whole)
        else changed = true
        retainedData.delete(h.producerId)
        return 'continue'
      }
      if (abortedBatch(aborted, h)) {
        changed = true
        return 'continue'
      }
      scratch.length = 0
      decodeRecords(buf, pos, 0, scratch)
      const keep = scratch.filter((r) => {
        if (r.key === null || latest.get(r.key.toString('latin1')) !== r.offset) return false
        return r.value !== null || h.deleteHorizon < 0 || now < h.deleteHorizon
      })
      const hasTombstone = keep.some((r) => r.value === null)
      const horizon = hasTombstone && h.deleteHorizon < 0 ? now + deleteRetention : h.deleteHorizon
      if (keep.length === scratch.length && horizon === h.deleteHorizon) {
        out.push(whole)
      } else if (keep.length > 0) {
        changed = true
        out.push(
          encodeBatch({
            baseOffset: h.baseOffset,
            records: keep.map((r) => ({
              key: r.key,
              value: r.value,
              headers: r.headers,
              timestamp: r.timestamp,
            })),
            offsetDeltas: keep.map((r) => r.offset - h.baseOffset),
            attributes: h.attributes,
            producerId: h.producerId,
            producerEpoch: h.producerEpoch,
            baseSequence: h.baseSequence,
            deleteHorizon: horizon,
          }),
        )
      } else changed = true
      if (keep.length > 0 && isTransactional(h)) retainedData.add(h.producerId)
      return 'continue'
    })
    if (!changed) continue
    const cleanedPath = `${segment.path}.cleaned`
    const fd = openSync(cleanedPath, 'w')
    try {
      for (const b of out) writeSync(fd, b)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    p.replaceSegment(i, cleanedPath)
    rewritten++
  }
  return rewritten
}
