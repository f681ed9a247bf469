// The embedded home of the clickstream results when there is no Redis: an in-process materialized view of the
// latest windows, fed by a sink that applies only committed results, for the server's queries and live feed.
// Like memorySink() it is transactional within the process; unlike it, it keeps results, not every record, so a
// demo can run for days.
import type { Rec, Sink, SinkFactory } from '../../src/index.ts'
import type { ClickstreamResult } from './pipeline.ts'

export interface PageCount {
  page: string
  views: number
}

/** One minute of event time. */
export interface WindowSummary {
  start: number
  end: number
  /** Views of all pages in the window. */
  views: number
  /** Distinct pages viewed. */
  pages: number
  /** Distinct users; null until the pipeline reported them. */
  activeUsers: number | null
  topPages: PageCount[]
}

export interface ClickstreamSnapshot {
  /** The latest one-minute windows, newest first. With emit 'update' the newest are still filling. */
  windows: WindowSummary[]
  /** Distinct users over the latest closed five-minute windows (one per minute), newest first. */
  activeUsers5m: { start: number; end: number; users: number }[]
  totals: {
    /** Clicks counted in windows since this view started. */
    views: number
    /** Malformed events sent to the dead-letter topic, since the pipeline first ran. */
    deadLetters: number
    /** Clicks past the allowed lateness, since the pipeline first ran. */
    late: number
  }
  /** When a commit last changed the view (epoch ms), or null. */
  updatedAt: number | null
}

export interface ClickstreamView {
  /** The name of the server's live feed event. */
  readonly name: string
  /** The pipeline's `results`. */
  readonly factory: SinkFactory<unknown, ClickstreamResult>
  snapshot(): ClickstreamSnapshot
  /** Views per page of one kept window (every page, not only the top ten), or null. */
  pageViews(start: number): Record<string, number> | null
  /** Calls `listener` after each commit that changed the view; returns a function that unsubscribes. */
  onUpdate(listener: () => void): () => void
}

export interface ClickstreamViewOptions {
  /** One-minute windows kept. Default 15. */
  windows?: number
  /** Five-minute windows kept. Default 5. */
  slidingWindows?: number
  clock?: () => number
}

interface Window {
  start: number
  end: number
  views: Map<string, number>
  total: number
  activeUsers: number | null
  topPages: PageCount[]
}

export function clickstreamView(options: ClickstreamViewOptions = {}): ClickstreamView {
  const keep = options.windows ?? 15
  const keepSliding = options.slidingWindows ?? 5
  const clock = options.clock ?? Date.now
  const windows = new Map<number, Window>()
  const sliding = new Map<number, { start: number; end: number; users: number }>()
  const totals = { views: 0, deadLetters: 0, late: 0 }
  const listeners = new Set<() => void>()
  let updatedAt: number | null = null

  const windowAt = (start: number, end: number): Window | undefined => {
    let w = windows.get(start)
    if (w !== undefined) return w
    // a result for a window older than every kept one comes after it was dropped: nothing to show it in
    if (windows.size >= keep && start < Math.min(...windows.keys())) return undefined
    w = { start, end, views: new Map(), total: 0, activeUsers: null, topPages: [] }
    windows.set(start, w)
    return w
  }

  function apply(r: ClickstreamResult): void {
    switch (r.kind) {
      case 'page-views': {
        const w = windowAt(r.start, r.end)
        if (w === undefined) return
        const delta = r.views - (w.views.get(r.page) ?? 0)
        w.views.set(r.page, r.views)
        w.total += delta
        totals.views += delta
        return
      }
      case 'active-users': {
        const w = windowAt(r.start, r.end)
        if (w !== undefined) w.activeUsers = r.users
        return
      }
      case 'top-pages': {
        const w = windowAt(r.start, r.end)
        if (w !== undefined) w.topPages = r.pages
        return
      }
      case 'active-users-5m':
        sliding.set(r.start, { start: r.start, end: r.end, users: r.users })
        return
      case 'total':
        if (r.name === 'dead-letters') totals.deadLetters = r.count
        else totals.late = r.count
        return
    }
  }

  function commit(records: readonly Rec<unknown, ClickstreamResult>[]): void {
    for (const r of records) apply(r.value)
    dropOldest(windows, keep)
    dropOldest(sliding, keepSliding)
    updatedAt = clock()
    for (const l of listeners) {
      try {
        l()
      } catch (err) {
        // a listener (a dashboard connection) must not fail the pipeline's commit
        process.emitWarning(`clickstream view listener failed: ${(err as Error)?.message ?? err}`)
      }
    }
  }

  const factory: SinkFactory<unknown, ClickstreamResult> = (): Sink<unknown, ClickstreamResult> => {
    let buffer: Rec<unknown, ClickstreamResult>[] = []
    const prepared = new Map<number, Rec<unknown, ClickstreamResult>[]>()
    return {
      guarantee: 'transactional',
      async open() {},
      write(records) {
        for (const r of records) buffer.push(r)
      },
      async prepare(id) {
        prepared.set(id, buffer)
        buffer = []
      },
      async commit(id) {
        const records = prepared.get(id)
        prepared.delete(id)
        if (records !== undefined && records.length > 0) commit(records)
      },
      async abort(id) {
        prepared.delete(id)
        buffer = []
      },
      async close() {},
    }
  }

  return {
    name: 'clickstream',
    factory,
    snapshot: () => ({
      windows: [...windows.values()]
        .sort((a, b) => b.start - a.start)
        .map((w) => ({
          start: w.start,
          end: w.end,
          views: w.total,
          pages: w.views.size,
          activeUsers: w.activeUsers,
          topPages: w.topPages,
        })),
      activeUsers5m: [...sliding.values()].sort((a, b) => b.start - a.start),
      totals: { ...totals },
      updatedAt,
    }),
    pageViews: (start) => {
      const w = windows.get(start)
      return w === undefined ? null : Object.fromEntries(w.views)
    },
    onUpdate: (listener) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
  }
}

function dropOldest<V>(byStart: Map<number, V>, keep: number): void {
  if (byStart.size <= keep) return
  const starts = [...byStart.keys()].sort((a, b) => a - b)
  for (let i = 0; i < starts.length - keep; i++) byStart.delete(starts[i])
}
