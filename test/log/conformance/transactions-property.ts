// Conformance, property-based: random interleavings of plain sends and of two transactional producers' sends,
// commits and aborts on two partitions, checked against a reference model of what each isolation level sees.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { ConsumedRecord, LogProducer, TopicPartition } from '../../../src/log/contract.ts'
import { tpKey } from '../../../src/log/contract.ts'
import type { ConformanceContext, LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import { bytes, drain, offsetsOf, ofPartition, partitionsOf, readAll, valuesOf, waitFor } from './helpers.ts'

const PARTITIONS = 2
const PRODUCERS = 2

type Op =
  | { kind: 'plain'; partition: number }
  | { kind: 'send'; producer: number; partition: number }
  | { kind: 'end'; producer: number; commit: boolean }
  | { kind: 'check' }

const partitionArb = fc.integer({ min: 0, max: PARTITIONS - 1 })
const producerArb = fc.integer({ min: 0, max: PRODUCERS - 1 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('plain' as const), partition: partitionArb }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      producer: producerArb,
      partition: partitionArb,
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('end' as const), producer: producerArb, commit: fc.boolean() }),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: 'check' as const }), weight: 1 },
)
const scenarioArb = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 30 }),
  /** How each producer's transaction still open at the end finishes. */
  finish: fc.array(fc.boolean(), { minLength: PRODUCERS, maxLength: PRODUCERS }),
})

/** One data record as the model knows it: where it went, and the transaction it belongs to (null: plain). */
interface Appended {
  partition: number
  offset: number
  value: string
  txn: number | null
}

class Model {
  readonly records: Appended[] = []
  readonly outcome = new Map<number, boolean>()
  readonly open: (number | null)[] = Array(PRODUCERS).fill(null)

  visibleCommitted(r: Appended): boolean {
    return r.txn === null || this.outcome.get(r.txn) === true
  }

  /** The last stable offset of a partition: the first offset of a still-open transaction, if any. */
  lastStable(partition: number): number | undefined {
    const openTxns = new Set(this.open.filter((t) => t !== null))
    const offsets = this.records.filter(
      (r) => r.partition === partition && r.txn !== null && openTxns.has(r.txn),
    )
    return offsets.length === 0 ? undefined : Math.min(...offsets.map((r) => r.offset))
  }
}

async function runScenario(
  ctx: ConformanceContext,
  scenario: { ops: Op[]; finish: boolean[] },
): Promise<void> {
  const topic = await ctx.createTopic(PARTITIONS)
  const tps = partitionsOf(topic, PARTITIONS)
  const plain = ctx.producer()
  const txns: LogProducer[] = []
  for (let i = 0; i < PRODUCERS; i++) txns.push(await ctx.transactionalProducer())
  const model = new Model()
  let serial = 0
  let counter = 0

  const append = async (producer: LogProducer, partition: number, txn: number | null) => {
    const value = `${txn === null ? 'p' : `t${txn}`}-${counter++}`
    const [meta] = await producer.send([{ topic, partition, value: bytes(value) }])
    assert.equal(meta.partition, partition)
    model.records.push({ partition, offset: meta.offset, value, txn })
  }
  const begin = (producer: number): number => {
    const current = model.open[producer]
    if (current !== null) return current
    txns[producer].beginTransaction()
    const txn = serial++
    model.open[producer] = txn
    return txn
  }
  const end = async (producer: number, commit: boolean) => {
    const txn = begin(producer)
    if (commit) await txns[producer].commitTransaction()
    else await txns[producer].abortTransaction()
    model.outcome.set(txn, commit)
    model.open[producer] = null
  }

  // Live readers tail the partitions while the scenario runs, so that records are read at every stage of their
  // transaction's life, not only after the fact.
  const live = await Promise.all(
    (['read_committed', 'read_uncommitted'] as const).map(async (isolationLevel) => {
      const consumer = ctx.consumer({ isolationLevel, autoOffsetReset: 'earliest' })
      await consumer.assign(tps)
      return { isolationLevel, consumer, records: [] as ConsumedRecord[] }
    }),
  )
  const tail = async () => {
    for (const reader of live) reader.records.push(...(await reader.consumer.poll({ timeoutMs: 0 })))
  }

  for (const op of scenario.ops) {
    if (op.kind === 'plain') await append(plain, op.partition, null)
    else if (op.kind === 'send') await append(txns[op.producer], op.partition, begin(op.producer))
    else if (op.kind === 'end') await end(op.producer, op.commit)
    else await check(ctx, tps, model)
    await tail()
  }
  for (let p = 0; p < PRODUCERS; p++) if (model.open[p] !== null) await end(p, scenario.finish[p])
  await check(ctx, tps, model)

  for (const reader of live) {
    const spec = reader.isolationLevel === 'read_committed' ? 'lastStable' : 'latest'
    reader.records.push(
      ...(await drain(reader.consumer, await offsetsOf(ctx.admin, tps, spec), ctx.waitTimeoutMs)),
    )
    for (const tp of tps) {
      const expected = model.records.filter(
        (r) =>
          r.partition === tp.partition &&
          (reader.isolationLevel === 'read_uncommitted' || model.visibleCommitted(r)),
      )
      assert.deepEqual(
        valuesOf(ofPartition(reader.records, tp)),
        expected.map((r) => r.value),
        `live ${reader.isolationLevel} reader of partition ${tp.partition}`,
      )
    }
  }
  await Promise.all([plain, ...txns].map((p) => p.close()))
  await Promise.all(live.map((reader) => reader.consumer.close()))
}

