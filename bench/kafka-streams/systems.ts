// The processes bench/kafka-streams.ts starts: the Kafka Streams JVM (built with Maven on first use), the Sluice
// child, and kcat; the CPU time a process took (from /proc); and stopping every one of them, also on Ctrl-C.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

export const KS_DIR = resolve(import.meta.dirname, '../peers/kafka-streams')
const KS_STAMP = join(KS_DIR, 'target/.built')
const SLUICE_APP = resolve(import.meta.dirname, 'sluice-app.ts')

export type SystemName = 'kafka-streams' | 'sluice'

/** Hash of what the Java build depends on: rebuilt when the pom or a source changes. */
function ksSourceHash(): string {
  const hash = createHash('sha256')
  const files = [join(KS_DIR, 'pom.xml')]
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else files.push(path)
    }
  }
  walk(join(KS_DIR, 'src'))
  for (const f of files) hash.update(f).update(readFileSync(f))
  return hash.digest('hex')
}

/** `mvn -q package` in bench/peers/kafka-streams unless its output is there for these sources. */
export function buildKafkaStreams(log: (msg: string) => void): void {
  const want = ksSourceHash()
  if (existsSync(KS_STAMP) && readFileSync(KS_STAMP, 'utf8') === want) return
  log(
    'building the Kafka Streams program (mvn -q package; the first time downloads kafka-streams from Maven Central)',
  )
  execFileSync('mvn', ['-q', '-B', 'package'], { cwd: KS_DIR, stdio: ['ignore', 'ignore', 'inherit'] })
  writeFileSync(KS_STAMP, want)
}

const children = new Set<ChildProcess>()

/** SIGKILLs every process started here that is still running. */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}

export interface Started {
  readonly child: ChildProcess
  /** epoch ms just before spawn */
  readonly spawnedAt: number
  /** Resolves at the process's `running` line; rejects if it exits first. */
  readonly running: Promise<void>
  /** The last lines of its stderr, for error messages. */
  stderr(): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>
}

function track(child: ChildProcess, what: string, spawnedAt: number): Started {
  children.add(child)
  const tail: string[] = []
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    tail.push(s)
    if (tail.length > 100) tail.shift()
  })
  const gone = new Promise<void>((r) =>
    child.once('close', () => {
      children.delete(child)
      r()
    }),
  )
  const running = new Promise<void>((resolveRunning, reject) => {
    if (child.stdout === null) return resolveRunning()
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.trim() === 'running') resolveRunning()
    })
    child.once('close', (code, signal) =>
      reject(new Error(`${what} exited (${signal ?? code}) before running:\n${tail.join('').slice(-3000)}`)),
    )
  })
  running.catch(() => {})
  return {
    child,
    spawnedAt,
    running,
    stderr: () => tail.join(''),
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return gone
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await gone
      clearTimeout(timer)
    },
  }
}

export interface SystemOptions {
  brokers: string[]
  applicationId: string
  input: string
  output: string
  windowMs: number
  graceMs: number
  stateDir: string
  /** Kafka Streams: heap of the JVM, e.g. 512m. */
  heap: string
  /** Kafka Streams: 'memory' or 'rocksdb' window store. */
  store: string
  /** Kafka Streams: 'suppress' (suppress untilWindowCloses) or 'close' (emitStrategy onWindowClose). */
  emit: string
  /** Kafka Streams: extra settings, `key=value,...`. */
  config: string
  /** Sluice: extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[]
}

export function startSystem(system: SystemName, o: SystemOptions): Started {
  const common = [
    '--brokers',
    o.brokers.join(','),
    '--application-id',
    o.applicationId,
    '--input',
    o.input,
    '--output',
    o.output,
    '--window-ms',
    String(o.windowMs),
    '--grace-ms',
    String(o.graceMs),
    '--state-dir',
    o.stateDir,
  ]
  const spawnedAt = Date.now()
  const child =
    system === 'kafka-streams'
      ? spawn(
          'java',
          [
            `-Xmx${o.heap}`,
            `-Xms${o.heap}`,
            '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
            '-Dorg.slf4j.simpleLogger.logFile=System.err',
            '-cp',
            `${join(KS_DIR, 'target/classes')}:${join(KS_DIR, 'target/lib')}/*`,
            'dev.sluice.bench.WindowedCount',
            ...common,
            '--store',
            o.store,
            '--emit',
            o.emit,
            '--config',
            o.config,
          ],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        )
      : spawn(process.execPath, [...(o.nodeArgs ?? []), SLUICE_APP, ...common], {
          stdio: ['pipe', 'pipe', 'pipe'],
        })
  return track(child, system, spawnedAt)
}

/** Runs a process to its end; resolves with its wall time from spawn to exit, in ms. */
export function runToEnd(command: string, args: string[], options: { stdout?: 'ignore' | 'pipe' } = {}) {
  const spawnedAt = performance.now()
  const child = spawn(command, args, { stdio: ['pipe', options.stdout ?? 'pipe', 'pipe'] })
  const started = track(child, command, Date.now())
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s
  })
  return new Promise<{ ms: number; stdout: string; cpuMs: number }>((resolveRun, reject) => {
    let cpuMs = 0
    // the last CPU reading before the process is reaped
    const sampler = setInterval(() => {
      cpuMs = Math.max(cpuMs, cpuMsOf(child.pid))
    }, 50)
    child.once('close', (code) => {
      clearInterval(sampler)
      const ms = performance.now() - spawnedAt
      if (code === 0) resolveRun({ ms, stdout: out, cpuMs })
      else reject(new Error(`${command} exited with ${code}: ${started.stderr().slice(-2000)}`))
    })
  })
}

/** User + system CPU time of a process (all its threads), in ms; 0 if it is gone. Linux only. */
export function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state): utime is field 14, stime field 15; USER_HZ is 100
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return 0
  }
}

/** The pids of this process's children running `kafka.Kafka` (the brokers test/support/kafka.ts started). */
export function brokerPids(): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid !== process.pid) continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('kafka.Kafka')) out.push(Number(entry))
    } catch {}
  }
  return out
}
