// A state store as operators see it: a backend plus the set of keys changed since the last commit, which the
// commit writes to the store's changelog topic (only the latest value of each key, as Kafka Streams' caching does,
// and nothing for a key created and deleted in between).
import type { StateBackend } from './backend.ts'
import { encodeValue } from './backends/value-codec.ts'

/** Where a store keeps the changelog offset its local state corresponds to. */
const SNAPSHOT_OFFSET = '\u0000changelog-offset'
/** Changelog key bytes kept per store: the keys changed at one commit are mostly those changed at the last. */
const KEPT_KEY_BYTES = 20_000
const DELETED: unique symbol = Symbol('deleted')

/**
 * A key changed since the last drain: whether the changelog may hold a value for it (false for a key created since,
 * whose deletion then cancels its change instead of logging a delete), and its value now, which the drain logs
 * without reading the backend again.
 */
interface Change {
  logged: boolean
  value: unknown
}

export class Store {
  readonly name: string
  readonly backend: StateBackend
  /**
   * Keys changed since the last drain. Keys that come and go between two commits (timers, panes, short-lived state)
   * never reach the changelog, and this map stays small.
   */
  readonly #dirty = new Map<string, Change>()
  /**
   * Changes drained, for reuse: each lives for a commit interval, long enough to be promoted out of the young
   * generation, so allocating one per changed key per commit would feed the old generation's collector.
   */
  readonly #spare: Change[] = []
  /** The key last put and its change: a key is often written several times in a row (a hot window pane). */
  #lastPut: string | undefined
  #lastChange: Change | undefined
  readonly #beforeDrain: (() => void)[] = []
  readonly #logged: boolean
  /**
   * Writes the backend holds that are not flushed yet, counted as the changelog records they make (what a restore
   * replays after a crash), or as puts and deletes for a store without a changelog, and as records applied by a
   * restore: what decides when the runtime flushes.
   */
  #unflushed = 0
  /** The changelog key of recently drained keys, as bytes (never written to once made, so shared by records). */
  #keyBytes = new Map<string, Buffer>()

  constructor(name: string, backend: StateBackend, logged: boolean) {
    this.name = name
    this.backend = backend
    this.#logged = logged
  }

  get(key: string): unknown {
    return this.backend.get(key)
  }

  put(key: string, value: unknown): void {
    if (!this.#logged) {
      this.backend.put(key, value)
      this.#unflushed++
      return
    }
    let change = key === this.#lastPut ? this.#lastChange : this.#dirty.get(key)
    if (change === undefined) {
      const logged = this.backend.has(key)
      this.backend.put(key, value) // before the key counts as changed: it refuses a bad key or value
      change = this.#change(logged, value)
      this.#dirty.set(key, change)
    } else {
      this.backend.put(key, value)
      change.value = value
    }
    this.#lastPut = key
    this.#lastChange = change
  }

  #change(logged: boolean, value: unknown): Change {
    const change = this.#spare.pop()
    if (change === undefined) return { logged, value }
    change.logged = logged
    change.value = value
    return change
  }

  delete(key: string): void {
    this.backend.delete(key)
    if (!this.#logged) {
      this.#unflushed++
      return
    }
    this.#lastPut = undefined
    this.#lastChange = undefined
    const change = this.#dirty.get(key)
    if (change === undefined) this.#dirty.set(key, this.#change(true, DELETED))
    else if (!change.logged) this.#dirty.delete(key)
    else change.value = DELETED
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

  /** Writes not flushed to the backend yet (see #unflushed). */
  get unflushed(): number {
    return this.#unflushed
  }

  /**
   * Flushes the backend; with `snapshotOffset`, the flush also records it as the changelog offset the state matches
   * (markSnapshot), in the same backend transaction.
   */
  async flush(snapshotOffset?: number): Promise<void> {
    if (snapshotOffset !== undefined) this.markSnapshot(snapshotOffset)
    const flushed = this.#unflushed
    await this.backend.flush()
    this.#unflushed -= flushed
  }

  /** Drops the writes since the last flush (see StateBackend.discard) and the changes not drained yet. */
  discardUnflushed(): void {
    this.backend.discard()
    this.discardChanges()
    this.#unflushed = 0
  }

  get dirtyCount(): number {
    return this.#dirty.size
  }

  /**
   * Runs `fn` at the start of each drain, that is at each commit: an operator that keeps some writes in memory
   * between commits (most of them undone before it) puts what is left then.
   */
  beforeDrain(fn: () => void): void {
    this.#beforeDrain.push(fn)
  }

  /** The changes since the last call, as changelog key and value bytes (null value: deleted). */
  drainChanges(): { key: Buffer; value: Buffer | null }[] {
    for (const fn of this.#beforeDrain) fn()
    const out: { key: Buffer; value: Buffer | null }[] = []
    const keep = this.#dirty.size <= KEPT_KEY_BYTES
    if (this.#keyBytes.size + this.#dirty.size > KEPT_KEY_BYTES) this.#keyBytes = new Map()
    const keyBytes = this.#keyBytes
    const spare = this.#spare
    this.#dirty.forEach((change, k) => {
      let key = keyBytes.get(k)
      if (key === undefined) {
        key = Buffer.from(k, 'utf8')
        if (keep) keyBytes.set(k, key)
      }
      out.push({ key, value: change.value === DELETED ? null : encodeValue(change.value) })
    })
    // only once all are encoded: a value that cannot be throws, and leaves the changes as they were
    for (const change of this.#dirty.values()) {
      change.value = undefined
      if (spare.length < KEPT_KEY_BYTES) spare.push(change)
    }
    this.#dirty.clear()
    this.#lastPut = undefined
    this.#lastChange = undefined
    this.#unflushed += out.length
    return out
  }

  /** Applies a changelog record during restore (not logged again). */
  applyChange(key: Buffer, value: Buffer | null): void {
    this.#unflushed++
    const k = key.toString('utf8')
    if (value === null) this.backend.delete(k)
    else this.backend.putEncoded(k, value)
  }

  /** Forgets pending changes (after an abort, the store is rebuilt from the changelog anyway). */
  discardChanges(): void {
    this.#dirty.clear()
    this.#lastPut = undefined
    this.#lastChange = undefined
  }
}
