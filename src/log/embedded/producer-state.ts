// Per-partition producer state: the epoch and recent sequence numbers of each producer id, so a retried batch is
// recognised and not written twice, a fenced producer is refused, and open transactions are known (for the LSO).
import { crc32c } from '@node-rs/crc32'
import { SluiceError } from '../../errors/index.ts'

/** How many recent batches per producer are remembered for deduplication, as Kafka does. */
const RECENT_BATCHES = 5

export interface RecentBatch {
  firstSeq: number
  lastSeq: number
  baseOffset: number
  lastOffset: number
}

export interface ProducerEntry {
  producerId: number
  epoch: number
  batches: RecentBatch[]
  /** First offset of the producer's open transaction on this partition, or -1. */
  txnFirstOffset: number
}

export type SequenceCheck = { kind: 'new' } | { kind: 'duplicate'; batch: RecentBatch }

export class ProducerStateTable {
  readonly producers = new Map<number, ProducerEntry>()

  /** Checks an incoming batch of a producer; throws when it is fenced or out of order. */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number, where: string): SequenceCheck {
    const entry = this.producers.get(producerId)
    if (entry === undefined) {
      return { kind: 'new' }
    }
    if (epoch < entry.epoch) {
      throw new SluiceError(
        'SLUICE_ERR_PRODUCER_FENCED',
        `producer ${producerId} with epoch ${epoch} was fenced by epoch ${entry.epoch} on ${where}; a newer ` +
          'producer with the same transactional id took over: close this one',
        { details: { producerId, epoch, currentEpoch: entry.epoch } },
      )
    }
    if (firstSeq < 0 || epoch > entry.epoch) return { kind: 'new' }
    for (const b of entry.batches) {
      if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { kind: 'duplicate', batch: b }
    }
    const last = entry.batches.at(-1)
    if (last !== undefined && firstSeq !== last.lastSeq + 1) {
      throw new SluiceError(
        'SLUICE_ERR_OUT_OF_ORDER_SEQUENCE',
        `producer ${producerId} sent sequence ${firstSeq} on ${where} but ${last.lastSeq + 1} was expected; ` +
          'records were lost between producer and log: restart the producer',
        { details: { producerId, expected: last.lastSeq + 1, got: firstSeq } },
      )
    }
    return { kind: 'new' }
  }

  /** Records an appended data batch. */
  onData(producerId: number, epoch: number, batch: RecentBatch, transactional: boolean): void {
    let entry = this.producers.get(producerId)
    if (entry === undefined || epoch > entry.epoch) {
      entry = { producerId, epoch, batches: [], txnFirstOffset: entry?.txnFirstOffset ?? -1 }
      this.producers.set(producerId, entry)
    }
    if (batch.firstSeq >= 0) {
      entry.batches.push(batch)
      if (entry.batches.length > RECENT_BATCHES) entry.batches.shift()
    }
    if (transactional && entry.txnFirstOffset < 0) entry.txnFirstOffset = batch.baseOffset
  }

  /** Records a transaction marker; returns the first offset of the transaction it ends, or -1 if none was open. */
  onMarker(producerId: number, epoch: number): number {
    let entry = this.producers.get(producerId)
    if (entry === undefined) {
      entry = { producerId, epoch, batches: [], txnFirstOffset: -1 }
      this.producers.set(producerId, entry)
    }
    if (epoch > entry.epoch) entry.epoch = epoch
    const first = entry.txnFirstOffset
    entry.txnFirstOffset = -1
    return first
  }

  /** Fences epochs older than `epoch` for this producer id (a marker written by the coordinator after a bump). */
  bumpEpoch(producerId: number, epoch: number): void {
    const entry = this.producers.get(producerId)
    if (entry !== undefined && epoch > entry.epoch) {
      entry.epoch = epoch
      entry.batches = []
    }
  }

  firstOpenTxnOffset(): number {
    let min = Number.POSITIVE_INFINITY
    for (const e of this.producers.values())
      if (e.txnFirstOffset >= 0 && e.txnFirstOffset < min) min = e.txnFirstOffset
    return min
  }

  openTransactions(): { producerId: number; epoch: number; firstOffset: number }[] {
    const out = []
    for (const e of this.producers.values()) {
      if (e.txnFirstOffset >= 0)
        out.push({ producerId: e.producerId, epoch: e.epoch, firstOffset: e.txnFirstOffset })
    }
    return out
  }

  /** The state as text for a snapshot file: the CRC32C of the JSON that follows on the first line. */
  snapshot(): string {
    const json = JSON.stringify([...this.producers.values()])
    return `${crc32c(json)}\n${json}`
  }

  /**
   * Replaces the state with a snapshot's. Returns false, leaving the state empty, when the text is damaged (wrong
   * CRC, not JSON, not producer entries): the caller then rebuilds the state from the log.
   */
  restore(text: string): boolean {
    this.producers.clear()
    const nl = text.indexOf('\n')
    const json = text.slice(nl + 1)
    if (nl < 0 || text.slice(0, nl) !== String(crc32c(json))) return false
    let entries: unknown
    try {
      entries = JSON.parse(json)
    } catch {
      return false
    }
    if (!Array.isArray(entries) || !entries.every(isProducerEntry)) return false
    for (const e of entries) this.producers.set(e.producerId, e)
    return true
  }

  clear(): void {
    this.producers.clear()
  }
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v)

function isProducerEntry(e: unknown): e is ProducerEntry {
  if (typeof e !== 'object' || e === null) return false
  const { producerId, epoch, batches, txnFirstOffset } = e as Record<string, unknown>
  return (
    isInt(producerId) &&
    isInt(epoch) &&
    isInt(txnFirstOffset) &&
    Array.isArray(batches) &&
    batches.every(
      (b: Record<string, unknown>) =>
        typeof b === 'object' &&
        b !== null &&
        isInt(b.firstSeq) &&
        isInt(b.lastSeq) &&
        isInt(b.baseOffset) &&
        isInt(b.lastOffset),
    )
  )
}
