// The fraud pipeline under kill -9: a child process runs it over generated transactions and is killed at random
// moments, then restarted, until it gets through; the alerts (on the topic and at the alerting service) still equal
// the ground truth exactly, and every malformed event is dead-lettered once.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { feedTransactions } from '../../../apps/fraud/feed.ts'
import { ALERT_SCHEMA, type Alert, generateTransactions, ruleOfSymbol } from '../../../apps/fraud/index.ts'
import { openEmbeddedLog } from '../../../src/log/index.ts'
import { subjectSerde } from '../../../src/registry/client.ts'
import { openSchemaRegistry } from '../../../src/registry/store.ts'
import { parseDeadLetter } from '../../../src/runtime/dead-letters.ts'
import { prng } from '../../log/fixtures/crash-records.ts'
import { alertReceiver, canonical } from './support.ts'

const APP = fileURLToPath(new URL('./fixtures/fraud-app.ts', import.meta.url))
const SEED = Number(process.env.SLUICE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const KILLS = 6

const children = new Set<ChildProcess>()
const dirs: string[] = []
after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function start(dataDir: string, url: string) {
  const child = spawn(process.execPath, [APP, dataDir, url], { stdio: ['pipe', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out += s
  })
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err += s
  })
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    }),
  )
  return { child, exited, out: () => out, err: () => err }
}

describe(`fraud pipeline under kill -9 (SLUICE_CHAOS_SEED=${SEED})`, () => {
  it(`${KILLS} kills, then a run to the end: alerts and dead letters exact`, {
    timeout: 240_000,
  }, async (t) => {
    const rand = prng(SEED)
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-fraud-chaos-'))
    dirs.push(dataDir)
    const generated = generateTransactions({ seed: SEED, cleanAccounts: 1500, fraudPerRule: 10 })
    let malformed: number
    {
      const log = await openEmbeddedLog({ dataDir: join(dataDir, 'log'), fsync: { mode: 'os' } })
      const registry = await openSchemaRegistry({ log })
      await log.admin().createTopic('transactions', { partitions: 4 })
      await log.admin().createTopic('fraud_alerts', { partitions: 1 })
      ;({ malformed } = await feedTransactions(log, registry, generated))
      await registry.close()
      await log.close()
    }
    const receiver = await alertReceiver((key) => key.length % 4 === 0)
    try {
      let kills = 0
      for (let attempt = 0; kills < KILLS; attempt++) {
        assert.ok(attempt < 4 * KILLS, `only ${kills} of ${attempt} runs could be killed`)
        const app = start(dataDir, receiver.url)
        // a random moment: while it starts and restores, or while it processes
        await sleep(200 + rand() * 2500)
        app.child.kill('SIGKILL')
        const exit = await app.exited
        if (exit.signal === 'SIGKILL') kills++
        else assert.equal(exit.code, 0, `run ${attempt} failed: ${app.err()}`)
      }
      const last = start(dataDir, receiver.url)
      const exit = await last.exited
      assert.equal(exit.code, 0, `the last run failed: ${last.err()}`)
      t.diagnostic(
        `${kills} kills; ${[...receiver.requests.values()].reduce((a, b) => a + b, 0)} webhook requests`,
      )
    } finally {
      await receiver.close()
    }

    const want = generated.alerts.map(canonical).sort()
    const log = await openEmbeddedLog({ dataDir: join(dataDir, 'log'), fsync: { mode: 'os' } })
    const registry = await openSchemaRegistry({ log })
    try {
      const read = async (topic: string) => {
        const c = log.consumer({ isolationLevel: 'read_committed' })
        await c.assign([{ topic, partition: 0 }])
        await c.seek({ topic, partition: 0 }, 'earliest')
        const out = []
        for (let b = await c.poll({ timeoutMs: 0 }); b.length > 0; b = await c.poll({ timeoutMs: 0 }))
          out.push(...b)
        await c.close()
        return out
      }
      const serde = await subjectSerde<Alert>(registry, {
        subject: 'fraud_alerts-value',
        schema: ALERT_SCHEMA,
      })
      const published = (await read('fraud_alerts')).map((r) => {
        const a = serde.deserialize(r.value)
        return canonical({ ...a, rule: ruleOfSymbol(a.rule) })
      })
      assert.deepEqual(published.sort(), want, 'fraud_alerts: each injected fraud once, nothing else')
      assert.deepEqual(
        [...receiver.alerts.values()].map((a) => canonical(a as Alert)).sort(),
        want,
        'the alerting service: each injected fraud once, nothing else',
      )
      const dead = (await read('fraud-dead-letters')).map((r) => parseDeadLetter(r)!)
      assert.equal(dead.length, malformed, 'every malformed event dead-lettered once')
    } finally {
      await registry.close()
      await log.close()
    }
  })
})
