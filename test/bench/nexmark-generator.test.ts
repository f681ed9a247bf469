// The Nexmark generator against the reference (values from the JDK: java.util.Random and the reference generator
// run on OpenJDK 17), its interleaving and event times, and each query on a small stream under the test driver
// against a naive computation over the same events.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { NexmarkGenerator, nexmarkRecords } from '../../bench/nexmark/generator.ts'
import { JavaRandom } from '../../bench/nexmark/java-random.ts'
import type { Auction, Bid, GeneratorConfig, NexmarkEvent, Person } from '../../bench/nexmark/model.ts'
import { BASE_TIME } from '../../bench/nexmark/model.ts'
import { QUERIES } from '../../bench/nexmark/queries/index.ts'
import { pipeline } from '../../src/index.ts'
import { TestDriver } from '../../src/testing/index.ts'

function events(config: Partial<GeneratorConfig>): NexmarkEvent[] {
  return [...nexmarkRecords(config)].map((r) => r.value)
}

/** One line per event, fields in the reference's order, as the reference run printed them. */
function line(e: NexmarkEvent): string {
  switch (e.kind) {
    case 'person':
      return ['P', e.id, e.name, e.emailAddress, e.creditCard, e.city, e.state, e.dateTime, e.extra].join('|')
    case 'auction':
      return [
        'A',
        e.id,
        e.itemName,
        e.description,
        e.initialBid,
        e.reserve,
        e.dateTime,
        e.expires,
        e.seller,
        e.category,
        e.extra,
      ].join('|')
    default:
      return ['B', e.auction, e.bidder, e.price, e.dateTime, e.extra].join('|')
  }
}

function digest(config: Partial<GeneratorConfig>): string {
  const text = `${events(config).map(line).join('\n')}\n`
  return createHash('sha256').update(text, 'latin1').digest('hex')
}

describe('java.util.Random', () => {
  // new Random(seed), then nextInt(), nextInt(13), nextInt(26), nextInt(2), nextInt(10000), nextInt(1 << 20),
  // nextDouble(), nextLong(), as the JDK gives them
  const jdk: [number, number[], number, bigint][] = [
    [0, [-1155484576, 5, 23, 1, 3515, 324063], 0.5504370051176339, -7423979211207825555n],
    [42, [-1170105035, 7, 22, 0, 9970, 987835], 0.27707849007413665, -6169532649852302182n],
    [1000, [-1244746321, 10, 16, 0, 9792, 16701], 0.039405954311386604, 8972678576892185188n],
    [123456789012, [59424925, 0, 10, 0, 9834, 260083], 0.547905829432608, 8843920621934995009n],
  ]
  for (const [seed, ints, double, long] of jdk) {
    it(`gives the JDK's numbers for seed ${seed}`, () => {
      const r = new JavaRandom(seed)
      const got = [r.nextInt(), ...[13, 26, 2, 10000, 1 << 20].map((b) => r.nextIntBounded(b))]
      assert.deepEqual(got, ints)
      assert.equal(r.nextDouble(), double)
      assert.equal(r.nextLong(), long)
    })
  }
})

