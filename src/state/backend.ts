// The storage under a state store, per store and task. Keys are strings (the runtime encodes record keys); values
// are structured-cloneable JS values (numbers, strings, plain objects, arrays, Map, Set, Buffer), so a backend may
// keep them as objects (memory) or serialize them (lmdb, changelog).

export interface StateBackend {
  readonly kind: 'memory' | 'lmdb'
  get(key: string): unknown
  put(key: string, value: unknown): void
  delete(key: string): void
  /** Entries in key order (lexicographic by UTF-16 code unit for memory; byte order for lmdb, the same for ASCII). */
  entries(prefix?: string): IterableIterator<[string, unknown]>
  /** Number of entries. */
  size(): number
  /** Makes writes so far durable locally (a no-op for memory). Called at each commit. */
  flush(): Promise<void>
  /** Removes every entry (before a restore from the changelog). */
  clear(): void
  close(): Promise<void>
}

export interface StateBackendFactory {
  readonly kind: 'memory' | 'lmdb'
  /** Opens the backend of store `store` for task `taskId`; `dir` is the task's local state directory. */
  open(options: { dir: string; store: string; taskId: string }): StateBackend
}
