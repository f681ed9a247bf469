// A Redis sink of guarantee `idempotent`: each record stands for upserts under deterministic keys (a string set, hash
// fields set, a sorted set replaced or its members set), never increments, so writing a result twice has the effect
// of once. prepare() stages the interval's upserts in Redis itself; commit() applies them and drops the stage in
// one MULTI. So Redis shows only what the log committed, and a crash between the log's commit and the sink's loses
// nothing: open() applies what was staged up to the log's last commit id and drops the rest.
import type { Redis } from 'ioredis'
import { SluiceError } from '../errors/index.ts'
import type { Rec } from '../graph/logical.ts'
import type { Sink, SinkContext, SinkFactory } from './sink.ts'

/** One upsert. Keys and values must follow from the record alone, so that a replay writes the same. */
export type RedisWrite =
  /** SET key value. */
  | { type: 'string'; key: string; value: string | number }
  /** HSET: these fields set, the hash's other fields kept. */
  | { type: 'hash'; key: string; fields: Record<string, string | number> }
  /** The sorted set replaced by exactly these members (member → score). */
  | { type: 'zset'; key: string; members: Record<string, number> }
  /** ZADD: these members set, the set's other members kept. */
  | { type: 'zadd'; key: string; members: Record<string, number> }

export interface RedisSinkOptions<K, V> {
  /** redis://[user:password@]host:port[/db]; or pass `client`. */
  url?: string
  /** A client to use instead of `url`; the sink does not close it. */
  client?: Redis
  /** The upserts a record stands for. */
  writes: (record: Rec<K, V>) => Iterable<RedisWrite>
  /** Every key written expires this long after its last write. Default: no expiry. */
  ttlSeconds?: number
  /** The hash where prepared commits wait, one per task. Default `sluice:staging:<pipeline>:<step>:<task>`. */
  stagingKey?: (context: SinkContext) => string
}

/** Where a client points, without credentials, for messages. */
function address(url: string | undefined, client: Redis | undefined): string {
  if (client !== undefined) return `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`
  try {
    const u = new URL(url!)
    return `${u.hostname}:${u.port || 6379}`
  } catch {
    return 'an unparseable URL'
  }
}

/** Later writes to a key win; hash fields and zadd members merge, as they would in Redis. */
function mergeInto(pending: Map<string, RedisWrite>, w: RedisWrite): void {
  const prev = pending.get(w.key)
  if (prev?.type === 'hash' && w.type === 'hash') prev.fields = { ...prev.fields, ...w.fields }
  else if ((prev?.type === 'zset' || prev?.type === 'zadd') && w.type === 'zadd')
    prev.members = { ...prev.members, ...w.members }
  else if (w.type === 'hash') pending.set(w.key, { ...w, fields: { ...w.fields } })
  else if (w.type === 'zset' || w.type === 'zadd') pending.set(w.key, { ...w, members: { ...w.members } })
  else pending.set(w.key, { ...w })
}

function queue(
  multi: ReturnType<Redis['multi']>,
  writes: readonly RedisWrite[],
  ttl: number | undefined,
): void {
  for (const w of writes) {
    switch (w.type) {
      case 'string':
        if (ttl === undefined) multi.set(w.key, w.value)
        else multi.set(w.key, w.value, 'EX', ttl)
        continue // SET took the expiry with it
      case 'hash':
        multi.hset(w.key, w.fields)
        break
      case 'zset':
      case 'zadd': {
        if (w.type === 'zset') multi.del(w.key)
        const args = Object.entries(w.members).flatMap(([member, score]) => [score, member])
        if (args.length > 0) multi.zadd(w.key, ...args)
        break
      }
    }
    if (ttl !== undefined) multi.expire(w.key, ttl)
  }
}

