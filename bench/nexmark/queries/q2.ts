// Query 2, selection: the auction and price of bids on every 123rd auction (`WHERE MOD(auction, 123) = 0`).
import type { Stream } from '../../../src/index.ts'
import type { Bid, NexmarkEvent } from '../model.ts'

export const AUCTION_SKIP = 123

export interface AuctionPrice {
  auction: number
  price: number
}

export function q2(events: Stream<null, NexmarkEvent>): Stream<null, AuctionPrice> {
  return events
    .filter((e) => e.kind === 'bid' && e.auction % AUCTION_SKIP === 0)
    .map((e) => {
      const b = e as Bid
      return { auction: b.auction, price: b.price }
    })
}
