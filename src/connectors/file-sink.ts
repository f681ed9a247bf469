// A transactional file sink: each commit of each task becomes one NDJSON part file, written and fsynced as
// `.pending` in prepare() and renamed into place in commit(). A part file therefore appears exactly once, whole,
// or not at all, whatever crashes; after a crash, open() finishes or discards the parts left pending.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Rec } from '../graph/logical.ts'
import type { Sink, SinkContext, SinkFactory } from './sink.ts'

export interface FileSinkOptions<K, V> {
  /** Directory of the part files; created if missing. */
  dir: string
  /** One line per record; default JSON of { key, value, timestamp }. */
  format?: (record: Rec<K, V>) => string
}

const PART = /^(.+)-(\d{12})\.ndjson(\.pending)?$/

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export function fileSink<K = unknown, V = unknown>(options: FileSinkOptions<K, V>): SinkFactory<K, V> {
  const format =
    options.format ??
    ((r: Rec<K, V>) => JSON.stringify({ key: r.key, value: r.value, timestamp: r.timestamp }))
  return (context: SinkContext): Sink<K, V> => {
    const prefix = `${context.step}-${context.taskId}`
    const part = (id: number, pending: boolean) =>
      join(options.dir, `${prefix}-${String(id).padStart(12, '0')}.ndjson${pending ? '.pending' : ''}`)
    let lines: string[] = []
    return {
      guarantee: 'transactional',
      async open(_ctx, lastCommitted) {
        mkdirSync(options.dir, { recursive: true })
        for (const name of readdirSync(options.dir)) {
          const m = PART.exec(name)
          if (m === null || m[1] !== prefix || m[3] === undefined) continue
          const id = Number(m[2])
          if (lastCommitted !== null && id <= lastCommitted)
            renameSync(join(options.dir, name), part(id, false))
          else rmSync(join(options.dir, name), { force: true })
        }
        syncDir(options.dir)
      },
      write(records) {
        for (const r of records) lines.push(format(r))
      },
      async prepare(id) {
        if (lines.length === 0) return
        const fd = openSync(part(id, true), 'w')
        try {
          writeSync(fd, `${lines.join('\n')}\n`)
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
        lines = []
      },
      async commit(id) {
        try {
          renameSync(part(id, true), part(id, false))
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err // nothing prepared, or already renamed
        }
        syncDir(options.dir)
      },
      async abort(id) {
        lines = []
        rmSync(part(id, true), { force: true })
      },
      async close() {},
    }
  }
}
