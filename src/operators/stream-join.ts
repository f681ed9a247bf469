// Stream-stream inner join within a time bound: records of the two inputs with the same key whose timestamps are
// at most `within` apart are joined. A record is late once W >= timestamp + lateness: it is counted, not joined.
// Each side is buffered per key until the watermark passes timestamp + within + lateness, when no partner can
// arrive any more (a partner is at most `within` later, and must itself not be late).
import type { Rec } from '../graph/logical.ts'
import { encodeKey } from '../state/key-codec.ts'
import { TimerQueue } from '../time/timer-queue.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

type Buffered = [timestamp: number, value: unknown]
type Side = [key: unknown, rows: Buffered[]]

export function streamJoinOperator(
  spec: {
    within: number
    lateness: number
    joiner: (left: unknown, right: unknown, key: unknown) => unknown
  },
  ctx: OperatorContext,
): Operator {
  const { within, lateness, joiner } = spec
  const store = ctx.store()
  const cleanup = new TimerQueue()
  const sideKey = (side: number, ks: string) => `${side}|${ks}`
  const expiry = (t: number) => t + within + lateness
  // Not t + within + lateness: a record that far back would be joined with whatever is left of its partners, some of
  // which, up to `within` earlier, may already have expired.
  const isLate = (t: number, wm: number) => t + lateness <= wm

  return {
    process(records, input) {
      const wm = ctx.watermark()
      const out: Rec[] = []
      let late = 0
      const other = 1 - input
      for (const r of records) {
        if (isLate(r.timestamp, wm)) {
          late++
          continue
        }
        const ks = encodeKey(r.key)
        const partners = store.get(sideKey(other, ks)) as Side | undefined
        if (partners !== undefined) {
          for (const [t, v] of partners[1]) {
            if (Math.abs(t - r.timestamp) > within) continue
            let joined: unknown
            try {
              joined = input === 0 ? joiner(r.value, v, r.key) : joiner(v, r.value, r.key)
            } catch (err) {
              ctx.fail(operatorError(ctx.name, err, r), r)
              continue
            }
            out.push({ key: r.key, value: joined, timestamp: Math.max(t, r.timestamp) })
          }
        }
        const own = (store.get(sideKey(input, ks)) as Side | undefined) ?? [r.key, []]
        own[1].push([r.timestamp, r.value])
        store.put(sideKey(input, ks), own)
        cleanup.add(expiry(r.timestamp), ks)
      }
      if (late > 0) ctx.count('late', late)
      if (out.length > 0) ctx.emit(out)
    },

    onWatermark(wm) {
      for (let due = cleanup.pollUntil(wm); due !== null; due = cleanup.pollUntil(wm)) {
        for (const ks of due.keys) {
          for (const side of [0, 1]) {
            const sk = sideKey(side, ks)
            const entry = store.get(sk) as Side | undefined
            if (entry === undefined) continue
            const rest = entry[1].filter(([t]) => expiry(t) > wm)
            if (rest.length === entry[1].length) continue
            if (rest.length === 0) store.delete(sk)
            else store.put(sk, [entry[0], rest])
          }
        }
      }
    },

    onRestore() {
      cleanup.clear()
      for (const [sk, entry] of store.entries()) {
        const ks = sk.slice(sk.indexOf('|') + 1)
        for (const [t] of (entry as Side)[1]) cleanup.add(expiry(t), ks)
      }
    },
  }
}
