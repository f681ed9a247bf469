// A plain model of what the clickstream pipeline must compute from a list of simulated events, written without the
// engine: per-partition watermarks (bounded out-of-orderness), the task watermark as their minimum, Flink's lateness
// rule, and the aggregates by brute force. It assumes the test driver's default of one record at a time.
import { Unparseable } from '../../../apps/clickstream/click.ts'
import { OUT_OF_ORDERNESS_MS } from '../../../apps/clickstream/pipeline.ts'
import type { SimEvent } from '../../../apps/clickstream/simulator.ts'
import { partitionForKey } from '../../../src/log/partitioner.ts'

const MINUTE = 60_000
const LATENESS = 10_000
const SLIDE_SIZE = 5 * MINUTE

export interface ReferenceWindow {
  start: number
  views: Map<string, number>
  users: Set<string>
}

export interface Reference {
  /** One-minute windows by start. */
  windows: Map<number, ReferenceWindow>
  /** Five-minute windows (every minute) by start: their distinct users. */
  slidingUsers: Map<number, Set<string>>
  /** Clicks past the allowed lateness of their one-minute window. */
  late: number
  deadLetters: number
  /** Clicks counted in a one-minute window. */
  accepted: number
  /** The partition of each event, as the driver and a producer choose it. */
  partitions: number[]
  /** The watermark after the last event, while the input has not ended. */
  watermark: number
}

export function partitionOf(e: SimEvent, partitions: number): number {
  return e.key === undefined ? 0 : partitionForKey(Buffer.from(JSON.stringify(e.key)), partitions)
}

export function parsedValue(e: SimEvent): unknown {
  try {
    return JSON.parse(e.line)
  } catch (err) {
    return new Unparseable(e.line, (err as Error).message)
  }
}

const isClick = (v: unknown): v is { user: string; page: string; ts: number } => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const c = v as Record<string, unknown>
  return (
    typeof c.user === 'string' &&
    c.user !== '' &&
    typeof c.page === 'string' &&
    c.page.startsWith('/') &&
    Number.isSafeInteger(c.ts) &&
    (c.ts as number) >= 0
  )
}

export function reference(events: readonly SimEvent[], partitions: number): Reference {
  const maxTs = new Array<number>(partitions).fill(Number.NEGATIVE_INFINITY)
  const out: Reference = {
    windows: new Map(),
    slidingUsers: new Map(),
    late: 0,
    deadLetters: 0,
    accepted: 0,
    partitions: [],
    watermark: Number.NEGATIVE_INFINITY,
  }
  // W >= end - 1 + lateness: the window has fired and takes nothing more
  const done = (end: number, w: number) => w >= end - 1 + LATENESS
  for (const e of events) {
    const p = partitionOf(e, partitions)
    out.partitions.push(p)
    const value = parsedValue(e)
    // the watermark a downstream task has when this record reaches it: from the records before it
    const w = Math.min(...maxTs) - OUT_OF_ORDERNESS_MS - 1
    // a malformed event counts at its arrival time
    maxTs[p] = Math.max(maxTs[p], isClick(value) ? value.ts : e.at)
    if (!isClick(value)) {
      out.deadLetters++
      continue
    }
    const start = value.ts - (value.ts % MINUTE)
    if (done(start + MINUTE, w)) out.late++
    else {
      out.accepted++
      let win = out.windows.get(start)
      if (win === undefined) out.windows.set(start, (win = { start, views: new Map(), users: new Set() }))
      win.views.set(value.page, (win.views.get(value.page) ?? 0) + 1)
      win.users.add(value.user)
    }
    // sliding: late only when past its last window; otherwise in every window that has not fired yet
    if (done(start + SLIDE_SIZE, w)) continue
    for (let s = start - SLIDE_SIZE + MINUTE; s <= start; s += MINUTE) {
      if (done(s + SLIDE_SIZE, w)) continue
      let users = out.slidingUsers.get(s)
      if (users === undefined) out.slidingUsers.set(s, (users = new Set()))
      users.add(value.user)
    }
  }
  out.watermark = Math.min(...maxTs) - OUT_OF_ORDERNESS_MS - 1
  return out
}

/** The ten most viewed pages, most first, ties by page in code-unit order (as topN ranks them). */
export function top10(views: Map<string, number>): { page: string; views: number }[] {
  return [...views]
    .map(([page, n]) => ({ page, views: n }))
    .sort((a, b) => b.views - a.views || (a.page < b.page ? -1 : a.page > b.page ? 1 : 0))
    .slice(0, 10)
}
