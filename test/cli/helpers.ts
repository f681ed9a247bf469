// Runs the real `sluice` binary as a child process in a throwaway directory, and cleans up both afterwards.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, watch } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Written to stdin, which is then closed. */
  input?: string | Buffer
  /** Leave stdin open for the test to write to (child.stdin) and close. */
  keepStdinOpen?: boolean
  env?: NodeJS.ProcessEnv
}

/** A running CLI process whose output can be awaited on conditions rather than with sleeps. */
export class CliProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<CliResult>
  private readonly waiters = new Set<() => void>()

  constructor(child: ChildProcess) {
    this.child = child
    child.stdout?.setEncoding('utf8').on('data', (s: string) => this.append('stdout', s))
    child.stderr?.setEncoding('utf8').on('data', (s: string) => this.append('stderr', s))
    this.exited = new Promise((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code, signal) => {
        this.notify()
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })
      })
    })
  }

  private append(stream: 'stdout' | 'stderr', text: string): void {
    this[stream] += text
    this.notify()
  }

  private notify(): void {
    for (const w of this.waiters) w()
  }

  /** Resolves once `condition` holds on the output so far; rejects if the process exits first. */
  waitFor(condition: (p: CliProcess) => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition(this)) {
          this.waiters.delete(check)
          resolve()
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          this.waiters.delete(check)
          reject(new Error(`process exited before ${what}; stdout=${this.stdout} stderr=${this.stderr}`))
        }
      }
      this.waiters.add(check)
      check()
    })
  }
}

/** A temporary working directory with a data dir; every child it starts is killed and the directory removed. */
export class Sandbox {
  readonly dir: string
  readonly dataDir: string
  private readonly children = new Set<CliProcess>()

  private constructor(dir: string) {
    this.dir = dir
    this.dataDir = join(dir, 'data')
  }

  static async create(): Promise<Sandbox> {
    return new Sandbox(await mkdtemp(join(tmpdir(), 'sluice-cli-test-')))
  }

  /** Starts `sluice args...` with SLUICE_DATA_DIR pointing into the sandbox. */
  start(args: readonly string[], options: RunOptions = {}): CliProcess {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: this.dir,
      env: { ...process.env, SLUICE_DATA_DIR: this.dataDir, SLUICE_DEBUG: '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const proc = new CliProcess(child)
    this.children.add(proc)
    proc.exited.finally(() => this.children.delete(proc)).catch(() => {})
    if (options.input !== undefined) child.stdin?.end(options.input)
    else if (!options.keepStdinOpen) child.stdin?.end()
    return proc
  }

  run(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
    return this.start(args, options).exited
  }

  /** Like run, but fails with the process output when the exit code is not 0. */
  async ok(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
    const result = await this.run(args, options)
    if (result.code !== 0) {
      throw new Error(`sluice ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`)
    }
    return result
  }

  async cleanup(): Promise<void> {
    for (const proc of this.children) {
      proc.child.kill('SIGKILL')
      await proc.exited.catch(() => {})
    }
    await rm(this.dir, { recursive: true, force: true })
  }
}

/**
 * Resolves once `proc` has opened the log, seen by its pid in the data directory's lock file (the embedded log's
 * documented single-owner lock). Watching the file, rather than probing with another command, matters: a probe
 * would itself take the lock for a moment and could make `proc` fail to open the log.
 */
export function waitUntilOpened(sb: Sandbox, proc: CliProcess): Promise<void> {
  const lockFile = join(sb.dataDir, '.lock')
  return new Promise((resolve, reject) => {
    const watcher = watch(sb.dataDir)
    const finish = (err?: Error) => {
      watcher.close()
      proc.child.off('exit', onExit)
      if (err) reject(err)
      else resolve()
    }
    const check = () => {
      let owner = ''
      try {
        owner = readFileSync(lockFile, 'utf8').trim()
      } catch {
        return // not created yet
      }
      if (owner === String(proc.child.pid)) finish()
    }
    const onExit = () => finish(new Error(`exited before opening the log: ${proc.stderr}`))
    watcher.on('change', check)
    watcher.on('error', finish)
    proc.child.on('exit', onExit)
    check()
  })
}

/** Parses NDJSON output into objects. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
}
