// Watermark strategies. A watermark W promises that no more records with timestamp <= W will arrive (Flink's
// definition); records that break the promise are late. Strategies work per source partition; a task's watermark
// is the minimum over its inputs.
import { type Duration, toMillis } from './duration.ts'

export const MIN_WATERMARK = Number.NEGATIVE_INFINITY
export const MAX_WATERMARK = Number.POSITIVE_INFINITY

/** Tracks the watermark of one source partition. */
export interface WatermarkGenerator {
  onEvent(timestamp: number): void
  current(): number
}

export interface WatermarkStrategy {
  readonly name: string
  create(): WatermarkGenerator
  /** A partition without records for this long (processing time) stops holding back the task's watermark. */
  readonly idleTimeoutMs: number | null
}

export interface WatermarkOptions {
  idleTimeout?: Duration
}

/** W = max timestamp seen − maxOutOfOrderness − 1: records may arrive up to maxOutOfOrderness out of order. */
export function boundedOutOfOrderness(
  maxOutOfOrderness: Duration,
  options: WatermarkOptions = {},
): WatermarkStrategy {
  const delay = toMillis(maxOutOfOrderness, 'maxOutOfOrderness')
  return {
    name: `bounded(${delay}ms)`,
    idleTimeoutMs: options.idleTimeout === undefined ? null : toMillis(options.idleTimeout, 'idleTimeout'),
    create() {
      let max = MIN_WATERMARK
      return {
        onEvent(ts) {
          if (ts > max) max = ts
        },
        current: () => max - delay - 1,
      }
    },
  }
}

/** For sources whose timestamps never decrease. */
export function monotonic(options: WatermarkOptions = {}): WatermarkStrategy {
  const s = boundedOutOfOrderness(0, options)
  return { ...s, name: 'monotonic' }
}

/** A user-defined generator, e.g. one driven by marker events in the data. */
export function customWatermarks(
  name: string,
  create: () => WatermarkGenerator,
  options: WatermarkOptions = {},
): WatermarkStrategy {
  return {
    name,
    create,
    idleTimeoutMs: options.idleTimeout === undefined ? null : toMillis(options.idleTimeout, 'idleTimeout'),
  }
}
