// `npm start`: the clickstream analyzer on the embedded log, with no external service: the server (ingest,
// dashboard, metrics), the pipeline, and the traffic simulator sending to the server over HTTP. Prints the
// dashboard URL and a live status line; Ctrl-C stops everything after a final commit (twice: at once).
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runPipeline } from '../../src/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { createServer } from '../../src/server/server.ts'
import { createClickstreamApp, createClickstreamTopics } from './app.ts'
import { sendClicks } from './send.ts'

interface Settings {
  dataDir: string
  port: number
  rate: number
  redisUrl: string | undefined
  simulate: boolean
}

const HELP = `Usage: npm start [-- --port N --rate N --data-dir DIR --no-simulator]

Runs the clickstream analyzer: the HTTP server (ingest, dashboard, metrics), the pipeline and a traffic
simulator, on the embedded log in DIR (default ./.sluice). Set REDIS_URL to also write results to Redis.
Environment: PORT (default 8080; a busy port falls back to any free one), RATE (events/s, default 200).`

function settings(argv: string[]): Settings {
  const s: Settings = {
    dataDir: resolve(process.env.SLUICE_DATA_DIR ?? '.sluice'),
    port: Number(process.env.PORT ?? 8080),
    rate: Number(process.env.RATE ?? 200),
    redisUrl: process.env.REDIS_URL || undefined,
    simulate: true,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const next = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value\n\n${HELP}`)
      return v
    }
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${HELP}\n`)
      process.exit(0)
    } else if (arg === '--port') s.port = Number(next())
    else if (arg === '--rate') s.rate = Number(next())
    else if (arg === '--data-dir') s.dataDir = resolve(next())
    else if (arg === '--no-simulator') s.simulate = false
    else throw new Error(`unknown option ${arg}\n\n${HELP}`)
  }
  if (!Number.isInteger(s.port) || s.port < 0) throw new Error(`port must be a whole number, got ${s.port}`)
  if (!(s.rate > 0)) throw new Error(`rate must be a number of events per second > 0, got ${s.rate}`)
  return s
}

function fmt(n: number | null | undefined, unit = ''): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-'
  const v = Math.abs(n) >= 10_000 ? `${(n / 1000).toFixed(1)}k` : `${Math.round(n)}`
  return `${v}${unit}`
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2))
  const log = await openEmbeddedLog({ dataDir: join(s.dataDir, 'log') })
  await createClickstreamTopics(log, { partitions: 4 })
  const app = createClickstreamApp({ redisUrl: s.redisUrl })
  const run = await runPipeline(app.pipeline, { log, stateDir: join(s.dataDir, 'state') })
  const server = createServer({
    log,
    pipelines: [run],
    feeds: [app.view],
    dashboardDir: fileURLToPath(new URL('../../dashboard/', import.meta.url)),
  })
  let address: { url: string }
  try {
    address = await server.listen({ port: s.port })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    address = await server.listen({ port: 0 })
    process.stdout.write(`port ${s.port} is busy; using another\n`)
  }
  process.stdout.write(
    `Sluice clickstream analyzer\n  dashboard  ${address.url}/\n  ingest     POST ${address.url}/v1/topics/clicks/records\n` +
      `  metrics    ${address.url}/metrics\n  results    ${app.store === 'redis' ? `Redis (${s.redisUrl}) and the dashboard` : 'in process (set REDIS_URL for Redis)'}\n` +
      `  data       ${s.dataDir}\nCtrl-C to stop.\n\n`,
  )

  const sending = new AbortController()
  let sent = 0
  const simulator = s.simulate
    ? sendClicks({
        url: address.url,
        rate: s.rate,
        signal: sending.signal,
        seed: Date.now() % 1_000_000,
        onProgress: (stats) => {
          sent = stats.accepted
        },
      }).catch((err) => {
        if (!sending.signal.aborted) process.stderr.write(`\nsimulator stopped: ${(err as Error).message}\n`)
      })
    : Promise.resolve()

  const tty = process.stdout.isTTY
  const status = setInterval(
    () => {
      const st = run.status()
      const lag = st.partitions.reduce((n, p) => n + (p.lag ?? 0), 0)
      const snap = app.view.snapshot()
      const active = snap.windows[0]?.activeUsers
      const line =
        `${fmt(st.sourceRecordsPerSecond, '/s')} events · sent ${fmt(sent)} · active users ${fmt(active)} · ` +
        `lag ${fmt(lag)} · p99 ${fmt(st.latencyMs.p99, ' ms')} · late ${fmt(snap.totals.late)} · dead letters ${fmt(snap.totals.deadLetters)}`
      if (tty) process.stdout.write(`\r\x1b[2K${line}`)
      else process.stdout.write(`${line}\n`)
    },
    tty ? 1000 : 5000,
  )

  let stopping = false
  const stop = async () => {
    if (stopping) {
      process.stdout.write('\nexiting now\n')
      process.exit(130)
    }
    stopping = true
    process.stdout.write('\nstopping: finishing the batch and committing (Ctrl-C again to exit now)\n')
    clearInterval(status)
    sending.abort()
    await simulator
    await run.stop()
    await server.close()
    await log.close()
    process.stdout.write('stopped\n')
  }
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())
  run.done.catch(async (err) => {
    process.stderr.write(`\npipeline failed: ${(err as Error).message}\n`)
    await stop()
    process.exitCode = 1
  })
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`)
  process.exit(1)
})
