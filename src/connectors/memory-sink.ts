// An in-process sink that keeps committed results in memory, for tests, demos and live dashboards. Records become
// visible only when the pipeline commits them; a failed commit drops them. Nothing survives the process.
import type { Rec } from '../graph/logical.ts'
import type { Sink, SinkFactory } from './sink.ts'

export interface MemorySink<K, V> {
  factory: SinkFactory<K, V>
  /** Every committed record so far, in commit order. */
  committed(): Rec<K, V>[]
  /** Called after each commit with the records it made visible. */
  onCommit(listener: (records: Rec<K, V>[]) => void): void
}

export function memorySink<K = unknown, V = unknown>(): MemorySink<K, V> {
  const committed: Rec<K, V>[] = []
  const listeners: ((records: Rec<K, V>[]) => void)[] = []
  const factory: SinkFactory<K, V> = () => {
    let buffer: Rec<K, V>[] = []
    const prepared = new Map<number, Rec<K, V>[]>()
    const sink: Sink<K, V> = {
      guarantee: 'transactional',
      async open() {},
      write(records) {
        for (const r of records) buffer.push(r)
      },
      async prepare(id) {
        prepared.set(id, buffer)
        buffer = []
      },
      async commit(id) {
        const records = prepared.get(id)
        prepared.delete(id)
        if (records === undefined || records.length === 0) return
        for (const r of records) committed.push(r)
        for (const l of listeners) l(records)
      },
      async abort(id) {
        prepared.delete(id)
        buffer = []
      },
      async close() {},
    }
    return sink
  }
  return {
    factory,
    committed: () => [...committed],
    onCommit: (l) => {
      listeners.push(l)
    },
  }
}
