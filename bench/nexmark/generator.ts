// The Nexmark event generator, reimplemented to give the same events as the reference (Beam's Nexmark Generator,
// which nexmark/nexmark's NexmarkGenerator derives from): event ids interleave 1 person, 3 auctions and 46 bids in
// every 50, each event's fields come from a java.util.Random seeded with its event id, and event times come from
// the configured rate (base time + event number × inter-event delay), never from the wall clock.
import type { Rec } from '../../src/index.ts'
import { JavaRandom } from './java-random.ts'
import {
  AUCTION_PROPORTION,
  type Auction,
  type Bid,
  DEFAULT_CONFIG,
  FIRST_AUCTION_ID,
  FIRST_CATEGORY_ID,
  FIRST_PERSON_ID,
  type GeneratorConfig,
  type NexmarkEvent,
  PERSON_PROPORTION,
  type Person,
  PROPORTION_DENOMINATOR,
} from './model.ts'

const US_STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']
const US_CITIES = [
  'Phoenix',
  'Los Angeles',
  'San Francisco',
  'Boise',
  'Portland',
  'Bend',
  'Redmond',
  'Seattle',
  'Kent',
  'Cheyenne',
]
const FIRST_NAMES = [
  'Peter',
  'Paul',
  'Luke',
  'John',
  'Saul',
  'Vicky',
  'Kate',
  'Julie',
  'Sarah',
  'Deiter',
  'Walter',
]
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris']
/** "First Last" for every pair, indexed first * LAST_NAMES.length + last. */
const NAMES = FIRST_NAMES.flatMap((f) => LAST_NAMES.map((l) => `${f} ${l}`))

const MIN_STRING_LENGTH = 3
const PERSON_ID_LEAD = 10
const AUCTION_ID_LEAD = 10
const HOT_SELLER_RATIO = 100
const HOT_AUCTION_RATIO = 100
const HOT_BIDDER_RATIO = 100
const NUM_CATEGORIES = 5
const TWO_31_MINUS_1 = 2_147_483_647

/** Last person id (base 0) at this event id: the current one when the event is a person. */
export function lastBase0PersonId(eventId: number): number {
  const epoch = Math.floor(eventId / PROPORTION_DENOMINATOR)
  let offset = eventId % PROPORTION_DENOMINATOR
  if (offset >= PERSON_PROPORTION) offset = PERSON_PROPORTION - 1
  return epoch * PERSON_PROPORTION + offset
}

/** Last auction id (base 0) at this event id: the current one when the event is an auction (-1 before any). */
export function lastBase0AuctionId(eventId: number): number {
  let epoch = Math.floor(eventId / PROPORTION_DENOMINATOR)
  let offset = eventId % PROPORTION_DENOMINATOR
  if (offset < PERSON_PROPORTION) {
    epoch--
    offset = AUCTION_PROPORTION - 1
  } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
    offset = AUCTION_PROPORTION - 1
  } else {
    offset -= PERSON_PROPORTION
  }
  return epoch * AUCTION_PROPORTION + offset
}

/** LongGenerator.nextLong: nextInt(n) below 2^31 - 1, else |nextLong() % n| (skewed, as the reference). */
function nextLong(random: JavaRandom, n: number): number {
  if (n < TWO_31_MINUS_1) return random.nextIntBounded(n)
  const r = random.nextLong() % BigInt(n)
  return Number(r < 0n ? -r : r)
}

function nextPrice(random: JavaRandom): number {
  return Math.round(10 ** (random.nextDouble() * 6) * 100)
}

/**
 * The characters of every string of a batch of events, in one buffer: a batch decodes it once, and each field is a
 * slice of that string. Building short strings one by one costs more than generating the random numbers in them.
 */
class Arena {
  bytes = Buffer.allocUnsafe(1 << 17)
  pos = 0

  reserve(n: number): void {
    if (this.pos + n <= this.bytes.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.pos + n))
    this.bytes.copy(grown, 0, 0, this.pos)
    this.bytes = grown
  }
}

/** StringsGenerator.nextString: 3 to maxLength - 1 letters and spaces, trimmed. */
function nextString(random: JavaRandom, maxLength: number, a: Arena): void {
  const len = MIN_STRING_LENGTH + random.nextIntBounded(maxLength - MIN_STRING_LENGTH)
  a.reserve(len)
  const b = a.bytes
  const p = a.pos
  for (let i = p; i < p + len; i++)
    b[i] = random.nextIntBounded(13) === 0 ? 32 : 97 + random.nextIntBounded(26)
  let s = p
  let e = p + len
  while (s < e && b[s] === 32) s++
  while (e > s && b[e - 1] === 32) e--
  if (s > p) b.copyWithin(p, s, e)
  a.pos = p + (e - s)
}

