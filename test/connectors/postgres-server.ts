// A real PostgreSQL server for integration tests: a fresh cluster (initdb) in a temporary directory, started on a
// free loopback port with prepared transactions enabled, owned by the `postgres` user when the tests run as root
// (the server refuses to run as root), and removed when stopped. No mocks.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export const INSTALL_HINT =
  'PostgreSQL is not installed: install it with `apt-get install -y postgresql` (its binaries go to /usr/lib/postgresql/<version>/bin)'

/** The directory of initdb and postgres, or null. */
function binDir(): string | null {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'postgres'))) return join(root, v, 'bin')
  return null
}

/** `skip` option for a suite: a message locally when PostgreSQL is missing, never on CI (where it must fail). */
export function skipWithoutPostgres(): string | false {
  return binDir() === null && process.env.CI !== 'true' ? INSTALL_HINT : false
}

export interface PostgresServer {
  url: string
  client(): Promise<pg.Client>
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

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir()
  if (bin === null) throw new Error(INSTALL_HINT)
  const dir = mkdtempSync(join(tmpdir(), 'sluice-postgres-'))
  const data = join(dir, 'data')
  const root = process.getuid?.() === 0
  const uid = root
    ? Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim())
    : undefined
  if (root) {
    if (!Number.isInteger(uid))
      throw new Error('running as root, but there is no postgres user to run the server as')
    chmodSync(dir, 0o755)
    chownSync(dir, uid!, uid!)
  }
  const run = (cmd: string, args: string[]) =>
    root
      ? spawn('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    const init = run(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
    ])
    let err = ''
    init.stderr!.on('data', (d) => {
      err += d
    })
    init.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`initdb failed (${code}): ${err}`)),
    )
  })
  const port = await freePort()
  const server: ChildProcess = run(join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'max_prepared_transactions=64',
    '-c',
    'fsync=off',
  ])
  let log = ''
  server.stderr!.on('data', (d) => {
    log += d
  })
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited with code ${server.exitCode}: ${log}`)
    const probe = new pg.Client({ connectionString: url })
    try {
      await probe.connect()
      await probe.query('SELECT 1')
      await probe.end()
      break
    } catch {
      await probe.end().catch(() => {})
      if (Date.now() > deadline)
        throw new Error(`postgres on port ${port} did not answer within 30 s: ${log}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const clients: pg.Client[] = []
  return {
    url,
    async client() {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      clients.push(c)
      return c
    },
    async stop() {
      for (const c of clients) await c.end().catch(() => {})
      // pg_ctl signals the postmaster itself (under runuser, a signal to the child would stop runuser only)
      const stopped = run(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'fast', '-w', '-t', '20'])
      await new Promise((r) => stopped.once('close', r))
      if (server.exitCode === null) {
        const timer = setTimeout(() => server.kill('SIGKILL'), 5000)
        await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)))
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
