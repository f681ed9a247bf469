// The storage under a state store, per store and task. Keys are strings (the runtime encodes record keys); values
// are structured-cloneable JS values (numbers, strings, plain objects, arrays, Map, Set, Buffer), so a backend may
// keep them as objects (memory) or serialize them (lmdb, changelog).
//
// Values are not copied on put: a backend may keep the very object it was given and hand it back from get (memory
// always does; lmdb does until the next flush, and after it for the keys it keeps decoded). Once a value is put, change it only by putting again: mutating the
// object returned by get and putting it back is fine (aggregators do), but a mutation that is never put changes
// the memory backend and not lmdb, and writes no changelog entry.
import { SluiceError } from '../errors/index.ts'

export interface StateBackend {
  readonly kind: 'memory' | 'lmdb'
  /** The value, or undefined when the key is absent (null is a value). */
  get(key: string): unknown
  /** Whether the key has a value, without reading it. */
  has(key: string): boolean
  /** Throws SLUICE_ERR_INVALID_ARGUMENT for a key checkStateKey refuses or an undefined value (delete instead). */
  put(key: string, value: unknown): void
  /**
   * Puts the value whose encodeValue bytes are `bytes` (a changelog record's, during a restore). lmdb keeps and
   * writes the bytes as they are, and decodes them only if the key is read before it is written again; memory
   * decodes them at once. Throws SLUICE_ERR_STATE for bytes that encodeValue cannot have made.
   */
  putEncoded(key: string, bytes: Buffer): void
  delete(key: string): void
  /**
   * Entries whose key starts with `prefix`. Order: insertion order for memory, UTF-8 byte order for lmdb; callers
   * must not rely on either. Writes made while iterating may or may not be seen; deleting entries as they are
   * visited is safe.
   */
  entries(prefix?: string): IterableIterator<[string, unknown]>
  /** Number of entries. */
  size(): number
  /**
   * Makes writes so far durable locally (a no-op for memory). The runtime calls it only when every write so far is
   * committed (see docs/state.md), every few seconds rather than at each commit.
   */
  flush(): Promise<void>
  /** Removes every entry (before a restore from the changelog). Durable, like a write, once flushed. */
  clear(): void
  /**
   * Drops the writes since the last flush: lmdb goes back to the state in its file, so that a close after a failed
   * commit cannot write state of a transaction that did not commit. A no-op for memory, which has no flushed state
   * (its state goes with the process and is rebuilt from the changelog).
   */
  discard(): void
  /** Flushes, then releases the store; any later call throws SLUICE_ERR_STATE. */
  close(): Promise<void>
}

export interface StateBackendFactory {
  readonly kind: 'memory' | 'lmdb'
  /** Opens the backend of store `store` for task `taskId`; `dir` is the task's local state directory. */
  open(options: { dir: string; store: string; taskId: string }): StateBackend
}

/**
 * The longest key, in UTF-8 bytes: LMDB's limit with 4 KiB pages (1978 bytes) less the byte the lmdb backend puts
 * before each key. Every backend enforces it, so that a pipeline tested on memory also runs on lmdb.
 */
export const MAX_STATE_KEY_BYTES = 1977

/** Whether a backend can store `key`: well-formed UTF-16 of at most MAX_STATE_KEY_BYTES in UTF-8. */
export function isStorableKey(key: string): boolean {
  // Three bytes per UTF-16 code unit at most, so short keys need no count.
  return (
    key.isWellFormed() &&
    (key.length * 3 <= MAX_STATE_KEY_BYTES || Buffer.byteLength(key, 'utf8') <= MAX_STATE_KEY_BYTES)
  )
}

/** Throws SLUICE_ERR_INVALID_ARGUMENT unless isStorableKey(key). */
export function checkStateKey(key: string, store: string): void {
  if (typeof key === 'string' && isStorableKey(key)) return
  // A key is stored as UTF-8, where a lone surrogate would turn into U+FFFD and alias another key.
  if (typeof key !== 'string' || !key.isWellFormed()) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `state store "${store}" got a key that is not a well-formed string (${typeof key === 'string' ? 'it has a lone surrogate' : typeof key}); encode keys as text or hex`,
      { details: { store } },
    )
  }
  const bytes = Buffer.byteLength(key, 'utf8')
  throw new SluiceError(
    'SLUICE_ERR_INVALID_ARGUMENT',
    `state store "${store}" got a key of ${bytes} bytes; keys may have at most ${MAX_STATE_KEY_BYTES} bytes in UTF-8 (hash long record keys)`,
    { details: { store, keyBytes: bytes } },
  )
}

/** Throws SLUICE_ERR_INVALID_ARGUMENT for an undefined value, which get could not tell from an absent key. */
export function checkStateValue(value: unknown, store: string): void {
  if (value === undefined) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `state store "${store}" got undefined as a value; delete the key instead (null is a value)`,
      { details: { store } },
    )
  }
}

/** The error for a call on a closed backend. */
export function storeClosedError(store: string, taskId: string): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_STATE',
    `state store "${store}" of task ${taskId} is closed; open it again from its factory`,
    { details: { store, taskId } },
  )
}
