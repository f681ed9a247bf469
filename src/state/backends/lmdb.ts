// The lmdb state backend: the stores of a task live in one LMDB file on local disk (<dir>/state.lmdb), one named
// database per store. Writes wait in memory until flush(), which writes them in one synced transaction, so the file
// always holds the state as of some flush: a crash loses the writes since then and never half of a flush. The values
// of recently written keys stay decoded in memory after the flush, so that hot keys are not read back and decoded.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { type Database, type DatabaseOptions, open, type RootDatabase } from 'lmdb'
import { SluiceError } from '../../errors/index.ts'
import {
  checkStateKey,
  checkStateValue,
  isStorableKey,
  type StateBackend,
  type StateBackendFactory,
  storeClosedError,
} from '../backend.ts'
import { decodeValue, encodeValue, isEncodedValue } from './value-codec.ts'

export interface LmdbStateOptions {
  /** Most stores a task may open: LMDB named databases, each of which costs a little in every transaction. 64. */
  maxStores?: number
  /** LMDB page size for a new file. 8192 suits state much larger than memory. Default: the OS page size. */
  pageSize?: number
  /**
   * Values each store keeps decoded in memory after a flush: those of the keys written most recently, which are
   * likely to be read and written again soon (a hot window pane, a counter). 10,000; 0 reads every key that is
   * not pending from the file.
   */
  cachedValues?: number
}

const DEFAULT_CACHED_VALUES = 10_000

export const LMDB_STATE_FILE = 'state.lmdb'

/** An LMDB file shared by the stores of a task: LMDB must not open one file twice in a process. */
interface SharedEnv {
  readonly path: string
  readonly root: RootDatabase
  readonly stores: Set<string>
}
const envs = new Map<string, SharedEnv>()

const DELETED: unique symbol = Symbol('deleted')
/** A value put as its encoded bytes (a changelog record's, by a restore): written as they are, decoded if read. */
class Encoded {
  readonly bytes: Buffer
  constructor(bytes: Buffer) {
    this.bytes = bytes
  }
}
type Pending = Map<string, unknown>

// Each key is stored as one tag byte and its UTF-8: LMDB refuses empty keys, and the tag makes '' one. UTF-8
// byte order is code point order, so a prefix of a key is a prefix of its bytes and prefix scans can seek.
const KEY_TAG = 0x01
const keyEncoder = {
  writeKey(key: string | Uint8Array, target: Buffer, start: number): number {
    if (typeof key !== 'string') {
      target.set(key, start)
      return start + key.length
    }
    // Buffer.write stops silently at the end; lmdb retries in a larger buffer on a RangeError.
    const room = target.length - start - 1
    if (key.length * 3 > room && Buffer.byteLength(key, 'utf8') > room)
      throw new RangeError('key does not fit')
    target[start] = KEY_TAG
    return start + 1 + target.write(key, start + 1, 'utf8')
  },
  readKey(source: Buffer, start: number, end: number): string {
    return source.toString('utf8', start + 1, end)
  },
}

/**
 * Stores each task's state in `<dir>/state.lmdb`, one LMDB named database per store. Reads see the writes made
 * since the last flush; flush() commits them in one transaction that is on disk (fdatasync) when it resolves.
 */
