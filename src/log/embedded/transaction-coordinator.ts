// The transaction coordinator of the embedded log. Transaction state lives in the compacted __transaction_state
// topic, written before each step takes effect (partition added, prepare, complete), so that recovery after a crash
// can finish a prepared commit and abort everything else that was left open.
import { SluiceError } from '../../errors/index.ts'
import type { TopicPartition } from '../contract.ts'
import type { EmbeddedLog } from './embedded-log.ts'
import { OFFSETS_TOPIC, TRANSACTIONS_TOPIC } from './internal-topics.ts'
import type { PartitionLog } from './partition-log.ts'
import { CONTROL_ABORT, CONTROL_COMMIT } from './record-batch.ts'

type Phase = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort'

interface TxnMetadata {
  transactionalId: string
  producerId: number
  epoch: number
  phase: Phase
  partitions: TopicPartition[]
  /** Where the markers of a completed transaction went, so recovery knows which transaction a cut marker ended. */
  markers?: (TopicPartition & { offset: number })[]
  startedAt: number
  timeoutMs: number
}

/** The outcome of a completed transaction whose marker is no longer in a partition (recovery cut it off). */
interface CutMarker {
  offset: number
  commit: boolean
}

const MAX_EPOCH = 32767

export class TransactionCoordinator {
  readonly #log: EmbeddedLog
  readonly #txns = new Map<string, TxnMetadata>()

  constructor(log: EmbeddedLog) {
    this.#log = log
  }

  async recover(): Promise<void> {
    const p = this.#log.partition(TRANSACTIONS_TOPIC, 0)
    // completed transactions whose marker lies at or past the end of its partition: recovery cut it off
    const cut = new Map<string, CutMarker>()
    let offset = p.logStartOffset
    while (offset < p.highWatermark) {
      const { records, nextOffset } = p.read(offset, 4 << 20, 'read_uncommitted')
      for (const r of records) {
        if (r.key === null) continue
        const id = r.key.toString('utf8')
        if (r.value === null) {
          this.#txns.delete(id)
          continue
        }
        const t = JSON.parse(r.value.toString('utf8')) as TxnMetadata
        this.#txns.set(id, t)
        if (t.phase === 'CompleteCommit' || t.phase === 'CompleteAbort') this.#noteCutMarkers(t, cut)
      }
      offset = nextOffset
    }
    for (const t of this.#txns.values()) {
      if (t.phase === 'PrepareCommit') await this.#complete(t, true, false)
      else if (t.phase === 'PrepareAbort') await this.#complete(t, false, false)
      else if (t.phase === 'Ongoing') await this.#complete(t, false, true)
    }
    this.#endOrphans(cut)
  }

