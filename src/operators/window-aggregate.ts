// Aggregation over fixed windows (tumbling, hopping, sliding). With a mergeable aggregator the state is kept in
// panes of gcd(size, advance): a record updates one pane, and a window's result merges its panes when it fires.
// Without merge, each window keeps its own accumulator. A record is late when even the last window containing it
// is past the watermark plus allowed lateness; late records go to the 'late' output and a counter.
import type { EmitMode, Rec, Windowed } from '../graph/logical.ts'
import { encodeKey } from '../state/key-codec.ts'
import { TimerQueue } from '../time/timer-queue.ts'
import type { Aggregator } from '../windows/aggregator.ts'
import { type FixedWindows, lastWindowStart, paneOf, windowStartsFor } from '../windows/assigners/types.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'
import { slicesIn } from './window-slices.ts'

export interface FixedWindowSpec {
  assigner: FixedWindows
  aggregator: Aggregator<unknown, unknown, unknown>
  lateness: number
  emit: EmitMode
}

const WATERMARK_KEY = '\u0000watermark'

export function fixedWindowOperator(spec: FixedWindowSpec, ctx: OperatorContext): Operator {
  const { assigner: w, aggregator: agg, lateness, emit } = spec
  const panes = agg.merge !== undefined
  const merge = agg.merge
  const sliceSize = panes ? w.paneSize : w.advance
  const timers = new TimerQueue() // by window end
  const store = ctx.store()
  const slices = slicesIn(store)
  // The watermark this step has seen, kept in its (changelogged) state: after a restart the task's watermark starts
  // at -Infinity, and without it the panes still alive from fired windows would make those windows fire again.
  let restoredWatermark = Number.NEGATIVE_INFINITY
  let storedWatermark = Number.NEGATIVE_INFINITY
  const watermark = () => Math.max(ctx.watermark(), restoredWatermark)

  /** Window [start, end) is finished once W >= end - 1 + lateness. */
  const isDone = (end: number, wm: number) => end - 1 + lateness <= wm

  /** Sets the timers of the windows a new slice of a key is in. */
  function registerWindows(sliceStart: number, ks: string, wm: number): void {
    if (!panes) {
      if (!isDone(sliceStart + w.size, wm)) timers.add(sliceStart + w.size, ks)
      return
    }
    // The windows that also hold the pane before got their timers with the key's slice there, if it has one: so a
    // key that comes back pane after pane adds one timer per pane, not size / advance.
    const before = sliceStart - sliceSize
    const seen = slices.find(before, ks) !== undefined
    for (let s = lastWindowStart(w, sliceStart); s > sliceStart - w.size; s -= w.advance) {
      if (seen && s <= before) break
      if (!isDone(s + w.size, wm)) timers.add(s + w.size, ks)
    }
  }

  /** The result of the window starting at `start` for one key: its panes merged, or its own slice. */
  function resultOf(start: number, ks: string): { key: unknown; acc: unknown } | null {
    let key: unknown
    let acc: unknown
    let found = false
    for (let p = start; p < start + (panes ? w.size : sliceSize); p += sliceSize) {
      const ref = slices.find(p, ks)
      if (ref === undefined) continue
      if (!found) {
        key = ref.slice[0]
        acc = ref.slice[1]
        found = true
      } else acc = merge!(acc, ref.slice[1])
    }
    return found ? { key, acc } : null
  }

  function addTo(start: number, ks: string, r: Rec, wm: number): void {
    const ref = slices.find(start, ks)
    try {
      if (ref !== undefined) {
        ref.slice[1] = agg.add(ref.slice[1], r.value)
        slices.save(ref)
        return
      }
      slices.create(start, ks, [r.key, agg.add(agg.init(), r.value)])
    } catch (err) {
      ctx.fail(operatorError(ctx.name, err, r), r)
      return
    }
    registerWindows(start, ks, wm)
  }

  function output(start: number, key: unknown, acc: unknown): Rec {
    const end = start + w.size
    const k: Windowed<unknown> = { key, start, end }
    return { key: k, value: agg.result(acc), timestamp: end - 1 }
  }

  return {
    process(records) {
      const wm = watermark()
      const late: Rec[] = []
      const updates: Rec[] = []
      for (const r of records) {
        const t = r.timestamp
        if (isDone(lastWindowStart(w, t) + w.size, wm)) {
          late.push(r)
          continue
        }
        const ks = encodeKey(r.key)
        if (panes) addTo(paneOf(w, t), ks, r, wm)
        else {
          for (const start of windowStartsFor(w, t)) if (!isDone(start + w.size, wm)) addTo(start, ks, r, wm)
        }
        if (emit === 'update') {
          for (const s of windowStartsFor(w, t)) {
            if (isDone(s + w.size, wm)) continue
            const res = resultOf(s, ks)
            if (res !== null) updates.push(output(s, res.key, res.acc))
          }
        }
      }
      if (updates.length > 0) ctx.emit(updates)
      if (late.length > 0) {
        ctx.count('late', late.length)
        ctx.emitTo('late', late)
      }
    },

    onWatermark(wm) {
      const out: Rec[] = []
      for (
        let due = timers.pollUntil(wm - lateness + 1);
        due !== null;
        due = timers.pollUntil(wm - lateness + 1)
      ) {
        const end = due.time
        const start = end - w.size
        for (const ks of due.keys) {
          if (emit === 'final') {
            const res = resultOf(start, ks)
            if (res !== null) out.push(output(start, res.key, res.acc))
          }
          // the slices no later window needs: the panes of [start, start + advance), or this window's own slice
          for (let p = start; p < start + w.advance; p += sliceSize) slices.delete(p, ks)
        }
      }
      if (out.length > 0) ctx.emit(out)
      if (wm > storedWatermark) {
        storedWatermark = wm
        store.put(WATERMARK_KEY, wm)
      }
    },

    onRestore() {
      timers.clear()
      const saved = store.get(WATERMARK_KEY)
      restoredWatermark = typeof saved === 'number' ? saved : Number.NEGATIVE_INFINITY
      storedWatermark = restoredWatermark
      const wm = watermark()
      slices.restore((start, ks) => registerWindows(start, ks, wm))
    },
  }
}
