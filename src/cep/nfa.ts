// The automaton a pattern compiles to, run over one key's events in event-time order. Its state is a list of
// partial matches, plain data kept in keyed state. Each event may extend a partial match into its current stage (a
// loop) or into a following stage, or pass it by; what passing by rules out (a relaxed move whose first matching
// event went by, a strict move once any event went by, a negation seen) is remembered as flags. docs/cep.md gives
// the semantics this implements; test/cep/ checks it against a brute-force enumeration of subsequences.
import type { MatchContext, Negation, Pattern, Stage } from './pattern.ts'

/** An event as the automaton sees it: its place in the key's sequence, its time and value. */
export interface CepEvent<V> {
  seq: number
  ts: number
  value: V
}

/** A partial match: the events taken so far with their stage, and which moves are still possible. */
export interface PartialMatch<V> {
  /** [stage index, event] in the order taken. */
  taken: [number, CepEvent<V>][]
  stage: number
  count: number
  /** No event has passed since the last one was taken: strict moves are still possible. */
  fresh: boolean
  /** The stage may take more events. */
  loop: boolean
  /** proceed[i]: stage `stage + 1 + i` may still take its first event. */
  proceed: boolean[]
  /** Complete already (a final loop that may grow): reported as a match, never as a timeout. */
  matched: boolean
}

export interface StepResult<V> {
  /** Completed matches, in emission order, after the skip strategy. */
  matches: PartialMatch<V>[]
  /** Partial matches that can no longer complete within the pattern's time bound. */
  timeouts: PartialMatch<V>[]
}

export class Nfa<V> {
  readonly #stages: readonly Stage<V>[]
  readonly #negations: readonly (readonly Negation<V>[])[]
  readonly #within: number | null
  readonly #pattern: Pattern<V>

  constructor(pattern: Pattern<V>) {
    pattern.check()
    this.#pattern = pattern
    this.#stages = pattern.stages
    this.#negations = pattern.negations
    this.#within = pattern.withinMs
  }

  /** The stages reachable from `from` by a proceed move: the next ones, through optional stages. */
  #reachable(from: number): number[] {
    const out: number[] = []
    for (let y = from + 1; y < this.#stages.length; y++) {
      out.push(y)
      if (this.#stages[y].min > 0) break
    }
    return out
  }

