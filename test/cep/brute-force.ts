// The reference matcher for the CEP tests: every subsequence of a short stream of one key's events is tried against
// the pattern's definition (docs/cep.md, "Semantics") directly, with no automaton; then the matches are put in
// emission order and the after-match skip strategy is applied.
import { compareTaken } from '../../src/cep/nfa.ts'
import type { MatchContext, Pattern } from '../../src/cep/pattern.ts'

export interface RefEvent<V> {
  ts: number
  value: V
}

/** A match as [stage index, event index] pairs. */
export type RefMatch = [number, number][]

export function bruteForce<V>(pattern: Pattern<V>, events: readonly RefEvent<V>[]): RefMatch[] {
  pattern.check()
  const stages = pattern.stages
  const within = pattern.withinMs
  const last = stages.length - 1
  const reachable = (from: number) => {
    const out: number[] = []
    for (let y = from + 1; y < stages.length; y++) {
      out.push(y)
      if (stages[y].min > 0) break
    }
    return out
  }
  const negations = (from: number, to: number, kind: string) =>
    pattern.negations.slice(from + 1, to + 1).flatMap((ns) => ns.filter((n) => n.kind === kind))
  const context = (taken: RefMatch): MatchContext<V> => ({
    events: (name) => {
      const i = stages.findIndex((s) => s.name === name)
      return taken.filter(([s]) => s === i).map(([, e]) => events[e].value)
    },
  })
  const between = (a: number, b: number, test: (i: number) => boolean) => {
    for (let c = a + 1; c < b; c++) if (test(c)) return true
    return false
  }

  /** Whether the loop of `stage` may take event b after its last event a (count events so far). */
  const loopMove = (taken: RefMatch, stage: number, count: number, a: number, b: number) => {
    const s = stages[stage]
    const ctx = context(taken)
    if (count >= s.max) return false
    if (!s.condition(events[b].value, ctx)) return false
    if (s.inner === 'strict' && b !== a + 1) return false
    if (s.inner === 'relaxed' && between(a, b, (c) => s.condition(events[c].value, ctx))) return false
    if (s.until !== null && between(a, b + 1, (c) => s.until!(events[c].value, ctx))) return false
    return true
  }

  const out: RefMatch[] = []
  const extend = (taken: RefMatch, stage: number, count: number) => {
    if (stage === last && count >= stages[last].min) out.push(taken)
    const a = taken.length === 0 ? -1 : taken[taken.length - 1][1]
    const first = taken.length === 0 ? null : events[taken[0][1]].ts
    const ctx = context(taken)
    for (let b = a + 1; b < events.length; b++) {
      if (first !== null && within !== null && events[b].ts - first >= within) break
      if (taken.length > 0 && loopMove(taken, stage, count, a, b))
        extend([...taken, [stage, b]], stage, count + 1)
      if (taken.length > 0 && count < stages[stage].min) continue
      for (const y of reachable(taken.length === 0 ? -1 : stage)) {
        const s = stages[y]
        if (!s.condition(events[b].value, ctx)) continue
        if (taken.length > 0) {
          if (s.contiguity === 'strict' && b !== a + 1) continue
          if (s.contiguity === 'relaxed' && between(a, b, (c) => s.condition(events[c].value, ctx))) continue
          if (negations(stage, y, 'notNext').some((n) => n.condition(events[a + 1].value, ctx))) continue
          if (
            between(a, b, (c) =>
              negations(stage, y, 'notFollowedBy').some((n) => n.condition(events[c].value, ctx)),
            )
          )
            continue
          if (stages[stage].greedy && loopMove(taken, stage, count, a, b)) continue
        }
        extend([...taken, [y, b]], y, 1)
      }
    }
  }
  extend([], -1, 0)

  out.sort((x, y) => x[x.length - 1][1] - y[y.length - 1][1] || compareTaken(x, y))
  const emitted: RefMatch[] = []
  const skip = pattern.skip
  for (const m of out) {
    const start = m[0][1]
    const ruledOut = emitted.some((e) => {
      if (skip.kind === 'skipToNext') return start === e[0][1]
      if (skip.kind === 'skipPastLastEvent') return start <= e[e.length - 1][1]
      if (skip.kind === 'skipToFirst' || skip.kind === 'skipToLast') {
        const i = stages.findIndex((s) => s.name === skip.stage)
        const of = e.filter(([s]) => s === i)
        return of.length > 0 && start < (skip.kind === 'skipToFirst' ? of[0] : of[of.length - 1])[1]
      }
      return false // noSkip
    })
    if (!ruledOut) emitted.push(m)
  }
  return emitted
}
