// One process owns a data directory. The lock is a file holding the owner's pid, which appears atomically with its
// content (a hard link of a file written first); a lock left by a process that no longer runs (killed with -9) is
// taken over, by one process only, even when several find the same stale lock at once.
import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { SluiceError } from '../../errors/index.ts'

export interface DirLock {
  release(): void
}

/** How deep takeovers of takeovers may go: each level needs a process that died while taking over. */
const MAX_DEPTH = 4
const ATTEMPTS = 5

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Creates `path` holding our pid, or returns false if it exists. It never exists without its content. */
function create(path: string): boolean {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  writeFileSync(tmp, `${process.pid}\n`)
  try {
    linkSync(tmp, path)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err
    return createExclusive(path) // a file system without hard links
  } finally {
    unlinkSync(tmp)
  }
}

/** Exclusive creation, for file systems without hard links: the pid follows the file by a moment. */
function createExclusive(path: string): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, `${process.pid}\n`)
  } finally {
    closeSync(fd)
  }
  return true
}

/** The pid in a lock file; 'invalid' for anything else (damage); 'gone' when there is no file. */
function ownerOf(path: string): number | 'invalid' | 'gone' {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw err
  }
  const pid = Number(text.trim())
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 'invalid'
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Takes the lock file at `path`. Returns true when taken, or the pid of the live owner. A stale lock is removed only
 * by the process holding `<path>.takeover-<stale owner>`, itself such a lock: two processes that saw the same dead
 * owner cannot both remove a lock, and one cannot remove the fresh lock of the other (removing it by rename or
 * unlink after a check of its content would race with the other's creation).
 */
function acquire(path: string, depth: number): true | number | undefined {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (create(path)) return true
    const owner = ownerOf(path)
    if (owner === 'gone') continue // released between our attempt and our read
    if (owner !== 'invalid' && (owner === process.pid || alive(owner))) return owner
    if (depth >= MAX_DEPTH) return undefined
    const guard = `${path}.takeover-${owner}`
    if (acquire(guard, depth + 1) === true) {
      try {
        // still the stale lock we saw: nobody else can replace it while we hold the guard
        if (ownerOf(path) === owner) unlinkSync(path)
      } finally {
        unlinkSync(guard)
      }
    } else pause(10 * (attempt + 1)) // another process is taking over: see what it leaves
  }
  return undefined
}

export function lockDataDir(dataDir: string): DirLock {
  const path = join(dataDir, '.lock')
  const result = acquire(path, 0)
  if (result === process.pid) {
    throw new SluiceError(
      'SLUICE_ERR_DATA_DIR_LOCKED',
      `data directory ${dataDir} is already open in this process; close the other log first`,
      { details: { dataDir, owner: result } },
    )
  }
  if (typeof result === 'number') {
    throw new SluiceError(
      'SLUICE_ERR_DATA_DIR_LOCKED',
      `data directory ${dataDir} is in use by process ${result}; stop that process or use another --data-dir`,
      { details: { dataDir, owner: result } },
    )
  }
  if (result === undefined) {
    throw new SluiceError('SLUICE_ERR_DATA_DIR_LOCKED', `could not lock data directory ${dataDir}; retry`, {
      details: { dataDir },
    })
  }
  return {
    release() {
      try {
        // while we own the lock nobody else changes it, so this check cannot race
        if (ownerOf(path) === process.pid) unlinkSync(path)
      } catch {
        // already gone: nothing to release
      }
    },
  }
}
