// `sluice dlq inspect|replay <topic>`: the dead letters of a pipeline, why each was rejected, and sending their
// original bytes back to the topic they came from (or another) once the cause is fixed. See docs/dead-letters.md.
import { randomUUID } from 'node:crypto'
import type { Command } from 'commander'
import { SluiceError } from '../../errors/index.ts'
import type { ConsumedRecord, Log, ProducerRecord } from '../../log/contract.ts'
import { type DeadLetter, parseDeadLetter } from '../../runtime/dead-letters.ts'
import { write, writeJson } from '../output.ts'
import { decodeBytes, decodeValue } from '../record-format.ts'
import { type CommonOptions, commonOptions, integer, withLog } from '../shared.ts'

interface SelectOptions extends CommonOptions {
  from?: number
  max?: number
  kind?: string
  step?: string
  code?: string
}

interface ReplayOptions extends SelectOptions {
  to?: string
  progress?: boolean
}

interface Found {
  partition: number
  offset: number
  record: ConsumedRecord
  dead: DeadLetter
}

const REPLAY_BATCH = 500

function selectOptions(cmd: Command): Command {
  return commonOptions(cmd)
    .option('--from <offset>', 'start at this offset of each partition (default: the earliest)', integer(0))
    .option('-n, --max <count>', 'take at most this many dead letters', integer(1))
    .option('--kind <kind>', 'only deserialization, processing or production failures')
    .option('--step <name>', 'only dead letters of this step')
    .option('--code <code>', 'only dead letters with this error code (e.g. SLUICE_ERR_SERDE)')
}

/**
 * The dead letters of `topic` that match the options, read under read_committed up to the end offsets taken at the
 * start; `others` counts records without dead-letter headers (the topic holds something else too).
 */
async function find(
  log: Log,
  topic: string,
  options: SelectOptions,
): Promise<{ found: Found[]; others: number }> {
  if (options.kind !== undefined && !['deserialization', 'processing', 'production'].includes(options.kind)) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `--kind ${options.kind} is not a kind of failure: use deserialization, processing or production`,
    )
  }
  const admin = log.admin()
  const { partitions } = await admin.describeTopic(topic)
  const consumer = log.consumer({ isolationLevel: 'read_committed' })
  const found: Found[] = []
  let others = 0
  try {
    for (const { partition } of partitions) {
      const tp = { topic, partition }
      const end = await admin.listOffsets(topic, partition, 'lastStable')
      await consumer.assign([tp])
      await consumer.seek(tp, options.from ?? 'earliest')
      while (
        (consumer.position(tp) ?? end) < end &&
        found.length < (options.max ?? Number.POSITIVE_INFINITY)
      ) {
        for (const record of await consumer.poll({ maxRecords: 500 })) {
          if (record.offset >= end || found.length >= (options.max ?? Number.POSITIVE_INFINITY)) break
          const dead = parseDeadLetter(record)
          if (dead === null) {
            others++
            continue
          }
          if (options.kind !== undefined && dead.kind !== options.kind) continue
          if (options.step !== undefined && dead.step !== options.step) continue
          if (options.code !== undefined && dead.code !== options.code) continue
          found.push({ partition, offset: record.offset, record, dead })
        }
      }
    }
  } finally {
    await consumer.close()
  }
  return { found, others }
}

function source(d: DeadLetter): string {
  if (d.topic === null) return 'an in-memory source'
  const at = d.offset !== null ? `offset ${d.offset}` : d.offsets !== null ? `offsets ${d.offsets}` : ''
  return `${d.topic}/${d.partition ?? '?'}${at === '' ? '' : ` ${at}`}`
}

function toJson(f: Found) {
  const { dead } = f
  const key = decodeBytes(dead.key)
  const value = decodeValue(dead.value)
  return {
    partition: f.partition,
    offset: f.offset,
    kind: dead.kind,
    code: dead.code,
    message: dead.message,
    pipeline: dead.pipeline,
    step: dead.step,
    task: dead.task,
    source: { topic: dead.topic, partition: dead.partition, offset: dead.offset, offsets: dead.offsets },
    timestamp: dead.timestamp,
    failedAt: dead.failedAt,
    payload: dead.payload,
    key: key.data,
    keyEncoding: key.encoding,
    value: value.data,
    valueEncoding: value.encoding,
    headers: dead.headers.map(([name, bytes]) => ({ key: name, ...decodeBytes(Buffer.from(bytes)) })),
  }
}

