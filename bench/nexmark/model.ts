// The Nexmark data model (people, auctions, bids) and the generator's configuration, with the reference defaults
// (Beam's NexmarkConfiguration; nexmark/nexmark's GeneratorConfig). Times are epoch milliseconds.

export interface Person {
  readonly kind: 'person'
  id: number
  name: string
  emailAddress: string
  creditCard: string
  city: string
  state: string
  dateTime: number
  extra: string
}

export interface Auction {
  readonly kind: 'auction'
  id: number
  itemName: string
  description: string
  initialBid: number
  reserve: number
  dateTime: number
  expires: number
  seller: number
  category: number
  extra: string
}

export interface Bid {
  readonly kind: 'bid'
  auction: number
  bidder: number
  price: number
  dateTime: number
  extra: string
}

export type NexmarkEvent = Person | Auction | Bid

export const FIRST_PERSON_ID = 1000
export const FIRST_AUCTION_ID = 1000
export const FIRST_CATEGORY_ID = 10

/** Out of every PROPORTION_DENOMINATOR event ids: 1 person, then 3 auctions, then 46 bids. */
export const PERSON_PROPORTION = 1
export const AUCTION_PROPORTION = 3
export const BID_PROPORTION = 46
export const PROPORTION_DENOMINATOR = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION

/** Beam's fixed base time (2015-07-15T00:00:00Z), so that runs see the same event times. */
export const BASE_TIME = Date.UTC(2015, 6, 15)

export interface GeneratorConfig {
  /** Event time of event number 0. */
  baseTime: number
  /** Events per second of event time, over all generators (firstEventRate). */
  eventsPerSecond: number
  /** Generators sharing the rate; each advances its own timeline by numEventGenerators / rate per event. */
  numEventGenerators: number
  /** Added to the event number to give the event id (the seed of each event's data). */
  firstEventId: number
  firstEventNumber: number
  maxEvents: number
  avgPersonByteSize: number
  avgAuctionByteSize: number
  avgBidByteSize: number
  /** A bid is for the current hot auction unless nextInt(hotAuctionRatio) is 0: with 2, half the bids. */
  hotAuctionRatio: number
  hotSellersRatio: number
  hotBiddersRatio: number
  numActivePeople: number
  numInFlightAuctions: number
  /** 1: in order. n: every n events are emitted in a pseudo-random order (event number * 953 mod n). */
  outOfOrderGroupSize: number
}

export const DEFAULT_CONFIG: GeneratorConfig = {
  baseTime: BASE_TIME,
  eventsPerSecond: 10_000,
  numEventGenerators: 1,
  firstEventId: 0,
  firstEventNumber: 0,
  maxEvents: 100_000,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numActivePeople: 1000,
  numInFlightAuctions: 100,
  outOfOrderGroupSize: 1,
}
