// Traffic like a real web site's, for the clickstream demo and its tests: users arrive, browse a few pages with
// think times between them and leave; page popularity is Zipf-distributed; arrivals come in bursts; some events
// reach the server seconds late (mobile clients), a few minutes late (offline clients), and a few are malformed.
// Everything is drawn from one seeded PRNG, so a seed and options give the same events on every run.
import { TimeHeap } from './heap.ts'
import { type Random, random, zipf } from './random.ts'

/** What the simulator meant an event to be. The pipeline never sees this: it finds out for itself. */
export type SimKind = 'click' | 'delayed' | 'late' | 'malformed'
export type MalformedKind = 'invalid-json' | 'missing-field' | 'wrong-type' | 'not-an-object'

export interface SimEvent {
  /** When the event reaches the ingest endpoint (epoch ms): its record timestamp. Events come in `at` order. */
  at: number
  /** The NDJSON line sent; for `invalid-json` it does not parse. */
  line: string
  kind: SimKind
  malformed?: MalformedKind
  /** The `user` field ingest's `?key=user` takes the record key from; undefined when the line has none. */
  key?: unknown
}

export interface SimulatorOptions {
  /** Default 1. */
  seed?: number
  /** Mean events per second, bursts included. Default 100. */
  rate?: number
  /** Epoch ms of the first event sent. Default 2025-01-01T00:00:00Z (the live sender passes the current time). */
  startTime?: number
  /** Stop before the first event that would be sent at or after startTime + durationMs. Default: never stop. */
  durationMs?: number
  /** Distinct URLs. Default 300. */
  pages?: number
  /** Zipf exponent of page popularity. Default 1.1. */
  zipfExponent?: number
  /** User population. Default 20 per event per second, at least 500. */
  users?: number
  /** Share of events sent `delayedMs` after they happened. Default 0.05. */
  delayedShare?: number
  /** How late delayed events are sent: a range in ms. Default 1–8 s (within the pipeline's allowed lateness). */
  delayedMs?: [number, number]
  /** Share of events sent `lateMs` after they happened. Default 0.005. */
  lateShare?: number
  /** How late late events are sent: a range in ms. Default 80–150 s (past any window's allowed lateness). */
  lateMs?: [number, number]
  /** Share of events that are malformed. Default 0.01. */
  malformedShare?: number
}

export const DEFAULT_START = Date.UTC(2025, 0, 1)

const MEAN_VIEWS = 5 // pages per session
const MEAN_THINK_MS = 10_000
const BURST_GAP_MS: [number, number] = [60_000, 120_000] // between bursts
const BURST_MS: [number, number] = [5_000, 20_000]
const BURST_FACTOR = 4
// so that the mean rate, bursts included, is the rate asked for
const MEAN_BURST_FACTOR = (90_000 + 12_500 * BURST_FACTOR) / (90_000 + 12_500)
const DEVICES = ['desktop', 'desktop', 'mobile', 'mobile', 'mobile', 'tablet'] as const
const REFERRERS = [
  null,
  null,
  'https://www.google.com/',
  'https://news.ycombinator.com/',
  'https://t.co/',
] as const

/** The site's URLs, most popular first: a few fixed pages, then products, blog posts, docs... interleaved. */
export function sitePages(count: number): string[] {
  const pages = ['/', '/search', '/cart', '/products', '/blog', '/pricing', '/login', '/checkout', '/about']
  const sections = ['/products/', '/blog/', '/docs/', '/category/', '/help/']
  for (let i = 1; pages.length < count; i++) {
    for (const s of sections) if (pages.length < count) pages.push(`${s}${i}`)
  }
  return pages.slice(0, count)
}

interface Session {
  id: string
  user: string
  device: string
  left: number
  previous: string | null
}

