// Each construct of the pattern language and each after-match skip strategy on a hand-written sequence, with the
// matches worked out by hand from docs/cep.md ("Semantics"), in emission order. Events are tokens like `a1`: the
// letter is what conditions test. The property test (nfa.property.test.ts) covers combinations at random.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Nfa, type PartialMatch } from '../../src/cep/nfa.ts'
import { afterMatch, type Pattern, pattern } from '../../src/cep/pattern.ts'

type Ev = string
const is =
  (...letters: string[]) =>
  (e: Ev) =>
    letters.includes(e[0])

/** The matches of `p` over the tokens (timestamps: their index, or `@t` after a token), as "stage:ids" strings. */
function matches(p: Pattern<Ev>, stream: string): string[] {
  const nfa = new Nfa(p)
  let partials: PartialMatch<Ev>[] = []
  const out: string[] = []
  stream
    .split(' ')
    .filter((t) => t !== '')
    .forEach((token, seq) => {
      const [value, at] = token.split('@')
      const r = nfa.process(partials, { seq, ts: at === undefined ? seq : Number(at), value })
      partials = r.partials
      for (const m of r.result.matches) {
        out.push(
          Object.entries(nfa.groups(m))
            .map(([stage, events]) => `${stage}:${events.join(',')}`)
            .join(' '),
        )
      }
    })
  return out
}

const a = () => pattern<Ev>('a').where(is('a'))

describe('CEP constructs on hand-written sequences', () => {
  it('next: the very next event', () => {
    assert.deepEqual(matches(a().next('b').where(is('b')), 'a1 c1 b1 a2 b2'), ['a:a2 b:b2'])
  })

  it('followedBy: the first matching event after', () => {
    assert.deepEqual(matches(a().followedBy('b').where(is('b')), 'a1 c1 b1 b2'), ['a:a1 b:b1'])
    assert.deepEqual(matches(a().followedBy('b').where(is('b')), 'a1 a2 b1'), ['a:a1 b:b1', 'a:a2 b:b1'])
  })

  it('followedByAny: every matching event after', () => {
    assert.deepEqual(matches(a().followedByAny('b').where(is('b')), 'a1 c1 b1 b2'), [
      'a:a1 b:b1',
      'a:a1 b:b2',
    ])
  })

  it('notNext: the event right after must not match', () => {
    const p = a().notNext('no-c').where(is('c')).followedBy('b').where(is('b'))
    assert.deepEqual(matches(p, 'a1 c1 b1 a2 d1 b2'), ['a:a2 b:b2'])
  })

  it('notFollowedBy: no matching event in between', () => {
    const p = a().notFollowedBy('no-c').where(is('c')).followedBy('b').where(is('b'))
    assert.deepEqual(matches(p, 'a1 d1 b1 a2 c1 b2'), ['a:a1 b:b1'])
  })

  it('or: either condition', () => {
    const p = pattern<Ev>('a').where(is('a')).or(is('x')).followedBy('b').where(is('b'))
    assert.deepEqual(matches(p, 'x1 b1'), ['a:x1 b:b1'])
  })

  it('until: a loop stops at the first event that satisfies it', () => {
    const p = a().oneOrMore().until(is('c')).followedBy('b').where(is('b'))
    assert.deepEqual(matches(p, 'a1 a2 c1 a3 b1'), ['a:a1,a2 b:b1', 'a:a1 b:b1', 'a:a2 b:b1', 'a:a3 b:b1'])
  })

  it('times(n) and times(from, to)', () => {
    assert.deepEqual(matches(a().times(2).followedBy('b').where(is('b')), 'a1 a2 a3 b1'), [
      'a:a1,a2 b:b1',
      'a:a2,a3 b:b1',
    ])
    assert.deepEqual(matches(a().times(1, 2).followedBy('b').where(is('b')), 'a1 a2 b1'), [
      'a:a1,a2 b:b1',
      'a:a1 b:b1',
      'a:a2 b:b1',
    ])
  })

  it('oneOrMore and timesOrMore as the last stage: a match at every event the loop takes', () => {
    assert.deepEqual(matches(a().followedBy('b').where(is('b')).oneOrMore(), 'a1 b1 c1 b2'), [
      'a:a1 b:b1',
      'a:a1 b:b1,b2',
    ])
    assert.deepEqual(matches(a().followedBy('b').where(is('b')).timesOrMore(2), 'a1 b1 b2 b3'), [
      'a:a1 b:b1,b2',
      'a:a1 b:b1,b2,b3',
    ])
  })

  it('optional: with or without the stage', () => {
    const p = a().followedBy('b').where(is('b')).optional().followedBy('c').where(is('c'))
    assert.deepEqual(matches(p, 'a1 c1 a2 b1 c2'), [
      'a:a1 c:c1',
      'a:a1 b:b1 c:c2',
      'a:a2 b:b1 c:c2',
      'a:a2 c:c2',
    ])
  })

  it('greedy: the loop keeps an event the next stage could also take', () => {
    const loose = a().followedBy('b').where(is('b')).oneOrMore()
    const p = (l: Pattern<Ev>) => l.followedBy('c').where(is('b', 'c'))
    assert.deepEqual(matches(p(loose), 'a1 b1 b2 c1'), ['a:a1 b:b1 c:b2', 'a:a1 b:b1,b2 c:c1'])
    assert.deepEqual(matches(p(loose.greedy()), 'a1 b1 b2 c1'), ['a:a1 b:b1,b2 c:c1'])
  })

  it('within: every event less than the bound after the first', () => {
    const p = a().followedBy('b').where(is('b')).within(10)
    assert.deepEqual(matches(p, 'a1@0 b1@12 a2@20 b2@25'), ['a:a2 b:b2'])
  })

  it('consecutive and allowCombinations: strict and non-deterministic inner contiguity', () => {
    const loop = () => a().followedBy('b').where(is('b')).oneOrMore()
    const end = (l: Pattern<Ev>) => l.followedBy('c').where(is('c'))
    assert.deepEqual(matches(end(loop()), 'a1 b1 x1 b2 c1'), ['a:a1 b:b1,b2 c:c1', 'a:a1 b:b1 c:c1'])
    assert.deepEqual(matches(end(loop().consecutive()), 'a1 b1 x1 b2 c1'), ['a:a1 b:b1 c:c1'])
    assert.deepEqual(matches(end(loop().allowCombinations()), 'a1 b1 b2 b3 c1'), [
      'a:a1 b:b1,b2,b3 c:c1',
      'a:a1 b:b1,b2 c:c1',
      'a:a1 b:b1,b3 c:c1',
      'a:a1 b:b1 c:c1',
    ])
  })
})

