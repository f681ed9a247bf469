// Creates the topics a topology needs (repartition and changelog) and checks existing ones, so a pipeline never
// runs against a topic whose partition count or cleanup policy would silently break it.
import { SluiceError } from '../errors/index.ts'
import type { Topology } from '../graph/planner.ts'
import type { LogAdmin } from '../log/contract.ts'

export async function ensureInternalTopics(admin: LogAdmin, topology: Topology): Promise<void> {
  const existing = new Set(await admin.listTopics())
  for (const t of topology.internalTopics) {
    if (!existing.has(t.name)) {
      await admin.createTopic(t.name, { partitions: t.partitions, config: t.config }).catch((err) => {
        if ((err as SluiceError).code !== 'SLUICE_ERR_TOPIC_EXISTS') throw err
      })
      continue
    }
    // a dead-letter topic only has to exist: records name their source in headers, so any layout will do
    if (t.kind === 'dead-letter') continue
    const d = await admin.describeTopic(t.name)
    const policy = t.config['cleanup.policy'] ?? 'delete'
    if (d.partitions.length !== t.partitions || d.config['cleanup.policy'] !== policy) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `internal topic ${t.name} of pipeline ${topology.name} has ${d.partitions.length} partitions and ` +
          `cleanup.policy=${d.config['cleanup.policy']}, but the pipeline needs ${t.partitions} and ${policy}; ` +
          'the input topics or the pipeline changed since it last ran: reset the application (delete its internal topics ' +
          'and local state, then reprocess from the inputs) or run it under a new application id',
        { details: { topic: t.name, partitions: d.partitions.length, expected: t.partitions } },
      )
    }
  }
}
