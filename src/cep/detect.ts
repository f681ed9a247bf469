// Pattern detection on a keyed stream in event time, as a composition: a keyed process function buffers each key's
// events until the watermark passes them, feeds them to the automaton in timestamp order, and keeps the partial
// matches in its (changelogged) state, so they survive restarts and rebalances and are exactly-once like any
// state. Its one output carries matches, timed-out partial matches and late events; three flatMaps split them.
import type { KeyedStream, Stream } from '../dsl/stream.ts'
import type { ProcessContext, ProcessFunction } from '../graph/logical.ts'
import { type CepEvent, Nfa, type PartialMatch } from './nfa.ts'
import type { Pattern } from './pattern.ts'

/** A match: the events of each stage, and the times of its first and last event. */
export interface Match<V> {
  readonly stages: Record<string, V[]>
  readonly start: number
  readonly end: number
}

/** A partial match that can no longer complete within the pattern's `within`. */
export interface TimedOut<V> {
  readonly stages: Record<string, V[]>
  readonly start: number
  /** First event time + within: no event from then on could have been taken. */
  readonly timedOutAt: number
}

type Output<V> = { m: Match<V> } | { t: TimedOut<V> } | { late: V }

interface KeyState<V> {
  /** The next sequence number: the order events are fed to the automaton in. */
  seq: number
  /** Events waiting for the watermark, [timestamp, value], in arrival order. */
  buffer: [number, V][]
  partials: PartialMatch<V>[]
  /**
   * The earliest wake-up (time-out timer) set and not fired yet, null when none is (undefined in state written
   * before it was kept: then it is not known).
   */
  wake?: number | null
}

const STATE = 'cep'

function detector<K, V>(nfa: Nfa<V>, within: number | null): ProcessFunction<K, V, Output<V>> {
  const matchOf = (p: PartialMatch<V>): Match<V> => ({
    stages: nfa.groups(p),
    start: p.taken[0][1].ts,
    end: p.taken[p.taken.length - 1][1].ts,
  })
  const timeOut = (ctx: ProcessContext<K, Output<V>>, timeouts: readonly PartialMatch<V>[]) => {
    for (const p of timeouts) {
      const start = p.taken[0][1].ts
      const at = start + within!
      ctx.emit({ t: { stages: nfa.groups(p), start, timedOutAt: at } }, { timestamp: at - 1 })
    }
  }
  const inertPassesUnseen = nfa.inertPassesUnseen
  return {
    process(value, ctx) {
      // the watermark has passed it: the events around it were matched already
      if (ctx.timestamp <= ctx.watermark) {
        ctx.emit({ late: value })
        return
      }
      // No condition wants it, and with no strict move, an event that passes by changes no partial match: it would
      // take a place in the sequence and nothing else, so it need not wait for the watermark at all.
      if (inertPassesUnseen && nfa.isInert(value)) return
      const state = ctx.valueState<KeyState<V>>(STATE)
      const s = state.get() ?? { seq: 0, buffer: [], partials: [] }
      s.buffer.push([ctx.timestamp, value])
      state.set(s)
      ctx.registerEventTimeTimer(ctx.timestamp)
    },
    onTimer(time, ctx) {
      const state = ctx.valueState<KeyState<V>>(STATE)
      const s = state.get()
      if (s === undefined) return
      const { due, waiting } = dueEvents(s.buffer, time)
      let partials = s.partials
      for (const e of due) {
        e.seq = s.seq++
        const step = nfa.process(partials, e)
        partials = step.partials
        timeOut(ctx, step.result.timeouts)
        for (const m of step.result.matches) ctx.emit({ m: matchOf(m) }, { timestamp: e.ts })
      }
      const expired = nfa.expire(partials, time + 1)
      timeOut(ctx, expired.timeouts)
      partials = expired.live
      // wake up when the oldest partial match can take no more events. A wake-up set earlier, for a partial match
      // that is gone, stays: it comes first, finds nothing to time out and sets the next one, which costs less than
      // moving it at every event.
      let wake: number | null = null
      if (within !== null) {
        let oldest = Number.POSITIVE_INFINITY
        for (const p of partials) oldest = Math.min(oldest, p.taken[0][1].ts)
        const set = s.wake
        const pending = typeof set === 'number' && set > time ? set : null
        if (Number.isFinite(oldest)) wake = oldest + within - 1
        if (wake !== null && (pending === null || wake < pending)) ctx.registerEventTimeTimer(wake)
        if (pending !== null && (wake === null || pending < wake)) wake = pending
      }
      if (waiting.length === 0 && partials.length === 0) state.clear()
      else {
        s.buffer = waiting
        s.partials = partials
        if (within !== null) s.wake = wake
        state.set(s)
      }
    },
  }
}

/** The buffered events at or before `time`, as the automaton's events in time order (ties in arrival order). */
function dueEvents<V>(buffer: [number, V][], time: number): { due: CepEvent<V>[]; waiting: [number, V][] } {
  const due: CepEvent<V>[] = []
  let waiting: [number, V][] | null = null
  let sorted = true
  for (const entry of buffer) {
    const [ts, value] = entry
    if (ts > time) {
      ;(waiting ??= []).push(entry)
      continue
    }
    if (due.length > 0 && ts < due[due.length - 1].ts) sorted = false
    due.push({ seq: 0, ts, value })
  }
  if (!sorted) due.sort((a, b) => a.ts - b.ts) // stable: arrival order among equal times
  return { due, waiting: waiting ?? [] }
}

export interface DetectOptions {
  /** Names the step: its state, changelog topic and metrics. */
  name: string
}

/** The outputs of pattern detection: matches, and on demand the timed-out partial matches and late events. */
export class PatternStream<K, V> {
  readonly #out: Stream<K, Output<V>>
  readonly #name: string

  constructor(out: Stream<K, Output<V>>, name: string) {
    this.#out = out
    this.#name = name
  }

  /** Every match, with the time of its last event. */
  matches(options: { name?: string } = {}): Stream<K, Match<V>> {
    return this.#out.flatMap((o) => ('m' in o ? [o.m] : []), {
      name: options.name ?? `${this.#name}-matches`,
    })
  }

  /** Partial matches that timed out (the pattern has a within()), at their first event time + within - 1. */
  timeouts(options: { name?: string } = {}): Stream<K, TimedOut<V>> {
    return this.#out.flatMap((o) => ('t' in o ? [o.t] : []), {
      name: options.name ?? `${this.#name}-timeouts`,
    })
  }

  /** Events that came after the watermark had passed them, which the automaton never saw. */
  late(options: { name?: string } = {}): Stream<K, V> {
    return this.#out.flatMap((o) => ('late' in o ? [o.late] : []), {
      name: options.name ?? `${this.#name}-late`,
    })
  }
}

/**
 * Detects `pattern` in each key's events, in event time (as Flink's CEP.pattern). Events are matched in timestamp
 * order once the watermark passes them (ties in arrival order); later ones are late.
 */
export function detect<K, V>(
  input: KeyedStream<K, V>,
  pattern: Pattern<V>,
  options: DetectOptions,
): PatternStream<K, V> {
  const nfa = new Nfa(pattern)
  const out = input.process<Output<V>>(detector<K, V>(nfa, pattern.withinMs), { name: options.name })
  return new PatternStream(out, options.name)
}
