// What a host (the server, a test, a script) needs to run the clickstream analyzer: the pipeline wired to its
// results (Redis when a URL is given, always the in-process view too), and the topics it reads and writes.
import type { EmitMode, Pipeline, Sink, SinkFactory } from '../../src/index.ts'
import type { Log } from '../../src/log/index.ts'
import { CLICKSTREAM_TOPICS, type ClickstreamTopics, clickstreamPipeline } from './pipeline.ts'
import { clickstreamRedisSink } from './redis.ts'
import { type ClickstreamView, clickstreamView } from './view.ts'

export interface ClickstreamAppOptions {
  /** Also write results to Redis (e.g. process.env.REDIS_URL); unset: the in-process view only. */
  redisUrl?: string
  /** Seconds Redis keeps a result after its last update. Default one day. */
  redisTtlSeconds?: number
  emit?: EmitMode
  name?: string
  topics?: Partial<ClickstreamTopics>
  /** One-minute windows the view keeps. Default 15. */
  viewWindows?: number
}

export interface ClickstreamApp {
  pipeline: Pipeline
  /** The latest results, committed only; a feed source for the server (`name`, `snapshot()`, `onUpdate()`). */
  view: ClickstreamView
  /** Where results are written besides the view. */
  store: 'memory' | 'redis'
  topics: ClickstreamTopics
}

export function createClickstreamApp(options: ClickstreamAppOptions = {}): ClickstreamApp {
  const topics = { ...CLICKSTREAM_TOPICS, ...options.topics }
  const view = clickstreamView({ windows: options.viewWindows })
  const redisUrl = options.redisUrl === '' ? undefined : options.redisUrl
  const results =
    redisUrl === undefined
      ? view.factory
      : both(view.factory, clickstreamRedisSink({ url: redisUrl, ttlSeconds: options.redisTtlSeconds }))
  return {
    pipeline: clickstreamPipeline({ results, emit: options.emit, name: options.name, topics }),
    view,
    store: redisUrl === undefined ? 'memory' : 'redis',
    topics,
  }
}

/** Creates the app's topics that do not exist yet (the runner refuses to start without them); returns their names. */
export async function createClickstreamTopics(
  log: Log,
  options: { partitions?: number; topics?: Partial<ClickstreamTopics> } = {},
): Promise<string[]> {
  const topics = { ...CLICKSTREAM_TOPICS, ...options.topics }
  const admin = log.admin()
  const existing = new Set(await admin.listTopics())
  const created: string[] = []
  for (const [name, partitions] of [
    [topics.clicks, options.partitions ?? 4],
    [topics.deadLetters, 1],
    [topics.late, 1],
  ] as const) {
    if (existing.has(name)) continue
    await admin.createTopic(name, { partitions })
    created.push(name)
  }
  return created
}

/** Two sinks driven as one; it promises the weaker guarantee of the two. */
function both<K, V>(a: SinkFactory<K, V>, b: SinkFactory<K, V>): SinkFactory<K, V> {
  return (context) => {
    const x: Sink<K, V> = a(context)
    const y: Sink<K, V> = b(context)
    const order = ['transactional', 'idempotent', 'at-least-once'] as const
    return {
      guarantee: order[Math.max(order.indexOf(x.guarantee), order.indexOf(y.guarantee))],
      // the external one first: if Redis fails, the view has not moved ahead of it
      open: async (ctx, last) => {
        await y.open(ctx, last)
        await x.open(ctx, last)
      },
      write: (records) => {
        x.write(records)
        y.write(records)
      },
      prepare: async (id) => {
        await y.prepare(id)
        await x.prepare(id)
      },
      commit: async (id) => {
        await y.commit(id)
        await x.commit(id)
      },
      abort: async (id) => {
        await Promise.allSettled([y.abort(id), x.abort(id)])
      },
      close: async () => {
        await Promise.allSettled([y.close(), x.close()])
      },
    }
  }
}
