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

export interface FixedWindowSpec {
  assigner: FixedWindows
  aggregator: Aggregator<unknown, unknown, unknown>
  lateness: number
  emit: EmitMode
}

type Slice = [key: unknown, acc: unknown]

export function fixedWindowOperator(spec: FixedWindowSpec, ctx: OperatorContext): Operator {
  const { assigner: w, aggregator: agg, lateness, emit } = spec
  const panes = agg.merge !== undefined
  const merge = agg.merge
  const sliceSize = panes ? w.paneSize : w.advance
  const timers = new TimerQueue() // by window end
  const store = ctx.store()
  // A slice's store key is "<start>|<key>". Turning a start (an epoch-millisecond double) into text costs about as
  // much as the rest of a record's work, and every record and every merged pane needs one, while only a few starts
  // are live at a time: so the last few prefixes are kept.
  const prefixStarts: number[] = []
  const prefixes: string[] = []
  const sliceKey = (start: number, ks: string): string => {
    for (let i = 0; i < prefixStarts.length; i++) if (prefixStarts[i] === start) return prefixes[i] + ks
    if (prefixStarts.length === 16) {
      prefixStarts.shift()
      prefixes.shift()
    }
    const prefix = `${start}|`
    prefixStarts.push(start)
    prefixes.push(prefix)
    return prefix + ks
  }

  /** Window [start, end) is finished once W >= end - 1 + lateness. */
  const isDone = (end: number, wm: number) => end - 1 + lateness <= wm

  function registerWindows(sliceStart: number, ks: string, wm: number): void {
    if (panes) {
      for (const s of windowStartsFor(w, sliceStart)) if (!isDone(s + w.size, wm)) timers.add(s + w.size, ks)
    } else if (!isDone(sliceStart + w.size, wm)) timers.add(sliceStart + w.size, ks)
  }

  function resultOf(start: number, ks: string): { key: unknown; acc: unknown } | null {
    if (!panes) {
      const slice = store.get(sliceKey(start, ks)) as Slice | undefined
      return slice === undefined ? null : { key: slice[0], acc: slice[1] }
    }
    let key: unknown
    let acc: unknown
    let found = false
    for (let p = start; p < start + w.size; p += sliceSize) {
      const slice = store.get(sliceKey(p, ks)) as Slice | undefined
      if (slice === undefined) continue
      if (!found) {
        key = slice[0]
        acc = slice[1]
        found = true
      } else acc = merge!(acc, slice[1])
    }
    return found ? { key, acc } : null
  }

  function addTo(start: number, ks: string, r: Rec, wm: number): void {
    const sk = sliceKey(start, ks)
    let slice = store.get(sk) as Slice | undefined
    if (slice === undefined) {
      slice = [r.key, agg.init()]
      registerWindows(start, ks, wm)
    }
    try {
      slice[1] = agg.add(slice[1], r.value)
    } catch (err) {
      throw operatorError(ctx.name, err, r)
    }
    store.put(sk, slice)
  }

  function output(start: number, key: unknown, acc: unknown): Rec {
    const end = start + w.size
    const k: Windowed<unknown> = { key, start, end }
    return { key: k, value: agg.result(acc), timestamp: end - 1 }
  }

  return {
    process(records) {
      const wm = ctx.watermark()
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
          // slices no later window needs: the panes of [start, start + advance), or this window's own slice
          if (panes) for (let p = start; p < start + w.advance; p += sliceSize) store.delete(sliceKey(p, ks))
          else store.delete(sliceKey(start, ks))
        }
      }
      if (out.length > 0) ctx.emit(out)
    },

    onRestore() {
      timers.clear()
      const wm = ctx.watermark()
      for (const [sk] of store.entries()) {
        const bar = sk.indexOf('|')
        registerWindows(Number(sk.slice(0, bar)), sk.slice(bar + 1), wm)
      }
    },
  }
}
