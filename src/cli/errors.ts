// How the CLI reports a failure: one line, `error <code>: <message>` (the shape docs/errors.md promises), and a
// stack only with SLUICE_DEBUG=1,
// because a CLI user needs to know what to fix, not where in the code it was noticed.
import { isSluiceError } from '../errors/index.ts'

export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.SLUICE_DEBUG === '1' || env.SLUICE_DEBUG === 'true'
}

/**
 * Node's system errors (ENOENT, EACCES...) carry a string code worth showing. Anything else is a bug, named by its
 * class (TypeError...) rather than by an invented SLUICE_ERR_* code that docs/errors.md would not list.
 */
function codeOf(err: unknown): { code: string; expected: boolean } {
  if (isSluiceError(err)) return { code: err.code, expected: true }
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') return { code, expected: true }
  return { code: err instanceof Error ? err.name : 'Error', expected: false }
}

export function formatError(err: unknown): string {
  const { code, expected } = codeOf(err)
  let message = err instanceof Error ? err.message : String(err)
  if (!expected && !debugEnabled())
    message += ' (this is a bug in sluice; run with SLUICE_DEBUG=1 for the stack)'
  // Messages are single-line by convention; a multi-line one would break `2>&1 | grep` style scripts.
  return `error ${code}: ${message.replace(/\s*\n\s*/g, ' ')}`
}

export function reportError(err: unknown, write: (line: string) => void): void {
  write(`${formatError(err)}\n`)
  if (debugEnabled() && err instanceof Error && err.stack) write(`${err.stack}\n`)
}
