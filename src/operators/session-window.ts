// Session windows per key: a record opens [t, t + gap) and merges every session of its key it overlaps or touches
// (Flink's rule: records exactly `gap` apart share a session). A session
// fires (final mode) once W >= end - 1 + lateness. In update mode each change is emitted, and sessions merged away
// are retracted with a null value so an upsert target can delete them.
import type { EmitMode, Rec, Windowed } from '../graph/logical.ts'
import { encodeKey } from '../state/key-codec.ts'
import { TimerQueue } from '../time/timer-queue.ts'
import type { Aggregator } from '../windows/aggregator.ts'
import type { SessionWindows } from '../windows/assigners/types.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export interface SessionWindowSpec {
  assigner: SessionWindows
  aggregator: Aggregator<unknown, unknown, unknown>
  lateness: number
  emit: EmitMode
}

type Session = [start: number, end: number, acc: unknown]
type Entry = [key: unknown, sessions: Session[]]

export function sessionWindowOperator(spec: SessionWindowSpec, ctx: OperatorContext): Operator {
  const { assigner, aggregator: agg, lateness, emit } = spec
  const merge = agg.merge!
  const gap = assigner.gap
  const timers = new TimerQueue()
  const store = ctx.store()
  const isDone = (end: number, wm: number) => end - 1 + lateness <= wm

  const output = (key: unknown, s: Session, value: unknown): Rec => ({
    key: { key, start: s[0], end: s[1] } satisfies Windowed<unknown>,
    value,
    timestamp: s[1] - 1,
  })

  return {
    process(records) {
      const wm = ctx.watermark()
      const late: Rec[] = []
      const updates: Rec[] = []
      for (const r of records) {
        const t = r.timestamp
        const ks = encodeKey(r.key)
        const entry = (store.get(ks) as Entry | undefined) ?? [r.key, []]
        const sessions = entry[1]
        let start = t
        let end = t + gap
        let acc: unknown
        try {
          acc = agg.add(agg.init(), r.value)
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
          continue
        }
        const kept: Session[] = []
        const merged: Session[] = []
        for (const s of sessions) {
          if (s[0] <= t + gap && t <= s[1]) {
            merged.push(s)
            if (s[0] < start) start = s[0]
            if (s[1] > end) end = s[1]
          } else kept.push(s)
        }
        if (isDone(end, wm)) {
          late.push(r)
          continue
        }
        for (const s of merged) acc = merge(s[2], acc)
        const next: Session = [start, end, acc]
        kept.push(next)
        kept.sort((a, b) => a[0] - b[0])
        entry[1] = kept
        store.put(ks, entry)
        timers.add(end, ks)
        if (emit === 'update') {
          for (const s of merged) if (s[0] !== start || s[1] !== end) updates.push(output(entry[0], s, null))
          updates.push(output(entry[0], next, agg.result(acc)))
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
        for (const ks of due.keys) {
          const entry = store.get(ks) as Entry | undefined
          if (entry === undefined) continue
          // a session merged into a longer one since this timer was set is no longer there: nothing fires
          const firing = entry[1].filter((s) => s[1] === due.time)
          if (firing.length === 0) continue
          if (emit === 'final') for (const s of firing) out.push(output(entry[0], s, agg.result(s[2])))
          const rest = entry[1].filter((s) => s[1] !== due.time)
          if (rest.length === 0) store.delete(ks)
          else store.put(ks, [entry[0], rest])
        }
      }
      if (out.length > 0) ctx.emit(out)
    },

    onRestore() {
      timers.clear()
      for (const [ks, entry] of store.entries()) for (const s of (entry as Entry)[1]) timers.add(s[1], ks)
    },
  }
}
