// Graceful shutdown on SIGINT/SIGTERM: the first signal lets the running pipeline finish its batch, commit and
// close; a second one exits at once (the next start recovers from the last commit, as after a crash).
import type { RunningPipeline } from './runner.ts'

export interface ShutdownOptions {
  /** Told when a signal arrives and whether the stop is graceful or forced. */
  onSignal?: (signal: NodeJS.Signals, forced: boolean) => void
  /** Exit code of a forced exit. Default 130. */
  forcedExitCode?: number
}

/** Installs the handlers; returns a function that removes them. */
export function stopOnSignals(run: RunningPipeline, options: ShutdownOptions = {}): () => void {
  let stopping = false
  const handler = (signal: NodeJS.Signals) => {
    options.onSignal?.(signal, stopping)
    if (stopping) process.exit(options.forcedExitCode ?? 130)
    stopping = true
    void run.stop()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}
