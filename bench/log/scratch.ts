// Temporary files and directories of the benchmark, removed when done with and also when the run is interrupted.
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const live = new Set<string>()
let hooked = false

function hook(): void {
  if (hooked) return
  hooked = true
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const path of live) rmSync(path, { recursive: true, force: true })
      process.exit(130)
    })
  }
}

/** A fresh directory under `baseDir`. */
export function scratchDir(baseDir: string): string {
  hook()
  const dir = mkdtempSync(join(baseDir, 'sluice-bench-'))
  live.add(dir)
  return dir
}

/** A file name under `baseDir`, unique to this process. */
export function scratchFile(baseDir: string, name: string): string {
  hook()
  const file = join(baseDir, `sluice-bench-${name}-${process.pid}.bin`)
  live.add(file)
  return file
}

export function removeScratch(path: string): void {
  rmSync(path, { recursive: true, force: true })
  live.delete(path)
}