describe('after-match skip strategies', () => {
  const bs = () => pattern<Ev>('b').where(is('b')).oneOrMore().followedBy('c').where(is('c'))
  const stream = 'b1 b2 b3 c1'

  it('noSkip: every match', () => {
    assert.deepEqual(matches(bs(), stream), [
      'b:b1,b2,b3 c:c1',
      'b:b1,b2 c:c1',
      'b:b1 c:c1',
      'b:b2,b3 c:c1',
      'b:b2 c:c1',
      'b:b3 c:c1',
    ])
  })

  it('skipToNext: drops the matches that started with the same event', () => {
    assert.deepEqual(matches(bs().afterMatch(afterMatch.skipToNext()), stream), [
      'b:b1,b2,b3 c:c1',
      'b:b2,b3 c:c1',
      'b:b3 c:c1',
    ])
  })

  it('skipPastLastEvent: drops every match that started before the end of the emitted one', () => {
    assert.deepEqual(matches(bs().afterMatch(afterMatch.skipPastLastEvent()), stream), ['b:b1,b2,b3 c:c1'])
  })

  it('skipToLast(stage): drops the matches that started before the last event of that stage', () => {
    assert.deepEqual(matches(bs().afterMatch(afterMatch.skipToLast('b')), stream), [
      'b:b1,b2,b3 c:c1',
      'b:b3 c:c1',
    ])
  })

  it('skipToFirst(stage): drops the matches that started before the first event of that stage', () => {
    const p = pattern<Ev>('s').where(is('s')).followedByAny('m').where(is('m')).followedBy('e').where(is('e'))
    assert.deepEqual(matches(p, 's1 s2 m1 e1'), ['s:s1 m:m1 e:e1', 's:s2 m:m1 e:e1'])
    assert.deepEqual(matches(p.afterMatch(afterMatch.skipToFirst('m')), 's1 s2 m1 e1'), ['s:s1 m:m1 e:e1'])
  })
})
