// Where the fixed-window operator keeps its slices (a key's accumulator in one pane, or in one window without
// merge): in its store under "<start>|<encoded key>", so that they are changelogged and restored. On the memory
// backend an index by start and key over the very slice objects the store holds finds a slice without building and
// hashing that string; a persistent backend is there to keep state off the heap, so on it the string is built and
// the store asked, as before.
import { numberText } from '../state/key-codec.ts'
import type { Store } from '../state/store.ts'

/** A key's accumulator in one slice, as the store keeps it. */
export type Slice = [key: unknown, acc: unknown]

/** A slice and its store key. */
export interface SliceRef {
  readonly sk: string
  readonly slice: Slice
}

export interface Slices {
  find(start: number, ks: string): SliceRef | undefined
  /** Stores a new slice. */
  create(start: number, ks: string, slice: Slice): SliceRef
  /** Stores a slice again after its accumulator changed. */
  save(ref: SliceRef): void
  delete(start: number, ks: string): void
  /** After a restore: rebuilds what is kept besides the store, and tells each slice there is. */
  restore(each: (start: number, ks: string) => void): void
}

export function slicesIn(store: Store): Slices {
  return store.backend.kind === 'memory' ? new IndexedSlices(store) : new StoredSlices(store)
}

/** The slices that start at one time, by encoded key. */
interface SliceSet {
  readonly start: number
  /** "<start>|": printing an epoch-millisecond double costs about as much as the rest of a record's work. */
  readonly prefix: string
  readonly refs: Map<string, SliceRef>
}

class IndexedSlices implements Slices {
  readonly #store: Store
  // Only a few starts are live at a time, so this map is small; records mostly go to the latest start.
  readonly #byStart = new Map<number, SliceSet>()
  #last: SliceSet | undefined

  constructor(store: Store) {
    this.#store = store
  }

  find(start: number, ks: string): SliceRef | undefined {
    const set = this.#last?.start === start ? this.#last : this.#byStart.get(start)
    return set?.refs.get(ks)
  }

  create(start: number, ks: string, slice: Slice): SliceRef {
    let set = this.#last?.start === start ? this.#last : this.#byStart.get(start)
    if (set === undefined) {
      set = { start, prefix: `${numberText(start)}|`, refs: new Map() }
      this.#byStart.set(start, set)
    }
    this.#last = set
    const ref = { sk: set.prefix + ks, slice }
    set.refs.set(ks, ref)
    this.#store.put(ref.sk, slice)
    return ref
  }

  save(ref: SliceRef): void {
    this.#store.put(ref.sk, ref.slice)
  }

  delete(start: number, ks: string): void {
    const set = this.#byStart.get(start)
    const ref = set?.refs.get(ks)
    if (ref === undefined) return
    set!.refs.delete(ks)
    this.#store.delete(ref.sk)
    if (set!.refs.size > 0) return
    this.#byStart.delete(start)
    if (this.#last === set) this.#last = undefined
  }

  restore(each: (start: number, ks: string) => void): void {
    this.#byStart.clear()
    this.#last = undefined
    for (const [sk, value] of this.#store.entries()) {
      const bar = sk.indexOf('|')
      const start = Number(sk.slice(0, bar))
      const ks = sk.slice(bar + 1)
      let set = this.#byStart.get(start)
      if (set === undefined) {
        set = { start, prefix: sk.slice(0, bar + 1), refs: new Map() }
        this.#byStart.set(start, set)
      }
      set.refs.set(ks, { sk, slice: value as Slice })
      each(start, ks)
    }
  }
}

class StoredSlices implements Slices {
  readonly #store: Store
  // the text of the last few starts
  readonly #starts: number[] = []
  readonly #prefixes: string[] = []

  constructor(store: Store) {
    this.#store = store
  }

  #key(start: number, ks: string): string {
    const i = this.#starts.indexOf(start)
    if (i >= 0) return this.#prefixes[i] + ks
    if (this.#starts.length === 16) {
      this.#starts.shift()
      this.#prefixes.shift()
    }
    const prefix = `${numberText(start)}|`
    this.#starts.push(start)
    this.#prefixes.push(prefix)
    return prefix + ks
  }

  find(start: number, ks: string): SliceRef | undefined {
    const sk = this.#key(start, ks)
    const slice = this.#store.get(sk) as Slice | undefined
    return slice === undefined ? undefined : { sk, slice }
  }

  create(start: number, ks: string, slice: Slice): SliceRef {
    const ref = { sk: this.#key(start, ks), slice }
    this.#store.put(ref.sk, slice)
    return ref
  }

  save(ref: SliceRef): void {
    this.#store.put(ref.sk, ref.slice)
  }

  delete(start: number, ks: string): void {
    this.#store.delete(this.#key(start, ks))
  }

  restore(each: (start: number, ks: string) => void): void {
    for (const [sk] of this.#store.entries()) {
      const bar = sk.indexOf('|')
      each(Number(sk.slice(0, bar)), sk.slice(bar + 1))
    }
  }
}
