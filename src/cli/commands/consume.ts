// `sluice consume <topic>`: prints a topic's records, following new ones until Ctrl-C unless --max or
// --exit-at-end bounds the run. With --group, what was printed is committed, so the next run resumes after it.
import type { Command } from 'commander'
import { Option } from 'commander'
import type {
  CommittedOffset,
  ConsumedRecord,
  IsolationLevel,
  LogAdmin,
  LogConsumer,
  TopicPartition,
} from '../../log/contract.ts'
import { tpKey } from '../../log/contract.ts'
import { OutputClosedError, write } from '../output.ts'
import { recordToJson, recordToText } from '../record-format.ts'
import { type CommonOptions, checkPartition, commonOptions, integer, withLog } from '../shared.ts'

interface ConsumeOptions extends CommonOptions {
  fromBeginning?: boolean
  group?: string
  partition?: number
  max?: number
  exitAtEnd?: boolean
  isolation: IsolationLevel
}

/** Follow mode waits this long per poll; a SIGINT aborts the wait, so it only bounds idle wake-ups. */
const POLL_TIMEOUT_MS = 1000
const POLL_MAX_RECORDS = 500

/**
 * --exit-at-end stops at the end offsets taken when a partition is first seen: the last stable offset under
 * read_committed (everything below it is decided), the high watermark under read_uncommitted. Taking them once
 * means the run ends even while producers keep writing.
 */
class EndOffsets {
  private readonly ends = new Map<string, number>()
  private readonly admin: LogAdmin
  private readonly isolation: IsolationLevel

  constructor(admin: LogAdmin, isolation: IsolationLevel) {
    this.admin = admin
    this.isolation = isolation
  }

  async track(partitions: readonly TopicPartition[]): Promise<void> {
    const spec = this.isolation === 'read_committed' ? 'lastStable' : 'latest'
    for (const tp of partitions) {
      if (!this.ends.has(tpKey(tp)))
        this.ends.set(tpKey(tp), await this.admin.listOffsets(tp.topic, tp.partition, spec))
    }
  }

  before(record: ConsumedRecord): boolean {
    return record.offset < (this.ends.get(tpKey(record)) ?? Number.POSITIVE_INFINITY)
  }

  reached(consumer: LogConsumer): boolean {
    return consumer.assignment().every((tp) => {
      const end = this.ends.get(tpKey(tp))
      const position = consumer.position(tp)
      return end !== undefined && position !== undefined && position >= end
    })
  }
}

/** Commits what was printed: consumer positions when a whole poll was printed, explicit offsets otherwise. */
async function commitPrinted(
  consumer: LogConsumer,
  printed: ConsumedRecord[],
  complete: boolean,
): Promise<void> {
  if (complete) return consumer.commit()
  const next = new Map<string, CommittedOffset>()
  for (const r of printed)
    next.set(tpKey(r), { topic: r.topic, partition: r.partition, offset: r.offset + 1 })
  if (next.size > 0) await consumer.commit([...next.values()])
}

async function start(
  consumer: LogConsumer,
  topic: string,
  count: number,
  options: ConsumeOptions,
): Promise<void> {
  if (options.group !== undefined) return consumer.subscribe([topic])
  const partitions =
    options.partition !== undefined
      ? [{ topic, partition: options.partition }]
      : Array.from({ length: count }, (_, partition) => ({ topic, partition }))
  await consumer.assign(partitions)
  for (const tp of partitions) await consumer.seek(tp, options.fromBeginning ? 'earliest' : 'latest')
}

async function run(
  consumer: LogConsumer,
  ends: EndOffsets | undefined,
  options: ConsumeOptions,
  stop: AbortSignal,
) {
  let remaining = options.max ?? Number.POSITIVE_INFINITY
  let emptyPolls = 0
  while (!stop.aborted && remaining > 0) {
    if (ends) {
      await ends.track(consumer.assignment())
      if (ends.reached(consumer)) return
    }
    let records: ConsumedRecord[]
    try {
      const timeoutMs = ends ? POLL_TIMEOUT_MS / 4 : POLL_TIMEOUT_MS
      records = await consumer.poll({
        timeoutMs,
        maxRecords: Math.min(remaining, POLL_MAX_RECORDS),
        signal: stop,
      })
    } catch (err) {
      if (stop.aborted) return
      throw err
    }
    // Below the end offsets every record is decided, so polls that keep coming back empty mean that only
    // transaction markers or aborted records are left before the end: that is the end too.
    emptyPolls = records.length === 0 ? emptyPolls + 1 : 0
    if (ends && emptyPolls >= 2) return
    const printed = ends ? records.filter((r) => ends.before(r)) : records
    for (const record of printed) {
      await write(`${options.json ? JSON.stringify(recordToJson(record)) : recordToText(record)}\n`)
    }
    remaining -= printed.length
    if (options.group !== undefined && records.length > 0) {
      await commitPrinted(consumer, printed, printed.length === records.length)
    }
  }
}

async function consume(topic: string, options: ConsumeOptions): Promise<void> {
  await withLog(options, async (log) => {
    const admin = log.admin()
    const description = await admin.describeTopic(topic)
    const count = description.partitions.length
    checkPartition(topic, count, options.partition)
    const consumer = log.consumer({
      clientId: 'sluice-cli',
      groupId: options.group,
      isolationLevel: options.isolation,
      // As in Kafka, this only applies to partitions where the group has no committed offset yet.
      autoOffsetReset: options.fromBeginning ? 'earliest' : 'latest',
    })
    // Ctrl-C ends the run normally: the current poll is aborted, the consumer closed, the exit code 0. Listening
    // once means that a second Ctrl-C still kills a process stuck in closing.
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      await start(consumer, topic, count, options)
      await run(
        consumer,
        options.exitAtEnd ? new EndOffsets(admin, options.isolation) : undefined,
        options,
        stop.signal,
      )
    } catch (err) {
      // The reader of stdout went away (`| head`): stop quietly, as other Unix tools do.
      if (!(err instanceof OutputClosedError)) throw err
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await consumer.close()
    }
  })
}

export function registerConsume(program: Command): void {
  const cmd = program
    .command('consume')
    .description('print the records of a topic, following new ones until interrupted')
    .argument('<topic>', 'topic to read')
    .option(
      '-b, --from-beginning',
      'start at the earliest offset (with --group: only where nothing is committed)',
    )
    .option('-g, --group <id>', 'read as this consumer group and commit the offsets of what was printed')
    .option('-p, --partition <n>', 'read only this partition (not with --group)', integer(0))
    .option('-n, --max <n>', 'exit after printing this many records', integer(1))
    .option('-e, --exit-at-end', 'exit once the end of the topic, as it was at start, is reached')
    .addOption(
      new Option('--isolation <level>', 'read_committed skips aborted and open transactions')
        .choices(['read_committed', 'read_uncommitted'])
        .default('read_committed'),
    )
  commonOptions(cmd).action(async (topic: string, options: ConsumeOptions, command: Command) => {
    if (options.group !== undefined && options.partition !== undefined) {
      command.error('error: --partition cannot be combined with --group (the group assigns partitions)')
    }
    await consume(topic, options)
  })
}
