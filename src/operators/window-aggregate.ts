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

/** A key's accumulator in one slice (a pane, or a window without merge), as the store keeps it. */
type Slice = [key: unknown, acc: unknown]

/** A slice and its store key ("<start>|<encoded key>"). */
interface Slot {
  readonly sk: string
  readonly slice: Slice
}

/** The slices that start at one time, by encoded key. */
interface SliceSet {
  readonly start: number
  /** "<start>|": formatting an epoch-millisecond double costs about as much as the rest of a record's work. */
  readonly prefix: string
  readonly slots: Map<string, Slot>
}

export function fixedWindowOperator(spec: FixedWindowSpec, ctx: OperatorContext): Operator {
  const { assigner: w, aggregator: agg, lateness, emit } = spec
  const panes = agg.merge !== undefined
  const merge = agg.merge
  const sliceSize = panes ? w.paneSize : w.advance
  const timers = new TimerQueue() // by window end
  const store = ctx.store()
  // The store holds the state (it is changelogged and restored); this index over the same slices, by start and
  // then key, lets a record or a firing window find a slice without building and hashing its store key. Only a
  // few starts are live at a time, so the outer map is small.
  const index = new Map<number, SliceSet>()
  let lastStart = Number.NaN
  let lastSet: SliceSet | undefined

  function sliceSet(start: number): SliceSet {
    if (start === lastStart) return lastSet!
    let set = index.get(start)
    if (set === undefined) {
      set = { start, prefix: `${start}|`, slots: new Map() }
      index.set(start, set)
    }
    lastStart = start
    lastSet = set
    return set
  }

  function forget(start: number): void {
    index.delete(start)
    if (start === lastStart) {
      lastStart = Number.NaN
      lastSet = undefined
    }
  }

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
    const seen = index.get(before)?.slots.has(ks) === true
    for (let s = lastWindowStart(w, sliceStart); s > sliceStart - w.size; s -= w.advance) {
      if (seen && s <= before) break
      if (!isDone(s + w.size, wm)) timers.add(s + w.size, ks)
    }
  }

  /** The merged result of the window starting at `start` for one key, from its slice sets. */
  function resultOf(sets: (SliceSet | undefined)[], ks: string): { key: unknown; acc: unknown } | null {
    let key: unknown
    let acc: unknown
    let found = false
    for (const set of sets) {
      const slot = set?.slots.get(ks)
      if (slot === undefined) continue
      if (!found) {
        key = slot.slice[0]
        acc = slot.slice[1]
        found = true
      } else acc = merge!(acc, slot.slice[1])
    }
    return found ? { key, acc } : null
  }

  /** The slice sets a window's result is made of: its panes, or its own slice without merge. */
  function setsOf(start: number): (SliceSet | undefined)[] {
    if (!panes) return [index.get(start)]
    const sets: (SliceSet | undefined)[] = []
    for (let p = start; p < start + w.size; p += sliceSize) sets.push(index.get(p))
    return sets
  }

  function addTo(start: number, ks: string, r: Rec, wm: number): void {
    const set = sliceSet(start)
    let slot = set.slots.get(ks)
    if (slot === undefined) {
      slot = { sk: set.prefix + ks, slice: [r.key, agg.init()] }
      set.slots.set(ks, slot)
      registerWindows(start, ks, wm)
    }
    const slice = slot.slice
    try {
      slice[1] = agg.add(slice[1], r.value)
    } catch (err) {
      throw operatorError(ctx.name, err, r)
    }
    store.put(slot.sk, slice)
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
            const res = resultOf(setsOf(s), ks)
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
        const sets = setsOf(start)
        // the slices no later window needs: the panes of [start, start + advance), or this window's own slice
        const expiring: SliceSet[] = []
        for (let p = start; p < start + w.advance; p += sliceSize) {
          const set = index.get(p)
          if (set !== undefined) expiring.push(set)
        }
        for (const ks of due.keys) {
          if (emit === 'final') {
            const res = resultOf(sets, ks)
            if (res !== null) out.push(output(start, res.key, res.acc))
          }
          for (const set of expiring) {
            const slot = set.slots.get(ks)
            if (slot === undefined) continue
            set.slots.delete(ks)
            store.delete(slot.sk)
          }
        }
        // every key with a slice in an expiring set fires this window, so the set is empty now unless a key came
        // in late enough to miss it (then it stays, as its store entry does)
        for (const set of expiring) if (set.slots.size === 0) forget(set.start)
      }
      if (out.length > 0) ctx.emit(out)
    },

    onRestore() {
      timers.clear()
      index.clear()
      lastStart = Number.NaN
      lastSet = undefined
      const wm = ctx.watermark()
      for (const [sk, value] of store.entries()) {
        const bar = sk.indexOf('|')
        const start = Number(sk.slice(0, bar))
        const ks = sk.slice(bar + 1)
        sliceSet(start).slots.set(ks, { sk, slice: value as Slice })
        registerWindows(start, ks, wm)
      }
    },
  }
}
