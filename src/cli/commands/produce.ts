// `sluice produce <topic>`: writes stdin to a topic, one record per line. Bad lines are reported on stderr with
// their line number and the good ones are still written (exit code 3), because input is often a stream
// (`tail -f | sluice produce`) that cannot be validated up front; docs/cli.md explains the choice.
import type { Command } from 'commander'
import { Option } from 'commander'
import { type ErrorCode, isSluiceError, SluiceError } from '../../errors/index.ts'
import type { Log, LogProducer, ProducerRecord, RecordMetadata } from '../../log/contract.ts'
import { formatError } from '../errors.ts'
import { EXIT_INTERRUPTED, EXIT_PARTIAL } from '../exit-codes.ts'
import { write, writeJson } from '../output.ts'
import { type InputFormat, type InputLine, parseLine, splitLines } from '../produce-input.ts'
import { type CommonOptions, checkPartition, commonOptions, integer, withLog } from '../shared.ts'

interface ProduceOptions extends CommonOptions {
  format: InputFormat
  keyField?: string
  partition?: number
}

/** Flush a batch at this many records or bytes: big enough to amortise a send, small enough to bound memory. */
const BATCH_RECORDS = 1000
const BATCH_BYTES = 1024 * 1024

interface Pending {
  record: ProducerRecord
  lineNumber: number
  size: number
}

interface PartitionSummary {
  partition: number
  records: number
  firstOffset: number
  lastOffset: number
}

class ProduceRun {
  produced = 0
  blankLines = 0
  interrupted = false
  readonly rejectedLines: number[] = []
  readonly partitions = new Map<number, PartitionSummary>()
  private batch: Pending[] = []
  private batchBytes = 0
  private readonly producer: LogProducer

  constructor(producer: LogProducer) {
    this.producer = producer
  }

  async add(pending: Pending): Promise<void> {
    this.batch.push(pending)
    this.batchBytes += pending.size
    if (this.batch.length >= BATCH_RECORDS || this.batchBytes >= BATCH_BYTES) await this.flush()
  }

  async flush(): Promise<void> {
    const batch = this.batch
    this.batch = []
    this.batchBytes = 0
    if (batch.length > 0) await this.send(batch)
  }

  reject(lineNumber: number, reason: string, code: ErrorCode = 'SLUICE_ERR_INPUT_PARSE'): void {
    this.rejectedLines.push(lineNumber)
    const err = new SluiceError(code, `line ${lineNumber}: ${reason}`, { details: { lineNumber } })
    process.stderr.write(`${formatError(err)}\n`)
  }

  /**
   * A record over the topic's max.message.bytes fails its whole batch; halving the batch until the culprit is
   * alone rejects just that line, in order, without the CLI having to know the log's framing overhead.
   */
  private async send(batch: Pending[]): Promise<void> {
    let metadata: RecordMetadata[]
    try {
      metadata = await this.producer.send(batch.map((p) => p.record))
    } catch (err) {
      if (!isSluiceError(err, 'SLUICE_ERR_RECORD_TOO_LARGE')) throw err
      if (batch.length === 1)
        return this.reject(batch[0].lineNumber, err.message, 'SLUICE_ERR_RECORD_TOO_LARGE')
      const half = Math.ceil(batch.length / 2)
      await this.send(batch.slice(0, half))
      return this.send(batch.slice(half))
    }
    for (const meta of metadata) {
      const summary = this.partitions.get(meta.partition)
      if (summary) {
        summary.records++
        summary.lastOffset = Math.max(summary.lastOffset, meta.offset)
      } else {
        const first = {
          partition: meta.partition,
          records: 1,
          firstOffset: meta.offset,
          lastOffset: meta.offset,
        }
        this.partitions.set(meta.partition, first)
      }
    }
    this.produced += metadata.length
  }
}

