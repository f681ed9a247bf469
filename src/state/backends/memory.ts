// The memory state backend: a Map per store, for tests and for state that the changelog can rebuild quickly.
// Nothing survives the process; a restart restores from the changelog.
import { SluiceError } from '../../errors/index.ts'
import {
  checkStateKey,
  checkStateValue,
  type StateBackend,
  type StateBackendFactory,
  storeClosedError,
} from '../backend.ts'
import { decodeValue } from './value-codec.ts'

/** Keeps each store in a Map: values are kept as given (see backend.ts), entries come in insertion order. */
export function memoryState(): StateBackendFactory {
  return {
    kind: 'memory',
    open: ({ store, taskId }) => new MemoryBackend(store, taskId),
  }
}

class MemoryBackend implements StateBackend {
  readonly kind = 'memory'
  readonly #store: string
  readonly #taskId: string
  #map: Map<string, unknown> | undefined = new Map()

  constructor(store: string, taskId: string) {
    this.#store = store
    this.#taskId = taskId
  }

  get(key: string): unknown {
    return this.#open().get(key)
  }

  has(key: string): boolean {
    return this.#open().has(key)
  }

  put(key: string, value: unknown): void {
    const map = this.#open()
    checkStateKey(key, this.#store)
    checkStateValue(value, this.#store)
    map.set(key, value)
  }

  putEncoded(key: string, bytes: Buffer): void {
    let value: unknown
    try {
      value = decodeValue(bytes)
    } catch (err) {
      throw new SluiceError(
        'SLUICE_ERR_STATE',
        `state store "${this.#store}" got bytes that are not a state value (${(err as Error).message})`,
        { cause: err, details: { store: this.#store } },
      )
    }
    this.put(key, value)
  }

  delete(key: string): void {
    this.#open().delete(key)
  }

  *entries(prefix = ''): IterableIterator<[string, unknown]> {
    const map = this.#open()
    // A scan of the whole store even with a prefix: Map has no order to seek in.
    for (const entry of map) {
      if (entry[0].startsWith(prefix)) yield entry
    }
  }

  size(): number {
    return this.#open().size
  }

  async flush(): Promise<void> {
    this.#open()
  }

  clear(): void {
    this.#open().clear()
  }

  discard(): void {
    // Nothing was flushed to go back to: the whole state goes with the process and comes back from the changelog.
    this.#open()
  }

  async close(): Promise<void> {
    this.#map = undefined
  }

  #open(): Map<string, unknown> {
    if (this.#map === undefined) throw storeClosedError(this.#store, this.#taskId)
    return this.#map
  }
}
