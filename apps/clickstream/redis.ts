// The clickstream results in Redis: one key per result under deterministic names, written as upserts by the
// generic redisSink, so that a replay rewrites the same values. docs/clickstream.md documents the layout.
import type { Redis } from 'ioredis'
import { type RedisWrite, redisSink, type SinkFactory } from '../../src/index.ts'
import type { ClickstreamResult } from './pipeline.ts'

export interface ClickstreamRedisOptions {
  /** redis://host:port[/db]; or pass `client`. */
  url?: string
  client?: Redis
  /** Default 'clickstream'. */
  prefix?: string
  /** Keys expire this long after their last write. Default one day. */
  ttlSeconds?: number
}

/** The upserts one result stands for. */
export function clickstreamRedisWrites(r: ClickstreamResult, prefix = 'clickstream'): RedisWrite[] {
  switch (r.kind) {
    case 'page-views':
      return [
        { type: 'hash', key: `${prefix}:views:${r.start}`, fields: { [r.page]: r.views } },
        // an index of the windows, so that readers find the latest without SCAN
        { type: 'zadd', key: `${prefix}:windows`, members: { [r.start]: r.start } },
      ]
    case 'active-users':
      return [{ type: 'string', key: `${prefix}:active:${r.start}`, value: r.users }]
    case 'active-users-5m':
      return [{ type: 'string', key: `${prefix}:active5m:${r.start}`, value: r.users }]
    case 'top-pages':
      return [
        {
          type: 'zset',
          key: `${prefix}:top:${r.start}`,
          members: Object.fromEntries(r.pages.map((p) => [p.page, p.views])),
        },
      ]
    case 'total':
      return [{ type: 'hash', key: `${prefix}:totals`, fields: { [r.name]: r.count } }]
  }
}

export function clickstreamRedisSink(
  options: ClickstreamRedisOptions,
): SinkFactory<unknown, ClickstreamResult> {
  const prefix = options.prefix ?? 'clickstream'
  return redisSink<unknown, ClickstreamResult>({
    url: options.url,
    client: options.client,
    ttlSeconds: options.ttlSeconds ?? 86_400,
    writes: (record) => clickstreamRedisWrites(record.value, prefix),
    stagingKey: (c) => `${prefix}:staging:${c.step}:${c.taskId}`,
  })
}
