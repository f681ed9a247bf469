// A benchmark's child process, spoken to through JSON lines on its stdout: the parent waits for named events,
// each wait bounded, and can SIGKILL the child (the crash bench/recovery.ts measures) or let it end by itself.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

export interface Message {
  event: string
  [field: string]: unknown
}

/** Milliseconds since the epoch, with performance.now()'s resolution: comparable across processes. */
export const epochNow = (): number => performance.timeOrigin + performance.now()

export class WorkerProcess {
  readonly child: ChildProcess
  /** epochNow() just before spawn(). */
  readonly spawnedAt: number
  readonly #timeoutMs: number
  readonly #lines: Message[] = []
  #wake: (() => void) | undefined
  #exited = false

  /** Runs `script` with this Node; the child reports with one JSON object per line, `{ event, ... }`. */
  constructor(script: string, args: string[], options: { nodeArgs?: string[]; timeoutMs: number }) {
    this.#timeoutMs = options.timeoutMs
    this.spawnedAt = epochNow()
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.#lines.push(JSON.parse(line) as Message)
      this.#wake?.()
    })
    this.child.on('exit', () => {
      this.#exited = true
      this.#wake?.()
    })
  }

  /** The next message with this event, skipping others; throws on an `error` event, an exit or the timeout. */
  async next(event: string): Promise<Message> {
    const deadline = performance.now() + this.#timeoutMs
    for (;;) {
      const m = this.#lines.shift()
      if (m?.event === 'error') throw new Error(`worker failed: ${m.message}`)
      if (m?.event === event) return m
      if (m !== undefined) continue
      if (this.#exited) throw new Error(`worker exited before "${event}"`)
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`timed out waiting for "${event}" from the worker`)
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left)
        this.#wake = () => {
          clearTimeout(timer)
          wake()
        }
      })
      this.#wake = undefined
    }
  }

  /** SIGKILL, and wait until the process is gone (so that its lock on a data directory is stale). */
  async kill(): Promise<void> {
    if (this.#exited) return
    const gone = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill('SIGKILL')
    await gone
  }

  /** Waits (bounded) for the process to end by itself; kills it after the timeout. */
  async exited(): Promise<void> {
    if (!this.#exited) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        new Promise((resolve) => this.child.once('exit', resolve)),
        new Promise((resolve) => (timer = setTimeout(resolve, this.#timeoutMs))),
      ])
      clearTimeout(timer)
    }
    await this.kill()
  }
}
