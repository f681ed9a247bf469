// `sluice serve`: the HTTP server over the embedded log: ingest, pipeline status, live feed, /metrics, health and
// the dashboard, on one port of 127.0.0.1 unless --host says otherwise.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { commonOptions, integer, withLog } from '../shared.ts'

interface ServeOptions {
  dataDir: string
  port: number
  host: string
  json?: boolean
}

export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url))

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('serve ingest, pipeline status, live feed, Prometheus metrics and the dashboard over HTTP')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', integer(0), 8080)
    .option(
      '--host <host>',
      'address to listen on; anything but loopback exposes the server to the network',
      '127.0.0.1',
    )
    .action(async (options: ServeOptions) => {
      await withLog(
        options,
        async (log) => {
          const { createServer } = await import('../../server/server.ts')
          const { openSchemaRegistry } = await import('../../registry/store.ts')
          const schemaRegistry = await openSchemaRegistry({ log })
          const server = createServer({
            log,
            schemaRegistry,
            dashboardDir: existsSync(DASHBOARD_DIR) ? DASHBOARD_DIR : null,
          })
          const { url } = await server.listen({ port: options.port, host: options.host })
          process.stderr.write(
            options.json ? `${JSON.stringify({ event: 'listening', url })}\n` : `listening on ${url}\n`,
          )
          await new Promise<void>((resolve) => {
            const stop = () => resolve()
            process.once('SIGINT', stop)
            process.once('SIGTERM', stop)
          })
          await server.close()
          await schemaRegistry.close()
        },
        { create: true },
      )
    })
  commonOptions(cmd)
}