  #noteCutMarkers(t: TxnMetadata, cut: Map<string, CutMarker>): void {
    for (const m of t.markers ?? []) {
      const p = this.#log.hasTopic(m.topic) ? this.#log.topic(m.topic).partitions[m.partition] : undefined
      if (p === undefined || m.offset < p.highWatermark) continue
      const key = `${t.producerId}:${m.topic}:${m.partition}`
      const known = cut.get(key)
      if (known === undefined || m.offset < known.offset)
        cut.set(key, { offset: m.offset, commit: t.phase === 'CompleteCommit' })
    }
  }

  /**
   * Ends the transactions that partitions hold open although this coordinator completed them: recovery can cut a
   * marker off the end of a partition (a power failure under the 'os' or 'interval' fsync policy) after the
   * coordinator recorded the transaction complete, and nothing would write it again, holding the last stable offset
   * back for good. The open transaction is the producer's last data in the partition, so its marker is the first
   * of that producer's markers that were cut off; without one (the coordinator never learnt of it), it is aborted.
   */
  #endOrphans(cut: Map<string, CutMarker>): void {
    const epochs = new Map<number, number>()
    for (const t of this.#txns.values()) epochs.set(t.producerId, t.epoch)
    for (const topic of this.#log.topics()) {
      for (const p of topic.partitions) {
        const open = p.producers.openTransactions()
        if (open.length === 0) continue
        for (const { producerId, epoch } of open) {
          const commit = cut.get(`${producerId}:${topic.name}:${p.partition}`)?.commit ?? false
          p.endOrphanTransaction(producerId, Math.max(epoch, epochs.get(producerId) ?? epoch), commit)
          if (topic.name === OFFSETS_TOPIC) this.#log.groups.onTransactionEnd(producerId, commit)
        }
        p.persistProducerState()
      }
    }
  }

  /** Registers a transactional id: a new epoch fences every older producer, whose open transaction is aborted. */
  async initProducerId(
    transactionalId: string,
    timeoutMs: number,
  ): Promise<{ producerId: number; epoch: number }> {
    let t = this.#txns.get(transactionalId)
    if (t === undefined) {
      t = {
        transactionalId,
        producerId: this.#log.producerIds.next(),
        epoch: 0,
        phase: 'Empty',
        partitions: [],
        startedAt: 0,
        timeoutMs,
      }
      this.#txns.set(transactionalId, t)
    } else {
      if (t.phase === 'Ongoing') await this.#complete(t, false, true)
      else if (t.phase === 'PrepareCommit') await this.#complete(t, true, false)
      else if (t.phase === 'PrepareAbort') await this.#complete(t, false, false)
      if (t.epoch >= MAX_EPOCH) {
        t.producerId = this.#log.producerIds.next()
        t.epoch = 0
      } else t.epoch++
      t.phase = 'Empty'
      t.partitions = []
      t.timeoutMs = timeoutMs
    }
    await this.#persist(t)
    return { producerId: t.producerId, epoch: t.epoch }
  }

  #current(transactionalId: string, producerId: number, epoch: number): TxnMetadata {
    const t = this.#txns.get(transactionalId)
    if (t === undefined || t.producerId !== producerId || t.epoch !== epoch) {
      throw new SluiceError(
        'SLUICE_ERR_PRODUCER_FENCED',
        `producer for transactional id ${JSON.stringify(transactionalId)} (producer ${producerId}, epoch ${epoch}) ` +
          'has been fenced by a newer instance or by a transaction timeout; close it and create a new producer',
        { details: { transactionalId, producerId, epoch, currentEpoch: t?.epoch } },
      )
    }
    return t
  }

  /** Records partitions as part of the open transaction, durably, before any data is written to them. */
  async addPartitions(
    transactionalId: string,
    producerId: number,
    epoch: number,
    partitions: readonly TopicPartition[],
  ): Promise<void> {
    const t = this.#current(transactionalId, producerId, epoch)
    if (t.phase === 'PrepareCommit' || t.phase === 'PrepareAbort') {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_TXN_STATE',
        `transaction ${transactionalId} is completing; wait for commit or abort to finish before sending`,
      )
    }
    const known = new Set(t.partitions.map((tp) => `${tp.topic}:${tp.partition}`))
    const added = partitions.filter((tp) => !known.has(`${tp.topic}:${tp.partition}`))
    if (added.length === 0 && t.phase === 'Ongoing') return
    if (t.phase !== 'Ongoing') {
      t.phase = 'Ongoing'
      t.startedAt = this.#log.now()
      t.partitions = []
      t.markers = undefined
    }
    t.partitions.push(...added.map((tp) => ({ topic: tp.topic, partition: tp.partition })))
    await this.#persist(t)
  }

  async endTransaction(
    transactionalId: string,
    producerId: number,
    epoch: number,
    commit: boolean,
  ): Promise<void> {
    const t = this.#current(transactionalId, producerId, epoch)
    if (t.phase !== 'Ongoing') return // nothing was sent: an empty transaction ends without markers
    await this.#complete(t, commit, false)
  }

  /** Aborts transactions open longer than their timeout, bumping the epoch so the late producer is fenced. */
  async abortTimedOut(now: number): Promise<number> {
    let aborted = 0
    for (const t of this.#txns.values()) {
      if (t.phase === 'Ongoing' && now - t.startedAt > t.timeoutMs) {
        await this.#complete(t, false, true)
        aborted++
      }
    }
    return aborted
  }

  async #complete(t: TxnMetadata, commit: boolean, bumpEpoch: boolean): Promise<void> {
    if (bumpEpoch) {
      if (t.epoch >= MAX_EPOCH)
        throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE', 'producer epoch exhausted')
      t.epoch++
    }
    t.phase = commit ? 'PrepareCommit' : 'PrepareAbort'
    await this.#persist(t)
    const touched: PartitionLog[] = []
    const markers: TxnMetadata['markers'] = []
    for (const tp of t.partitions) {
      if (!this.#log.hasTopic(tp.topic)) continue // deleted since: nothing left to mark
      const p = this.#log.partition(tp.topic, tp.partition)
      const offset = p.appendMarker(t.producerId, t.epoch, commit ? CONTROL_COMMIT : CONTROL_ABORT)
      markers.push({ topic: tp.topic, partition: tp.partition, offset })
      touched.push(p)
      if (tp.topic === OFFSETS_TOPIC) this.#log.groups.onTransactionEnd(t.producerId, commit)
    }
    await this.#log.acknowledge(touched)
    t.phase = commit ? 'CompleteCommit' : 'CompleteAbort'
    t.partitions = []
    t.markers = markers
    await this.#persist(t)
  }

  async #persist(t: TxnMetadata): Promise<void> {
    const p = this.#log.partition(TRANSACTIONS_TOPIC, 0)
    p.append([
      {
        key: Buffer.from(t.transactionalId),
        value: Buffer.from(JSON.stringify(t)),
        timestamp: this.#log.now(),
      },
    ])
    await this.#log.acknowledge([p])
  }
}