export function lmdbState(options: LmdbStateOptions = {}): StateBackendFactory {
  return {
    kind: 'lmdb',
    open: ({ dir, store, taskId }) => {
      if (store === '') {
        // LMDB would take '' for its root database, which holds the names of the others.
        throw new SluiceError(
          'SLUICE_ERR_INVALID_ARGUMENT',
          `a state store of task ${taskId} has an empty name`,
          {
            details: { taskId },
          },
        )
      }
      const env = acquireEnv(dir, options)
      if (env.stores.has(store)) {
        throw new SluiceError(
          'SLUICE_ERR_STATE',
          `state store "${store}" of task ${taskId} is already open in ${env.path}; close it before opening it again`,
          { details: { store, taskId, path: env.path } },
        )
      }
      let db: Database<Buffer, string>
      try {
        // lmdb's types list keyEncoder for root databases only; named ones take it too.
        const dbOptions: DatabaseOptions & { name: string; keyEncoder: typeof keyEncoder } = {
          name: store,
          encoding: 'binary',
          keyEncoder,
        }
        db = env.root.openDB<Buffer, string>(dbOptions)
      } catch (err) {
        // The error is the news; a failure to close the file as well would add nothing.
        if (env.stores.size === 0) releaseEnv(env).catch(() => {})
        const full = /MDB_DBS_FULL/.test((err as Error).message)
        throw new SluiceError(
          'SLUICE_ERR_STATE',
          `could not open state store "${store}" of task ${taskId} in ${env.path} (${(err as Error).message})${full ? `; a task may have ${options.maxStores ?? 64} stores, raise it with lmdbState({ maxStores })` : ''}`,
          { cause: err, details: { store, taskId, path: env.path } },
        )
      }
      env.stores.add(store)
      return new LmdbBackend(env, db, store, taskId, options.cachedValues ?? DEFAULT_CACHED_VALUES)
    },
  }
}

function acquireEnv(dir: string, options: LmdbStateOptions): SharedEnv {
  const path = resolve(dir, LMDB_STATE_FILE)
  let env = envs.get(path)
  if (env !== undefined) return env
  try {
    mkdirSync(dir, { recursive: true })
    // overlappingSync off: a commit returns once fdatasync has, as in plain LMDB, and recovery after a crash
    // needs no guess about whether the machine rebooted.
    const root = open({
      path,
      maxDbs: options.maxStores ?? 64,
      pageSize: options.pageSize,
      overlappingSync: false,
    })
    env = { path, root, stores: new Set() }
  } catch (err) {
    throw new SluiceError(
      'SLUICE_ERR_STATE',
      `could not open the local state file ${path} (${(err as Error).message}); if it is damaged, delete it and the stores will be restored from their changelogs`,
      { cause: err, details: { path } },
    )
  }
  envs.set(path, env)
  return env
}

function releaseEnv(env: SharedEnv): Promise<void> {
  envs.delete(env.path)
  return env.root.close()
}

class LmdbBackend implements StateBackend {
  readonly kind = 'lmdb'
  readonly #db: Database<Buffer, string>
  readonly #store: string
  readonly #taskId: string
  #env: SharedEnv | undefined
  /** Writes since the last flush: a value, Encoded bytes, or DELETED. */
  #pending: Pending = new Map()
  /**
   * Decoded values of keys the file holds, as written by the last flushes (oldest first, at most #cacheSize): the
   * very objects that were put, so a read after a flush returns what a read before it did, without a decode.
   */
  readonly #cache = new Map<string, unknown>()
  readonly #cacheSize: number
  /** clear() since the last flush: the file's entries no longer count. */
  #cleared = false
  /** Entries in the file as of the last flush. */
  #stored: number
  #size: number | undefined
  #closing: Promise<void> | undefined

  constructor(
    env: SharedEnv,
    db: Database<Buffer, string>,
    store: string,
    taskId: string,
    cacheSize: number,
  ) {
    this.#env = env
    this.#cacheSize = cacheSize
    this.#db = db
    this.#store = store
    this.#taskId = taskId
    this.#stored = storedCount(db)
  }

