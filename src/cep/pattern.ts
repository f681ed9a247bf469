// The pattern language of complex event processing, as Flink CEP's: a sequence of named stages, each with a
// condition, a quantifier and how it follows the stage before (strict, relaxed, non-deterministic relaxed, or a
// negation). Builders are immutable: every call returns a new pattern. docs/cep.md describes the semantics.
import { SluiceError } from '../errors/index.ts'
import { type Duration, toMillis } from '../time/duration.ts'

/** The events a partial match holds so far, by stage name: what an iterative condition may look at. */
export interface MatchContext<V> {
  events(stage: string): readonly V[]
}

export type Condition<V> = (event: V, ctx: MatchContext<V>) => boolean

/** strict: the very next event; relaxed: the next event that matches; any: any later event that matches. */
export type Contiguity = 'strict' | 'relaxed' | 'any'

export interface Stage<V> {
  readonly name: string
  readonly condition: Condition<V>
  /** How the stage's first event follows the stage before (ignored for the first stage). */
  readonly contiguity: Contiguity
  /** How a looping stage's events follow one another. */
  readonly inner: Contiguity
  readonly min: number
  /** Infinity for oneOrMore / timesOrMore. */
  readonly max: number
  readonly greedy: boolean
  readonly until: Condition<V> | null
}

/** Between two stages: no event right after the stage before (notNext), or none before the next stage (notFollowedBy). */
export interface Negation<V> {
  readonly name: string
  readonly kind: 'notNext' | 'notFollowedBy'
  readonly condition: Condition<V>
}

export type SkipStrategy =
  | { readonly kind: 'noSkip' }
  | { readonly kind: 'skipToNext' }
  | { readonly kind: 'skipPastLastEvent' }
  | { readonly kind: 'skipToFirst'; readonly stage: string }
  | { readonly kind: 'skipToLast'; readonly stage: string }

/** After a match is emitted, which partial matches go on (Flink's AfterMatchSkipStrategy). */
export const afterMatch = {
  noSkip: (): SkipStrategy => ({ kind: 'noSkip' }),
  skipToNext: (): SkipStrategy => ({ kind: 'skipToNext' }),
  skipPastLastEvent: (): SkipStrategy => ({ kind: 'skipPastLastEvent' }),
  skipToFirst: (stage: string): SkipStrategy => ({ kind: 'skipToFirst', stage }),
  skipToLast: (stage: string): SkipStrategy => ({ kind: 'skipToLast', stage }),
}

interface Parts<V> {
  readonly stages: readonly Stage<V>[]
  /** negations[i]: the negations between stage i - 1 and stage i. */
  readonly negations: readonly (readonly Negation<V>[])[]
  /** A negation waiting for the stage it comes before. */
  readonly pending: readonly Negation<V>[]
  readonly within: number | null
  readonly skip: SkipStrategy
}

const always = () => true

function invalid(message: string): SluiceError {
  return new SluiceError('SLUICE_ERR_INVALID_PIPELINE', `pattern: ${message}`)
}

export class Pattern<V> {
  readonly #p: Parts<V>

  constructor(parts: Parts<V>) {
    this.#p = parts
  }

  get stages(): readonly Stage<V>[] {
    return this.#p.stages
  }
  get negations(): readonly (readonly Negation<V>[])[] {
    return this.#p.negations
  }
  get withinMs(): number | null {
    return this.#p.within
  }
  get skip(): SkipStrategy {
    return this.#p.skip
  }

