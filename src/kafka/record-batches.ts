// Turns the record batches of a Kafka fetch response into Sluice records: control batches dropped, and under
// read_committed the batches of aborted transactions skipped using the response's aborted-transaction list (the
// broker sends aborted data up to the last stable offset; filtering it is the client's job, as in the Java client).
import type { RecordsBatch } from '@platformatic/kafka'
import type { ConsumedRecord, Header } from '../log/contract.ts'

const IS_TRANSACTIONAL = 0x10
const IS_CONTROL = 0x20
const LOG_APPEND_TIME = 0x08

export interface AbortedTransaction {
  producerId: bigint
  firstOffset: bigint
}

export interface DecodeOptions {
  topic: string
  partition: number
  /** Records below this offset are dropped (a fetch returns whole batches). */
  from: number
  readCommitted: boolean
  aborted: readonly AbortedTransaction[]
  maxRecords: number
}

export interface Decoded {
  records: ConsumedRecord[]
  /** The offset to fetch next. */
  next: number
}

/** Reads the control record's key: version (int16) then type (int16), 0 = abort, 1 = commit. */
function isAbortMarker(batch: RecordsBatch): boolean {
  const key = batch.records[0]?.key
  return key != null && key.length >= 4 && key.readInt16BE(2) === 0
}

export function decodeBatches(batches: readonly RecordsBatch[], options: DecodeOptions): Decoded {
  const records: ConsumedRecord[] = []
  let next = options.from
  const pending = [...options.aborted].sort((a, b) => Number(a.firstOffset - b.firstOffset))
  const abortedProducers = new Set<bigint>()
  for (const batch of batches) {
    const lastOffset = Number(batch.firstOffset) + batch.lastOffsetDelta
    if (lastOffset < options.from) continue
    while (
      pending.length > 0 &&
      pending[0].firstOffset <= batch.firstOffset + BigInt(batch.lastOffsetDelta)
    ) {
      abortedProducers.add((pending.shift() as AbortedTransaction).producerId)
    }
    if (batch.attributes & IS_CONTROL) {
      if (options.readCommitted && isAbortMarker(batch)) abortedProducers.delete(batch.producerId)
      next = lastOffset + 1
      continue
    }
    if (
      options.readCommitted &&
      batch.attributes & IS_TRANSACTIONAL &&
      abortedProducers.has(batch.producerId)
    ) {
      next = lastOffset + 1
      continue
    }
    const logAppendTime = (batch.attributes & LOG_APPEND_TIME) !== 0
    for (const record of batch.records) {
      const offset = Number(batch.firstOffset) + record.offsetDelta
      if (offset < options.from) continue
      if (records.length >= options.maxRecords) return { records, next }
      const headers: Header[] = record.headers.map(([k, v]) => [
        k?.toString('utf8') ?? '',
        v ?? Buffer.alloc(0),
      ])
      records.push({
        topic: options.topic,
        partition: options.partition,
        offset,
        timestamp: Number(logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta),
        key: record.key,
        value: record.value,
        headers,
      })
      next = offset + 1
    }
    next = Math.max(next, lastOffset + 1)
  }
  return { records, next }
}