async function inspect(topic: string, options: SelectOptions): Promise<void> {
  await withLog(options, async (log) => {
    const { found, others } = await find(log, topic, options)
    if (options.json) {
      for (const f of found) await write(`${JSON.stringify(toJson(f))}\n`)
      return
    }
    for (const f of found) {
      const d = f.dead
      await write(
        `${f.partition}/${f.offset} ${d.kind} ${d.code} at step ${d.pipeline}/${d.step}, from ${source(d)}: ${d.message}\n`,
      )
    }
    const byKind = new Map<string, number>()
    for (const f of found) byKind.set(f.dead.kind, (byKind.get(f.dead.kind) ?? 0) + 1)
    const kinds = [...byKind].map(([k, n]) => `${n} ${k}`).join(', ')
    process.stderr.write(
      `${found.length} dead letter${found.length === 1 ? '' : 's'}${kinds === '' ? '' : ` (${kinds})`}` +
        (others > 0 ? `; ${others} other record${others === 1 ? '' : 's'} without dead-letter headers` : '') +
        '\n',
    )
  })
}

/** A progress bar on stderr, redrawn in place; nothing when stderr is not a terminal (unless asked). */
function progressBar(total: number, enabled: boolean): { update(done: number): void; end(): void } {
  if (!enabled || total === 0) return { update() {}, end() {} }
  const width = 30
  let drawn = -1
  return {
    update(done) {
      const percent = Math.floor((100 * done) / total)
      if (percent === drawn) return
      drawn = percent
      const filled = Math.round((width * done) / total)
      process.stderr.write(
        `\rreplaying [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${percent}%`,
      )
    },
    end() {
      process.stderr.write('\n')
    },
  }
}

async function replay(topic: string, options: ReplayOptions): Promise<void> {
  await withLog(options, async (log) => {
    const { found } = await find(log, topic, options)
    const admin = log.admin()
    // every target is checked before anything is written: a replay writes all it selected or nothing
    const partitions = new Map<string, number>()
    for (const f of found) {
      const target = options.to ?? f.dead.topic
      if (target === null) {
        throw new SluiceError(
          'SLUICE_ERR_INVALID_ARGUMENT',
          `the dead letter at ${topic}/${f.partition} offset ${f.offset} came from an in-memory source: pass --to <topic>`,
        )
      }
      if (partitions.has(target)) continue
      const d = await admin.describeTopic(target).catch((err) => {
        throw new SluiceError(
          'SLUICE_ERR_TOPIC_NOT_FOUND',
          `cannot replay the dead letter at ${topic}/${f.partition} offset ${f.offset} to topic ${target}, which does not exist: create it or pass --to`,
          { cause: err, details: { topic: target } },
        )
      })
      partitions.set(target, d.partitions.length)
    }
    const byTopic = new Map<string, number>()
    const bar = progressBar(found.length, options.progress ?? process.stderr.isTTY === true)
    if (found.length > 0) {
      const producer = log.producer({ transactionalId: `sluice-dlq-replay-${randomUUID()}` })
      await producer.initTransactions()
      producer.beginTransaction()
      try {
        for (let i = 0; i < found.length; i += REPLAY_BATCH) {
          const batch: ProducerRecord[] = found.slice(i, i + REPLAY_BATCH).map(({ dead, record }) => {
            const target = (options.to ?? dead.topic)!
            byTopic.set(target, (byTopic.get(target) ?? 0) + 1)
            // back to its own partition when the target has it; else the key decides, as a producer would
            const partition =
              dead.partition !== null && dead.partition < partitions.get(target)! ? dead.partition : undefined
            return {
              topic: target,
              partition,
              key: dead.key,
              value: dead.value,
              headers: dead.headers,
              timestamp: record.timestamp,
            }
          })
          await producer.send(batch)
          bar.update(Math.min(found.length, i + REPLAY_BATCH))
        }
        await producer.commitTransaction()
      } catch (err) {
        await producer.abortTransaction().catch(() => {})
        throw err
      } finally {
        bar.end()
        await producer.close()
      }
    }
    if (options.json) {
      await writeJson({ replayed: found.length, topics: Object.fromEntries(byTopic) })
      return
    }
    const to = [...byTopic].map(([t, n]) => `${n} to ${t}`).join(', ')
    await write(
      `replayed ${found.length} dead letter${found.length === 1 ? '' : 's'}${to === '' ? '' : `: ${to}`}\n`,
    )
  })
}

export function registerDlq(program: Command): void {
  const dlq = program
    .command('dlq')
    .description("a pipeline's dead letters: why records were rejected, and replaying them once fixed")
  selectOptions(
    dlq
      .command('inspect <topic>')
      .description('list the dead letters of a dead-letter topic: where each came from, which step, and why'),
  ).action((topic: string, options: SelectOptions) => inspect(topic, options))
  selectOptions(
    dlq
      .command('replay <topic>')
      .description(
        'write the dead letters back (original bytes and headers) to the topic each came from, or to --to, in one transaction',
      ),
  )
    .option('--to <topic>', 'replay into this topic instead of the one each dead letter came from')
    .option('--progress', 'show a progress bar even when stderr is not a terminal')
    .action((topic: string, options: ReplayOptions) => replay(topic, options))
}
