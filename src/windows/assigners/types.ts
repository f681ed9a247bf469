// What a window assigner tells the window operator. Fixed windows (tumbling, hopping) are aligned to the epoch plus
// an offset and built from panes of gcd(size, advance); session windows grow and merge per key.

/** The half-open event-time interval [start, end). */
export interface TimeWindow {
  start: number
  end: number
}

export interface FixedWindows {
  readonly kind: 'tumbling' | 'hopping' | 'sliding'
  readonly size: number
  readonly advance: number
  readonly offset: number
  /** gcd(size, advance): each record updates exactly one pane; a window merges size / paneSize panes. */
  readonly paneSize: number
}

export interface SessionWindows {
  readonly kind: 'session'
  /** A session closes after this much event time without a record for its key. */
  readonly gap: number
}

export type WindowAssigner = FixedWindows | SessionWindows

function floorTo(ts: number, step: number, offset: number): number {
  return Math.floor((ts - offset) / step) * step + offset
}

export function paneOf(w: FixedWindows, ts: number): number {
  return floorTo(ts, w.paneSize, w.offset)
}

/** Start of the last (latest-starting) window containing `ts`. */
export function lastWindowStart(w: FixedWindows, ts: number): number {
  return floorTo(ts, w.advance, w.offset)
}

/** Starts of every window containing `ts`, latest first. */
export function windowStartsFor(w: FixedWindows, ts: number): number[] {
  const out: number[] = []
  for (let s = lastWindowStart(w, ts); s > ts - w.size; s -= w.advance) out.push(s)
  return out
}

/** The largest timestamp inside a window: results carry it, and the window is complete once W >= it. */
export function maxTimestamp(window: TimeWindow): number {
  return window.end - 1
}
