// Reads the clickstream app's feed snapshot (apps/clickstream/view.ts, ClickstreamSnapshot) into what the page
// shows. The one place that knows its shape.

/** The app's allowed lateness: a one-minute window takes no more clicks once the watermark passes end − 1 + this. */
export const LATENESS_MS = 10_000

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/**
 * @param {unknown} snapshot the `clickstream` feed event
 * @param {number | null} watermark the pipeline's watermark (the slowest task's), to tell closed windows from open
 */
export function readClickstream(snapshot, watermark) {
  const s = snapshot ?? {}
  const windows = (Array.isArray(s.windows) ? s.windows : [])
    .map((w) => ({
      start: num(w.start),
      end: num(w.end),
      views: num(w.views) ?? 0,
      pages: num(w.pages),
      activeUsers: num(w.activeUsers),
      top: (Array.isArray(w.topPages) ? w.topPages : []).map((t) => ({
        page: String(t.page),
        views: num(t.views) ?? 0,
      })),
    }))
    .filter((w) => w.start !== null && w.end !== null)
    .sort((a, b) => b.start - a.start)
  // Without a watermark, every window but the newest counts as closed.
  windows.forEach((w, i) => {
    w.closed = watermark === null ? i > 0 : watermark >= w.end - 1 + LATENESS_MS
  })
  const newest = windows[0] ?? null
  const sliding = (Array.isArray(s.activeUsers5m) ? s.activeUsers5m : [])
    .filter((w) => num(w.start) !== null && num(w.users) !== null)
    .sort((a, b) => b.start - a.start)
  const totals = s.totals ?? {}
  return {
    windows,
    /** The newest window while it still takes clicks. */
    open: newest !== null && !newest.closed ? newest : null,
    /** The newest window that takes no more clicks. */
    closed: windows.find((w) => w.closed) ?? null,
    /** The newest closed five-minute window. */
    sliding: sliding[0] ?? null,
    totals: {
      views: num(totals.views),
      late: num(totals.late),
      deadLetters: num(totals.deadLetters),
    },
    updatedAt: num(s.updatedAt),
  }
}
