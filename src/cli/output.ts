// Writing to stdout: JSON for scripts, aligned tables for people, and backpressure so that a consumer piping
// millions of records into a slow reader does not buffer them all in memory.
import type { Writable } from 'node:stream'

/** Thrown when the reader of stdout went away (`sluice consume t | head`): a normal way to stop, not an error. */
export class OutputClosedError extends Error {
  constructor() {
    super('stdout was closed')
    this.name = 'OutputClosedError'
  }
}

let stdoutError: Error | undefined

/**
 * Without a listener, an EPIPE on stdout (reported after write() already returned) would crash the process with
 * a stack trace. Remember the error instead; the next write() turns it into OutputClosedError or rethrows it.
 */
export function guardStdout(): void {
  if (process.stdout.listenerCount('error') > 0) return
  process.stdout.on('error', (err) => {
    stdoutError = err
  })
}

export async function write(text: string, stream: Writable = process.stdout): Promise<void> {
  if (stream === process.stdout && stdoutError) {
    if ((stdoutError as NodeJS.ErrnoException).code === 'EPIPE') throw new OutputClosedError()
    throw stdoutError
  }
  if (stream.destroyed || stream.writableEnded) throw new OutputClosedError()
  if (stream.write(text)) return
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', done)
      stream.off('error', done)
      stream.off('close', onClose)
      if (err) reject((err as NodeJS.ErrnoException).code === 'EPIPE' ? new OutputClosedError() : err)
      else resolve()
    }
    const onClose = () => done(new OutputClosedError())
    stream.on('drain', done)
    stream.on('error', done)
    stream.on('close', onClose)
  })
}

export function writeJson(value: unknown, stream?: Writable): Promise<void> {
  return write(`${JSON.stringify(value)}\n`, stream)
}

type Cell = string | number | boolean | null | undefined

/** Left-aligned columns separated by two spaces; missing values show as "-", as in kafka-consumer-groups. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = [
    headers,
    ...rows.map((row) => row.map((c) => (c === null || c === undefined ? '-' : String(c)))),
  ]
  const widths = headers.map((_, i) => Math.max(...text.map((row) => row[i]?.length ?? 0)))
  return text
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n')
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
