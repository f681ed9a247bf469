// Binds the subject-named serdes of a pipeline (registry/subject.ts) to a registry before it runs, so that a reader
// schema the subject cannot accept stops the start with the step, the subject and every problem named.
import { isSluiceError, SluiceError } from '../errors/index.ts'
import type { LogicalGraph } from '../graph/logical.ts'
import { httpRegistry, type RegistryApi } from '../registry/client.ts'
import { isSubjectBound } from '../registry/subject.ts'
import type { Serde } from '../serde/serde.ts'

export async function bindSchemas(
  graph: LogicalGraph,
  registry: RegistryApi | string | undefined,
): Promise<void> {
  const api = typeof registry === 'string' ? httpRegistry(registry) : registry
  for (const node of graph.nodes) {
    const s = node.spec as { topic?: string; keySerde?: Serde<unknown>; valueSerde?: Serde<unknown> }
    for (const serde of [s.keySerde, s.valueSerde]) {
      if (serde === undefined || !isSubjectBound(serde)) continue
      const where = `step ${node.name}${s.topic === undefined ? '' : ` (topic ${s.topic})`}`
      if (api === undefined) {
        throw new SluiceError(
          'SLUICE_ERR_INVALID_CONFIG',
          `${where} uses the schema of subject "${serde.subject}", but the pipeline was started without a registry: ` +
            'pass registry (a URL or a client) to runPipeline, or --registry <url> to sluice run',
          { details: { step: node.name, subject: serde.subject } },
        )
      }
      try {
        await serde.bind(api)
      } catch (err) {
        if (!isSluiceError(err)) throw err
        throw new SluiceError(err.code, `${where}: ${err.message}`, { cause: err, details: err.details })
      }
    }
  }
}
