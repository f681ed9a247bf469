// The data directory lock: one owner at a time, a stale lock (its owner killed) taken over by exactly one of the
// processes that find it, and leftovers of a takeover that died half way do not lock anyone out.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { lockDataDir } from '../../../src/log/embedded/dir-lock.ts'
import { useTempDirs } from './helpers.ts'

const HOLDER = fileURLToPath(new URL('../fixtures/lock-holder.ts', import.meta.url))

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((resolve) => child.on('exit', resolve))
  assert.ok(child.pid !== undefined)
  return child.pid
}

/** Reads the lines a child prints, one promise per line asked for. */
function lineReader(child: ChildProcess): () => Promise<string> {
  let buffered = ''
  const waiting: ((line: string) => void)[] = []
  const lines: string[] = []
  const flush = () => {
    while (waiting.length > 0 && lines.length > 0) waiting.shift()?.(lines.shift() as string)
  }
  child.stdout?.on('data', (chunk) => {
    buffered += chunk
    const parts = buffered.split('\n')
    buffered = parts.pop() as string
    lines.push(...parts)
    flush()
  })
  child.on('exit', () => {
    lines.push('exited')
    flush()
  })
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve)
      flush()
    })
}

/**
 * Starts `n` lock holders, lets them all go at the same moment once they are ready, and resolves with what each
 * printed; then lets them exit.
 */
async function race(dataDir: string, n: number): Promise<string[]> {
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, [HOLDER, dataDir], { stdio: ['pipe', 'pipe', 'inherit'] }),
  )
  const next = children.map(lineReader)
  assert.deepEqual(await Promise.all(next.map((line) => line())), Array(n).fill('ready'))
  for (const child of children) child.stdin.write('go\n')
  const lines = await Promise.all(next.map((line) => line()))
  await Promise.all(
    children.map((child) => {
      child.stdin.end()
      return new Promise((resolve) => child.on('exit', resolve))
    }),
  )
  return lines
}

describe('data directory lock', () => {
  const tempDir = useTempDirs('lock')

  test('processes racing for one stale lock: exactly one takes it, the others are refused', async () => {
    for (let round = 0; round < 8; round++) {
      const dir = tempDir()
      writeFileSync(join(dir, '.lock'), `${await deadPid()}\n`)
      const lines = await race(dir, 8)
      assert.equal(lines.filter((l) => l === 'locked').length, 1, `round ${round}: ${lines.join(', ')}`)
      for (const l of lines.filter((x) => x !== 'locked')) assert.equal(l, 'SLUICE_ERR_DATA_DIR_LOCKED')
    }
  })

  test('a takeover that died half way does not lock anyone out', async () => {
    const dir = tempDir()
    const stale = await deadPid()
    writeFileSync(join(dir, '.lock'), `${stale}\n`)
    writeFileSync(join(dir, `.lock.takeover-${stale}`), `${await deadPid()}\n`)
    const lock = lockDataDir(dir)
    assert.equal(readFileSync(join(dir, '.lock'), 'utf8').trim(), String(process.pid))
    assert.throws(() => lockDataDir(dir), /already open in this process/)
    lock.release()
    assert.equal(existsSync(join(dir, '.lock')), false)
  })

  test('a live owner keeps the lock', async () => {
    const dir = tempDir()
    const lock = lockDataDir(dir)
    try {
      assert.deepEqual(await race(dir, 2), ['SLUICE_ERR_DATA_DIR_LOCKED', 'SLUICE_ERR_DATA_DIR_LOCKED'])
    } finally {
      lock.release()
    }
  })
})
