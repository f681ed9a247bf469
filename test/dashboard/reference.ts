// The clicks the dashboard test sends, chosen so that every number the dashboard shows is known in advance, and the
// reference model that computes those numbers from the clicks alone (no Sluice code).
import { partitionForKey } from '../../src/log/partitioner.ts'

export interface Click {
  user: string
  page: string
  ts: number
}

const MINUTE = 60_000
export const PAGES = [
  '/',
  '/search',
  '/pricing',
  '/docs/getting-started',
  '/products/42',
  '/cart',
  '/checkout',
  '/blog/event-time-explained',
  '/about',
  '/login',
  '/help/returns',
  '/careers',
]
// Views per page in each minute: all different, so the top ten (and the 10th against the 11th) has no ties.
const VIEWS = [34, 27, 21, 17, 14, 11, 9, 7, 5, 4, 3, 2]

export interface ClickPlan {
  /** Start of the first minute (W0); the second (W1) follows it. */
  t0: number
  /** Clicks on time, in the order they are sent (slightly out of order, well within the 5 s the pipeline allows). */
  onTime: Click[]
  /** Clicks far enough ahead (one per input partition) to close W0, W1 and the five-minute window [t0, t0+5m). */
  closers: Click[]
  /** Clicks for W0 and W1, sent after those windows closed: each is counted late, none in a window. */
  late: Click[]
  /** Values ingest accepts (they are JSON) but the pipeline must set aside: missing fields, wrong types. */
  malformed: unknown[]
  /** A request body ingest refuses whole (a line that is not JSON). */
  unparseable: string
}

/**
 * Event times lie in the future (t0 is the next minute), because the pipeline stamps a malformed event with its
 * arrival time: in the future, arrivals during the test can never move the watermark.
 */
export function planClicks(now: number, partitions: number): ClickPlan {
  const t0 = Math.floor(now / MINUTE) * MINUTE + MINUTE
  const minute = (start: number, rotate: number, user: (i: number) => string): Click[] => {
    const clicks: Click[] = []
    VIEWS.forEach((views, rank) => {
      const page = PAGES[(rank + rotate) % PAGES.length]
      for (let j = 0; j < views; j++) clicks.push({ user: '', page, ts: 0 })
    })
    // interleave pages, spread the clicks over the minute, then assign users round-robin
    const spread = clicks
      .map((c, i) => ({ c, order: (i * 37) % clicks.length }))
      .sort((a, b) => a.order - b.order)
      .map(({ c }, i) => ({
        ...c,
        ts: start + Math.floor(((i + 0.5) * MINUTE) / clicks.length),
        user: user(i),
      }))
    // swap neighbours: a little out of order, as real traffic is
    for (let i = 0; i + 1 < spread.length; i += 4) [spread[i], spread[i + 1]] = [spread[i + 1], spread[i]]
    return spread
  }
  const w0 = minute(t0, 0, (i) => `u${1 + ((i * 7) % 23)}`)
  const w1 = minute(t0 + MINUTE, 3, (i) => `u${10 + ((i * 5) % 29)}`)
  const closeAt = t0 + 5 * MINUTE + 30_000
  const closers: Click[] = []
  const covered = new Set<number>()
  for (let i = 1; covered.size < partitions; i++) {
    const user = `closer-${i}`
    const partition = partitionForKey(Buffer.from(JSON.stringify(user)), partitions)
    if (covered.has(partition)) continue
    covered.add(partition)
    closers.push({ user, page: '/', ts: closeAt })
  }
  // late clicks by users already counted in their minute, so distinct-user counts are the same either way
  const late: Click[] = [
    ...[0, 1, 2, 3, 4].map((i) => ({ user: w0[i].user, page: PAGES[i % 3], ts: t0 + 5_000 + i * 1000 })),
    ...[0, 1].map((i) => ({ user: w1[i].user, page: PAGES[5], ts: t0 + MINUTE + 20_000 + i * 1000 })),
  ]
  const malformed: unknown[] = [
    { user: 'u1', page: '/' }, // no ts
    { page: '/pricing', ts: t0 }, // no user
    { user: 'u2', page: 404, ts: t0 }, // page is not a path
    { user: 'u3', page: '/', ts: new Date(t0).toISOString() }, // ts is not epoch ms
    ['u4', '/', t0], // not an object
    'u5 viewed /',
  ]
  return { t0, onTime: [...w0, ...w1], closers, late, malformed, unparseable: '{"user":"u6","page":"/' }
}

export interface WindowReference {
  start: number
  end: number
  views: number
  activeUsers: number
  top: { page: string; views: number }[]
}

/** Views, distinct users and the top ten pages of one minute, from the clicks that count (on time). */
export function referenceWindow(clicks: Click[], start: number, end: number): WindowReference {
  const inWindow = clicks.filter((c) => c.ts >= start && c.ts < end)
  const views = new Map<string, number>()
  for (const c of inWindow) views.set(c.page, (views.get(c.page) ?? 0) + 1)
  const top = [...views.entries()]
    .map(([page, n]) => ({ page, views: n }))
    .sort((a, b) => b.views - a.views || a.page.localeCompare(b.page))
    .slice(0, 10)
  return { start, end, views: inWindow.length, activeUsers: new Set(inWindow.map((c) => c.user)).size, top }
}
