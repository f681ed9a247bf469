// Query 1, currency conversion: every bid with its price in euros (0.908 × the dollar price).
import type { Stream } from '../../../src/index.ts'
import type { Bid, NexmarkEvent } from '../model.ts'
import type { BidRow } from './q0.ts'

export function q1(events: Stream<null, NexmarkEvent>): Stream<null, BidRow> {
  return events
    .filter((e) => e.kind === 'bid')
    .map((e) => {
      const b = e as Bid
      return {
        auction: b.auction,
        bidder: b.bidder,
        price: 0.908 * b.price,
        dateTime: b.dateTime,
        extra: b.extra,
      }
    })
}
