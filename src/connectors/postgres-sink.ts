// A PostgreSQL sink of guarantee `transactional`, by two-phase commit: prepare() runs the interval's statements in a
// transaction and PREPAREs it under a name that carries the commit id; the log's commit then records that id in the
// sink step's state, and commit() COMMITs the prepared transaction. After a crash, open() learns the last id the
// log committed: prepared transactions up to it are committed, later ones rolled back. So every row is in Postgres
// exactly when the input that produced it is committed, no matter where a process dies. Needs
// max_prepared_transactions > 0 on the server (one prepared transaction per task at a time).
import pg from 'pg'
import { SluiceError } from '../errors/index.ts'
import type { Rec } from '../graph/logical.ts'
import type { Sink, SinkContext, SinkFactory } from './sink.ts'

/** One SQL statement with its parameters ($1, $2...). Upserts keep a replayed interval harmless but are not needed. */
export interface SqlStatement {
  text: string
  values?: unknown[]
}

export interface PostgresSinkOptions<K, V> {
  /** postgres://user:password@host:port/database */
  url: string
  /** The statements a record stands for, run in order within the interval's transaction. */
  statements: (record: Rec<K, V>) => Iterable<SqlStatement>
  /** Run once per task before its first transaction (e.g. CREATE TABLE IF NOT EXISTS). */
  setup?: SqlStatement[]
}

/** Where the server is, without credentials, for messages. */
function address(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || 5432}${u.pathname}`
  } catch {
    return 'an unparseable URL'
  }
}

/** Prepared transaction names of a task: `sluice:<pipeline>:<step>:<task>:<commit id>` (at most 200 bytes). */
const gidPrefix = (c: SinkContext) => `sluice:${c.pipeline}:${c.step}:${c.taskId}:`

export function postgresSink<K, V>(options: PostgresSinkOptions<K, V>): SinkFactory<K, V> {
  const where = address(options.url)
  const failed = (what: string, err: unknown) =>
    new SluiceError(
      'SLUICE_ERR_CONNECTION',
      `postgres sink at ${where}: ${what}: ${(err as Error)?.message ?? err}`,
      { cause: err },
    )
  return (context) => {
    let client: pg.Client | null = null
    let pending: Rec<K, V>[] = []
    const prefix = gidPrefix(context)
    const gid = (id: number) => `${prefix}${id}`
    const db = () => {
      if (client === null) throw new SluiceError('SLUICE_ERR_INTERNAL', 'postgres sink used before open()')
      return client
    }
    /** COMMIT or ROLLBACK a prepared transaction; one already finished (a repeat after a crash) is no error. */
    const finish = async (verb: 'COMMIT' | 'ROLLBACK', id: number) => {
      try {
        await db().query(`${verb} PREPARED '${gid(id)}'`)
      } catch (err) {
        if ((err as { code?: string }).code !== '42704') throw failed(`${verb} PREPARED of commit ${id}`, err) // undefined_object
      }
    }
    return {
      guarantee: 'transactional',
      async open(_ctx, lastCommitted) {
        client = new pg.Client({ connectionString: options.url })
        client.on('error', () => {}) // a dropped connection fails the next query, which says so
        try {
          await client.connect()
        } catch (err) {
          throw failed('cannot connect', err)
        }
        const max = Number(
          (await client.query('SHOW max_prepared_transactions')).rows[0].max_prepared_transactions,
        )
        if (!(max > 0)) {
          throw new SluiceError(
            'SLUICE_ERR_INVALID_CONFIG',
            `postgres sink at ${where}: the server has max_prepared_transactions = ${max}; the sink commits in two phases, so set it to at least the number of tasks writing to it (postgresql.conf, then restart the server)`,
          )
        }
        for (const s of options.setup ?? []) await client.query(s.text, s.values)
        // finish what a crashed process prepared: what the log committed is committed, the rest rolled back
        const open = await client.query<{ gid: string }>(
          'SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1',
          [`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
        )
        for (const { gid: name } of open.rows) {
          const id = Number(name.slice(prefix.length))
          await finish(lastCommitted !== null && id <= lastCommitted ? 'COMMIT' : 'ROLLBACK', id)
        }
      },
      write(records) {
        for (const r of records) pending.push(r)
      },
      async prepare(id) {
        const records = pending
        pending = []
        const c = db()
        try {
          await c.query('BEGIN')
          for (const r of records) for (const s of options.statements(r)) await c.query(s.text, s.values)
          await c.query(`PREPARE TRANSACTION '${gid(id)}'`)
        } catch (err) {
          await c.query('ROLLBACK').catch(() => {})
          throw failed(`the statements of commit ${id} failed`, err)
        }
      },
      commit: (id) => finish('COMMIT', id),
      abort: (id) => finish('ROLLBACK', id),
      async close() {
        pending = []
        await client?.end().catch(() => {})
        client = null
      },
    } satisfies Sink<K, V>
  }
}
