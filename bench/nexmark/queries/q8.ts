// Query 8, monitor new users: people who opened an auction in the same 10 s tumbling window as they registered.
// nexmark-flink joins two windowed groupings on (id, window); here persons and auctions share one tumbling window
// per person id whose aggregate notes the person's name and whether an auction was seen, and windows with both
// are the join's rows.
import type { Aggregator, Stream } from '../../../src/index.ts'
import { tumbling } from '../../../src/index.ts'
import type { Auction, NexmarkEvent, Person } from '../model.ts'

export interface NewUser {
  id: number
  name: string
  starttime: number
}

interface Seen {
  name: string | null
  auction: boolean
}

const personAndAuction: Aggregator<Person | Auction, Seen, Seen> = {
  name: 'person-and-auction',
  init: () => ({ name: null, auction: false }),
  add: (acc, e) => {
    if (e.kind === 'person') acc.name = e.name
    else acc.auction = true
    return acc
  },
  merge: (a, b) => ({ name: a.name ?? b.name, auction: a.auction || b.auction }),
  result: (acc) => acc,
}

export function q8(events: Stream<null, NexmarkEvent>): Stream<unknown, NewUser> {
  return events
    .filter((e) => e.kind !== 'bid')
    .keyBy((e) => (e.kind === 'person' ? e.id : (e as Auction).seller), { name: 'q8-by-person' })
    .window(tumbling('10s'), { name: 'q8-window' })
    .aggregate(personAndAuction as Aggregator<NexmarkEvent, Seen, Seen>)
    .filter((s) => s.name !== null && s.auction)
    .map((s, w) => ({ id: w.key, name: s.name as string, starttime: w.start }))
}