// The letters of three base-26 digits of any int in (-26^3, 26^3), packed in the low 3 bytes, by int + 26^3 - 1.
// A negative int has negative digits (Java's % and / truncate), and so letters below 'a'.
const CUBE = 26 * 26 * 26
const TRIGRAMS = new Int32Array(2 * CUBE - 1)
for (let d = -(CUBE - 1); d < CUBE; d++) {
  const d1 = (d / 26) | 0
  const d2 = (d1 / 26) | 0
  TRIGRAMS[d + CUBE - 1] = (97 + (d % 26)) | ((97 + (d1 % 26)) << 8) | ((97 + (d2 % 26)) << 16)
}

/** StringsGenerator.nextExactString: six letters from each nextInt(), its base-26 digits (below 'a' if negative). */
function nextExactString(random: JavaRandom, length: number, a: Arena): void {
  a.reserve(length + 6)
  const b = a.bytes
  let p = a.pos
  const end = p + length
  // whole groups of six letters a trigram at a time; the last group may write past `end`, which is not kept
  while (p < end) {
    const rnd = random.nextInt()
    const low = TRIGRAMS[(rnd % CUBE) + CUBE - 1]
    const high = TRIGRAMS[(((rnd / CUBE) | 0) % CUBE) + CUBE - 1]
    b[p] = low
    b[p + 1] = low >> 8
    b[p + 2] = low >> 16
    b[p + 3] = high
    b[p + 4] = high >> 8
    b[p + 5] = high >> 16
    p += 6
  }
  a.pos = end
}

/** StringsGenerator.nextExtra: a string bringing currentSize to desiredAverageSize on average (±20%). */
function nextExtra(random: JavaRandom, currentSize: number, desiredAverageSize: number, a: Arena): void {
  if (currentSize > desiredAverageSize) return
  const wanted = desiredAverageSize - currentSize
  const delta = Math.round(wanted * 0.2)
  const minSize = wanted - delta
  nextExactString(random, minSize + (delta === 0 ? 0 : random.nextIntBounded(2 * delta)), a)
}

function writeAscii(text: string, a: Arena): void {
  a.reserve(text.length)
  for (let i = 0; i < text.length; i++) a.bytes[a.pos + i] = text.charCodeAt(i)
  a.pos += text.length
}

/** Four groups of four digits (String.format("%04d")), space-separated. */
function nextCreditCard(random: JavaRandom, a: Arena): void {
  a.reserve(19)
  const b = a.bytes
  for (let g = 0; g < 4; g++) {
    let n = random.nextIntBounded(10000)
    const p = a.pos + g * 5
    for (let d = 3; d >= 0; d--) {
      b[p + d] = 48 + (n % 10)
      n = Math.floor(n / 10)
    }
    if (g < 3) b[p + 4] = 32
  }
  a.pos += 19
}

const SPANS_PER_EVENT = 6
const BATCH = 1024

export class NexmarkGenerator {
  readonly config: GeneratorConfig
  readonly #random = new JavaRandom()
  /** Microseconds of event time between two events of this generator (a double, as nexmark/nexmark). */
  readonly #delayUs: number
  readonly #arena = new Arena()
  /** Start and end of each string field of each event of the batch, in the arena. */
  readonly #spans = new Int32Array(BATCH * SPANS_PER_EVENT)
  readonly #batch: NexmarkEvent[] = []
  #batchPos = 0
  #count = 0

  constructor(config: Partial<GeneratorConfig> = {}) {
    this.config = { ...DEFAULT_CONFIG, ...config }
    this.#delayUs = (1_000_000 / this.config.eventsPerSecond) * this.config.numEventGenerators
  }

  /** Events returned so far. */
  get count(): number {
    return this.#count - (this.#batch.length - this.#batchPos)
  }

  hasNext(): boolean {
    return this.#batchPos < this.#batch.length || this.#count < this.config.maxEvents
  }

