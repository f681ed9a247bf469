// The traffic simulator behaves like a web site's traffic, reproducibly: seeded, at the asked rate with bursts,
// sessions of several pages with think times, Zipf page popularity, and delayed, late and malformed events in the
// asked shares and shapes.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkClick } from '../../../apps/clickstream/click.ts'
import {
  DEFAULT_START,
  generateClicks,
  type SimEvent,
  sitePages,
} from '../../../apps/clickstream/simulator.ts'

const HALF_HOUR = 30 * 60_000
const events = generateClicks({ seed: 11, rate: 50, durationMs: HALF_HOUR })
const parsed = (e: SimEvent) => JSON.parse(e.line) as Record<string, unknown>
const valid = events.filter((e) => e.kind !== 'malformed')
const share = (kind: SimEvent['kind']) => events.filter((e) => e.kind === kind).length / events.length

describe('traffic simulator', () => {
  it('is reproducible from its seed', () => {
    const a = generateClicks({ seed: 3, rate: 20, durationMs: 60_000 })
    assert.deepEqual(generateClicks({ seed: 3, rate: 20, durationMs: 60_000 }), a)
    assert.notDeepEqual(generateClicks({ seed: 4, rate: 20, durationMs: 60_000 }), a)
  })

  it('sends in arrival order, within the duration, each valid event keyed by its user', () => {
    for (let i = 1; i < events.length; i++) assert.ok(events[i].at >= events[i - 1].at)
    assert.ok(events[0].at >= DEFAULT_START && events.at(-1)!.at < DEFAULT_START + HALF_HOUR)
    for (const e of valid) {
      const v = parsed(e)
      assert.equal(e.key, v.user)
      assert.ok(checkClick(v).ok, e.line)
    }
  })

  it('keeps the mean rate, with bursts well above it', () => {
    const rate = events.length / (HALF_HOUR / 1000)
    assert.ok(Math.abs(rate - 50) < 5, `${rate} events/s`)
    const perTenSeconds = new Array(HALF_HOUR / 10_000).fill(0)
    for (const e of events) perTenSeconds[Math.floor((e.at - DEFAULT_START) / 10_000)]++
    const sorted = [...perTenSeconds].sort((a, b) => a - b)
    assert.ok(
      sorted.at(-1) > 1.6 * sorted[sorted.length >> 1],
      `peak ${sorted.at(-1)}, median ${sorted[sorted.length >> 1]}`,
    )
  })

  it('makes sessions of several pages with think times between them', () => {
    const bySession = new Map<string, number[]>()
    for (const e of valid) {
      const v = parsed(e)
      const list = bySession.get(v.session as string) ?? []
      list.push(v.ts as number)
      bySession.set(v.session as string, list)
    }
    const sizes = [...bySession.values()].map((l) => l.length)
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length
    assert.ok(mean > 3.5 && mean < 6, `${mean} pages per session`)
    const gaps = [...bySession.values()].flatMap((l) => {
      const ts = [...l].sort((a, b) => a - b)
      return ts.slice(1).map((t, i) => t - ts[i])
    })
    assert.ok(gaps.every((g) => g >= 500))
    const meanGap = gaps.reduce((a, b) => a + b, 0) / gaps.length
    assert.ok(meanGap > 8_000 && meanGap < 12_000, `${meanGap} ms between pages`)
  })

  it('draws pages from a Zipf distribution over a few hundred URLs', () => {
    const counts = new Map<string, number>()
    for (const e of valid)
      counts.set(parsed(e).page as string, (counts.get(parsed(e).page as string) ?? 0) + 1)
    assert.ok(counts.size > 250 && counts.size <= 300, `${counts.size} pages`)
    const pages = sitePages(300)
    let harmonic = 0
    for (let k = 1; k <= 300; k++) harmonic += 1 / k ** 1.1
    for (const rank of [0, 1, 4]) {
      const expected = 1 / (rank + 1) ** 1.1 / harmonic
      const got = (counts.get(pages[rank]) ?? 0) / valid.length
      assert.ok(Math.abs(got - expected) < 0.1 * expected, `rank ${rank}: ${got} vs ${expected}`)
    }
  })

  it('delays some events by seconds and a few past the allowed lateness', () => {
    const delay = (e: SimEvent) => e.at - (parsed(e).ts as number)
    for (const e of events.filter((x) => x.kind === 'click')) assert.ok(delay(e) >= 0 && delay(e) <= 250)
    for (const e of events.filter((x) => x.kind === 'delayed'))
      assert.ok(delay(e) >= 1_000 && delay(e) <= 8_000)
    for (const e of events.filter((x) => x.kind === 'late'))
      assert.ok(delay(e) >= 80_000 && delay(e) <= 150_000)
    assert.ok(Math.abs(share('delayed') - 0.05) < 0.01, `${share('delayed')} delayed`)
    assert.ok(Math.abs(share('late') - 0.005) < 0.002, `${share('late')} late`)
  })

  it('makes a small share malformed, in every way the pipeline must catch', () => {
    const malformed = events.filter((e) => e.kind === 'malformed')
    assert.ok(Math.abs(share('malformed') - 0.01) < 0.003, `${share('malformed')} malformed`)
    const kinds = new Set(malformed.map((e) => e.malformed))
    assert.deepEqual([...kinds].sort(), ['invalid-json', 'missing-field', 'not-an-object', 'wrong-type'])
    for (const e of malformed) {
      if (e.malformed === 'invalid-json') {
        assert.throws(() => JSON.parse(e.line))
        assert.equal(e.key, undefined)
        continue
      }
      const c = checkClick(JSON.parse(e.line))
      assert.ok(!c.ok && c.problem.code === e.malformed, `${e.line}: ${JSON.stringify(c)}`)
    }
  })
})
