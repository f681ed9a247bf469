// A broker fails under a running pipeline: on a 3-broker cluster (replication factor 3, min.insync.replicas 2), the
// chaos pipeline (repartitioning keyBy, windowed count, keyed process) runs under exactly-once in a child process
// while one broker is killed and later restarted. The pipeline rides it out (a failed transaction is aborted and
// its interval processed again from the last commit) and the read_committed output equals the reference exactly.
// Without Java/Maven the file skips, or fails under CI.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { openKafkaLog } from '../../src/kafka/index.ts'
import type { Log } from '../../src/log/contract.ts'
import { KAFKA_HOWTO, kafkaUnavailable, startKafka } from '../support/kafka.ts'
import {
  APP,
  INPUT,
  MILESTONES,
  type Milestone,
  REPARTITION,
  reference,
  unread,
  VIEWS,
  type View,
  writeInput,
} from './fixtures/chaos-pipeline.ts'

const APP_SCRIPT = fileURLToPath(new URL('./fixtures/scale-app.ts', import.meta.url))
const RECORDS = 60_000
const PARTITIONS = 4
const unavailable = await kafkaUnavailable()

const children = new Set<ChildProcess>()
const dirs: string[] = []
after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function committedInput(log: Log): Promise<number> {
  const group = await log
    .admin()
    .describeGroup(APP)
    .catch(() => null)
  return (group?.offsets ?? []).filter((o) => o.topic === INPUT).reduce((n, o) => n + o.offset, 0)
}

async function readAll<T>(log: Log, topic: string): Promise<T[]> {
  const c = log.consumer({ isolationLevel: 'read_committed' })
  const { partitions } = await log.admin().describeTopic(topic)
  await c.assign(partitions.map(({ partition }) => ({ topic, partition })))
  for (const { partition } of partitions) await c.seek({ topic, partition }, 'earliest')
  const ends = new Map<number, number>()
  for (const { partition } of partitions)
    ends.set(partition, await log.admin().listOffsets(topic, partition, 'lastStable'))
  const out: T[] = []
  while (partitions.some(({ partition }) => (c.position({ topic, partition }) ?? 0) < ends.get(partition)!)) {
    for (const r of await c.poll({ timeoutMs: 500 })) out.push(JSON.parse(r.value!.toString()) as T)
  }
  await c.close()
  return out
}

function differences(got: string[], want: string[]): string[] {
  const count = (xs: string[]) =>
    xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>())
  const g = count(got)
  const w = count(want)
  const out: string[] = []
  for (const [row, n] of w) if ((g.get(row) ?? 0) !== n) out.push(`${row} ×${(g.get(row) ?? 0) - n}`)
  for (const [row, n] of g) if (!w.has(row)) out.push(`${row} ×${n}`)
  return out
}

if (unavailable !== undefined) {
  describe('a broker failure under a pipeline', () => {
    if (process.env.CI === 'true') it('needs a Kafka broker', () => assert.fail(unavailable))
    else it('needs a Kafka broker', { skip: unavailable }, () => {})
  })
} else {
  describe('a broker failure under a pipeline', () => {
    let stopKafka: () => Promise<void> = async () => {}
    after(() => stopKafka())

    // KNOWN GAP (todo until done): the runner does not yet ride out a failed transaction (a send or commit that
    // fails with SLUICE_ERR_CONNECTION when a broker goes away should abort, restore the tasks from the last commit
    // and go on); and in its one run here, on a loaded machine, the pipeline did not reach a fifth of its input on
    // the 3-broker cluster before any broker was stopped (see the scale-out test's stall).
    it('one of three brokers killed and restarted mid-run: output exact, nothing lost', {
      timeout: 400_000,
      todo: 'the runner does not recover from a failed transaction yet; see the comment above',
    }, async (t) => {
      const cluster = await startKafka({ brokers: 3 }).catch((error: Error) => {
        throw new Error(`${error.message}\n${KAFKA_HOWTO}`)
      })
      stopKafka = () => cluster.stop()
      const log = await openKafkaLog({ brokers: cluster.brokers, clientId: 'fault-test' })
      try {
        const admin = log.admin()
        await admin.createTopic(INPUT, { partitions: PARTITIONS })
        await admin.createTopic(VIEWS, { partitions: 2 })
        await admin.createTopic(MILESTONES, { partitions: 2 })
        const producer = log.producer()
        await writeInput(producer, RECORDS, 10_000, PARTITIONS)
        await producer.close()
        const total = RECORDS + PARTITIONS

        const stateDir = mkdtempSync(join(tmpdir(), 'sluice-fault-'))
        dirs.push(stateDir)
        // the app knows the surviving brokers too: bootstrap from all three
        const child = spawn(process.execPath, [APP_SCRIPT, cluster.brokers.join(','), stateDir], {
          stdio: ['pipe', 'pipe', 'pipe'],
        })
        children.add(child)
        let stderr = ''
        child.stderr!.setEncoding('utf8').on('data', (s: string) => {
          stderr += s
        })
        const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
        const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 180_000) => {
          const deadline = Date.now() + timeoutMs
          while (!(await check().catch(() => false))) {
            assert.equal(child.exitCode, null, `the pipeline exited: ${stderr.slice(-3000)}`)
            assert.ok(Date.now() < deadline, `timed out waiting for ${what}; stderr: ${stderr.slice(-3000)}`)
            await sleep(250)
          }
        }
        await waitFor('a fifth of the input', async () => (await committedInput(log)) >= total / 5, 60_000)
        await cluster.stopBroker(1)
        t.diagnostic(`broker 2 killed at ${await committedInput(log)} of ${total}`)
        await sleep(8000)
        await cluster.startBroker(1)
        t.diagnostic(`broker 2 back at ${await committedInput(log)} of ${total}`)

        const probe = log.consumer({ isolationLevel: 'read_committed' })
        await waitFor('the whole input and every repartitioned record', async () => {
          if ((await committedInput(log)) < total) return false
          const group = await admin.describeGroup(APP)
          for (const { partition } of (await admin.describeTopic(REPARTITION)).partitions) {
            const at =
              group.offsets.find((o) => o.topic === REPARTITION && o.partition === partition)?.offset ?? 0
            if (await unread(log, probe, { topic: REPARTITION, partition }, at)) return false
          }
          return true
        })
        await probe.close()
        child.kill('SIGTERM')
        assert.equal(await exited, 0, `the pipeline did not stop cleanly: ${stderr.slice(-3000)}`)

        const want = reference(RECORDS)
        const views = await readAll<View>(log, VIEWS)
        const milestones = await readAll<Milestone>(log, MILESTONES)
        assert.deepEqual(
          differences(
            views.map((v) => `${v.page}@${v.start}=${v.views}`),
            want.views.map((v) => `${v.page}@${v.start}=${v.views}`),
          ).slice(0, 10),
          [],
          `views: ${views.length} rows, ${want.views.length} expected`,
        )
        assert.deepEqual(
          differences(
            milestones.map((m) => `${m.user}#${m.n}=${m.sum}`),
            want.milestones.map((m) => `${m.user}#${m.n}=${m.sum}`),
          ).slice(0, 10),
          [],
          `milestones: ${milestones.length}, ${want.milestones.length} expected`,
        )
        t.diagnostic(`${views.length} views and ${milestones.length} milestones, equal to the reference`)
      } finally {
        await log.close()
      }
    })
  })
}
