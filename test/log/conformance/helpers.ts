// Waiting and reading helpers of the conformance suite. Nothing here sleeps for a fixed time: every wait is on a
// condition (a position reaching an offset, an offset spec reaching a value), bounded by a deadline that fails
// the test with what was seen.
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import type { ErrorCode } from '../../../src/errors/codes.ts'
import type {
  ConsumedRecord,
  IsolationLevel,
  LogAdmin,
  LogConsumer,
  LogProducer,
  OffsetSpec,
  RecordMetadata,
  TopicPartition,
} from '../../../src/log/contract.ts'
import { tpKey } from '../../../src/log/contract.ts'
import type { ConformanceContext } from './harness.ts'

export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8')
const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'))
export const valuesOf = (records: readonly ConsumedRecord[]): (string | null)[] =>
  records.map((r) => text(r.value))
export const partitionsOf = (topic: string, count: number): TopicPartition[] =>
  Array.from({ length: count }, (_, partition) => ({ topic, partition }))

/** Records of one partition, in the order returned. */
export function ofPartition(records: readonly ConsumedRecord[], tp: TopicPartition): ConsumedRecord[] {
  return records.filter((r) => r.topic === tp.topic && r.partition === tp.partition)
}

export function sortTps(tps: readonly TopicPartition[]): TopicPartition[] {
  return [...tps]
    .map((tp) => ({ topic: tp.topic, partition: tp.partition }))
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
}

function describeError(err: unknown): string {
  if (err instanceof Error)
    return `${err.name} ${(err as { code?: unknown }).code ?? '(no code)'}: ${err.message}`
  return String(err)
}

function checkCode(err: unknown, codes: readonly ErrorCode[]): true {
  const code = (err as { code?: unknown } | null)?.code
  assert.ok(
    codes.includes(code as ErrorCode),
    `expected an error with code ${codes.join(' or ')}, got ${describeError(err)}`,
  )
  return true
}

/** Asserts that the call rejects (or throws) with one of these SLUICE_ERR_* codes. */
export async function rejectsWithCode(
  call: () => unknown,
  ...codes: [ErrorCode, ...ErrorCode[]]
): Promise<void> {
  await assert.rejects(
    async () => {
      await call()
    },
    (err) => checkCode(err, codes),
  )
}

/** Asserts that a synchronous call throws with one of these codes (for the contract's non-async methods). */
export function throwsWithCode(call: () => unknown, ...codes: [ErrorCode, ...ErrorCode[]]): void {
  assert.throws(call, (err) => checkCode(err, codes))
}

/** Waits until `check` holds, re-checking every few milliseconds; fails with `describe()` of the last state. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  describe?: () => string | Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) {
      const state = describe === undefined ? '' : `; last state: ${await describe()}`
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${state}`)
    }
    await delay(5)
  }
}

export async function offsetsOf(
  admin: LogAdmin,
  tps: readonly TopicPartition[],
  spec: OffsetSpec,
): Promise<Map<string, number>> {
  const result = new Map<string, number>()
  for (const tp of tps) result.set(tpKey(tp), await admin.listOffsets(tp.topic, tp.partition, spec))
  return result
}

/** Waits until no transaction is open on these partitions, as a reader sees it: lastStable = latest. */
export async function waitUntilStable(
  ctx: ConformanceContext,
  tps: readonly TopicPartition[],
): Promise<void> {
  const state = async () => {
    const stable = await offsetsOf(ctx.admin, tps, 'lastStable')
    const latest = await offsetsOf(ctx.admin, tps, 'latest')
    return { stable, latest }
  }
  await waitFor(
    `lastStable = latest on ${tps.map(tpKey).join(', ')}`,
    async () => {
      const { stable, latest } = await state()
      return tps.every((tp) => stable.get(tpKey(tp)) === latest.get(tpKey(tp)))
    },
    ctx.waitTimeoutMs,
    async () => {
      const { stable, latest } = await state()
      return `lastStable ${JSON.stringify([...stable])}, latest ${JSON.stringify([...latest])}`
    },
  )
}

/**
 * Polls until the consumer's position on every partition has reached `ends`, and returns everything polled.
 * A Kafka consumer's position moves past control records and aborted data too, so this terminates exactly when
 * the partition has been read to the given offset.
 */
export async function drain(
  consumer: LogConsumer,
  ends: ReadonlyMap<string, number>,
  timeoutMs: number,
): Promise<ConsumedRecord[]> {
  const tps = consumer.assignment()
  const out: ConsumedRecord[] = []
  const done = () =>
    tps.every((tp) => {
      const end = ends.get(tpKey(tp))
      const position = consumer.position(tp)
      return end === undefined || (position !== undefined && position >= end)
    })
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) {
      const positions = tps.map((tp) => `${tpKey(tp)}@${consumer.position(tp)}→${ends.get(tpKey(tp))}`)
      assert.fail(`timed out draining: positions ${positions.join(', ')}; got ${out.length} records`)
    }
    out.push(...(await consumer.poll({ timeoutMs: 50 })))
  }
  return out
}

/**
 * Reads these partitions from their start up to the end a reader of this isolation level can see (latest for
 * read_uncommitted, lastStable for read_committed), with a fresh consumer outside any group, from the start or
 * from the given offsets.
 */
export async function readAll(
  ctx: ConformanceContext,
  tps: readonly TopicPartition[],
  isolationLevel: IsolationLevel,
  /** Start offsets by `tpKey`; the log start where absent. */
  from?: ReadonlyMap<string, number>,
): Promise<ConsumedRecord[]> {
  const consumer = ctx.consumer({ isolationLevel, autoOffsetReset: 'earliest' })
  try {
    await consumer.assign(tps)
    for (const tp of tps) await consumer.seek(tp, from?.get(tpKey(tp)) ?? 'earliest')
    const spec = isolationLevel === 'read_committed' ? 'lastStable' : 'latest'
    return await drain(consumer, await offsetsOf(ctx.admin, tps, spec), ctx.waitTimeoutMs)
  } finally {
    await consumer.close()
  }
}

/** Polls until `enough(all records so far)` holds; returns all records polled. */
export async function pollUntil(
  consumer: LogConsumer,
  enough: (records: readonly ConsumedRecord[]) => boolean,
  timeoutMs: number,
): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = []
  const deadline = Date.now() + timeoutMs
  while (!enough(out)) {
    if (Date.now() > deadline) {
      assert.fail(`timed out polling; got ${out.length} records: ${JSON.stringify(valuesOf(out))}`)
    }
    out.push(...(await consumer.poll({ timeoutMs: 50 })))
  }
  return out
}

/** Sends one record per value to one partition. */
export function sendValues(
  producer: LogProducer,
  tp: TopicPartition,
  ...values: string[]
): Promise<RecordMetadata[]> {
  return producer.send(values.map((v) => ({ ...tp, value: bytes(v) })))
}

/** The values each isolation level sees, reading the partitions from the start. */
export async function committedAndAll(
  ctx: ConformanceContext,
  tps: TopicPartition[],
): Promise<{ committed: (string | null)[]; all: (string | null)[] }> {
  return {
    committed: valuesOf(await readAll(ctx, tps, 'read_committed')),
    all: valuesOf(await readAll(ctx, tps, 'read_uncommitted')),
  }
}
