// Binds the subject-named serdes of a pipeline (registry/subject.ts) to a registry before it runs, so that a reader
// schema the subject cannot accept stops the start with the step, the subject and every problem named.
import { isSluiceError, SluiceError } from '../errors/index.ts'
import type { LogicalGraph } from '../graph/logical.ts'
import type { ConsumedRecord } from '../log/contract.ts'
import { httpRegistry, type RegistryApi } from '../registry/client.ts'
import { isSubjectBound, type SubjectBoundSerde } from '../registry/subject.ts'
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

/**
 * The subject-named serdes of the pipeline's sources, by topic: before a batch is processed, the writer schemas its
 * records were written with and the serdes do not know yet are fetched (the serdes are synchronous; this is the
 * await at fetch that lets a running pipeline read a schema version registered after it started).
 */
export class SchemaPrefetch {
  readonly #byTopic = new Map<string, { serde: SubjectBoundSerde<unknown>; key: boolean }[]>()

  constructor(graph: LogicalGraph) {
    for (const node of graph.nodes) {
      const s = node.spec
      if (s.kind !== 'source-topic' && s.kind !== 'source-table') continue
      const list = this.#byTopic.get(s.topic) ?? []
      if (isSubjectBound(s.keySerde)) list.push({ serde: s.keySerde, key: true })
      if (isSubjectBound(s.valueSerde)) list.push({ serde: s.valueSerde, key: false })
      if (list.length > 0) this.#byTopic.set(s.topic, list)
    }
  }

  get empty(): boolean {
    return this.#byTopic.size === 0
  }

  async learn(records: readonly ConsumedRecord[]): Promise<void> {
    let wanted: Map<SubjectBoundSerde<unknown>, Set<number>> | null = null
    for (const r of records) {
      const serdes = this.#byTopic.get(r.topic)
      if (serdes === undefined) continue
      for (const { serde, key } of serdes) {
        const id = serde.unknownId(key ? r.key : r.value)
        if (id === null) continue
        wanted ??= new Map()
        const ids = wanted.get(serde) ?? new Set()
        ids.add(id)
        wanted.set(serde, ids)
      }
    }
    if (wanted !== null) for (const [serde, ids] of wanted) await serde.learn(ids)
  }
}
