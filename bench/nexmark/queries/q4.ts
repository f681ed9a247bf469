// Query 4, average closing price per category: the highest bid of each auction among bids made while it was open
// (A.dateTime <= B.dateTime <= A.expires), then the average of those per category, as an updating result (the
// join and both aggregations of nexmark-flink are unwindowed). Two keyed process functions compose it: one per
// auction keeps the auction and its best price, and sends each change of the best price on; one per category keeps
// a sum and a count, retracting the old best price of an auction when a new one replaces it.
// State is cleared by event-time timers once no bid can still match, which is exact for the in-order stream.
import type { ProcessFunction, Stream } from '../../../src/index.ts'
import type { Auction, Bid, NexmarkEvent } from '../model.ts'

export interface CategoryPrice {
  category: number
  avg: number
}

/** A new best price of an auction: `previous` is null for its first. */
interface BestPrice {
  category: number
  previous: number | null
  best: number
}

interface Open {
  category: number
  dateTime: number
  expires: number
  best: number | null
}

type EarlyBid = [price: number, dateTime: number]

function offer(open: Open, price: number, dateTime: number, emit: (b: BestPrice) => void): void {
  if (dateTime < open.dateTime || dateTime > open.expires) return
  if (open.best !== null && price <= open.best) return
  emit({ category: open.category, previous: open.best, best: price })
  open.best = price
}

const bestPerAuction: ProcessFunction<number, Auction | Bid, BestPrice> = {
  process(e, ctx) {
    const auction = ctx.valueState<Open>('auction')
    const early = ctx.listState<EarlyBid>('early')
    const emit = (b: BestPrice) => ctx.emit(b)
    if (e.kind === 'auction') {
      const open: Open = { category: e.category, dateTime: e.dateTime, expires: e.expires, best: null }
      // bids may name an auction a little before it is created; those in its lifetime join now
      for (const [price, dateTime] of early.get()) offer(open, price, dateTime, emit)
      early.clear()
      auction.set(open)
      ctx.registerEventTimeTimer(e.expires)
      return
    }
    const open = auction.get()
    if (open === undefined) {
      early.add([e.price, e.dateTime])
      ctx.registerEventTimeTimer(e.dateTime)
      return
    }
    const before = open.best
    offer(open, e.price, e.dateTime, emit)
    if (open.best !== before) auction.set(open)
  },
  onTimer(timestamp, ctx) {
    const auction = ctx.valueState<Open>('auction')
    const open = auction.get()
    if (open === undefined)
      ctx.listState<EarlyBid>('early').clear() // its auction would come too late for them
    else if (open.expires <= timestamp) auction.clear()
  },
}

const averagePerCategory: ProcessFunction<number, BestPrice, CategoryPrice> = {
  process(b, ctx) {
    const totals = ctx.valueState<[sum: number, count: number]>('totals')
    const t = totals.get() ?? [0, 0]
    if (b.previous === null) {
      t[0] += b.best
      t[1]++
    } else t[0] += b.best - b.previous
    totals.set(t)
    ctx.emit({ category: b.category, avg: t[0] / t[1] })
  },
}

export function q4(events: Stream<null, NexmarkEvent>): Stream<number, CategoryPrice> {
  return events
    .filter((e) => e.kind !== 'person')
    .keyBy((e) => (e.kind === 'auction' ? e.id : (e as Bid).auction), { name: 'q4-by-auction' })
    .process(bestPerAuction as ProcessFunction<number, NexmarkEvent, BestPrice>, { name: 'q4-best' })
    .keyBy((b) => b.category, { name: 'q4-by-category' })
    .process(averagePerCategory, { name: 'q4-average' })
}
