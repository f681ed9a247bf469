// A state store as operators see it: a backend plus the set of keys changed since the last commit, which the
// commit writes to the store's changelog topic (only the latest value of each key, as Kafka Streams' caching does).
import type { StateBackend } from './backend.ts'
import { decodeValue, encodeValue } from './backends/value-codec.ts'

/** Where a store keeps the changelog offset its local state corresponds to. */
const SNAPSHOT_OFFSET = '\u0000changelog-offset'

export class Store {
  readonly name: string
  readonly backend: StateBackend
  readonly #dirty = new Set<string>()
  readonly #logged: boolean

  constructor(name: string, backend: StateBackend, logged: boolean) {
    this.name = name
    this.backend = backend
    this.#logged = logged
  }

  get(key: string): unknown {
    return this.backend.get(key)
  }

  put(key: string, value: unknown): void {
    this.backend.put(key, value)
    if (this.#logged) this.#dirty.add(key)
  }

  delete(key: string): void {
    this.backend.delete(key)
    if (this.#logged) this.#dirty.add(key)
  }

  /** Entries of the store, without the runtime's own metadata (keys starting with \u0000). */
  *entries(prefix?: string): IterableIterator<[string, unknown]> {
    for (const e of this.backend.entries(prefix)) if (e[0].charCodeAt(0) !== 0) yield e
  }

  /** The changelog offset the local state was last flushed at (persistent backends), if any. */
  get snapshotOffset(): number | undefined {
    const v = this.backend.get(SNAPSHOT_OFFSET)
    return typeof v === 'number' ? v : undefined
  }

  /** Records that the local state, once flushed, matches the changelog up to `offset`. Not logged. */
  markSnapshot(offset: number): void {
    this.backend.put(SNAPSHOT_OFFSET, offset)
  }

  get dirtyCount(): number {
    return this.#dirty.size
  }

  /** The changes since the last call, as changelog key and value bytes (null value: deleted). */
  drainChanges(): { key: Buffer; value: Buffer | null }[] {
    const out: { key: Buffer; value: Buffer | null }[] = []
    for (const k of this.#dirty) {
      const v = this.backend.get(k)
      out.push({ key: Buffer.from(k, 'utf8'), value: v === undefined ? null : encodeValue(v) })
    }
    this.#dirty.clear()
    return out
  }

  /** Applies a changelog record during restore (not logged again). */
  applyChange(key: Buffer, value: Buffer | null): void {
    const k = key.toString('utf8')
    if (value === null) this.backend.delete(k)
    else this.backend.put(k, decodeValue(value))
  }

  /** Forgets pending changes (after an abort, the store is rebuilt from the changelog anyway). */
  discardChanges(): void {
    this.#dirty.clear()
  }
}
