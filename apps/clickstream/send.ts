// Sends simulated traffic to a sluice server's ingest endpoint in real time: the simulated clock starts now, and
// every interval the events due so far go out as NDJSON batches over keep-alive connections (Node's fetch).
// Ingest takes a request whole or refuses it whole, so lines that are not JSON and events without a user (no key to
// take) travel in requests of their own: the good events of the same moment are never refused with them.
import { SluiceError } from '../../src/index.ts'
import { type SimEvent, type SimKind, type SimulatorOptions, simulateClicks } from './simulator.ts'

export interface SendOptions extends Omit<SimulatorOptions, 'startTime'> {
  /** The server, e.g. http://127.0.0.1:8080. */
  url: string
  /** Default 'clicks'. */
  topic?: string
  /** How often due events are sent, ms. Default 100. */
  intervalMs?: number
  /** Requests in flight at most; past that, sending falls behind schedule (behindMs says by how much). Default 4. */
  maxInFlight?: number
  signal?: AbortSignal
  /** Called about once a second with the totals so far (the final ones are returned). */
  onProgress?: (stats: SendStats) => void
}

export interface SendStats {
  /** Events sent. */
  sent: number
  /** Events the server accepted (2xx). */
  accepted: number
  /** Events the server refused (4xx): lines that are not JSON are refused at ingest. */
  rejected: number
  /** Events of requests that failed (5xx, network). */
  failed: number
  requests: number
  byKind: Record<SimKind, number>
  /** How far sending is behind the simulated schedule, ms. */
  behindMs: number
  elapsedMs: number
}

const MAX_BATCH = 5_000 // ingest takes at most 10,000 records per request
const MAX_CONSECUTIVE_FAILURES = 50

/** Sends until `durationMs` of traffic is out (or the signal aborts), then waits for the last responses. */
export async function sendClicks(options: SendOptions): Promise<SendStats> {
  const endpoint = `${options.url.replace(/\/+$/, '')}/v1/topics/${encodeURIComponent(options.topic ?? 'clicks')}/records`
  const intervalMs = options.intervalMs ?? 100
  const maxInFlight = options.maxInFlight ?? 4
  const started = Date.now()
  const events = simulateClicks({ ...options, startTime: started })
  const stats: SendStats = {
    sent: 0,
    accepted: 0,
    rejected: 0,
    failed: 0,
    requests: 0,
    byKind: { click: 0, delayed: 0, late: 0, malformed: 0 },
    behindMs: 0,
    elapsedMs: 0,
  }
  const inFlight = new Set<Promise<void>>()
  let failures = 0
  let fatal: unknown = null

  async function post(lines: string[], keyed: boolean): Promise<void> {
    stats.requests++
    let response: Response
    try {
      response = await fetch(keyed ? `${endpoint}?key=user` : endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: `${lines.join('\n')}\n`,
      })
    } catch (err) {
      stats.failed += lines.length
      // the first request tells whether anyone listens; later, the server may be restarting
      if (stats.accepted + stats.rejected === 0 || ++failures >= MAX_CONSECUTIVE_FAILURES) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause
        fatal ??= new SluiceError(
          'SLUICE_ERR_CONNECTION',
          `cannot reach the sluice server at ${options.url} (${cause?.code ?? cause?.message ?? (err as Error).message}): start it with \`sluice serve\` or pass --url`,
          { cause: err, details: { url: options.url } },
        )
      }
      return
    }
    failures = 0
    const body = (await response.json().catch(() => null)) as {
      error?: { code?: string; message?: string }
    } | null
    if (response.ok) stats.accepted += lines.length
    else if (response.status < 500) {
      stats.rejected += lines.length
      // a missing topic or a wrong URL refuses everything: say so instead of sending on
      if (response.status === 404) {
        fatal ??= new SluiceError(
          'SLUICE_ERR_TOPIC_NOT_FOUND',
          `${endpoint} answered 404: ${body?.error?.message ?? 'not found'}`,
          { details: { url: endpoint } },
        )
      }
    } else stats.failed += lines.length
  }

  async function dispatch(lines: string[], keyed: boolean): Promise<void> {
    for (let i = 0; i < lines.length; i += MAX_BATCH) {
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight)
      const p = post(lines.slice(i, i + MAX_BATCH), keyed).finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
  }

  let next = events.next()
  let reportedAt = started
  while (!next.done && fatal === null && !options.signal?.aborted) {
    const now = Date.now()
    const keyed: string[] = []
    const unkeyed: string[] = []
    const unparseable: string[] = []
    for (; !next.done && next.value.at <= now; next = events.next()) {
      const e: SimEvent = next.value
      stats.sent++
      stats.byKind[e.kind]++
      if (e.malformed === 'invalid-json') unparseable.push(e.line)
      else if (e.key === undefined || e.key === null) unkeyed.push(e.line)
      else keyed.push(e.line)
    }
    if (keyed.length > 0) await dispatch(keyed, true)
    if (unkeyed.length > 0) await dispatch(unkeyed, false)
    if (unparseable.length > 0) await dispatch(unparseable, false)
    stats.behindMs = next.done ? 0 : Math.max(0, Date.now() - next.value.at)
    stats.elapsedMs = Date.now() - started
    if (options.onProgress !== undefined && Date.now() - reportedAt >= 1000) {
      reportedAt = Date.now()
      options.onProgress({ ...stats, byKind: { ...stats.byKind } })
    }
    await sleep(intervalMs, options.signal)
  }
  await Promise.all(inFlight)
  stats.elapsedMs = Date.now() - started
  if (fatal !== null) throw fatal
  return stats
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
