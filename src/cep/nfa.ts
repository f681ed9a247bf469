// The automaton a pattern compiles to, run over one key's events in event-time order. Its state is a list of
// partial matches, plain data kept in keyed state. Each event may extend a partial match into its current stage (a
// loop) or into a following stage, or pass it by; what passing by rules out (a relaxed move whose first matching
// event went by, a strict move once any event went by, a negation seen) is remembered as flags. docs/cep.md gives
// the semantics this implements; test/cep/ checks it against a brute-force enumeration of subsequences.
import type { Condition, MatchContext, Negation, Pattern, SkipStrategy, Stage } from './pattern.ts'

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
  matches: readonly PartialMatch<V>[]
  /** Partial matches that can no longer complete within the pattern's time bound. */
  timeouts: readonly PartialMatch<V>[]
}

/** A proceed move from one stage to a later one (through optional stages), with the negations in between. */
interface Move {
  readonly to: number
  readonly strict: boolean
  readonly relaxed: boolean
  /** Indexes into the automaton's list of negations. */
  readonly notNext: readonly number[]
  readonly notFollowedBy: readonly number[]
}

const NONE: readonly never[] = Object.freeze([])
/** Memoized condition results within one step: not evaluated yet, false, true. */
const UNKNOWN = 2

export class Nfa<V> {
  readonly #stages: readonly Stage<V>[]
  readonly #within: number | null
  readonly #skip: SkipStrategy
  readonly #stageIndex: Map<string, number>
  /** moves[x + 1]: the moves from stage x (x = -1: a new match) to the next stages, through optional ones. */
  readonly #moves: readonly (readonly Move[])[]
  readonly #negations: readonly Condition<V>[]
  /** The stage skipToFirst/skipToLast names, else -1. */
  readonly #skipStage: number
  /**
   * Whether an event that satisfies no condition changes nothing: no strict move, no strict loop and no notNext,
   * so an event passing by only matters through its conditions.
   */
  readonly inertPassesUnseen: boolean

  // One step's view: the partial match whose context conditions see, the event, and the conditions' results so
  // far (a step asks some of them twice; conditions are functions of the event and the context).
  #current: PartialMatch<V> | null = null
  #value: V | undefined
  readonly #condMemo: Uint8Array
  readonly #untilMemo: Uint8Array
  readonly #negationMemo: Uint8Array
  readonly #ctx: MatchContext<V>
  #probeLooked = false
  readonly #probe: MatchContext<V>

  constructor(pattern: Pattern<V>) {
    pattern.check()
    const stages = pattern.stages
    this.#stages = stages
    this.#within = pattern.withinMs
    this.#skip = pattern.skip
    this.#stageIndex = new Map()
    stages.forEach((s, i) => {
      if (!this.#stageIndex.has(s.name)) this.#stageIndex.set(s.name, i)
    })
    const negations: Negation<V>[] = pattern.negations.flat()
    this.#negations = negations.map((n) => n.condition)
    const between = (from: number, to: number, kind: Negation<V>['kind']) => {
      const out: number[] = []
      for (let j = from + 1; j <= to; j++)
        for (const n of pattern.negations[j] ?? []) if (n.kind === kind) out.push(negations.indexOf(n))
      return out
    }
    const moves: Move[][] = []
    for (let from = -1; from < stages.length; from++) {
      const list: Move[] = []
      for (let y = from + 1; y < stages.length; y++) {
        list.push({
          to: y,
          strict: stages[y].contiguity === 'strict',
          relaxed: stages[y].contiguity === 'relaxed',
          notNext: between(from, y, 'notNext'),
          notFollowedBy: between(from, y, 'notFollowedBy'),
        })
        if (stages[y].min > 0) break
      }
      moves.push(list)
    }
    this.#moves = moves
    const skip = pattern.skip
    this.#skipStage =
      skip.kind === 'skipToFirst' || skip.kind === 'skipToLast'
        ? stages.findIndex((s) => s.name === skip.stage)
        : -1
    this.inertPassesUnseen =
      stages.every(
        (s, i) => (i === 0 || s.contiguity !== 'strict') && (s.max === 1 || s.inner !== 'strict'),
      ) && pattern.negations.every((ns) => ns.every((n) => n.kind !== 'notNext'))
    this.#condMemo = new Uint8Array(stages.length)
    this.#untilMemo = new Uint8Array(stages.length)
    this.#negationMemo = new Uint8Array(negations.length)
    this.#ctx = { events: (name) => this.#eventsOf(name) }
    this.#probe = {
      events: () => {
        this.#probeLooked = true
        return []
      },
    }
  }