describe('Nexmark generator', () => {
  it('gives the reference first events, field by field', () => {
    const [p, a0, a1, a2, b0, b1] = events({ maxEvents: 6 }) as [Person, Auction, Auction, Auction, Bid, Bid]
    assert.deepEqual(
      { ...p, extra: p.extra.length },
      {
        kind: 'person',
        id: 1000,
        name: 'Peter Jones',
        emailAddress: 'nhd@xcat.com',
        creditCard: '7241 7320 9143 4888',
        city: 'Portland',
        state: 'WY',
        dateTime: BASE_TIME,
        extra: 156,
      },
    )
    assert.ok(p.extra.startsWith('WN_HS_bnpkkiwhwana_L^`KZjdgsid`K]MLU[aaOH`ztxbulvlxtkn'))
    assert.deepEqual(
      { ...a0, extra: a0.extra.length },
      {
        kind: 'auction',
        id: 1000,
        itemName: 'wkx mgee',
        description: 'eszpqxtdxrvwmmywkmogoahf',
        initialBid: 28873,
        reserve: 29448,
        dateTime: BASE_TIME,
        expires: BASE_TIME + 11,
        seller: 1000,
        category: 13,
        extra: 346,
      },
    )
    assert.deepEqual(
      [a1.id, a1.initialBid, a1.reserve, a1.expires - BASE_TIME, a1.category],
      [1001, 25626290, 28805847, 202, 12],
    )
    assert.deepEqual(
      [a2.id, a2.itemName, a2.initialBid, a2.reserve, a2.expires - BASE_TIME, a2.category, a2.extra.length],
      [1002, 'gxycmhtobprpd', 267, 422398, 1, 10, 407],
    )
    assert.deepEqual(
      { ...b0, extra: b0.extra.length },
      {
        kind: 'bid',
        auction: 1000,
        bidder: 1001,
        price: 32530001,
        dateTime: BASE_TIME,
        extra: 77,
      },
    )
    assert.equal(b0.extra, 'fdiysaV^]NLVsbolvyqwgticfdrwdyiyofziYMU\\Z`UaTQO][NX\\RM]WPYTOuwogvszlxjrcNOORM')
    assert.deepEqual([b1.auction, b1.bidder, b1.price], [1000, 1009, 468715])
  })

  it('gives the reference stream: digests of the first 10,000 events of three configurations', () => {
    // sha256 of the lines printed by the reference generator (java.util.Random seeded by event id)
    assert.equal(
      digest({ maxEvents: 10_000, eventsPerSecond: 10_000 }),
      'c92404d985772f786605dc1f44737cb60ac87650890e089408343ce29738daab',
    )
    assert.equal(
      digest({ maxEvents: 10_000, eventsPerSecond: 1000 }),
      '4f656abb77ab55390a15dc150c3d521a04b2f0c655bc5235fb019f9e692d86b7',
    )
    assert.equal(
      digest({
        maxEvents: 5000,
        eventsPerSecond: 10_000_000,
        numEventGenerators: 4,
        outOfOrderGroupSize: 500,
      }),
      '7107f16769db6fc8119f5d508fca0f0189cc08d6b817507521e0e67e8b0e66e6',
    )
  })

  it('interleaves exactly 1 person, 3 auctions and 46 bids in every 50 events, with consecutive ids', () => {
    const all = events({ maxEvents: 50_000 })
    let person = 1000
    let auction = 1000
    for (let block = 0; block < all.length; block += 50) {
      const kinds = all.slice(block, block + 50).map((e) => e.kind)
      assert.deepEqual(kinds, ['person', 'auction', 'auction', 'auction', ...Array(46).fill('bid')])
      assert.equal((all[block] as Person).id, person++)
      for (let i = 1; i <= 3; i++) assert.equal((all[block + i] as Auction).id, auction++)
    }
    // bids name auctions and people that exist or are about to (a lead of at most 10)
    for (let i = 0; i < all.length; i++) {
      const e = all[i]
      if (e.kind !== 'bid') continue
      const lastAuction = 1000 + Math.floor(i / 50) * 3 + 2
      assert.ok(e.auction <= lastAuction + 10, `bid ${i} names auction ${e.auction}`)
      assert.ok(e.bidder <= 1000 + Math.floor(i / 50) + 10)
    }
  })

  it('times events from the rate, not the clock: base time + event number × 1/rate, monotone', () => {
    for (const rate of [10_000, 1000, 8]) {
      const all = events({ maxEvents: 20_000, eventsPerSecond: rate })
      all.forEach((e, n) => {
        assert.equal(e.dateTime, BASE_TIME + Math.floor((n * 1000) / rate), `event ${n} at rate ${rate}`)
      })
    }
    // the delay is a double of microseconds, truncated as the reference does: 99 × 333,333.33… µs is 32,999 ms
    assert.equal(events({ maxEvents: 100, eventsPerSecond: 3 })[99].dateTime, BASE_TIME + 32_999)
    const g = new NexmarkGenerator({ eventsPerSecond: 10_000_000, numEventGenerators: 4 })
    assert.equal(g.timestampForEvent(2_500_000), BASE_TIME + 1000) // 0.4 µs per event of this generator
  })

  it('makes the hot auction, seller and bidder the most frequent (ratios 2, 4, 4)', () => {
    const all = events({ maxEvents: 100_000 })
    let bids = 0
    let hotAuction = 0
    let hotBidder = 0
    all.forEach((e, i) => {
      if (e.kind !== 'bid') return
      bids++
      // the first of the last 100 auctions; the second of the last 100 people
      if (e.auction === 1000 + Math.floor((Math.floor(i / 50) * 3 + 2) / 100) * 100) hotAuction++
      if (e.bidder === 1000 + Math.floor(Math.floor(i / 50) / 100) * 100 + 1) hotBidder++
    })
    // 1 - 1/ratio of them by choice, plus the few random picks that land on the hot one
    assert.ok(hotAuction / bids > 0.5 && hotAuction / bids < 0.56, `hot auction share ${hotAuction / bids}`)
    assert.ok(hotBidder / bids > 0.75 && hotBidder / bids < 0.8, `hot bidder share ${hotBidder / bids}`)
    const auctions = all.filter((e): e is Auction => e.kind === 'auction')
    const hotSeller = auctions.filter((a) => (a.seller - 1000) % 100 === 0).length / auctions.length
    assert.ok(hotSeller > 0.74 && hotSeller < 0.8, `hot seller share ${hotSeller}`)
  })
})

/** Runs a query over the generator's events under the test driver and returns its results in order. */
function run(query: string, config: Partial<GeneratorConfig>): unknown[] {
  const p = pipeline(`test-${query}`)
  const out: unknown[] = []
  QUERIES[query](p.fromRecords('events', () => nexmarkRecords(config))).forEach((v) => {
    out.push(v)
  })
  new TestDriver(p).start()
  return out
}