  #names(): Set<string> {
    return new Set([...this.#p.stages.map((s) => s.name), ...this.#p.pending.map((n) => n.name)])
  }

  #stage(name: string, contiguity: Contiguity): Pattern<V> {
    if (this.#names().has(name)) throw invalid(`two stages are named ${JSON.stringify(name)}`)
    const stage: Stage<V> = {
      name,
      condition: always,
      contiguity,
      inner: 'relaxed',
      min: 1,
      max: 1,
      greedy: false,
      until: null,
    }
    return new Pattern({
      ...this.#p,
      stages: [...this.#p.stages, stage],
      negations: [...this.#p.negations, this.#p.pending],
      pending: [],
    })
  }

  #negation(name: string, kind: Negation<V>['kind']): Pattern<V> {
    if (this.#names().has(name)) throw invalid(`two stages are named ${JSON.stringify(name)}`)
    return new Pattern({ ...this.#p, pending: [...this.#p.pending, { name, kind, condition: always }] })
  }

  /** Changes the last stage (or the negation just added: its condition). */
  #last(change: (s: Stage<V>) => Partial<Stage<V>>, what: string): Pattern<V> {
    if (this.#p.pending.length > 0) throw invalid(`${what} cannot follow a negation; give it a where() only`)
    const stages = [...this.#p.stages]
    const last = stages[stages.length - 1]
    stages[stages.length - 1] = { ...last, ...change(last) }
    return new Pattern({ ...this.#p, stages })
  }

  #condition(combine: (old: Condition<V>, c: Condition<V>) => Condition<V>, c: Condition<V>): Pattern<V> {
    if (this.#p.pending.length > 0) {
      const pending = [...this.#p.pending]
      const n = pending[pending.length - 1]
      pending[pending.length - 1] = { ...n, condition: combine(n.condition, c) }
      return new Pattern({ ...this.#p, pending })
    }
    return this.#last((s) => ({ condition: combine(s.condition, c) }), 'where')
  }

  /** The stage's events must also satisfy `c`. */
  where(c: Condition<V>): Pattern<V> {
    return this.#condition((old, c) => (old === always ? c : (e, ctx) => old(e, ctx) && c(e, ctx)), c)
  }

  /** The stage's events may satisfy `c` instead of the conditions so far. */
  or(c: Condition<V>): Pattern<V> {
    return this.#condition((old, c) => (e, ctx) => old(e, ctx) || c(e, ctx), c)
  }

  /** A looping stage stops taking events at the first event (after its first) that satisfies `c`. */
  until(c: Condition<V>): Pattern<V> {
    return this.#last((s) => {
      if (s.max === 1) throw invalid(`until() of ${s.name} needs a looping stage (oneOrMore, timesOrMore)`)
      return { until: c }
    }, 'until')
  }

  /** Exactly n events, or between from and to. */
  times(from: number, to: number = from): Pattern<V> {
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to < from)
      throw invalid(`times(${from}, ${to}) needs whole numbers 1 <= from <= to`)
    return this.#last(() => ({ min: from, max: to }), 'times')
  }

  oneOrMore(): Pattern<V> {
    return this.#last(() => ({ min: 1, max: Number.POSITIVE_INFINITY }), 'oneOrMore')
  }

  timesOrMore(n: number): Pattern<V> {
    if (!Number.isInteger(n) || n < 1) throw invalid(`timesOrMore(${n}) needs a whole number >= 1`)
    return this.#last(() => ({ min: n, max: Number.POSITIVE_INFINITY }), 'timesOrMore')
  }

  /** The stage may match no event at all. */
  optional(): Pattern<V> {
    return this.#last(() => ({ min: 0 }), 'optional')
  }

  /** A looping stage takes every event it can, rather than let the next stage have it. */
  greedy(): Pattern<V> {
    return this.#last((s) => {
      if (s.max === 1) throw invalid(`greedy() of ${s.name} needs a looping stage`)
      return { greedy: true }
    }, 'greedy')
  }

  /** A looping stage's events must follow one another directly (strict inner contiguity). */
  consecutive(): Pattern<V> {
    return this.#last(() => ({ inner: 'strict' }), 'consecutive')
  }

  /** A looping stage's events may skip matching events (non-deterministic relaxed inner contiguity). */
  allowCombinations(): Pattern<V> {
    return this.#last(() => ({ inner: 'any' }), 'allowCombinations')
  }

  /** The next stage's first event comes right after this stage's last event. */
  next(name: string): Pattern<V> {
    return this.#stage(name, 'strict')
  }
  /** The next stage's first event is the first matching event after this stage. */
  followedBy(name: string): Pattern<V> {
    return this.#stage(name, 'relaxed')
  }
  /** The next stage's first event is any matching event after this stage (each one a match). */
  followedByAny(name: string): Pattern<V> {
    return this.#stage(name, 'any')
  }
  /** The event right after this stage's last event must not satisfy the negation's where(). */
  notNext(name: string): Pattern<V> {
    return this.#negation(name, 'notNext')
  }
  /** No event between this stage and the next may satisfy the negation's where(). */
  notFollowedBy(name: string): Pattern<V> {
    return this.#negation(name, 'notFollowedBy')
  }

  /** A match's events all lie less than `duration` after its first. */
  within(duration: Duration): Pattern<V> {
    const ms = toMillis(duration, 'within')
    if (ms <= 0) throw invalid(`within(${duration}) must be positive`)
    return new Pattern({ ...this.#p, within: ms })
  }

  afterMatch(skip: SkipStrategy): Pattern<V> {
    return new Pattern({ ...this.#p, skip })
  }

  /** Refuses the shapes whose matches would be ill-defined; called when the pattern is used. */
  check(): void {
    const { stages, pending, skip } = this.#p
    const last = stages[stages.length - 1]
    if (pending.length > 0) throw invalid(`it cannot end with ${pending[0].kind}(${pending[0].name})`)
    if (last.min === 0) throw invalid(`its last stage ${last.name} cannot be optional`)
    if (last.greedy) throw invalid(`its last stage ${last.name} cannot be greedy`)
    if (
      (skip.kind === 'skipToFirst' || skip.kind === 'skipToLast') &&
      !stages.some((s) => s.name === skip.stage)
    )
      throw invalid(`${skip.kind}(${skip.stage}) names no stage`)
  }
}

/** Starts a pattern with its first stage. */
export function pattern<V>(name: string): Pattern<V> {
  return new Pattern<V>({
    stages: [],
    negations: [],
    pending: [],
    within: null,
    skip: { kind: 'noSkip' },
  }).followedBy(name)
}