/** Compares both isolation levels with the model, once the log's last stable offsets have caught up with it. */
async function check(ctx: ConformanceContext, tps: TopicPartition[], model: Model): Promise<void> {
  const expectedStable = async (tp: TopicPartition) =>
    model.lastStable(tp.partition) ?? (await ctx.admin.listOffsets(tp.topic, tp.partition, 'latest'))
  // Kafka writes transaction markers after commitTransaction returns, so the last stable offset is eventual.
  await waitFor(
    'lastStable to match the model',
    async () => {
      for (const tp of tps) {
        if (
          (await ctx.admin.listOffsets(tp.topic, tp.partition, 'lastStable')) !== (await expectedStable(tp))
        ) {
          return false
        }
      }
      return true
    },
    ctx.waitTimeoutMs,
    async () => {
      const states = []
      for (const tp of tps) {
        const actual = await ctx.admin.listOffsets(tp.topic, tp.partition, 'lastStable')
        states.push(`${tpKey(tp)} lastStable ${actual}, model ${await expectedStable(tp)}`)
      }
      return states.join('; ')
    },
  )

  const committed = await readAll(ctx, tps, 'read_committed')
  const uncommitted = await readAll(ctx, tps, 'read_uncommitted')
  // Also start in the middle, where a transaction may have begun before the start offset: a reader must still
  // know whether it aborted.
  const middles = new Map<string, number>()
  for (const tp of tps) {
    const mine = model.records.filter((r) => r.partition === tp.partition)
    if (mine.length > 0) middles.set(tpKey(tp), mine[Math.floor(mine.length / 2)].offset)
  }
  const committedFromMiddle = await readAll(ctx, tps, 'read_committed', middles)
  for (const tp of tps) {
    const mine = model.records.filter((r) => r.partition === tp.partition)
    const stable = model.lastStable(tp.partition) ?? Number.POSITIVE_INFINITY
    const expectedCommitted = mine.filter((r) => r.offset < stable && model.visibleCommitted(r))
    assert.deepEqual(
      valuesOf(ofPartition(committed, tp)),
      expectedCommitted.map((r) => r.value),
      `read_committed of partition ${tp.partition}`,
    )
    const middle = middles.get(tpKey(tp)) ?? 0
    assert.deepEqual(
      valuesOf(ofPartition(committedFromMiddle, tp)),
      expectedCommitted.filter((r) => r.offset >= middle).map((r) => r.value),
      `read_committed of partition ${tp.partition} from offset ${middle}`,
    )
    const got = ofPartition(uncommitted, tp)
    assert.deepEqual(
      valuesOf(got),
      mine.map((r) => r.value),
      `read_uncommitted of partition ${tp.partition}`,
    )
    assert.deepEqual(
      got.map((r) => r.offset),
      mine.map((r) => r.offset),
      `offsets read back = offsets in send metadata, partition ${tp.partition}`,
    )
  }
}

export function transactionPropertyTests(factory: LogFactory): void {
  describe('transactions (property)', () => {
    const ctx = useLog(factory, 'txnprop')
    const numRuns = factory.propertyRuns ?? 25
    // Shrinking a failure reruns scenarios; bound the whole property, and let the test timeout exceed it.
    const budgetMs = ctx.testTimeoutMs * 4

    it('read_committed = plain + committed records, read_uncommitted = all, at any interleaving', {
      timeout: budgetMs + ctx.testTimeoutMs,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, (scenario) => runScenario(ctx, scenario)),
        { numRuns, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: true },
      )
    })
  })
}
