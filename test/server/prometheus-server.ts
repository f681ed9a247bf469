// A real Prometheus for integration tests: started on a free loopback port with a temp config and storage, scraping
// the targets the test names, stopped by the test. The Debian package's own service (on :9090) is never touched.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const PROMETHEUS_INSTALL_HINT =
  'prometheus is not installed: install it with `apt-get update && apt-get install -y prometheus`'

/** Why Prometheus tests cannot run here, or null. */
export function prometheusUnavailable(): string | null {
  const found = spawnSync('prometheus', ['--version'], { encoding: 'utf8' })
  return found.error === undefined && found.status === 0 ? null : PROMETHEUS_INSTALL_HINT
}

/** `skip` option for a suite: a message locally when prometheus is missing, never on CI (where it must fail). */
export function skipWithoutPrometheus(): string | false {
  const why = prometheusUnavailable()
  return why !== null && process.env.CI !== 'true' ? why : false
}

export interface PrometheusServer {
  url: string
  /** The result of an instant query (`/api/v1/query`); throws on an error answer. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

async function ready(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`prometheus exited with code ${child.exitCode}:\n${output().slice(-2000)}`)
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`prometheus at ${url} was not ready within 30 s`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Starts Prometheus scraping `targets` (host:port) as job `job` every second. */
export async function startPrometheus(options: {
  job: string
  targets: string[]
  metricsPath?: string
}): Promise<PrometheusServer> {
  const why = prometheusUnavailable()
  if (why !== null) throw new Error(why)
  const dir = mkdtempSync(join(tmpdir(), 'sluice-prometheus-'))
  const config = join(dir, 'prometheus.yml')
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      `  - job_name: ${JSON.stringify(options.job)}`,
      `    metrics_path: ${JSON.stringify(options.metricsPath ?? '/metrics')}`,
      '    scrape_interval: 1s',
      '    scrape_timeout: 1s',
      '    static_configs:',
      `      - targets: ${JSON.stringify(options.targets)}`,
      '',
    ].join('\n'),
  )
  let lastError: unknown
  // the port is free when chosen, not necessarily when prometheus binds it: try a few
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    let output = ''
    const child = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    const kill = () => child.kill('SIGKILL')
    process.once('exit', kill)
    try {
      await ready(url, child, () => output)
    } catch (err) {
      lastError = err
      kill()
      process.off('exit', kill)
      continue
    }
    return {
      url,
      async query(expr) {
        const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
          signal: AbortSignal.timeout(5000),
        })
        const body = (await res.json()) as { status: string; error?: string; data: { result: never } }
        if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`)
        return body.data.result
      },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r))
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
          await exited
          clearTimeout(timer)
        }
        process.off('exit', kill)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}
