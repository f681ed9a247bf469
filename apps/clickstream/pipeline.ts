// The clickstream analyzer: page views per URL, active users and the top pages per minute of event time, over the
// clicks topic; malformed events to a dead-letter topic, events past the allowed lateness to a late topic, both
// counted. Results go to one sink factory (the in-process view or Redis), so the same pipeline feeds either.
import {
  boundedOutOfOrderness,
  countDistinct,
  type EmitMode,
  type Pipeline,
  pipeline,
  type SinkFactory,
  sliding,
  topN,
  tumbling,
  type Windowed,
} from '../../src/index.ts'
import {
  type Checked,
  type Click,
  checkClick,
  lenientJson,
  lenientKey,
  type Problem,
  Unparseable,
} from './click.ts'

export interface ClickstreamTopics {
  /** Click events (JSON), keyed by user. */
  clicks: string
  /** Malformed events: the payload and why it was refused. */
  deadLetters: string
  /** Clicks that came after their window's allowed lateness. */
  late: string
}

export const CLICKSTREAM_TOPICS: ClickstreamTopics = {
  clicks: 'clicks',
  deadLetters: 'clickstream-dlq',
  late: 'clickstream-late',
}

/** Results are upserts: a later result with the same identity replaces an earlier one. */
export type ClickstreamResult =
  | { kind: 'page-views'; start: number; end: number; page: string; views: number }
  | { kind: 'active-users'; start: number; end: number; users: number }
  | { kind: 'active-users-5m'; start: number; end: number; users: number }
  | { kind: 'top-pages'; start: number; end: number; pages: { page: string; views: number }[] }
  | { kind: 'total'; name: 'dead-letters' | 'late'; count: number }

/** A record of the dead-letter topic. */
export interface DeadLetter {
  error: Problem
  /** The record's value as it was on the clicks topic (UTF-8). */
  payload: string
  /** Its record timestamp: when ingest received it. */
  receivedAt: number
  topic: string
}

export interface ClickstreamOptions {
  /** Where results go: `clickstreamView().factory`, `clickstreamRedisSink(...)`, or any sink of results. */
  results: SinkFactory<unknown, ClickstreamResult>
  /** Default 'clickstream': it prefixes internal topics and names the consumer group. */
  name?: string
  topics?: Partial<ClickstreamTopics>
  /**
   * Emit mode of the one-minute windows. 'update' (default) sends each change, so a dashboard shows the current
   * minute live; 'final' sends each window once, when it closes. The five-minute windows are always final: updating
   * five overlapping windows per click costs more than a live view of them is worth.
   */
  emit?: EmitMode
}

export const LATENESS = '10s'
/** How far out of order events may come before the watermark passes them (late ones still count until LATENESS). */
export const OUT_OF_ORDERNESS_MS = 5_000

export function clickstreamPipeline(options: ClickstreamOptions): Pipeline {
  const topics = { ...CLICKSTREAM_TOPICS, ...options.topics }
  const emit = options.emit ?? 'update'
  const results = options.results
  const p = pipeline(options.name ?? 'clickstream')

  const checked = p
    .source<unknown, unknown>('clicks', {
      topic: topics.clicks,
      key: lenientKey(),
      value: lenientJson(),
      // a malformed event has no event time we can trust: it takes its arrival time, which cannot hold windows back
      timestamp: (value, _key, receivedAt) => eventTime(value, receivedAt),
      watermarks: boundedOutOfOrderness(OUT_OF_ORDERNESS_MS, { idleTimeout: '30s' }),
    })
    .map((value) => checkClick(value), { name: 'check' })
  const [malformed, valid] = checked.branch([(c) => !c.ok], { name: 'split-malformed' })

  const deadLetters = malformed.map((c, _key, receivedAt) => deadLetter(c, receivedAt, topics.clicks), {
    name: 'dead-letter',
  })
  deadLetters.to(topics.deadLetters)

  const clicks = valid.map((c) => (c as { click: Click }).click, { name: 'valid-clicks' })

  const pageViews = clicks
    .keyBy((c) => c.page, { name: 'by-page' })
    .window(tumbling('1m'), { name: 'page-views', lateness: LATENESS, emit })
    .count()
  pageViews
    .map((views, w): ClickstreamResult => ({ kind: 'page-views', ...span(w), page: w.key, views }), {
      name: 'page-views-result',
    })
    .sink(results, { name: 'page-views-sink' })
  const late = pageViews.late({ name: 'late-clicks' })
  late.to(topics.late)

  // Distinct users and top pages need all of a minute's clicks in one place: one key, so one task.
  const site = clicks.keyBy(() => 'site', { name: 'by-site' })
  const activeUsers = site
    .window(tumbling('1m'), { name: 'active-users', lateness: LATENESS, emit })
    .aggregate(countDistinct((c: Click) => c.user))
    .map((users, w): ClickstreamResult => ({ kind: 'active-users', ...span(w), users }), {
      name: 'active-users-result',
    })
  const activeUsers5m = site
    .window(sliding({ size: '5m', every: '1m' }), { name: 'active-users-5m', lateness: LATENESS })
    .aggregate(countDistinct((c: Click) => c.user))
    .map((users, w): ClickstreamResult => ({ kind: 'active-users-5m', ...span(w), users }), {
      name: 'active-users-5m-result',
    })
  const topPages = site
    .window(tumbling('1m'), { name: 'top-pages', lateness: LATENESS, emit })
    .aggregate(topN(10, { key: (c: Click) => c.page }))
    .map(
      (ranked, w): ClickstreamResult => ({
        kind: 'top-pages',
        ...span(w),
        pages: ranked.map((r) => ({ page: r.key, views: r.score })),
      }),
      { name: 'top-pages-result' },
    )
  activeUsers.merge([activeUsers5m, topPages], { name: 'site-results' }).sink(results, { name: 'site-sink' })

  // Running totals of dead letters and late clicks, kept as state so that a replay upserts the same numbers.
  const deadLetterCount = deadLetters
    .map(() => 1, { name: 'dead-letter-one' })
    .keyBy(() => 'dead-letters', { name: 'dead-letters-by-kind' })
  const lateCount = late.map(() => 1, { name: 'late-one' }).keyBy(() => 'late', { name: 'late-by-kind' })
  deadLetterCount
    .merge([lateCount], { name: 'counted' })
    .keyBy(null, { name: 'counted-by-kind' })
    .process<ClickstreamResult>(
      {
        process(_one, ctx) {
          const count = ctx.valueState<number>('count')
          const n = (count.get() ?? 0) + 1
          count.set(n)
          ctx.emit({ kind: 'total', name: ctx.key as 'dead-letters' | 'late', count: n })
        },
      },
      { name: 'totals' },
    )
    .sink(results, { name: 'totals-sink' })

  return p
}

/** Event time of a value read from the clicks topic: its `ts` if it is a valid click, else its arrival time. */
export function eventTime(value: unknown, receivedAt: number): number {
  const c = checkClick(value)
  return c.ok ? c.click.ts : receivedAt
}

function span(w: Windowed<unknown>): { start: number; end: number } {
  return { start: w.start, end: w.end }
}

function deadLetter(c: Checked, receivedAt: number, topic: string): DeadLetter {
  const { problem, value } = c as Extract<Checked, { ok: false }>
  const payload = value instanceof Unparseable ? value.text : JSON.stringify(value)
  return { error: problem, payload, receivedAt, topic }
}