  get(key: string): unknown {
    this.#checkOpen()
    const pending = this.#pending.get(key)
    if (pending !== undefined) {
      if (pending instanceof Encoded) return this.#decodePending(key, pending)
      return pending === DELETED ? undefined : pending
    }
    if (this.#cleared) return undefined
    const cached = this.#cache.get(key)
    if (cached !== undefined) return cached
    if (!isStorableKey(key)) return undefined
    const bytes = this.#db.getBinaryFast(key)
    return bytes === undefined ? undefined : this.#decode(key, bytes)
  }

  has(key: string): boolean {
    this.#checkOpen()
    const pending = this.#pending.get(key)
    if (pending !== undefined) return pending !== DELETED
    if (this.#cleared) return false
    if (this.#cache.has(key)) return true
    if (!isStorableKey(key)) return false
    return this.#db.doesExist(key)
  }

  put(key: string, value: unknown): void {
    this.#checkOpen()
    checkStateKey(key, this.#store)
    checkStateValue(value, this.#store)
    this.#pending.set(key, value)
    this.#size = undefined
  }

  putEncoded(key: string, bytes: Buffer): void {
    this.#checkOpen()
    checkStateKey(key, this.#store)
    checkEncoded(bytes, this.#store)
    // a copy: the bytes are often a view into a buffer the log read many records into
    this.#pending.set(key, new Encoded(Buffer.from(bytes)))
    this.#size = undefined
  }

  /** Decodes a value put as bytes, and keeps the object, so that every read hands back the same one. */
  #decodePending(key: string, encoded: Encoded): unknown {
    const value = this.#decode(key, encoded.bytes)
    this.#pending.set(key, value)
    return value
  }

  delete(key: string): void {
    this.#checkOpen()
    if (this.#cleared) this.#pending.delete(key)
    else if (isStorableKey(key)) this.#pending.set(key, DELETED)
    this.#size = undefined
  }

  *entries(prefix = ''): IterableIterator<[string, unknown]> {
    this.#checkOpen()
    // The pending writes as they are now, in the file's order, merged into a scan of the file.
    const pending: [string, unknown][] = []
    let compare = compareUnits
    for (const entry of this.#pending) {
      if (!entry[0].startsWith(prefix)) continue
      pending.push(entry)
      if (compare === compareUnits && ABOVE_D7FF.test(entry[0])) compare = compareCodePoints
    }
    pending.sort((a, b) => compare(a[0], b[0]))
    let i = 0
    if (!this.#cleared) {
      // A prefix that ends inside a surrogate pair has no UTF-8 of its own: scan everything then.
      const seek = isStorableKey(prefix) ? prefix : ''
      for (const { key, value } of this.#db.getRange({ start: seek })) {
        if (!key.startsWith(prefix)) {
          if (seek === prefix) break
          continue
        }
        while (i < pending.length && compare(pending[i][0], key) < 0) {
          const entry = pending[i++]
          if (entry[1] !== DELETED) yield this.#decodedEntry(entry)
        }
        if (i < pending.length && pending[i][0] === key) {
          const entry = pending[i++]
          if (entry[1] !== DELETED) yield this.#decodedEntry(entry)
          continue
        }
        const cached = this.#cache.get(key)
        yield [key, cached !== undefined ? cached : this.#decode(key, value)]
      }
    }
    for (; i < pending.length; i++) if (pending[i][1] !== DELETED) yield this.#decodedEntry(pending[i])
  }

  #decodedEntry(entry: [string, unknown]): [string, unknown] {
    const value = entry[1]
    return value instanceof Encoded ? [entry[0], this.#decodePending(entry[0], value)] : entry
  }

  size(): number {
    this.#checkOpen()
    if (this.#size === undefined) {
      // Each pending write adds or removes an entry depending on whether the file has the key.
      let size = this.#cleared ? 0 : this.#stored
      for (const [key, value] of this.#pending) {
        const inFile = !this.#cleared && (this.#cache.has(key) || this.#db.doesExist(key))
        size += (value === DELETED ? 0 : 1) - (inFile ? 1 : 0)
      }
      this.#size = size
    }
    return this.#size
  }

  async flush(): Promise<void> {
    this.#checkOpen()
    if (this.#pending.size === 0 && !this.#cleared) return
    const db = this.#db
    const pending = this.#pending
    const cleared = this.#cleared
    try {
      // Synchronous, so no write can slip in between the commit and the reset below. The commit syncs before it
      // returns; on any error LMDB aborts the transaction and the pending writes stay for the next flush.
      db.transactionSync(() => {
        if (cleared) db.clearSync()
        for (const [key, value] of pending) {
          if (value === DELETED) db.remove(key)
          else db.put(key, value instanceof Encoded ? value.bytes : this.#encode(key, value))
        }
      })
    } catch (err) {
      if (err instanceof SluiceError) throw err
      throw new SluiceError(
        'SLUICE_ERR_STATE',
        `could not write state store "${this.#store}" of task ${this.#taskId} to ${this.#env?.path} (${(err as Error).message}); its writes since the last flush are kept`,
        { cause: err, details: { store: this.#store, taskId: this.#taskId } },
      )
    }
    this.#pending = new Map()
    this.#cleared = false
    this.#stored = storedCount(db)
    this.#keepDecoded(pending, cleared)
  }

  /** Moves the values a flush wrote into the cache, newest last, and drops the oldest beyond its size. */
  #keepDecoded(written: Pending, cleared: boolean): void {
    const cache = this.#cache
    if (cleared) cache.clear()
    if (this.#cacheSize === 0) return
    for (const [key, value] of written) {
      cache.delete(key)
      // bytes never read are not worth decoding now
      if (value !== DELETED && !(value instanceof Encoded)) cache.set(key, value)
    }
    if (cache.size <= this.#cacheSize) return
    let excess = cache.size - this.#cacheSize
    for (const key of cache.keys()) {
      if (excess-- === 0) break
      cache.delete(key)
    }
  }

  clear(): void {
    this.#checkOpen()
    this.#pending = new Map()
    this.#cleared = true
    this.#size = 0
    this.#cache.clear()
  }

  discard(): void {
    this.#checkOpen()
    this.#pending = new Map()
    this.#cleared = false
    this.#size = undefined
    // The cached objects may have been changed in place by writes now dropped: read the file again.
    this.#cache.clear()
  }

  close(): Promise<void> {
    // Once: a second close while the first awaits must not release the file twice.
    this.#closing ??= this.#close().catch((err: unknown) => {
      this.#closing = undefined
      throw err
    })
    return this.#closing
  }

  async #close(): Promise<void> {
    const env = this.#env
    if (env === undefined) return
    await this.flush()
    this.#env = undefined
    env.stores.delete(this.#store)
    if (env.stores.size === 0) await releaseEnv(env)
  }

  #checkOpen(): void {
    if (this.#env === undefined) throw storeClosedError(this.#store, this.#taskId)
  }

  #encode(key: string, value: unknown): Buffer {
    try {
      return encodeValue(value)
    } catch (err) {
      throw new SluiceError(
        'SLUICE_ERR_STATE',
        `the value of key ${JSON.stringify(key)} in state store "${this.#store}" cannot be stored (${(err as Error).message}); state values must be structured-cloneable (no functions, symbols or class instances with private state)`,
        { cause: err, details: { store: this.#store, taskId: this.#taskId, key } },
      )
    }
  }

  #decode(key: string, bytes: Buffer): unknown {
    try {
      return decodeValue(bytes)
    } catch (err) {
      throw new SluiceError(
        'SLUICE_ERR_STATE',
        `the stored value of key ${JSON.stringify(key)} in state store "${this.#store}" of task ${this.#taskId} is damaged (${(err as Error).message}); delete ${this.#env?.path} to restore the task's state from its changelogs`,
        { cause: err, details: { store: this.#store, taskId: this.#taskId, key } },
      )
    }
  }
}

/** Refuses bytes that encodeValue cannot have made, as decodeValue would, before they reach the file. */
function checkEncoded(bytes: Buffer, store: string): void {
  if (isEncodedValue(bytes)) return
  throw new SluiceError(
    'SLUICE_ERR_STATE',
    `state store "${store}" got a value in an unknown encoding (${bytes.length === 0 ? 'no bytes' : `first byte 0x${bytes[0].toString(16)}`}); values put as bytes must come from encodeValue, as changelog records do`,
    { details: { store } },
  )
}

function storedCount(db: Database<Buffer, string>): number {
  return (db.getStats() as { entryCount: number }).entryCount
}

const ABOVE_D7FF = /[\ud800-\uffff]/

/** Orders strings by UTF-16 code unit, which is UTF-8 byte order unless both have a code unit above 0xd7ff. */
function compareUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Orders strings as their UTF-8 bytes (code point order), which `<` does not for surrogates against U+E000-U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    // Surrogates (0xd800-0xdfff) stand for code points above 0xffff: move them above the rest of the BMP.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x - y
  }
  return a.length - b.length
}
