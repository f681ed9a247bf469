// One process owns a data directory. The lock is a file holding the owner's pid, created exclusively; a lock left
// by a process that no longer runs (killed with -9) is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { SluiceError } from '../../errors/index.ts'

export interface DirLock {
  release(): void
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function lockDataDir(dataDir: string): DirLock {
  const path = join(dataDir, '.lock')
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return {
        release() {
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path)
          } catch {
            // already gone: nothing to release
          }
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let owner = Number.NaN
      try {
        owner = Number.parseInt(readFileSync(path, 'utf8'), 10)
      } catch {
        continue // removed between our open and read: try again
      }
      if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
        throw new SluiceError(
          'SLUICE_ERR_DATA_DIR_LOCKED',
          `data directory ${dataDir} is in use by process ${owner}; stop that process or use another --data-dir`,
          { details: { dataDir, owner } },
        )
      }
      if (owner === process.pid) {
        throw new SluiceError(
          'SLUICE_ERR_DATA_DIR_LOCKED',
          `data directory ${dataDir} is already open in this process; close the other log first`,
          { details: { dataDir, owner } },
        )
      }
      // stale lock from a dead process (or unreadable garbage): remove it and retry
      try {
        unlinkSync(path)
      } catch {}
    }
  }
  throw new SluiceError('SLUICE_ERR_DATA_DIR_LOCKED', `could not lock data directory ${dataDir}; retry`, {
    details: { dataDir },
  })
}
