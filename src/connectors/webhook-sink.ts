// A webhook sink of guarantee `idempotent`: each record is POSTed as JSON to an HTTP endpoint with an
// Idempotency-Key header derived from the record alone, so a receiver that keeps the keys it has seen counts a
// retried or replayed request once. prepare() delivers the interval's records (retrying with exponential backoff
// on connection errors, timeouts, 408, 429 and 5xx) before the log commits, so a crash never loses one: after a
// restart the same records are computed again, with the same keys, and delivered again.
import { setTimeout as sleep } from 'node:timers/promises'
import { SluiceError } from '../errors/index.ts'
import type { Rec } from '../graph/logical.ts'
import type { Sink, SinkFactory } from './sink.ts'

export interface WebhookSinkOptions<K, V> {
  /** Where records are POSTed. */
  url: string
  /** The idempotency key of a record: it must follow from the record alone (an alert id, a transaction id). */
  key: (record: Rec<K, V>) => string
  /** The JSON body of a record. Default: its value. */
  body?: (record: Rec<K, V>) => unknown
  /** Extra headers of every request (e.g. authorization). */
  headers?: Record<string, string>
  /** Attempts per record before the pipeline fails. Default 8. */
  attempts?: number
  /** First retry delay; it doubles up to maxBackoffMs, with jitter. Default 100 ms. */
  backoffMs?: number
  maxBackoffMs?: number
  /** Per request. Default 5000 ms. */
  timeoutMs?: number
  /** Requests in flight at once. Default 8. */
  concurrency?: number
}

const RETRIABLE = new Set([408, 425, 429, 500, 502, 503, 504])

export function webhookSink<K, V>(options: WebhookSinkOptions<K, V>): SinkFactory<K, V> {
  const attempts = options.attempts ?? 8
  const backoff = options.backoffMs ?? 100
  const maxBackoff = options.maxBackoffMs ?? 5000
  const timeoutMs = options.timeoutMs ?? 5000
  const concurrency = options.concurrency ?? 8
  const where = (() => {
    try {
      const u = new URL(options.url)
      return `${u.protocol}//${u.host}${u.pathname}` // no credentials or query in messages
    } catch {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_CONFIG',
        `webhook sink: ${JSON.stringify(options.url)} is not a URL`,
      )
    }
  })()

  async function deliver(record: Rec<K, V>): Promise<void> {
    const key = options.key(record)
    const body = JSON.stringify(options.body === undefined ? record.value : options.body(record))
    let last = ''
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let retryAfterMs: number | null = null
      try {
        const res = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key, ...options.headers },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        })
        await res.arrayBuffer().catch(() => {}) // let the connection be reused
        if (res.ok) return
        last = `HTTP ${res.status}`
        if (!RETRIABLE.has(res.status)) {
          throw new SluiceError(
            'SLUICE_ERR_CONNECTION',
            `webhook ${where} refused the record with idempotency key ${key}: ${last}; fix the receiver or the record, then restart (it will be sent again)`,
            { details: { status: res.status, key } },
          )
        }
        const after = Number(res.headers.get('retry-after'))
        if (Number.isFinite(after) && after >= 0) retryAfterMs = after * 1000
      } catch (err) {
        if (err instanceof SluiceError) throw err
        last =
          (err as Error)?.name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : String((err as Error)?.message ?? err)
      }
      if (attempt === attempts) break
      const delay = Math.min(maxBackoff, backoff * 2 ** (attempt - 1))
      await sleep(retryAfterMs ?? delay / 2 + Math.random() * (delay / 2))
    }
    throw new SluiceError(
      'SLUICE_ERR_CONNECTION',
      `webhook ${where} did not take the record with idempotency key ${key} after ${attempts} attempts (last: ${last})`,
      { details: { key, attempts } },
    )
  }

  return () => {
    let pending: Rec<K, V>[] = []
    return {
      guarantee: 'idempotent',
      async open() {},
      write(records) {
        for (const r of records) pending.push(r)
      },
      async prepare() {
        const batch = pending
        let next = 0
        const worker = async () => {
          while (next < batch.length) await deliver(batch[next++])
        }
        await Promise.all(Array.from({ length: Math.min(concurrency, batch.length) }, worker))
      },
      async commit() {
        pending = []
      },
      async abort() {
        pending = []
      },
      async close() {
        pending = []
      },
    } satisfies Sink<K, V>
  }
}
