// `sluice demo clickstream`: simulated web-site traffic sent in real time to a running server's ingest endpoint, as
// a separate process would send it (the server and its pipelines are `sluice serve`'s business).
import { type Command, InvalidArgumentError, Option } from 'commander'
import { integer } from '../shared.ts'

interface ClickstreamCliOptions {
  rate: number
  url: string
  duration?: number
  seed: number
  topic: string
  json?: boolean
}

function httpUrl(raw: string): string {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new InvalidArgumentError(`expected a URL such as http://127.0.0.1:8080, got "${raw}"`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new InvalidArgumentError(`expected an http:// or https:// URL, got "${raw}"`)
  return raw.replace(/\/+$/, '')
}

interface FraudCliOptions {
  rate: number
  port: number
  dataDir: string
  brokers?: string
  webhook?: string
  duration?: number
  seed: number
}

/** `sluice demo fraud`: the fraud pipeline, its dashboard and live transactions, until Ctrl-C or --duration. */
async function fraudDemo(options: FraudCliOptions): Promise<void> {
  const { join, resolve } = await import('node:path')
  const { startFraudDemo } = await import('../../../apps/fraud/demo.ts')
  const dataDir = resolve(options.dataDir)
  const log =
    options.brokers === undefined
      ? await (await import('../../log/index.ts')).openEmbeddedLog({ dataDir: join(dataDir, 'log') })
      : await (await import('../../kafka/index.ts')).openKafkaLog({ brokers: options.brokers.split(',') })
  const demo = await startFraudDemo({
    log,
    stateDir: join(dataDir, 'state'),
    rate: options.rate,
    port: options.port,
    webhook: options.webhook,
    seed: options.seed,
  })
  process.stdout.write(
    `Sluice fraud detection\n  dashboard  ${demo.dashboard}\n  registry   ${demo.url}/subjects\n` +
      `  log        ${options.brokers === undefined ? dataDir : `Kafka at ${options.brokers}`}\n` +
      `  alerts     topic fraud_alerts${options.webhook === undefined ? '' : ` and ${options.webhook}`}\nCtrl-C to stop.\n\n`,
  )
  const tty = process.stdout.isTTY
  const status = setInterval(
    () => {
      const st = demo.run.status()
      const v = demo.view.snapshot()
      const sent = demo.sent()
      const line =
        `${st.sourceRecordsPerSecond}/s · sent ${sent.transactions} (+${sent.malformed} malformed) · alerts ${v.total} ` +
        `(${Object.entries(v.byRule)
          .map(([r, n]) => `${r} ${n}`)
          .join(', ')}) · dead letters ${st.deadLetters} · ` +
        `p99 ${st.latencyMs.p99 ?? '-'} ms`
      if (tty) process.stdout.write(`\r\x1b[2K${line}`)
      else process.stdout.write(`${line}\n`)
    },
    tty ? 1000 : 5000,
  )
  await new Promise<void>((resolveDone) => {
    let stopping = false
    const stop = () => {
      if (stopping) process.exit(130)
      stopping = true
      process.stdout.write('\nstopping: finishing the batch and committing (Ctrl-C again to exit now)\n')
      resolveDone()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    if (options.duration !== undefined) setTimeout(stop, options.duration * 1000).unref()
    demo.run.done.catch((err) => {
      process.stderr.write(`\npipeline failed: ${(err as Error).message}\n`)
      process.exitCode = 1
      resolveDone()
    })
  })
  clearInterval(status)
  await demo.stop()
  await log.close()
  const v = demo.view.snapshot()
  process.stdout.write(`stopped: ${v.total} alerts, ${demo.run.status().deadLetters} dead letters\n`)
}

export function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description('run the reference pipelines on simulated traffic')
    .helpCommand(false)
  demo
    .command('fraud')
    .description(
      'run the fraud detection pipeline with its dashboard, on live transactions with injected fraud and malformed events',
    )
    .option('--rate <n>', 'transactions per second', integer(1), 200)
    .option(
      '--port <n>',
      'HTTP port of the server (a busy one falls back to any free port)',
      integer(0),
      8080,
    )
    .addOption(
      new Option('-d, --data-dir <path>', 'directory of the embedded log and local state')
        .env('SLUICE_DATA_DIR')
        .default('./.sluice'),
    )
    .option('--brokers <list>', 'run on Apache Kafka instead: bootstrap brokers, host:port[,host:port...]')
    .option(
      '--webhook <url>',
      'also POST alerts to this alerting service (with an Idempotency-Key per alert)',
    )
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', integer(1))
    .option('--seed <n>', 'seed of the generator', integer(0), 1)
    .addHelpText(
      'after',
      '\nTransactions are Avro (schema v1, then v2 with a device field) keyed by account; the rules are three large\n' +
        'charges within 5 minutes, card testing, impossible travel, and a per-account profile. See docs/fraud.md.\n\n' +
        'Example:\n  sluice demo fraud --rate 500\n  sluice dlq inspect fraud-dead-letters',
    )
    .action((options: FraudCliOptions) => fraudDemo(options))
  demo
    .command('clickstream')
    .description(
      'send web-site clicks (sessions, Zipf page popularity, bursts, late and malformed events) to the ingest endpoint',
    )
    .option('--rate <n>', 'mean events per second, bursts included', integer(1), 100)
    .addOption(
      new Option('--url <url>', 'the sluice server')
        .env('SLUICE_URL')
        .default('http://127.0.0.1:8080')
        .argParser(httpUrl),
    )
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', integer(1))
    .option('--seed <n>', 'seed of the simulation: the same seed sends the same traffic', integer(0), 1)
    .option('--topic <name>', 'topic to send to', 'clicks')
    .option('--json', 'print progress as JSON lines')
    .addHelpText(
      'after',
      '\nEvents go to POST <url>/v1/topics/<topic>/records as NDJSON, keyed by user. About 5% arrive 1-8 s late,\n' +
        "0.5% 80-150 s late (past the pipeline's 10 s allowed lateness) and 1% are malformed; lines that are not\n" +
        'JSON are refused by the server and counted as refused.\n\n' +
        'Example:\n  sluice serve &\n  sluice demo clickstream --rate 500 --duration 60',
    )
    .action(async (options: ClickstreamCliOptions) => {
      const { sendClicks } = await import('../../../apps/clickstream/send.ts')
      const controller = new AbortController()
      const stop = () => controller.abort()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      const report = (s: import('../../../apps/clickstream/send.ts').SendStats, final = false) => {
        const seconds = s.elapsedMs / 1000
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ event: final ? 'done' : 'progress', ...s })}\n`)
          return
        }
        const line =
          `${seconds.toFixed(0)}s: ${s.sent} sent (${Math.round(s.sent / Math.max(seconds, 0.001))}/s), ` +
          `${s.accepted} accepted, ${s.rejected} refused, ${s.failed} failed; ` +
          `${s.byKind.delayed} delayed, ${s.byKind.late} late, ${s.byKind.malformed} malformed` +
          (s.behindMs > 1000 ? `; ${(s.behindMs / 1000).toFixed(1)} s behind schedule` : '')
        ;(final ? process.stdout : process.stderr).write(`${line}\n`)
      }
      try {
        const stats = await sendClicks({
          url: options.url,
          topic: options.topic,
          rate: options.rate,
          seed: options.seed,
          durationMs: options.duration === undefined ? undefined : options.duration * 1000,
          signal: controller.signal,
          onProgress: (s) => report(s),
        })
        report(stats, true)
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })
}
