// Query 5, hot items: the auctions with the most bids in each 10 s window, every 2 s. Bid counts per auction in
// hopping windows (kept as 2 s panes: a bid updates one pane, not five windows), then, keyed by window, the
// auctions whose count is the window's maximum, emitted when the watermark passes the window's end.
import { hopping, type ProcessFunction, type Stream } from '../../../src/index.ts'
import type { Bid, NexmarkEvent } from '../model.ts'

export interface HotItem {
  auction: number
  num: number
  start: number
  end: number
}

interface WindowBest {
  num: number
  auctions: number[]
}

const maxPerWindow: ProcessFunction<number, HotItem, HotItem> = {
  process(item, ctx) {
    const best = ctx.valueState<WindowBest>('best')
    const b = best.get()
    if (b === undefined) {
      best.set({ num: item.num, auctions: [item.auction] })
      ctx.registerEventTimeTimer(item.end - 1) // counts of a window arrive when it fires, all at once
    } else if (item.num > b.num) best.set({ num: item.num, auctions: [item.auction] })
    else if (item.num === b.num) {
      b.auctions.push(item.auction)
      best.set(b)
    }
  },
  onTimer(timestamp, ctx) {
    const best = ctx.valueState<WindowBest>('best')
    const b = best.get()
    if (b === undefined) return
    const start = ctx.key
    for (const auction of b.auctions) ctx.emit({ auction, num: b.num, start, end: timestamp + 1 })
    best.clear()
  },
}

export function q5(events: Stream<null, NexmarkEvent>): Stream<number, HotItem> {
  return events
    .filter((e) => e.kind === 'bid')
    .keyBy((e) => (e as Bid).auction, { name: 'q5-by-auction' })
    .window(hopping({ size: '10s', advance: '2s' }), { name: 'q5-counts' })
    .count()
    .map((num, w) => ({ auction: w.key, num, start: w.start, end: w.end }))
    .keyBy((c) => c.start, { name: 'q5-by-window' })
    .process(maxPerWindow, { name: 'q5-max' })
}
