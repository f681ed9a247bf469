// The live feed: server-sent events at /v1/feed. Every client gets the pipelines' status at once and then every
// interval, and each named feed (an app's results) when it changes, at most four times a second.
import type { FastifyInstance } from 'fastify'

export interface FeedSource {
  /** The SSE event name. */
  name: string
  snapshot(): unknown
  /** Calls `listener` when the snapshot changed; returns a function that unsubscribes. */
  onUpdate?(listener: () => void): () => void
}

export interface FeedOptions {
  status: () => unknown
  feeds: FeedSource[]
  intervalMs: number
}

function throttle(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | null = null
  return () => {
    if (timer !== null) return
    timer = setTimeout(() => {
      timer = null
      fn()
    }, ms)
  }
}

export function registerFeed(app: FastifyInstance, options: FeedOptions): void {
  app.get('/v1/feed', (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    let open = true
    const send = (event: string, data: unknown) => {
      if (open) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    send('status', options.status())
    for (const f of options.feeds) send(f.name, f.snapshot())
    const timer = setInterval(() => send('status', options.status()), options.intervalMs)
    const unsubscribe = options.feeds.map((f) =>
      f.onUpdate?.(throttle(() => send(f.name, f.snapshot()), 250)),
    )
    req.raw.on('close', () => {
      open = false
      clearInterval(timer)
      for (const u of unsubscribe) u?.()
    })
  })
}