/** The simulated events in the order they reach the server; endless unless `durationMs` is given. */
export function* simulateClicks(options: SimulatorOptions = {}): Generator<SimEvent> {
  const rate = options.rate ?? 100
  if (!(rate > 0)) throw new RangeError(`rate must be a positive number of events per second, got ${rate}`)
  const rng = random(options.seed ?? 1)
  const start = options.startTime ?? DEFAULT_START
  const end = options.durationMs === undefined ? Number.POSITIVE_INFINITY : start + options.durationMs
  const pages = sitePages(options.pages ?? 300)
  const pageRank = zipf(pages.length, options.zipfExponent ?? 1.1)
  const users = options.users ?? Math.max(500, Math.round(rate * 20))
  const delayedShare = options.delayedShare ?? 0.05
  const lateShare = options.lateShare ?? 0.005
  const delays = { delayed: options.delayedMs ?? [1_000, 8_000], late: options.lateMs ?? [80_000, 150_000] }
  const malformedShare = options.malformedShare ?? 0.01
  const meanArrivalGap = (1000 * MEAN_VIEWS * MEAN_BURST_FACTOR) / rate

  const sessions = new TimeHeap<Session>() // by the time of the session's next page view
  const outbox = new TimeHeap<SimEvent>() // by the time the event reaches the server
  let sessionCount = 0
  const newSession = (): Session => ({
    id: `s${++sessionCount}`,
    user: `u${1 + rng.int(users)}`,
    device: rng.pick(DEVICES),
    // geometric on 1, 2, ... with mean MEAN_VIEWS
    left: 1 + Math.floor(Math.log(1 - rng.next()) / Math.log(1 - 1 / MEAN_VIEWS)),
    previous: null,
  })
  // Start in the steady state rather than with an empty site: think times and page counts are memoryless, so the
  // sessions between two views at any moment number (arrival rate x mean time between first and last view), each
  // with an exponential wait for its next view and a fresh geometric count of views to go.
  let t = start
  const waiting = Math.round(((MEAN_VIEWS - 1) * MEAN_THINK_MS) / meanArrivalGap)
  for (let i = 0; i < waiting; i++) {
    const s = newSession()
    s.previous = pages[pageRank(rng)]
    sessions.push(start + rng.exponential(MEAN_THINK_MS), s)
  }
  let burstStart = t + rng.between(...BURST_GAP_MS)
  let burstEnd = burstStart + rng.between(...BURST_MS)
  let nextArrival = t + rng.exponential(meanArrivalGap)

  for (;;) {
    t = Math.min(nextArrival, sessions.peekTime())
    // every event still to be made happens at t or later, so it cannot reach the server before t
    while (outbox.peekTime() <= t) {
      const e = outbox.pop()!
      if (e.at >= end) return
      yield e
    }
    if (t === nextArrival) {
      if (t >= burstEnd) {
        burstStart = burstEnd + rng.between(...BURST_GAP_MS)
        burstEnd = burstStart + rng.between(...BURST_MS)
      }
      const inBurst = t >= burstStart && t < burstEnd
      nextArrival = t + rng.exponential(inBurst ? meanArrivalGap / BURST_FACTOR : meanArrivalGap)
      sessions.push(t, newSession())
      continue
    }
    const s = sessions.pop()!
    const page = pages[pageRank(rng)]
    const referrer = s.previous ?? rng.pick(REFERRERS)
    s.previous = page
    if (--s.left > 0) sessions.push(t + Math.max(500, rng.exponential(MEAN_THINK_MS)), s)
    const ts = Math.round(t)
    const fate = drawFate(rng, { delayedShare, lateShare, malformedShare }, delays)
    const click = { user: s.user, page, ts, session: s.id, referrer, device: s.device }
    const event: SimEvent =
      fate.kind === 'malformed'
        ? { at: ts + fate.delay, kind: 'malformed', ...corrupt(rng, click) }
        : { at: ts + fate.delay, line: JSON.stringify(click), kind: fate.kind, key: click.user }
    outbox.push(event.at, event)
  }
}

/** Whether an event goes wrong, and how long it takes to reach the server. */
function drawFate(
  rng: Random,
  shares: { delayedShare: number; lateShare: number; malformedShare: number },
  delays: { delayed: [number, number]; late: [number, number] },
): { kind: SimKind; delay: number } {
  const network = () => Math.round(rng.between(0, 250))
  if (rng.next() < shares.malformedShare) return { kind: 'malformed', delay: network() }
  const r = rng.next()
  if (r < shares.lateShare) return { kind: 'late', delay: Math.round(rng.between(...delays.late)) }
  if (r < shares.lateShare + shares.delayedShare)
    return { kind: 'delayed', delay: Math.round(rng.between(...delays.delayed)) }
  return { kind: 'click', delay: network() }
}

/** The ways events go wrong in the wild: cut off, a field lost, a field of the wrong type, not an object at all. */
function corrupt(
  rng: Random,
  click: { user: string; page: string; ts: number } & Record<string, unknown>,
): { line: string; malformed: MalformedKind; key?: unknown } {
  const kinds: MalformedKind[] = ['invalid-json', 'missing-field', 'wrong-type', 'not-an-object']
  const malformed = rng.pick(kinds)
  switch (malformed) {
    case 'invalid-json': {
      // a proper prefix of an object's JSON never parses
      const text = JSON.stringify(click)
      return { line: text.slice(0, 1 + rng.int(text.length - 1)), malformed }
    }
    case 'missing-field': {
      const { [rng.pick(['user', 'page', 'ts'] as const)]: _dropped, ...rest } = click
      return { line: JSON.stringify(rest), malformed, key: rest.user }
    }
    case 'wrong-type': {
      const field = rng.pick(['user', 'page', 'ts'] as const)
      const wrong =
        field === 'ts'
          ? { ...click, ts: new Date(click.ts).toISOString() }
          : field === 'page'
            ? { ...click, page: rng.int(1000) }
            : { ...click, user: rng.int(100_000) }
      return { line: JSON.stringify(wrong), malformed, key: wrong.user }
    }
    case 'not-an-object':
      return {
        line: JSON.stringify(
          rng.next() < 0.5 ? [click.user, click.page, click.ts] : `${click.user} ${click.page}`,
        ),
        malformed,
      }
  }
}

/** The first `durationMs` of simulated traffic as a list: for tests, references and replays. */
export function generateClicks(options: SimulatorOptions & { durationMs: number }): SimEvent[] {
  return [...simulateClicks(options)]
}
