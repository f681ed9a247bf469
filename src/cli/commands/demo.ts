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

export function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description('send simulated traffic to a running sluice server')
    .helpCommand(false)
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