  #context(p: PartialMatch<V> | null): MatchContext<V> {
    return {
      events: (name) => {
        if (p === null) return []
        const i = this.#stages.findIndex((s) => s.name === name)
        return p.taken.filter(([s]) => s === i).map(([, e]) => e.value)
      },
    }
  }

  /** The negations between stage `from` and stage `to`, of one kind. */
  #negationsBetween(from: number, to: number, kind: Negation<V>['kind']): Negation<V>[] {
    const out: Negation<V>[] = []
    for (let j = from + 1; j <= to; j++)
      for (const n of this.#negations[j] ?? []) if (n.kind === kind) out.push(n)
    return out
  }

  #inTime(p: PartialMatch<V>, e: CepEvent<V>): boolean {
    return this.#within === null || p.taken.length === 0 || e.ts - p.taken[0][1].ts < this.#within
  }

  /** Whether `p` may take `e` into its current (looping) stage. */
  #canLoop(p: PartialMatch<V>, e: CepEvent<V>, ctx: MatchContext<V>): boolean {
    const s = this.#stages[p.stage]
    if (!p.loop || (s.inner === 'strict' && !p.fresh) || !this.#inTime(p, e)) return false
    if (s.until !== null && s.until(e.value, ctx)) return false
    return s.condition(e.value, ctx)
  }

  #take(p: PartialMatch<V> | null, stage: number, e: CepEvent<V>): PartialMatch<V> {
    const same = p !== null && p.stage === stage
    const count = same ? p.count + 1 : 1
    const s = this.#stages[stage]
    const taken = p === null ? [] : p.taken
    const next: PartialMatch<V> = {
      taken: [...taken, [stage, e]],
      stage,
      count,
      fresh: true,
      loop: count < s.max,
      proceed: this.#reachable(stage).map(() => true),
      matched: false,
    }
    next.matched = this.isComplete(next)
    return next
  }

  isComplete(p: PartialMatch<V>): boolean {
    return p.stage === this.#stages.length - 1 && p.count >= this.#stages[p.stage].min
  }

  /** What `p` (null: a new match) becomes when `e` comes: the matches it extends to, and itself if it lives on. */
  #step(p: PartialMatch<V> | null, e: CepEvent<V>, out: PartialMatch<V>[]): PartialMatch<V> | null {
    const ctx = this.#context(p)
    const from = p === null ? -1 : p.stage
    const loops = p !== null && this.#canLoop(p, e, ctx)
    if (loops) out.push(this.#take(p, p!.stage, e))
    const canProceed = p === null || p.count >= this.#stages[p.stage].min
    const reach = this.#reachable(from)
    const greedy = p !== null && this.#stages[p.stage].greedy && loops
    if (canProceed) {
      for (let i = 0; i < reach.length; i++) {
        const y = reach[i]
        const stage = this.#stages[y]
        if (p !== null) {
          if (!p.proceed[i] || (stage.contiguity === 'strict' && !p.fresh) || !this.#inTime(p, e)) continue
          if (p.fresh && this.#negationsBetween(from, y, 'notNext').some((n) => n.condition(e.value, ctx)))
            continue
        }
        if (!greedy && stage.condition(e.value, ctx)) out.push(this.#take(p, y, e))
      }
    }
    if (p === null) return null
    // passed by: what that rules out from now on
    const s = this.#stages[p.stage]
    const loop =
      p.loop &&
      s.inner !== 'strict' &&
      !(s.inner === 'relaxed' && s.condition(e.value, ctx)) &&
      !(s.until !== null && s.until(e.value, ctx))
    const proceed = reach.map((y, i) => {
      if (!canProceed) return true // set again when the stage has its minimum
      if (!p.proceed[i]) return false
      const stage = this.#stages[y]
      if (stage.contiguity === 'strict') return false
      if (stage.contiguity === 'relaxed' && stage.condition(e.value, ctx)) return false
      if (p.fresh && this.#negationsBetween(from, y, 'notNext').some((n) => n.condition(e.value, ctx)))
        return false
      return !this.#negationsBetween(from, y, 'notFollowedBy').some((n) => n.condition(e.value, ctx))
    })
    if (!loop && !(canProceed && proceed.some((x) => x))) return null
    return { ...p, fresh: false, loop, proceed }
  }

  /** Times out the partial matches that can take no event at or after `time`. */
  expire(
    partials: PartialMatch<V>[],
    time: number,
  ): { live: PartialMatch<V>[]; timeouts: PartialMatch<V>[] } {
    if (this.#within === null) return { live: partials, timeouts: [] }
    const live: PartialMatch<V>[] = []
    const timeouts: PartialMatch<V>[] = []
    for (const p of partials) {
      if (p.taken[0][1].ts + this.#within <= time) {
        if (!p.matched) timeouts.push(p)
      } else live.push(p)
    }
    return { live, timeouts }
  }

  /** Feeds one event (events come in seq order, non-decreasing ts); `partials` is replaced by what lives on. */
  process(
    partials: PartialMatch<V>[],
    e: CepEvent<V>,
  ): { partials: PartialMatch<V>[]; result: StepResult<V> } {
    const { live, timeouts } = this.expire(partials, e.ts)
    const next: PartialMatch<V>[] = []
    const grown: PartialMatch<V>[] = []
    for (const p of live) {
      const stays = this.#step(p, e, grown)
      if (stays !== null) next.push(stays)
    }
    this.#step(null, e, grown)
    const complete: PartialMatch<V>[] = []
    for (const g of grown) {
      if (g.matched) complete.push(g)
      if (!g.matched || g.loop) next.push(g)
    }
    complete.sort(emissionOrder)
    const matches: PartialMatch<V>[] = []
    let remaining = next
    let pending = complete
    while (pending.length > 0) {
      const m = pending[0]
      matches.push(m)
      const discard = this.#discards(m)
      pending = pending.slice(1).filter((x) => !discard(x))
      remaining = remaining.filter((x) => !discard(x))
    }
    return { partials: remaining, result: { matches, timeouts } }
  }

  /** Which partial (or complete) matches an emitted match rules out, by where they started. */
  #discards(m: PartialMatch<V>): (x: PartialMatch<V>) => boolean {
    const first = (x: PartialMatch<V>) => x.taken[0][1].seq
    const skip = this.#pattern.skip
    switch (skip.kind) {
      case 'noSkip':
        return () => false
      case 'skipToNext':
        return (x) => first(x) === first(m)
      case 'skipPastLastEvent': {
        const last = m.taken[m.taken.length - 1][1].seq
        return (x) => first(x) <= last
      }
      case 'skipToFirst':
      case 'skipToLast': {
        const i = this.#stages.findIndex((s) => s.name === skip.stage)
        const of = m.taken.filter(([s]) => s === i)
        if (of.length === 0) return () => false
        const at = (skip.kind === 'skipToFirst' ? of[0] : of[of.length - 1])[1].seq
        return (x) => first(x) < at
      }
    }
  }

  /** A match as its stages' events, by stage name (stages without events left out). */
  groups(p: PartialMatch<V>): Record<string, V[]> {
    const out: Record<string, V[]> = {}
    for (const [s, e] of p.taken) (out[this.#stages[s].name] ??= []).push(e.value)
    return out
  }
}

/**
 * Matches completed by one event: the earliest start first, then by the events they took, then (the same events
 * in other stages) by their stages.
 */
export function emissionOrder<V>(a: PartialMatch<V>, b: PartialMatch<V>): number {
  return compareTaken(
    a.taken.map(([s, e]) => [s, e.seq]),
    b.taken.map(([s, e]) => [s, e.seq]),
  )
}

/** Compares two matches given as [stage, seq] pairs in the order described at emissionOrder. */
export function compareTaken(a: readonly [number, number][], b: readonly [number, number][]): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i][1] !== b[i][1]) return a[i][1] - b[i][1]
  if (a.length !== b.length) return a.length - b.length
  for (let i = 0; i < n; i++) if (a[i][0] !== b[i][0]) return a[i][0] - b[i][0]
  return 0
}