async function produce(topic: string, options: ProduceOptions): Promise<void> {
  // Ctrl-C stops reading but still writes what was read, prints the summary and releases the data directory.
  // Listening from the start, before the log is opened, so that no signal can catch the log half-open.
  const stop = new AbortController()
  const onSignal = () => {
    stop.abort()
    process.stdin.destroy()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await withLog(options, (log) => produceTo(log, topic, options, stop.signal))
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

async function produceTo(log: Log, topic: string, options: ProduceOptions, stop: AbortSignal): Promise<void> {
  const description = await log.admin().describeTopic(topic)
  checkPartition(topic, description.partitions.length, options.partition)
  if (process.stdin.isTTY) {
    process.stderr.write(`reading ${options.format} records for "${topic}" from stdin; end with Ctrl-D\n`)
  }
  const producer = log.producer({ clientId: 'sluice-cli' })
  const run = new ProduceRun(producer)
  try {
    for await (const lines of splitLines(process.stdin)) {
      for (const line of lines) await add(run, line, topic, options)
      await run.flush()
    }
  } catch (err) {
    // Destroying stdin ends the iteration with a premature-close error: expected after a signal.
    if (!stop.aborted) throw err
  } finally {
    try {
      await run.flush()
    } finally {
      await producer.close()
    }
  }
  run.interrupted = stop.aborted
  await report(topic, run, options)
  if (run.interrupted) process.exitCode = EXIT_INTERRUPTED
  else if (run.rejectedLines.length > 0) process.exitCode = EXIT_PARTIAL
}

async function add(run: ProduceRun, line: InputLine, topic: string, options: ProduceOptions): Promise<void> {
  const result = parseLine(line.bytes, options.format, options.keyField)
  if (result.kind === 'blank') run.blankLines++
  else if (result.kind === 'rejected') run.reject(line.lineNumber, result.reason)
  else {
    const record: ProducerRecord = { topic, key: result.key, value: result.value }
    if (options.partition !== undefined) record.partition = options.partition
    await run.add({ record, lineNumber: line.lineNumber, size: result.value.length })
  }
}

async function report(topic: string, run: ProduceRun, options: ProduceOptions): Promise<void> {
  const partitions = [...run.partitions.values()].sort((a, b) => a.partition - b.partition)
  if (options.json) {
    const { produced, blankLines, rejectedLines, interrupted } = run
    return writeJson({
      topic,
      produced,
      rejected: rejectedLines.length,
      rejectedLines,
      blankLines,
      interrupted,
      partitions,
    })
  }
  const perPartition = partitions.map((p) => `partition ${p.partition}: ${p.records}`).join(', ')
  let text = `produced ${run.produced} record(s) to "${topic}"${perPartition ? ` (${perPartition})` : ''}`
  if (run.blankLines > 0) text += `; skipped ${run.blankLines} blank line(s)`
  if (run.interrupted) text += '; interrupted (the rest of stdin was not read)'
  if (run.rejectedLines.length > 0) {
    text += `; rejected ${run.rejectedLines.length} line(s): ${run.rejectedLines.slice(0, 20).join(', ')}`
    if (run.rejectedLines.length > 20) text += ', ...'
  }
  await write(`${text}\n`)
}

export function registerProduce(program: Command): void {
  const cmd = program
    .command('produce')
    .description('write records read from stdin, one per line, to a topic')
    .argument('<topic>', 'topic to write to')
    .addOption(
      new Option('-f, --format <format>', 'input format: ndjson (one JSON object per line) or lines (raw)')
        .choices(['ndjson', 'lines'])
        .default('ndjson'),
    )
    .option('-k, --key-field <field>', 'take each record key from this top-level field of the JSON object')
    .option(
      '-p, --partition <n>',
      'write every record to this partition (default: chosen by key)',
      integer(0),
    )
  commonOptions(cmd).action(async (topic: string, options: ProduceOptions, command: Command) => {
    if (options.keyField !== undefined && options.format !== 'ndjson') {
      command.error('error: --key-field needs --format ndjson (plain lines have no fields)')
    }
    await produce(topic, options)
  })
}
