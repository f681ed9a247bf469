// Query 7, highest bid: the bids with the highest price of each 10 s tumbling window. One aggregation over a single
// key keeps the window's highest price and the bids that have it, which is what nexmark-flink's join of the bids
// with the window maximum (B.price = maxprice) gives.
import type { Aggregator, Stream } from '../../../src/index.ts'
import { tumbling } from '../../../src/index.ts'
import type { Bid, NexmarkEvent } from '../model.ts'
import type { BidRow } from './q0.ts'

interface Highest {
  price: number
  bids: Bid[]
}

const highestBids: Aggregator<Bid, Highest, Bid[]> = {
  name: 'highest-bids',
  init: () => ({ price: Number.NEGATIVE_INFINITY, bids: [] }),
  add: (acc, b) => {
    if (b.price > acc.price) {
      acc.price = b.price
      acc.bids = [b]
    } else if (b.price === acc.price) acc.bids.push(b)
    return acc
  },
  merge: (a, b) =>
    a.price > b.price ? a : b.price > a.price ? b : { price: a.price, bids: [...a.bids, ...b.bids] },
  result: (acc) => acc.bids,
}

export function q7(events: Stream<null, NexmarkEvent>): Stream<unknown, BidRow> {
  return events
    .filter((e) => e.kind === 'bid')
    .keyBy(() => 0, { name: 'q7-all' })
    .window(tumbling('10s'), { name: 'q7-highest' })
    .aggregate(highestBids as Aggregator<NexmarkEvent, Highest, Bid[]>)
    .flatMap((bids) =>
      bids.map((b) => ({
        auction: b.auction,
        price: b.price,
        bidder: b.bidder,
        dateTime: b.dateTime,
        extra: b.extra,
      })),
    )
}