const sorted = <T>(xs: T[]): T[] => [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
const WINDOW = 10_000

describe('Nexmark queries against naive computations', () => {
  // 60,000 events at 1,000 a second: a minute of event time, six 10 s windows, thirty 2 s slides
  const config = { maxEvents: 60_000, eventsPerSecond: 1000 }
  const all = events(config)
  const bids = all.filter((e): e is Bid => e.kind === 'bid')
  const auctions = all.filter((e): e is Auction => e.kind === 'auction')
  const persons = all.filter((e): e is Person => e.kind === 'person')

  it('q0 passes every bid through', () => {
    const want = bids.map(({ auction, bidder, price, dateTime, extra }) => ({
      auction,
      bidder,
      price,
      dateTime,
      extra,
    }))
    assert.deepEqual(run('q0', config), want)
  })

  it('q1 converts prices', () => {
    const want = bids.map((b) => ({ ...b, kind: undefined, price: 0.908 * b.price }))
    const got = run('q1', config) as Record<string, unknown>[]
    assert.deepEqual(
      got,
      want.map(({ kind: _, ...rest }) => rest),
    )
  })

  it('q2 selects bids of every 123rd auction', () => {
    const want = bids
      .filter((b) => b.auction % 123 === 0)
      .map((b) => ({ auction: b.auction, price: b.price }))
    assert.ok(want.length > 0)
    assert.deepEqual(run('q2', config), want)
  })

  it('q3 joins sellers in OR, ID, CA with their category-10 auctions', () => {
    const sellers = new Map(persons.filter((p) => ['OR', 'ID', 'CA'].includes(p.state)).map((p) => [p.id, p]))
    const want = auctions.flatMap((a) => {
      const p = sellers.get(a.seller)
      return a.category === 10 && p !== undefined
        ? [{ name: p.name, city: p.city, state: p.state, id: a.id }]
        : []
    })
    assert.ok(want.length > 0)
    assert.deepEqual(sorted(run('q3', config)), sorted(want))
  })

  it('q4 ends with the average best price per category', () => {
    const totals = new Map<number, [number, number]>()
    for (const a of auctions) {
      let best: number | null = null
      for (const b of bids) {
        if (b.auction === a.id && b.dateTime >= a.dateTime && b.dateTime <= a.expires)
          best = best === null ? b.price : Math.max(best, b.price)
      }
      if (best === null) continue
      const t = totals.get(a.category) ?? [0, 0]
      totals.set(a.category, [t[0] + best, t[1] + 1])
    }
    const last = new Map<number, number>()
    for (const r of run('q4', config) as { category: number; avg: number }[]) last.set(r.category, r.avg)
    assert.deepEqual([...last.keys()].sort(), [...totals.keys()].sort())
    for (const [category, [sum, count]] of totals) {
      const got = last.get(category)!
      assert.ok(
        Math.abs(got - sum / count) <= 1e-9 * (sum / count),
        `category ${category}: ${got} vs ${sum / count}`,
      )
    }
  })

  it('q5 finds the auctions with the most bids of every 10 s window, every 2 s', () => {
    const want: { auction: number; num: number; start: number; end: number }[] = []
    const first = Math.floor(bids[0].dateTime / 2000) * 2000 - WINDOW + 2000
    for (let start = first; start <= bids[bids.length - 1].dateTime; start += 2000) {
      const counts = new Map<number, number>()
      for (const b of bids) {
        if (b.dateTime >= start && b.dateTime < start + WINDOW)
          counts.set(b.auction, (counts.get(b.auction) ?? 0) + 1)
      }
      if (counts.size === 0) continue
      const max = Math.max(...counts.values())
      for (const [auction, num] of counts)
        if (num === max) want.push({ auction, num, start, end: start + WINDOW })
    }
    assert.deepEqual(sorted(run('q5', config)), sorted(want))
  })

  it('q7 finds the highest bids of every 10 s window', () => {
    const byWindow = new Map<number, Bid[]>()
    for (const b of bids) {
      const w = Math.floor(b.dateTime / WINDOW)
      byWindow.set(w, [...(byWindow.get(w) ?? []), b])
    }
    const want = [...byWindow.values()].flatMap((ws) => {
      const max = Math.max(...ws.map((b) => b.price))
      return ws
        .filter((b) => b.price === max)
        .map((b) => ({
          auction: b.auction,
          price: b.price,
          bidder: b.bidder,
          dateTime: b.dateTime,
          extra: b.extra,
        }))
    })
    assert.deepEqual(sorted(run('q7', config)), sorted(want))
  })

  it('q8 finds people who opened an auction in the 10 s window they registered in', () => {
    const want = persons.flatMap((p) => {
      const w = Math.floor(p.dateTime / WINDOW)
      return auctions.some((a) => a.seller === p.id && Math.floor(a.dateTime / WINDOW) === w)
        ? [{ id: p.id, name: p.name, starttime: w * WINDOW }]
        : []
    })
    assert.ok(want.length > 0)
    assert.deepEqual(sorted(run('q8', config)), sorted(want))
  })
})