  next(): NexmarkEvent {
    if (this.#batchPos === this.#batch.length) this.#fill()
    return this.#batch[this.#batchPos++]
  }

  /** Event time of an event number: baseTime + ⌊number × delayUs⌋ / 1000, in whole milliseconds. */
  timestampForEvent(eventNumber: number): number {
    return this.config.baseTime + Math.trunc(Math.trunc(eventNumber * this.#delayUs) / 1000)
  }

  /** The event number after `count` events, moved within its out-of-order group. */
  adjustedEventNumber(count: number): number {
    const n = this.config.outOfOrderGroupSize
    const eventNumber = this.config.firstEventNumber + count
    if (n === 1) return eventNumber
    return Math.floor(eventNumber / n) * n + ((eventNumber * 953) % n)
  }

  /** The watermark after `count` events: the time of the first event of the current out-of-order group. */
  watermarkAfter(count: number): number {
    const n = this.config.outOfOrderGroupSize
    return this.timestampForEvent(Math.floor((this.config.firstEventNumber + count) / n) * n)
  }

  /** Generates the next batch: numbers first, strings into the arena, then one decode and a slice per field. */
  #fill(): void {
    const batch = this.#batch
    batch.length = 0
    this.#batchPos = 0
    const a = this.#arena
    a.pos = 0
    const spans = this.#spans
    const random = this.#random
    const n = Math.min(BATCH, this.config.maxEvents - this.#count)
    for (let i = 0; i < n; i++) {
      const count = this.#count++
      const adjusted = this.adjustedEventNumber(count)
      const timestamp = this.timestampForEvent(adjusted)
      const eventId = this.config.firstEventId + adjusted
      random.setSeed(eventId)
      const rem = eventId % PROPORTION_DENOMINATOR
      const at = i * SPANS_PER_EVENT
      if (rem < PERSON_PROPORTION) batch.push(this.#person(eventId, random, timestamp, spans, at))
      else if (rem < PERSON_PROPORTION + AUCTION_PROPORTION)
        batch.push(this.#auction(count, eventId, random, timestamp, spans, at))
      else batch.push(this.#bid(eventId, random, timestamp, spans, at))
    }
    const text = a.bytes.toString('latin1', 0, a.pos)
    for (let i = 0; i < n; i++) {
      const e = batch[i]
      const at = i * SPANS_PER_EVENT
      if (e.kind === 'bid') e.extra = text.slice(spans[at], spans[at + 1])
      else if (e.kind === 'person') {
        e.emailAddress = text.slice(spans[at], spans[at + 1])
        e.creditCard = text.slice(spans[at + 2], spans[at + 3])
        e.extra = text.slice(spans[at + 4], spans[at + 5])
      } else {
        e.itemName = text.slice(spans[at], spans[at + 1])
        e.description = text.slice(spans[at + 2], spans[at + 3])
        e.extra = text.slice(spans[at + 4], spans[at + 5])
      }
    }
  }

  #nextBase0PersonId(eventId: number, random: JavaRandom): number {
    // any of the active people, or a few not created yet (a bid or auction may come before its person)
    const numPeople = lastBase0PersonId(eventId) + 1
    const activePeople = Math.min(numPeople, this.config.numActivePeople)
    return numPeople - activePeople + nextLong(random, activePeople + PERSON_ID_LEAD)
  }

  #nextBase0AuctionId(eventId: number, random: JavaRandom): number {
    const maxAuction = lastBase0AuctionId(eventId)
    const minAuction = Math.max(maxAuction - this.config.numInFlightAuctions, 0)
    return minAuction + nextLong(random, maxAuction - minAuction + 1 + AUCTION_ID_LEAD)
  }

  #person(eventId: number, random: JavaRandom, timestamp: number, spans: Int32Array, at: number): Person {
    const a = this.#arena
    const id = lastBase0PersonId(eventId) + FIRST_PERSON_ID
    const name =
      NAMES[
        random.nextIntBounded(FIRST_NAMES.length) * LAST_NAMES.length +
          random.nextIntBounded(LAST_NAMES.length)
      ]
    spans[at] = a.pos
    nextString(random, 7, a)
    writeAscii('@', a)
    nextString(random, 5, a)
    writeAscii('.com', a)
    spans[at + 1] = spans[at + 2] = a.pos
    nextCreditCard(random, a)
    spans[at + 3] = a.pos
    const city = US_CITIES[random.nextIntBounded(US_CITIES.length)]
    const state = US_STATES[random.nextIntBounded(US_STATES.length)]
    const size = 8 + name.length + (spans[at + 1] - spans[at]) + 19 + city.length + state.length
    spans[at + 4] = a.pos
    nextExtra(random, size, this.config.avgPersonByteSize, a)
    spans[at + 5] = a.pos
    return {
      kind: 'person',
      id,
      name,
      emailAddress: '',
      creditCard: '',
      city,
      state,
      dateTime: timestamp,
      extra: '',
    }
  }

  #auction(
    count: number,
    eventId: number,
    random: JavaRandom,
    timestamp: number,
    spans: Int32Array,
    at: number,
  ): Auction {
    const c = this.config
    const a = this.#arena
    const id = lastBase0AuctionId(eventId) + FIRST_AUCTION_ID
    // most auctions are by the current hot seller: the first of the last HOT_SELLER_RATIO people
    const seller =
      (random.nextIntBounded(c.hotSellersRatio) > 0
        ? Math.floor(lastBase0PersonId(eventId) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        : this.#nextBase0PersonId(eventId, random)) + FIRST_PERSON_ID
    const category = FIRST_CATEGORY_ID + random.nextIntBounded(NUM_CATEGORIES)
    const initialBid = nextPrice(random)
    const expires = timestamp + this.#auctionLengthMs(count, random, timestamp)
    spans[at] = a.pos
    nextString(random, 20, a)
    spans[at + 1] = spans[at + 2] = a.pos
    nextString(random, 100, a)
    spans[at + 3] = a.pos
    const reserve = initialBid + nextPrice(random)
    const size = 8 + (spans[at + 1] - spans[at]) + (spans[at + 3] - spans[at + 2]) + 8 + 8 + 8 + 8 + 8
    spans[at + 4] = a.pos
    nextExtra(random, size, c.avgAuctionByteSize, a)
    spans[at + 5] = a.pos
    return {
      kind: 'auction',
      id,
      itemName: '',
      description: '',
      initialBid,
      reserve,
      dateTime: timestamp,
      expires,
      seller,
      category,
      extra: '',
    }
  }

  /** On average, the time until numInFlightAuctions more auctions have been created. */
  #auctionLengthMs(count: number, random: JavaRandom, timestamp: number): number {
    const c = this.config
    const current = this.adjustedEventNumber(count)
    const eventsForAuctions = Math.floor(
      (c.numInFlightAuctions * PROPORTION_DENOMINATOR) / AUCTION_PROPORTION,
    )
    const horizonMs = this.timestampForEvent(current + eventsForAuctions) - timestamp
    return 1 + nextLong(random, Math.max(horizonMs * 2, 1))
  }

  #bid(eventId: number, random: JavaRandom, timestamp: number, spans: Int32Array, at: number): Bid {
    const c = this.config
    const auction =
      (random.nextIntBounded(c.hotAuctionRatio) > 0
        ? Math.floor(lastBase0AuctionId(eventId) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
        : this.#nextBase0AuctionId(eventId, random)) + FIRST_AUCTION_ID
    // hot bidders are the second of the last HOT_BIDDER_RATIO people, so they are not the hot seller
    const bidder =
      (random.nextIntBounded(c.hotBiddersRatio) > 0
        ? Math.floor(lastBase0PersonId(eventId) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
        : this.#nextBase0PersonId(eventId, random)) + FIRST_PERSON_ID
    const price = nextPrice(random)
    const a = this.#arena
    spans[at] = a.pos
    nextExtra(random, 8 + 8 + 8 + 8, c.avgBidByteSize, a)
    spans[at + 1] = a.pos
    return { kind: 'bid', auction, bidder, price, dateTime: timestamp, extra: '' }
  }
}

/** The events of a generator as records (key null, event time as timestamp), for `p.fromRecords`. */
export function recordsOf(gen: NexmarkGenerator): Iterable<Rec<null, NexmarkEvent>> {
  return {
    [Symbol.iterator]() {
      // one result object for the whole run: for-of reads it before asking for the next
      const result = { done: false, value: undefined as unknown as Rec<null, NexmarkEvent> }
      return {
        next() {
          if (!gen.hasNext()) {
            result.done = true
            return result
          }
          const value = gen.next()
          result.value = { key: null, value, timestamp: value.dateTime }
          return result
        },
      }
    },
  }
}

/** The first `config.maxEvents` events as records, from a new generator on each iteration. */
export function nexmarkRecords(config: Partial<GeneratorConfig> = {}): Iterable<Rec<null, NexmarkEvent>> {
  return { [Symbol.iterator]: () => recordsOf(new NexmarkGenerator(config))[Symbol.iterator]() }
}
