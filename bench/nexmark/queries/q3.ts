// Query 3, local item suggestion: who sells in category 10 in Oregon, Idaho or California. An incremental join of
// persons and auctions on seller = id, as a keyed process function (the DSL's join is windowed; this one is not):
// a person is kept, an auction waits for its seller. Person ids are unique, so auctions that met their seller are
// dropped; persons are kept, as the regular join of nexmark-flink keeps its state.
import type { ProcessFunction, Stream } from '../../../src/index.ts'
import type { Auction, NexmarkEvent, Person } from '../model.ts'

export interface LocalItem {
  name: string
  city: string
  state: string
  id: number
}

const STATES = new Set(['OR', 'ID', 'CA'])

interface Seller {
  name: string
  city: string
  state: string
}

const joinSellers: ProcessFunction<number, Person | Auction, LocalItem> = {
  process(e, ctx) {
    const seller = ctx.valueState<Seller>('seller')
    const waiting = ctx.listState<number>('auctions')
    if (e.kind === 'person') {
      const s = { name: e.name, city: e.city, state: e.state }
      seller.set(s)
      for (const id of waiting.get()) ctx.emit({ ...s, id })
      waiting.clear()
      return
    }
    const s = seller.get()
    if (s === undefined) waiting.add(e.id)
    else ctx.emit({ name: s.name, city: s.city, state: s.state, id: e.id })
  },
}

export function q3(events: Stream<null, NexmarkEvent>): Stream<number, LocalItem> {
  return events
    .filter(
      (e) => (e.kind === 'person' && STATES.has(e.state)) || (e.kind === 'auction' && e.category === 10),
    )
    .keyBy((e) => (e.kind === 'person' ? e.id : (e as Auction).seller), { name: 'q3-by-person' })
    .process(joinSellers as ProcessFunction<number, NexmarkEvent, LocalItem>, { name: 'q3-join' })
}
