// The workload of bench/kafka-streams.ts and its Sluice side: JSON clicks keyed by user, re-keyed by page (a
// repartition topic), counted per page in tumbling event-time windows, each window's final count to a topic. The
// Kafka Streams side (bench/peers/kafka-streams/.../WindowedCount.java) is the same pipeline, step for step.
import { boundedOutOfOrderness, type Pipeline, pipeline, tumbling } from '../../src/index.ts'

export const USERS = 100_000
export const PAGES = 1000

export interface Click {
  user: string
  page: string
  /** Event time, ms; also the record's timestamp, which both systems take as event time. */
  t: number
}

/** What both systems write for a closed window. */
export interface PageCount {
  page: string
  start: number
  count: number
}

export interface WindowSpec {
  windowMs: number
  /** Kafka Streams' grace period; Sluice's bounded out-of-orderness of the watermark: a window of [s, e) closes
   *  once a record at e + grace or later was seen (in Sluice: by every input partition). */
  graceMs: number
}

export function windowedCount(
  applicationId: string,
  input: string,
  output: string,
  spec: WindowSpec,
): Pipeline {
  const p = pipeline(applicationId)
  p.source<string, Click>('clicks', {
    topic: input,
    watermarks: boundedOutOfOrderness(spec.graceMs),
  })
    .keyBy((c) => c.page, { name: 'by-page' })
    .window(tumbling(spec.windowMs), { name: 'counts' })
    .count()
    .map((count, w) => ({ page: w.key, start: w.start, count }) satisfies PageCount)
    .to(output)
  return p
}

/** A 32-bit integer hash (lowbias32): the input is a pure function of the record number. */
function mix(x: number): number {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}

/** The i-th click, at event time t. */
export function click(i: number, t: number): Click {
  const h = mix(i)
  return { user: `u${h % USERS}`, page: `/p${mix(h ^ 0x5bd1e995) % PAGES}`, t }
}

/** Key and value bytes as Sluice's default JSON serdes write them (Kafka Streams reads the value with Jackson). */
export function encode(c: Click): { key: Buffer; value: Buffer } {
  return { key: Buffer.from(JSON.stringify(c.user)), value: Buffer.from(JSON.stringify(c)) }
}

/** The window start of an event time. */
export const windowStart = (t: number, windowMs: number): number =>
  t - (((t % windowMs) + windowMs) % windowMs)
