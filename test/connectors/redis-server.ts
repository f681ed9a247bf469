// A real redis-server for integration tests: started on a free loopback port with persistence off, stopped by the
// test. No mocks: the sink must be right against the server it will meet.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

export const INSTALL_HINT = 'redis-server is not installed: install it with `apt-get install -y redis-server`'

/** Why Redis tests cannot run here, or null. On CI a missing server is a failure, not a reason to skip. */
export function redisUnavailable(): string | null {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  return found.error === undefined && found.status === 0 ? null : INSTALL_HINT
}

/** `skip` option for a suite: a message locally when redis-server is missing, never on CI (where it must fail). */
export function skipWithoutRedis(): string | false {
  const why = redisUnavailable()
  return why !== null && process.env.CI !== 'true' ? why : false
}

export interface RedisServer {
  url: string
  port: number
  /** A new client; closed by stop(). */
  client(): Redis
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

async function ready(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`)
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
    probe.on('error', () => {})
    try {
      await probe.connect()
      if ((await probe.ping()) === 'PONG') return
    } catch {
      if (Date.now() > deadline)
        throw new Error(`redis-server on port ${port} did not answer PING within 10 s`)
    } finally {
      probe.disconnect()
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

export async function startRedis(): Promise<RedisServer> {
  const why = redisUnavailable()
  if (why !== null) throw new Error(why)
  const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'))
  let lastError: unknown
  // the port is free when chosen, not necessarily when redis binds it: try a few
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    )
    const kill = () => child.kill('SIGKILL')
    process.once('exit', kill)
    try {
      await ready(port, child)
    } catch (err) {
      lastError = err
      kill()
      process.off('exit', kill)
      continue
    }
    const clients: Redis[] = []
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      client() {
        const c = new Redis({ port, host: '127.0.0.1' })
        clients.push(c)
        return c
      },
      async stop() {
        for (const c of clients) c.disconnect()
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r))
          child.kill('SIGTERM')
          await exited
        }
        process.off('exit', kill)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}

/** Every key of the database with its value and type, read back in a comparable shape. */
export async function dump(client: Redis): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const key of (await client.keys('*')).sort()) {
    const type = await client.type(key)
    if (type === 'string') out[key] = await client.get(key)
    else if (type === 'hash') out[key] = await client.hgetall(key)
    else if (type === 'zset') {
      const flat = await client.zrange(key, '0', '-1', 'WITHSCORES')
      const members: Record<string, number> = {}
      for (let i = 0; i < flat.length; i += 2) members[flat[i]] = Number(flat[i + 1])
      out[key] = members
    } else out[key] = `<${type}>`
  }
  return out
}
