// `sluice serve`: one HTTP server on one port for ingest, pipeline status, a live feed (server-sent events),
// Prometheus metrics, health checks and the dashboard. It listens on 127.0.0.1 unless told otherwise.
import Fastify, { type FastifyInstance } from 'fastify'
import { register as defaultRegistry, type Registry } from 'prom-client'
import type { Log } from '../log/contract.ts'
import type { SchemaRegistry } from '../registry/store.ts'
import type { RunningPipeline } from '../runtime/runner.ts'
import { type FeedSource, registerFeed } from './feed.ts'
import { toHttpError } from './http-errors.ts'
import { type IngestOptions, registerIngest } from './ingest.ts'
import { registerSchemaRegistry } from './registry-routes.ts'
import { registerStatic } from './static.ts'

export interface ServerOptions {
  log: Log
  /** Pipelines whose status the server reports. More can be added with `addPipeline`. */
  pipelines?: RunningPipeline[]
  registry?: Registry
  /** Largest request body in bytes. Default 16 MiB. */
  bodyLimit?: number
  ingest?: IngestOptions
  /** Directory of the dashboard's static files, served at `/`. */
  dashboardDir?: string | null
  /** Named live data for the feed, e.g. an app's results. */
  feeds?: FeedSource[]
  /** Serves the Confluent-compatible schema registry API (/subjects, /schemas, /compatibility, /config). */
  schemaRegistry?: SchemaRegistry
  /** How often the feed sends pipeline status, ms. Default 1000. */
  feedIntervalMs?: number
}

export interface SluiceServer {
  readonly app: FastifyInstance
  addPipeline(run: RunningPipeline): void
  addFeed(feed: FeedSource): void
  listen(options?: { port?: number; host?: string }): Promise<{ url: string; port: number }>
  close(): Promise<void>
}

export function createServer(options: ServerOptions): SluiceServer {
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    logger: false,
    forceCloseConnections: true, // live feed connections never end by themselves
  })
  const registry = options.registry ?? defaultRegistry
  const pipelines: RunningPipeline[] = [...(options.pipelines ?? [])]
  const feeds: FeedSource[] = [...(options.feeds ?? [])]

  app.setErrorHandler((err, _req, reply) => {
    const e = toHttpError(err)
    reply.code(e.status).send(e.body)
  })
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send({ error: { code: 'SLUICE_ERR_NOT_FOUND', message: `no route for ${req.method} ${req.url}` } })
  })

  const ingest = registerIngest(app, options.log, options.ingest)

  app.get('/v1/topics', async () => {
    const admin = options.log.admin()
    const names = await admin.listTopics()
    const topics = []
    for (const name of names) {
      const d = await admin.describeTopic(name)
      topics.push({
        name,
        partitions: d.partitions.length,
        records: d.partitions.reduce((n, p) => n + (p.highWatermark - p.logStartOffset), 0),
      })
    }
    return { topics }
  })

  app.get('/v1/pipelines', async () => ({ pipelines: pipelines.map((p) => p.status()) }))
  app.get<{ Params: { id: string } }>('/v1/pipelines/:id', async (req, reply) => {
    const p = pipelines.find((x) => x.applicationId === req.params.id)
    if (p === undefined) {
      return reply.code(404).send({
        error: {
          code: 'SLUICE_ERR_NOT_FOUND',
          message: `no pipeline ${req.params.id} runs in this server`,
        },
      })
    }
    return p.status()
  })

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType)
    return registry.metrics()
  })
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const failed = pipelines.map((p) => p.status()).filter((s) => s.state !== 'running')
    if (failed.length > 0) {
      return reply.code(503).send({
        status: 'not ready',
        pipelines: failed.map((s) => ({ id: s.applicationId, state: s.state, error: s.error })),
      })
    }
    return { status: 'ready' }
  })

  registerFeed(app, {
    status: () => pipelines.map((p) => p.status()),
    feeds,
    intervalMs: options.feedIntervalMs ?? 1000,
  })
  if (options.schemaRegistry) registerSchemaRegistry(app, options.schemaRegistry)
  if (options.dashboardDir) registerStatic(app, options.dashboardDir)

  return {
    app,
    addPipeline: (run) => {
      pipelines.push(run)
    },
    addFeed: (feed) => {
      feeds.push(feed)
    },
    async listen({ port = 8080, host = '127.0.0.1' } = {}) {
      await app.listen({ port, host })
      const address = app.server.address()
      const actual = typeof address === 'object' && address !== null ? address.port : port
      return { url: `http://${host}:${actual}`, port: actual }
    },
    async close() {
      await app.close()
      await ingest.close()
    },
  }
}
