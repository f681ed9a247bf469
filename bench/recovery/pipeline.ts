// The pipeline whose recovery bench/recovery.ts times: one keyed process step that keeps a count per input key in
// value state, so that N distinct keys on the input make N entries of state (and N changelog records).
import { type Pipeline, pipeline } from '../../src/index.ts'

export const APPLICATION_ID = 'recovery-bench'
export const INPUT_TOPIC = 'events'

export interface Event {
  n: number
}

/** `onRecord` runs for every record the process step handles: the worker timestamps the first one. */
export function keyedCountPipeline(onRecord: () => void): Pipeline {
  const p = pipeline(APPLICATION_ID)
  p.source<string, Event>('events', { topic: INPUT_TOPIC })
    .keyBy(null, { name: 'by-key' })
    .process<never>(
      {
        process(_event, ctx) {
          onRecord()
          const count = ctx.valueState<number>('count')
          count.set((count.get() ?? 0) + 1)
        },
      },
      { name: 'count-per-key' },
    )
  return p
}

/** The i-th key of the key space: fixed width, so that every key costs the same. */
export const keyOf = (i: number): string => `k${String(i).padStart(7, '0')}`
