// `sluice topics create|list|describe|delete`: topic administration over the log's admin API.
import type { Command } from 'commander'
import { isSluiceError } from '../../errors/index.ts'
import type { TopicDescription } from '../../log/contract.ts'
import { formatBytes, formatTable, write, writeJson } from '../output.ts'
import { type CommonOptions, commonOptions, integer, withLog } from '../shared.ts'
import { parseTopicConfig, TOPIC_CONFIG_KEYS } from '../topic-config.ts'

interface CreateOptions extends CommonOptions {
  partitions: number
  config: string[]
  ifNotExists?: boolean
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

async function create(name: string, options: CreateOptions): Promise<void> {
  // Checked before the log is opened, so that a typo in --config never leaves a data directory behind.
  const config = parseTopicConfig(name, options.config)
  await withLog(
    options,
    async (log) => {
      const admin = log.admin()
      let created = true
      try {
        await admin.createTopic(name, { partitions: options.partitions, config })
      } catch (err) {
        if (!(options.ifNotExists && isSluiceError(err, 'SLUICE_ERR_TOPIC_EXISTS'))) throw err
        created = false
      }
      if (options.json) return writeJson({ created, topic: await admin.describeTopic(name) })
      const what = created
        ? `created topic "${name}" with ${options.partitions} partition(s)`
        : `topic "${name}" exists`
      await write(`${what}\n`)
    },
    { create: true },
  )
}

async function list(options: CommonOptions & { internal?: boolean }): Promise<void> {
  await withLog(options, async (log) => {
    const names = (await log.admin().listTopics({ includeInternal: options.internal === true })).sort()
    if (options.json) return writeJson(names)
    if (names.length > 0) await write(`${names.join('\n')}\n`)
  })
}

function describeText(d: TopicDescription): string {
  const rows = d.partitions.map((p) => [
    p.partition,
    p.logStartOffset,
    p.highWatermark,
    p.lastStableOffset,
    p.highWatermark - p.logStartOffset,
    formatBytes(p.sizeBytes),
  ])
  const config = Object.entries(d.config)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `  ${k}=${v}\n`)
    .join('')
  return [
    `Topic: ${d.name}${d.internal ? ' (internal)' : ''}\nPartitions: ${d.partitions.length}\n\n`,
    formatTable(['PARTITION', 'LOG-START', 'HIGH-WATERMARK', 'LAST-STABLE', 'OFFSETS', 'SIZE'], rows),
    `\nConfig:\n${config}`,
  ].join('')
}

async function describe(name: string, options: CommonOptions): Promise<void> {
  await withLog(options, async (log) => {
    const description = await log.admin().describeTopic(name)
    await (options.json ? writeJson(description) : write(describeText(description)))
  })
}

async function remove(name: string, options: CommonOptions & { ifExists?: boolean }): Promise<void> {
  await withLog(options, async (log) => {
    let deleted = true
    try {
      await log.admin().deleteTopic(name)
    } catch (err) {
      if (!(options.ifExists && isSluiceError(err, 'SLUICE_ERR_TOPIC_NOT_FOUND'))) throw err
      deleted = false
    }
    if (options.json) return writeJson({ deleted, topic: name })
    await write(deleted ? `deleted topic "${name}"\n` : `topic "${name}" does not exist\n`)
  })
}

export function registerTopics(program: Command): void {
  const topics = program
    .command('topics')
    .description('create, list, describe and delete topics')
    .helpCommand(false)

  const createCmd = topics
    .command('create')
    .description('create a topic')
    .argument('<name>', 'topic name')
    .requiredOption(
      '-p, --partitions <n>',
      'number of partitions (fixed for the life of the topic)',
      integer(1),
    )
    .option(
      '-c, --config <key=value>',
      `topic setting, repeatable: ${TOPIC_CONFIG_KEYS.join(', ')}`,
      collect,
      [],
    )
    .option('--if-not-exists', 'succeed without changes when the topic already exists')
  commonOptions(createCmd).action(create)

  const listCmd = topics
    .command('list')
    .description('list topic names')
    .option('--internal', 'include internal topics (changelogs, repartition topics)')
  commonOptions(listCmd).action(list)

  const describeCmd = topics
    .command('describe')
    .description('show partitions (offsets, size) and settings of a topic')
    .argument('<name>', 'topic name')
  commonOptions(describeCmd).action(describe)

  const deleteCmd = topics
    .command('delete')
    .description('delete a topic and all its records')
    .argument('<name>', 'topic name')
    .option('--if-exists', 'succeed without changes when the topic does not exist')
  commonOptions(deleteCmd).action(remove)
}