export function redisSink<K = unknown, V = unknown>(options: RedisSinkOptions<K, V>): SinkFactory<K, V> {
  if (options.url === undefined && options.client === undefined) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      'redisSink() needs a url (redis://host:port) or a client',
    )
  }
  const where = address(options.url, options.client)
  const ttl = options.ttlSeconds
  const stagingKey = options.stagingKey ?? ((c) => `sluice:staging:${c.pipeline}:${c.step}:${c.taskId}`)
  // one connection for all the tasks of this sink, opened by the first and closed by the last
  let shared: { client: Promise<Redis>; users: number } | null = null
  let lastError: Error | null = null

  const failure = (what: string, err: unknown): SluiceError => {
    const cause = lastError ?? err
    return new SluiceError(
      'SLUICE_ERR_CONNECTION',
      `Redis at ${where} failed to ${what}: ${(cause as Error)?.message ?? cause}; check that Redis is running there (REDIS_URL)`,
      { cause: err, details: { address: where } },
    )
  }

  async function connect(): Promise<Redis> {
    if (options.client !== undefined) {
      if (options.client.status === 'wait') await options.client.connect()
      return options.client
    }
    // loaded here, so that importing sluice costs nothing to those who never write to Redis
    const { Redis } = await import('ioredis')
    const client = new Redis(options.url!, { lazyConnect: true, maxRetriesPerRequest: 3 })
    client.on('error', (err: Error) => {
      lastError = err // ioredis reconnects by itself; a command that still fails reports this
    })
    client.on('ready', () => {
      lastError = null
    })
    try {
      await client.connect()
    } catch (err) {
      client.disconnect() // or it would go on reconnecting, and keep the process alive
      throw err
    }
    return client
  }

  async function acquire(): Promise<Redis> {
    if (shared === null) shared = { client: connect(), users: 0 }
    shared.users++
    try {
      return await shared.client
    } catch (err) {
      shared = null
      throw failure('connect', err)
    }
  }

  async function release(): Promise<void> {
    if (shared === null || --shared.users > 0) return
    const client = await shared.client.catch(() => null)
    shared = null
    if (client !== null && options.client === undefined) await client.quit().catch(() => client.disconnect())
  }

  return (context: SinkContext): Sink<K, V> => {
    const staging = stagingKey(context)
    let client: Redis | null = null
    let pending = new Map<string, RedisWrite>()
    const prepared = new Map<number, RedisWrite[]>()

    async function apply(id: number, writes: readonly RedisWrite[]): Promise<void> {
      const multi = client!.multi()
      queue(multi, writes, ttl)
      multi.hdel(staging, String(id))
      const replies = await multi.exec()
      const failed = replies?.find(([err]) => err !== null)
      if (replies === null || failed !== undefined)
        throw new Error(failed?.[0]?.message ?? 'transaction aborted')
    }

    return {
      guarantee: 'idempotent',
      async open(_ctx, lastCommitted) {
        client = await acquire()
        try {
          const staged = await client.hgetall(staging)
          const ids = Object.keys(staged)
            .map(Number)
            .sort((a, b) => a - b)
          for (const id of ids) {
            if (lastCommitted !== null && id <= lastCommitted) await apply(id, JSON.parse(staged[id]))
            else await client.hdel(staging, String(id))
          }
        } catch (err) {
          throw failure('finish the commits staged before a restart', err)
        }
      },
      write(records) {
        for (const r of records) for (const w of options.writes(r)) mergeInto(pending, w)
      },
      async prepare(id) {
        if (pending.size === 0) return
        const writes = [...pending.values()]
        pending = new Map()
        try {
          await client!.hset(staging, String(id), JSON.stringify(writes))
        } catch (err) {
          throw failure('stage a commit', err)
        }
        prepared.set(id, writes)
      },
      async commit(id) {
        const writes = prepared.get(id)
        if (writes === undefined) return
        try {
          await apply(id, writes)
        } catch (err) {
          throw failure('apply a commit', err)
        }
        prepared.delete(id)
      },
      async abort(id) {
        prepared.delete(id)
        pending = new Map()
        await client?.hdel(staging, String(id)).catch(() => {}) // open() drops it after a restart anyway
      },
      async close() {
        if (client === null) return
        client = null
        await release()
      },
    }
  }
}
