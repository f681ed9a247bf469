// Query 0, pass-through: every bid, projected to its columns (nexmark-flink's `SELECT auction, bidder, price,
// dateTime, extra FROM bid`). Measures the cost of moving records through the engine.
import type { Stream } from '../../../src/index.ts'
import type { Bid, NexmarkEvent } from '../model.ts'

export interface BidRow {
  auction: number
  bidder: number
  price: number
  dateTime: number
  extra: string
}

export function q0(events: Stream<null, NexmarkEvent>): Stream<null, BidRow> {
  return events
    .filter((e) => e.kind === 'bid')
    .map((e) => {
      const b = e as Bid
      return { auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra }
    })
}
