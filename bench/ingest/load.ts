// The load side of bench/ingest.ts, run in a worker thread so that it does not share the server's event loop:
// closed-loop senders for ingest throughput, and a paced sender (fresh click events, real timestamps) for latency.
import { Agent, request } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'

export type LoadJob =
  | { kind: 'throughput'; url: string; batch: number; connections: number; seconds: number }
  | { kind: 'paced'; url: string; rate: number; connections: number; seconds: number; tickMs: number }

export interface LoadResult {
  accepted: number
  failed: number
  requests: number
  elapsedMs: number
  /** Paced only: the most the sender fell behind its schedule, ms. */
  behindMs: number
}

const PAGES = Array.from({ length: 200 }, (_, i) => `/page/${i}`)

function clickLine(i: number, ts: number): string {
  // Zipf-ish page popularity without the simulator's cost: most traffic on a few pages
  const page = PAGES[Math.floor((PAGES.length * (i % 97) ** 2) / 97 ** 2)]
  return JSON.stringify({ user: `u${i % 5000}`, page, ts, session: `s${i % 5000}`, device: 'desktop' })
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume()
        res.once('end', () => resolve(res.statusCode ?? 0))
        res.once('error', reject)
      },
    )
    req.once('error', reject)
    req.end(body)
  })
}

async function throughput(job: Extract<LoadJob, { kind: 'throughput' }>): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections })
  const url = new URL(`${job.url}/v1/topics/clicks/records?key=user`)
  const now = Date.now()
  const body = Array.from({ length: job.batch }, (_, i) => clickLine(i, now)).join('\n')
  const result: LoadResult = { accepted: 0, failed: 0, requests: 0, elapsedMs: 0, behindMs: 0 }
  const started = performance.now()
  const end = started + job.seconds * 1000
  const loop = async () => {
    while (performance.now() < end) {
      const status = await post(agent, url, body).catch(() => 0)
      result.requests++
      if (status >= 200 && status < 300) result.accepted += job.batch
      else result.failed += job.batch
    }
  }
  await Promise.all(Array.from({ length: job.connections }, loop))
  result.elapsedMs = performance.now() - started
  agent.destroy()
  return result
}

async function paced(job: Extract<LoadJob, { kind: 'paced' }>): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections })
  const url = new URL(`${job.url}/v1/topics/clicks/records?key=user`)
  const result: LoadResult = { accepted: 0, failed: 0, requests: 0, elapsedMs: 0, behindMs: 0 }
  const started = performance.now()
  const end = started + job.seconds * 1000
  const inFlight = new Set<Promise<void>>()
  let sent = 0
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * job.rate) - sent
    if (due > 0 && inFlight.size < job.connections) {
      const n = Math.min(due, 5000)
      const ts = Date.now()
      const lines: string[] = new Array(n)
      for (let k = 0; k < n; k++) lines[k] = clickLine(sent + k, ts)
      sent += n
      const p = post(agent, url, lines.join('\n'))
        .then((status) => {
          result.requests++
          if (status >= 200 && status < 300) result.accepted += n
          else result.failed += n
        })
        .catch(() => {
          result.failed += n
        })
        .finally(() => inFlight.delete(p))
      inFlight.add(p)
      continue
    }
    const behind = ((performance.now() - started) / 1000) * job.rate - sent
    result.behindMs = Math.max(result.behindMs, (behind / job.rate) * 1000)
    await new Promise((r) => setTimeout(r, job.tickMs))
  }
  await Promise.all(inFlight)
  result.elapsedMs = performance.now() - started
  agent.destroy()
  return result
}

if (parentPort !== null) {
  const job = workerData as LoadJob
  const run = job.kind === 'throughput' ? throughput(job) : paced(job)
  run.then((r) => parentPort!.postMessage(r))
}