  /** The context of the step's partial match: the values its stage `name` took, a new array each call. */
  #eventsOf(name: string): V[] {
    const p = this.#current
    const out: V[] = []
    if (p === null) return out
    const i = this.#stageIndex.get(name) ?? -1
    for (const [s, e] of p.taken) if (s === i) out.push(e.value)
    return out
  }

  /**
   * Whether `value` satisfies no condition of the pattern (no stage's, until's or negation's), each deciding without
   * looking at the events of a partial match: then no partial match, whatever it holds, can take it.
   */
  isInert(value: V): boolean {
    for (const s of this.#stages) {
      if (this.#wants(s.condition, value)) return false
      if (s.until !== null && this.#wants(s.until, value)) return false
    }
    for (const c of this.#negations) if (this.#wants(c, value)) return false
    return true
  }

  /** Whether `c` holds for `value`, or could with some partial match (it looked at the events). */
  #wants(c: Condition<V>, value: V): boolean {
    this.#probeLooked = false
    try {
      return c(value, this.#probe) || this.#probeLooked
    } catch {
      return true // it looked and failed on the empty context, most likely; the real step will tell
    }
  }

  #begin(p: PartialMatch<V> | null, value: V): void {
    this.#current = p
    this.#value = value
    this.#condMemo.fill(UNKNOWN)
    this.#untilMemo.fill(UNKNOWN)
    this.#negationMemo.fill(UNKNOWN)
  }

  #cond(stage: number): boolean {
    let m = this.#condMemo[stage]
    if (m === UNKNOWN)
      this.#condMemo[stage] = m = this.#stages[stage].condition(this.#value as V, this.#ctx) ? 1 : 0
    return m === 1
  }

  #until(stage: number): boolean {
    const until = this.#stages[stage].until
    if (until === null) return false
    let m = this.#untilMemo[stage]
    if (m === UNKNOWN) this.#untilMemo[stage] = m = until(this.#value as V, this.#ctx) ? 1 : 0
    return m === 1
  }

  #anyNegation(list: readonly number[]): boolean {
    for (const j of list) {
      let m = this.#negationMemo[j]
      if (m === UNKNOWN) this.#negationMemo[j] = m = this.#negations[j](this.#value as V, this.#ctx) ? 1 : 0
      if (m === 1) return true
    }
    return false
  }

  #inTime(p: PartialMatch<V>, e: CepEvent<V>): boolean {
    return this.#within === null || p.taken.length === 0 || e.ts - p.taken[0][1].ts < this.#within
  }

  #take(p: PartialMatch<V> | null, stage: number, e: CepEvent<V>): PartialMatch<V> {
    const count = p !== null && p.stage === stage ? p.count + 1 : 1
    const taken: [number, CepEvent<V>][] = p === null ? [] : p.taken.slice()
    taken.push([stage, e])
    const s = this.#stages[stage]
    return {
      taken,
      stage,
      count,
      fresh: true,
      loop: count < s.max,
      proceed: new Array<boolean>(this.#moves[stage + 1].length).fill(true),
      matched: stage === this.#stages.length - 1 && count >= s.min,
    }
  }

  isComplete(p: PartialMatch<V>): boolean {
    return p.stage === this.#stages.length - 1 && p.count >= this.#stages[p.stage].min
  }

  /**
   * What `p` (null: a new match) becomes when `e` comes: the matches it extends to go to `out`, and it is returned,
   * changed in place, if it lives on.
   */
  #step(p: PartialMatch<V> | null, e: CepEvent<V>, out: PartialMatch<V>[]): PartialMatch<V> | null {
    this.#begin(p, e.value)
    if (p === null) {
      for (const m of this.#moves[0]) if (this.#cond(m.to)) out.push(this.#take(null, m.to, e))
      return null
    }
    const s = this.#stages[p.stage]
    const inTime = this.#inTime(p, e)
    const loops =
      p.loop && (s.inner !== 'strict' || p.fresh) && inTime && !this.#until(p.stage) && this.#cond(p.stage)
    if (loops) out.push(this.#take(p, p.stage, e))
    const canProceed = p.count >= s.min
    const moves = this.#moves[p.stage + 1]
    const greedy = s.greedy && loops
    if (canProceed && inTime) {
      for (let i = 0; i < moves.length; i++) {
        const m = moves[i]
        if (!p.proceed[i] || (m.strict && !p.fresh)) continue
        if (p.fresh && this.#anyNegation(m.notNext)) continue
        if (!greedy && this.#cond(m.to)) out.push(this.#take(p, m.to, e))
      }
    }
    // passed by: what that rules out from now on
    const loop =
      p.loop &&
      s.inner !== 'strict' &&
      !(s.inner === 'relaxed' && this.#cond(p.stage)) &&
      !this.#until(p.stage)
    let proceeds = false
    if (canProceed) {
      // (while the stage has not its minimum, every move stays possible: set again once it has)
      const proceed = p.proceed
      for (let i = 0; i < moves.length; i++) {
        const m = moves[i]
        const still =
          proceed[i] &&
          !m.strict &&
          !(m.relaxed && this.#cond(m.to)) &&
          !(p.fresh && this.#anyNegation(m.notNext)) &&
          !this.#anyNegation(m.notFollowedBy)
        proceed[i] = still
        proceeds ||= still
      }
    }
    if (!loop && !proceeds) return null
    p.fresh = false
    p.loop = loop
    return p
  }

  /** Times out the partial matches that can take no event at or after `time`. */
  expire(
    partials: PartialMatch<V>[],
    time: number,
  ): { live: PartialMatch<V>[]; timeouts: readonly PartialMatch<V>[] } {
    const within = this.#within
    if (within === null) return { live: partials, timeouts: NONE }
    let i = 0
    while (i < partials.length && partials[i].taken[0][1].ts + within > time) i++
    if (i === partials.length) return { live: partials, timeouts: NONE }
    const live: PartialMatch<V>[] = partials.slice(0, i)
    const timeouts: PartialMatch<V>[] = []
    for (; i < partials.length; i++) {
      const p = partials[i]
      if (p.taken[0][1].ts + within <= time) {
        if (!p.matched) timeouts.push(p)
      } else live.push(p)
    }
    return { live, timeouts }
  }

  /**
   * Feeds one event (events come in seq order, non-decreasing ts). Returns what lives on, which replaces
   * `partials`: the partial matches in it that live on are changed in place.
   */
  process(
    partials: PartialMatch<V>[],
    e: CepEvent<V>,
  ): { partials: PartialMatch<V>[]; result: StepResult<V> } {
    const { live, timeouts } =
      partials.length === 0 ? { live: partials, timeouts: NONE } : this.expire(partials, e.ts)
    const next: PartialMatch<V>[] = []
    const grown: PartialMatch<V>[] = []
    for (const p of live) {
      const stays = this.#step(p, e, grown)
      if (stays !== null) next.push(stays)
    }
    this.#step(null, e, grown)
    this.#current = null
    this.#value = undefined
    if (grown.length === 0) return { partials: next, result: { matches: NONE, timeouts } }
    const complete: PartialMatch<V>[] = []
    for (const g of grown) {
      if (g.matched) complete.push(g)
      if (!g.matched || g.loop) next.push(g)
    }
    if (complete.length === 0) return { partials: next, result: { matches: NONE, timeouts } }
    if (complete.length > 1) complete.sort(emissionOrder)
    if (this.#skip.kind === 'noSkip') return { partials: next, result: { matches: complete, timeouts } }
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
    const skip = this.#skip
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
        const i = this.#skipStage
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
  const x = a.taken
  const y = b.taken
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) if (x[i][1].seq !== y[i][1].seq) return x[i][1].seq - y[i][1].seq
  if (x.length !== y.length) return x.length - y.length
  for (let i = 0; i < n; i++) if (x[i][0] !== y[i][0]) return x[i][0] - y[i][0]
  return 0
}

/** Compares two matches given as [stage, seq] pairs in the order described at emissionOrder. */
export function compareTaken(a: readonly [number, number][], b: readonly [number, number][]): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i][1] !== b[i][1]) return a[i][1] - b[i][1]
  if (a.length !== b.length) return a.length - b.length
  for (let i = 0; i < n; i++) if (a[i][0] !== b[i][0]) return a[i][0] - b[i][0]
  return 0
}
