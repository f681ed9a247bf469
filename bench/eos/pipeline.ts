// The pipeline bench/eos.ts runs under both guarantees: clicks keyed by user are repartitioned by item, go through a
// keyed process step that keeps a count per item in value state and emits one record per click (carrying the
// click's produce time, so that a reader can tell its latency), and are counted per item in 1 s tumbling windows.
import { boundedOutOfOrderness, type Pipeline, pipeline, tumbling } from '../../src/index.ts'

export const APPLICATION_ID = 'eos-bench'
export const INPUT_TOPIC = 'clicks'
/** One record per input record: what the latency is measured on. */
export const SEEN_TOPIC = 'seen'
export const COUNTS_TOPIC = 'item-counts'

export const USERS = 100_000
export const ITEMS = 10_000

export interface Click {
  user: string
  item: number
  /** Date.now() when the producer sent it. */
  t: number
}

export interface Seen {
  item: number
  n: number
  t: number
}

export function clicksPipeline(): Pipeline {
  const p = pipeline(APPLICATION_ID)
  const seen = p
    .source<string, Click>('clicks', {
      topic: INPUT_TOPIC,
      timestamp: (c) => c.t,
      watermarks: boundedOutOfOrderness('200ms'),
    })
    .keyBy((c) => c.item, { name: 'by-item' })
    .process<Seen>(
      {
        process(c, ctx) {
          const seen = ctx.valueState<number>('seen')
          const n = (seen.get() ?? 0) + 1
          seen.set(n)
          ctx.emit({ item: c.item, n, t: c.t })
        },
      },
      { name: 'seen-per-item' },
    )
  seen.to(SEEN_TOPIC)
  // Chained after the process step, not beside it: two steps reading one repartition topic become two
  // sub-topologies, and the runner hands each partition's records to only one of them.
  seen
    .keyBy(null, { name: 'by-item-again' })
    .window(tumbling('1s'), { name: 'item-counts' })
    .count()
    .map((n, w) => ({ item: w.key, start: w.start, clicks: n }))
    .to(COUNTS_TOPIC)
  return p
}

/** The i-th click of a run: users round robin, items scattered over the item space. */
export function click(i: number, t: number): { key: string; value: Click } {
  const user = `u${i % USERS}`
  return { key: user, value: { user, item: (Math.imul(i, 0x9e3779b1) >>> 0) % ITEMS, t } }
}
