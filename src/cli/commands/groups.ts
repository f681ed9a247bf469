// `sluice groups list|describe`: consumer groups, their members, committed offsets and lag.
import type { Command } from 'commander'
import { isSluiceError } from '../../errors/index.ts'
import type { GroupDescription, LogAdmin, TopicPartition } from '../../log/contract.ts'
import { tpKey } from '../../log/contract.ts'
import { formatTable, write, writeJson } from '../output.ts'
import { type CommonOptions, commonOptions, withLog } from '../shared.ts'

export interface PartitionLag extends TopicPartition {
  /** Next offset the group will read; null when the group has committed nothing for this partition. */
  committed: number | null
  highWatermark: number | null
  /** highWatermark − committed; null when either is unknown. */
  lag: number | null
  /** Member the partition is assigned to, if any. */
  memberId: string | null
}

async function highWatermark(admin: LogAdmin, tp: TopicPartition): Promise<number | null> {
  try {
    return await admin.listOffsets(tp.topic, tp.partition, 'latest')
  } catch (err) {
    // Offsets outlive their topic (as in Kafka); a deleted topic has no watermark, not an error.
    if (
      isSluiceError(err, 'SLUICE_ERR_TOPIC_NOT_FOUND') ||
      isSluiceError(err, 'SLUICE_ERR_PARTITION_NOT_FOUND')
    ) {
      return null
    }
    throw err
  }
}

/** One row per partition that the group has committed to or is assigned, sorted by topic and partition. */
export async function partitionLags(admin: LogAdmin, group: GroupDescription): Promise<PartitionLag[]> {
  const rows = new Map<string, PartitionLag>()
  const row = (tp: TopicPartition): PartitionLag => {
    let r = rows.get(tpKey(tp))
    if (!r) {
      r = {
        topic: tp.topic,
        partition: tp.partition,
        committed: null,
        highWatermark: null,
        lag: null,
        memberId: null,
      }
      rows.set(tpKey(tp), r)
    }
    return r
  }
  for (const o of group.offsets) row(o).committed = o.offset
  for (const m of group.members) for (const tp of m.assignment) row(tp).memberId = m.memberId
  for (const r of rows.values()) {
    r.highWatermark = await highWatermark(admin, r)
    if (r.highWatermark !== null && r.committed !== null) r.lag = r.highWatermark - r.committed
  }
  return [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
}

async function list(options: CommonOptions): Promise<void> {
  await withLog(options, async (log) => {
    const admin = log.admin()
    const ids = (await admin.listGroups()).sort()
    if (!options.json) {
      if (ids.length > 0) await write(`${ids.join('\n')}\n`)
      return
    }
    const groups = []
    for (const id of ids) {
      const d = await admin.describeGroup(id)
      groups.push({ groupId: id, state: d.state, members: d.members.length })
    }
    await writeJson(groups)
  })
}

async function describe(groupId: string, options: CommonOptions): Promise<void> {
  await withLog(options, async (log) => {
    const admin = log.admin()
    const group = await admin.describeGroup(groupId)
    const partitions = await partitionLags(admin, group)
    const totalLag = partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0)
    if (options.json) return writeJson({ ...group, partitions, totalLag })

    const members =
      group.members.length === 0
        ? '  (none)\n'
        : formatTable(
            ['MEMBER', 'CLIENT', 'PARTITIONS'],
            group.members.map((m) => [m.memberId, m.clientId, m.assignment.map(tpKey).join(',')]),
          ).replace(/^(?=.)/gm, '  ')
    const offsets = formatTable(
      ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH-WATERMARK', 'LAG', 'MEMBER'],
      partitions.map((p) => [p.topic, p.partition, p.committed, p.highWatermark, p.lag, p.memberId]),
    )
    await write(
      `Group: ${group.groupId}\nState: ${group.state} (generation ${group.generationId})\n` +
        `Members:\n${members}\n${offsets}\nTotal lag: ${totalLag}\n`,
    )
  })
}

export function registerGroups(program: Command): void {
  const groups = program.command('groups').description('list and describe consumer groups').helpCommand(false)

  commonOptions(groups.command('list').description('list consumer group ids')).action(list)

  const describeCmd = groups
    .command('describe')
    .description('show members, committed offsets and lag per partition (high watermark − committed)')
    .argument('<group>', 'consumer group id')
  commonOptions(describeCmd).action(describe)
}
