// What every command shares: the --data-dir and --json options, number parsing, and opening the log for the
// duration of one command.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { SluiceError } from '../errors/index.ts'
import type { Log } from '../log/contract.ts'

export const DEFAULT_DATA_DIR = './.sluice'

export interface CommonOptions {
  dataDir: string
  /** Apache Kafka's bootstrap brokers, `host:port[,host:port...]`: use Kafka instead of the embedded log. */
  brokers?: string
  json?: boolean
}

/** Adds --data-dir (and --json when the command has machine output) to a leaf command. */
export function commonOptions(cmd: Command, { json = true } = {}): Command {
  cmd.addOption(
    new Option('-d, --data-dir <path>', 'directory of the embedded log')
      .env('SLUICE_DATA_DIR')
      .default(DEFAULT_DATA_DIR),
  )
  cmd.addOption(
    new Option(
      '--brokers <list>',
      'use Apache Kafka instead of the embedded log: bootstrap brokers host:port[,...]',
    ).env('SLUICE_BROKERS'),
  )
  if (json) cmd.option('--json', 'print machine-readable JSON instead of text')
  return cmd
}

/** A commander argument parser for integers with a lower bound; commander turns the throw into a usage error. */
export function integer(min: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw)
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got "${raw}"`)
    }
    return n
  }
}

export type CliLog = Log & { close(): Promise<void> }

/**
 * Opens the embedded log for one command and always closes it, so that the data directory's lock is released
 * even when the command fails. Only commands that create something may create the data directory: a mistyped
 * --data-dir on `topics list` should be an error, not a new empty log.
 */
export async function withLog<T>(
  options: CommonOptions,
  fn: (log: CliLog) => Promise<T>,
  { create = false } = {},
): Promise<T> {
  if (options.brokers !== undefined && options.brokers !== '') {
    const brokers = options.brokers.split(',').map((b) => b.trim())
    if (brokers.some((b) => !/^[^:\s]+:\d+$/.test(b))) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        `--brokers ${JSON.stringify(options.brokers)}: expected host:port[,host:port...], e.g. 127.0.0.1:9092`,
      )
    }
    const { openKafkaLog } = await import('../kafka/index.ts')
    const log = await openKafkaLog({ brokers, clientId: 'sluice-cli' })
    try {
      return await fn(log)
    } finally {
      await log.close()
    }
  }
  const dataDir = resolve(options.dataDir)
  if (!create && !existsSync(dataDir)) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `no sluice data directory at ${dataDir}; pass --data-dir (or set SLUICE_DATA_DIR), or create a topic first`,
      { details: { dataDir } },
    )
  }
  // Loaded lazily: --help and usage errors should not pay for (or depend on) loading the log.
  const { openEmbeddedLog } = await import('../log/index.ts')
  const log = await openEmbeddedLog({ dataDir })
  try {
    return await fn(log)
  } finally {
    await log.close()
  }
}

/** --partition must name an existing partition; checked before any input is read or any record printed. */
export function checkPartition(topic: string, count: number, partition: number | undefined): void {
  if (partition === undefined || partition < count) return
  throw new SluiceError(
    'SLUICE_ERR_PARTITION_NOT_FOUND',
    `topic "${topic}" has ${count} partition(s) (0..${count - 1}); --partition ${partition} does not exist`,
    { details: { topic, partition } },
  )
}
