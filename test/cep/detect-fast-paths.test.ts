// Pattern detection's shortcuts against the automaton fed every event: events no condition wants are dropped on
// arrival when no move is strict, and time-out wake-ups are not moved at every event. For random patterns and
// random out-of-order keyed input, detect() in a pipeline gives, per key, the matches (in order), the time-outs and
// the late events of the automaton run over all of the key's on-time events in time order.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Nfa, type PartialMatch } from '../../src/cep/nfa.ts'
import { afterMatch, type Condition, type Pattern, pattern } from '../../src/cep/pattern.ts'
import { boundedOutOfOrderness, detect, type Match, pipeline, type TimedOut } from '../../src/index.ts'
import { TestDriver } from '../../src/testing/index.ts'

interface Ev {
  id: number
  key: string
  k: 'a' | 'b' | 'c' | 'd'
  n: number
  ts: number
}

interface StageSpec {
  letters: Ev['k'][]
  /** Iterative: n at least that of the stage before's last event (reads the match's events). */
  rising: boolean
  quantifier: 'once' | 'times' | 'oneOrMore'
  optional: boolean
  inner: 'relaxed' | 'strict' | 'any'
  contiguity: 'next' | 'followedBy' | 'followedByAny'
  negation: { kind: 'notNext' | 'notFollowedBy'; letter: Ev['k'] } | null
}

// 'd' is in no condition unless drawn: most streams have events that no condition wants
const letter = fc.constantFrom<Ev['k']>('a', 'b', 'c')
const stageSpec: fc.Arbitrary<StageSpec> = fc.record({
  letters: fc.uniqueArray(letter, { minLength: 1, maxLength: 2 }),
  rising: fc.boolean(),
  quantifier: fc.constantFrom('once', 'once', 'times', 'oneOrMore'),
  optional: fc.boolean(),
  inner: fc.constantFrom('relaxed', 'relaxed', 'strict', 'any'),
  contiguity: fc.constantFrom('followedBy', 'followedBy', 'followedByAny', 'next'),
  negation: fc.option(fc.record({ kind: fc.constantFrom('notNext', 'notFollowedBy'), letter }), {
    freq: 3,
    nil: null,
  }),
})
const spec = fc.record({
  stages: fc.array(stageSpec, { minLength: 1, maxLength: 3 }),
  within: fc.option(fc.integer({ min: 2, max: 20 }), { nil: null }),
  skip: fc.constantFrom('noSkip', 'skipToNext', 'skipPastLastEvent'),
})

function compile(s: { stages: StageSpec[]; within: number | null; skip: string }): Pattern<Ev> {
  let p: Pattern<Ev> | null = null
  s.stages.forEach((st, i) => {
    const name = `s${i}`
    if (p === null) p = pattern<Ev>(name)
    else {
      if (st.negation !== null) p = p[st.negation.kind](`not${i}`).where((e) => e.k === st.negation!.letter)
      p = p[st.contiguity](name)
    }
    const before = i === 0 ? null : `s${i - 1}`
    const cond: Condition<Ev> = (e, ctx) => {
      if (!st.letters.includes(e.k)) return false
      if (!st.rising || before === null) return true
      const last = ctx.events(before).at(-1)
      return last === undefined || e.n >= last.n
    }
    p = p.where(cond)
    if (st.quantifier === 'times') p = p.times(2)
    if (st.quantifier === 'oneOrMore') p = p.oneOrMore()
    if (st.quantifier !== 'once' && st.inner === 'strict') p = p.consecutive()
    if (st.quantifier !== 'once' && st.inner === 'any') p = p.allowCombinations()
    if (st.optional && i < s.stages.length - 1) p = p.optional()
  })
  let out = p! as Pattern<Ev>
  if (s.within !== null) out = out.within(s.within)
  return out.afterMatch(afterMatch[s.skip as 'noSkip' | 'skipToNext' | 'skipPastLastEvent']())
}

const input = fc
  .array(
    fc.record({
      key: fc.constantFrom('x', 'y'),
      k: fc.constantFrom<Ev['k']>('a', 'b', 'c', 'd', 'd'),
      n: fc.nat(3),
      ts: fc.nat(40),
    }),
    { maxLength: 25 },
  )
  .map((xs) => xs.map((x, id): Ev => ({ ...x, id })))

const ids = (m: { stages: Record<string, Ev[]> }) =>
  JSON.stringify(Object.entries(m.stages).map(([stage, evs]) => [stage, evs.map((e) => e.id)]))

/** Outputs as [key, ids, when]: when is the number of input records fed before it came out. */
type Out = [key: string, ids: string, when: number]

async function viaDetect(p: Pattern<Ev>, events: Ev[], delay: number) {
  const pipe = pipeline('fast-paths')
  const found = detect(
    pipe
      .source<string, Ev>('evs', {
        topic: 'evs',
        timestamp: (e) => e.ts,
        watermarks: boundedOutOfOrderness(delay),
      })
      .keyBy(null, { name: 'by-key' }),
    p,
    { name: 'detect' },
  )
  found.matches().to('matches')
  found.timeouts().to('timeouts')
  found.late().to('late')
  const d = new TestDriver(pipe)
  const matches: Out[] = []
  const timeouts: Out[] = []
  const late: number[] = []
  const read = (when: number) => {
    for (const r of d.readOutput<string, Match<Ev>>('matches')) matches.push([r.key, ids(r.value), when])
    for (const r of d.readOutput<string, TimedOut<Ev>>('timeouts')) timeouts.push([r.key, ids(r.value), when])
    for (const r of d.readOutput<string, Ev>('late')) late.push(r.value.id)
  }
  try {
    events.forEach((e, i) => {
      d.pipeInput('evs', [{ key: e.key, value: e }])
      read(i + 1)
    })
    d.endInput('evs')
    read(events.length + 1)
    return { matches, timeouts, late }
  } finally {
    await d.close()
  }
}

/**
 * The automaton over each key's on-time events in time order, then the end of time; each output comes out once the
 * watermark reaches the time it waits for (a match: its last event; a time-out: its first event + within - 1).
 */
function reference(p: Pattern<Ev>, events: Ev[], delay: number) {
  let max = Number.NEGATIVE_INFINITY
  const late: number[] = []
  const watermarks: number[] = []
  const byKey = new Map<string, Ev[]>()
  for (const e of events) {
    if (e.ts <= max - delay - 1) late.push(e.id)
    else byKey.set(e.key, [...(byKey.get(e.key) ?? []), e])
    max = Math.max(max, e.ts)
    watermarks.push(max - delay - 1)
  }
  const when = (time: number) => {
    const i = watermarks.findIndex((w) => w >= time)
    return i === -1 ? events.length + 1 : i + 1
  }
  const matches: Out[] = []
  const timeouts: Out[] = []
  for (const [key, evs] of byKey) {
    const nfa = new Nfa(p)
    const groups = (m: PartialMatch<Ev>) => ids({ stages: nfa.groups(m) })
    const timedOut = (t: PartialMatch<Ev>) =>
      timeouts.push([key, groups(t), when(t.taken[0][1].ts + p.withinMs! - 1)])
    let partials: PartialMatch<Ev>[] = []
    ;[...evs]
      .sort((a, b) => a.ts - b.ts)
      .forEach((e, seq) => {
        const r = nfa.process(partials, { seq, ts: e.ts, value: e })
        partials = r.partials
        for (const t of r.result.timeouts) timedOut(t)
        for (const m of r.result.matches) matches.push([key, groups(m), when(e.ts)])
      })
    for (const t of nfa.expire(partials, Number.POSITIVE_INFINITY).timeouts) timedOut(t)
  }
  return { late, matches, timeouts }
}

const byKey = (outs: Out[], key: string) => outs.filter((o) => o[0] === key)
const sorted = (outs: Out[]) => [...outs].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[2] - b[2]))

describe('pattern detection shortcuts', () => {
  it('give the automaton’s matches, time-outs and late events for random patterns and inputs', async () => {
    let dropped = 0
    await fc.assert(
      fc.asyncProperty(spec, input, fc.nat(6), async (s, events, delay) => {
        const p = compile(s)
        const nfa = new Nfa(p)
        if (nfa.inertPassesUnseen) dropped += events.filter((e) => nfa.isInert(e)).length
        const got = await viaDetect(p, events, delay)
        const want = reference(p, events, delay)
        assert.deepEqual(got.late, want.late)
        for (const key of ['x', 'y']) {
          // matches in order, each as soon as the watermark passes its last event; time-outs as soon as the
          // watermark reaches their end
          assert.deepEqual(byKey(got.matches, key), byKey(want.matches, key))
          assert.deepEqual(sorted(byKey(got.timeouts, key)), sorted(byKey(want.timeouts, key)))
        }
      }),
      { numRuns: 400 },
    )
    assert.ok(dropped > 500, `only ${dropped} events took the shortcut`)
  })

  it('drops only events that no condition wants without looking at the match, and only without strict moves', () => {
    const e = (k: Ev['k'], n = 0): Ev => ({ id: 0, key: 'x', k, n, ts: 0 })
    const relaxed = new Nfa(
      pattern<Ev>('a')
        .where((x) => x.k === 'a')
        .followedBy('b')
        .where((x, ctx) => x.n > ctx.events('a')[0].n)
        .notFollowedBy('no')
        .where((x) => x.k === 'c')
        .followedBy('c')
        .where((x) => x.k === 'b'),
    )
    assert.equal(relaxed.inertPassesUnseen, true)
    assert.equal(relaxed.isInert(e('d')), false, 'the condition of b reads the match')
    const contextFree = new Nfa(
      pattern<Ev>('a')
        .where((x) => x.k === 'a')
        .followedByAny('b')
        .where((x) => x.k === 'b')
        .oneOrMore()
        .until((x) => x.n === 3),
    )
    assert.equal(contextFree.isInert(e('d')), true)
    assert.equal(contextFree.isInert(e('d', 3)), false, 'until wants it')
    assert.equal(contextFree.isInert(e('b')), false)
    const strict = (q: Pattern<Ev>) => new Nfa(q).inertPassesUnseen
    const a = pattern<Ev>('a').where((x) => x.k === 'a')
    assert.equal(strict(a.next('b')), false)
    assert.equal(strict(a.times(2).consecutive().followedBy('b')), false)
    assert.equal(
      strict(
        a
          .notNext('n')
          .where((x) => x.k === 'c')
          .followedBy('b'),
      ),
      false,
    )
    assert.equal(strict(a.times(2).followedBy('b')), true)
  })
})
