// The planner: cuts the logical graph into sub-topologies at repartition topics, checks that the topics read by
// one sub-topology are co-partitioned, and names the internal topics (repartition, changelog) and state stores.
import { SluiceError } from '../errors/index.ts'
import type { TopicConfig } from '../log/contract.ts'
import { deadLetterTopicName, type ErrorPolicies, resolvePolicies } from './error-policies.ts'
import type { GraphNode, LogicalGraph } from './logical.ts'

export type InputKind = 'source' | 'repartition' | 'table' | 'memory'

export interface SubTopologyInput {
  kind: InputKind
  /** The topic read; for memory sources, the source's name. */
  topic: string
  node: number
  /** For repartition inputs: how many upstream tasks write into the topic (each sends watermarks). */
  upstreamTasks: number
}

export interface StoreSpec {
  name: string
  node: number
  /** The topic that rebuilds the store: its changelog, or for a table the source topic itself. */
  changelogTopic: string
  /** False for tables, whose changelog is their own source topic and is never written by Sluice. */
  writesChangelog: boolean
}

export interface SubTopology {
  id: number
  /** Node ids in processing (topological) order. */
  nodes: number[]
  inputs: SubTopologyInput[]
  /** One task per partition. */
  partitions: number
  stores: StoreSpec[]
  /** Repartition nodes of this sub-topology that write into a topic (not fused). */
  repartitionSinks: { node: number; topic: string; partitions: number }[]
}

export interface InternalTopic {
  name: string
  partitions: number
  kind: 'repartition' | 'changelog' | 'dead-letter'
  config: TopicConfig
}

export interface Topology {
  name: string
  graph: LogicalGraph
  subtopologies: SubTopology[]
  internalTopics: InternalTopic[]
  /** External topics read (sources and tables). */
  sourceTopics: string[]
  /** External topics written. */
  sinkTopics: string[]
  /** Repartition nodes that run as a pass-through inside one task (single-partition in-memory pipelines). */
  fused: Set<number>
  /** What a failure of each kind does to the record (see graph/error-policies.ts). */
  errors: ErrorPolicies
  /** Where dead letters go; null when no policy sends any. */
  deadLetterTopic: string | null
  describe(): string
}

interface PipelineLike {
  name: string
  graph: LogicalGraph
  options: { defaultPartitions?: number; errors?: Partial<ErrorPolicies>; deadLetterTopic?: string }
}

export function repartitionTopicName(pipeline: string, step: string): string {
  return `${pipeline}-${step}-repartition`
}

export function changelogTopicName(pipeline: string, store: string): string {
  return `${pipeline}-${store}-changelog`
}

class UnionFind {
  readonly parent: number[]
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i)
  }
  find(x: number): number {
    while (this.parent[x] !== x) {
      this.parent[x] = this.parent[this.parent[x]]
      x = this.parent[x]
    }
    return x
  }
  union(a: number, b: number): void {
    this.parent[this.find(a)] = this.find(b)
  }
}

export function planTopology(p: PipelineLike, partitionsOf: (topic: string) => number): Topology {
  const g = p.graph
  const nodes = g.nodes
  if (nodes.length === 0)
    throw new SluiceError('SLUICE_ERR_INVALID_PIPELINE', `pipeline ${p.name} has no steps`)
  checkWired(p.name, nodes)

  const external = nodes.filter((n) => n.spec.kind === 'source-topic' || n.spec.kind === 'source-table')
  const externalPartitions = new Map<string, number>()
  for (const n of external) {
    const topic = (n.spec as { topic: string }).topic
    if (!externalPartitions.has(topic)) externalPartitions.set(topic, partitionsOf(topic))
  }
  const defaultPartitions = p.options.defaultPartitions ?? Math.max(1, ...externalPartitions.values())
  const repartitionCount = (n: GraphNode): number =>
    (n.spec as { partitions: number | null }).partitions ?? defaultPartitions

  // 1. components, cut at repartition nodes
  const uf = new UnionFind(nodes.length)
  const isRepartition = (id: number) => nodes[id].spec.kind === 'repartition'
  for (const n of nodes) for (const e of n.inputs) if (!isRepartition(e.from)) uf.union(e.from, n.id)

  // 2. fuse single-partition repartitions of purely in-memory components: nothing to distribute
  const fused = new Set<number>()
  const onlyMemory = (root: number): boolean =>
    nodes.every(
      (n) =>
        uf.find(n.id) !== root ||
        n.inputs.length > 0 ||
        n.spec.kind === 'source-memory' ||
        (n.spec.kind === 'repartition' && fused.has(n.id)),
    ) &&
    nodes.every(
      (n) => uf.find(n.id) !== root || n.inputs.every((e) => !isRepartition(e.from) || fused.has(e.from)),
    )
  for (let changed = true; changed; ) {
    changed = false
    for (const r of nodes) {
      if (r.spec.kind !== 'repartition' || fused.has(r.id) || repartitionCount(r) !== 1) continue
      if (!onlyMemory(uf.find(r.id))) continue
      const consumers = nodes.filter((n) => n.inputs.some((e) => e.from === r.id))
      const saved = [...uf.parent]
      fused.add(r.id)
      for (const c of consumers) uf.union(r.id, c.id)
      if (onlyMemory(uf.find(r.id))) changed = true
      else {
        fused.delete(r.id)
        uf.parent.splice(0, uf.parent.length, ...saved)
      }
    }
  }

  // 3. sub-topologies in order of their first node
  const byRoot = new Map<number, number[]>()
  for (const n of nodes) {
    const r = uf.find(n.id)
    const list = byRoot.get(r) ?? []
    list.push(n.id)
    byRoot.set(r, list)
  }
  const components = [...byRoot.values()]
  const subtopologies: SubTopology[] = components.map((ids, id) => ({
    id,
    nodes: ids,
    inputs: [],
    partitions: 0,
    stores: [],
    repartitionSinks: [],
  }))
  const subOf = new Map<number, SubTopology>()
  for (const st of subtopologies) for (const id of st.nodes) subOf.set(id, st)

  // 4. inputs and partition counts, in order so that upstream counts are known
  for (const st of subtopologies) {
    const seen = new Set<string>()
    for (const id of st.nodes) {
      const n = nodes[id]
      const s = n.spec
      if (s.kind === 'source-topic' || s.kind === 'source-table') {
        st.inputs.push({
          kind: s.kind === 'source-topic' ? 'source' : 'table',
          topic: s.topic,
          node: id,
          upstreamTasks: 0,
        })
      } else if (s.kind === 'source-memory') {
        st.inputs.push({ kind: 'memory', topic: n.name, node: id, upstreamTasks: 0 })
      }
      for (const e of n.inputs) {
        const from = nodes[e.from]
        if (from.spec.kind !== 'repartition' || fused.has(from.id) || subOf.get(from.id) === st) continue
        const topic = repartitionTopicName(p.name, from.name)
        if (seen.has(topic)) continue
        seen.add(topic)
        st.inputs.push({ kind: 'repartition', topic, node: from.id, upstreamTasks: 0 })
      }
    }
    const counts = st.inputs.map((i) =>
      i.kind === 'memory'
        ? 1
        : i.kind === 'repartition'
          ? repartitionCount(nodes[i.node])
          : externalPartitions.get(i.topic)!,
    )
    const distinct = new Set(counts)
    if (distinct.size > 1) {
      const list = st.inputs.map(
        (i, k) => `${i.kind === 'memory' ? 'in-memory source' : 'topic'} ${i.topic} has ${counts[k]}`,
      )
      throw new SluiceError(
        'SLUICE_ERR_NOT_COPARTITIONED',
        `sub-topology ${st.id} of pipeline ${p.name} reads inputs that are not co-partitioned: ${list.join(', ')}; ` +
          `records of one key must meet in one task, so give them the same partition count ` +
          `(create the topics with --partitions ${Math.max(...counts)}, or keyBy() one side with { partitions: ${Math.max(...counts)} })`,
        {
          details: {
            subtopology: st.id,
            inputs: st.inputs.map((i, k) => ({ topic: i.topic, partitions: counts[k] })),
          },
        },
      )
    }
    st.partitions = counts[0] ?? 1
  }
  for (const st of subtopologies) {
    for (const i of st.inputs) if (i.kind === 'repartition') i.upstreamTasks = subOf.get(i.node)!.partitions
  }

  // 5. stores, internal topics
  const internalTopics: InternalTopic[] = []
  for (const st of subtopologies) {
    for (const id of st.nodes) {
      const n = nodes[id]
      const kind = n.spec.kind
      if (kind === 'repartition' && !fused.has(id)) {
        const topic = repartitionTopicName(p.name, n.name)
        const partitions = repartitionCount(n)
        st.repartitionSinks.push({ node: id, topic, partitions })
        internalTopics.push({
          name: topic,
          partitions,
          kind: 'repartition',
          config: { 'cleanup.policy': 'delete' },
        })
      }
      if (kind === 'window' || kind === 'process' || kind === 'join-stream' || kind === 'sink') {
        const topic = changelogTopicName(p.name, n.name)
        st.stores.push({ name: n.name, node: id, changelogTopic: topic, writesChangelog: true })
        internalTopics.push({
          name: topic,
          partitions: st.partitions,
          kind: 'changelog',
          config: { 'cleanup.policy': 'compact' },
        })
      }
      if (n.spec.kind === 'source-table') {
        st.stores.push({ name: n.name, node: id, changelogTopic: n.spec.topic, writesChangelog: false })
      }
    }
  }

  const errors = resolvePolicies(p.name, p.options.errors)
  const deadLetters = Object.values(errors).includes('dead-letter')
  const deadLetterTopic = deadLetters ? (p.options.deadLetterTopic ?? deadLetterTopicName(p.name)) : null
  // one partition keeps dead letters in the order they failed; an existing topic of the user's may have more
  if (deadLetterTopic !== null) {
    internalTopics.push({ name: deadLetterTopic, partitions: 1, kind: 'dead-letter', config: {} })
  }

  const sourceTopics = [...externalPartitions.keys()]
  const sinkTopics = [...new Set(nodes.flatMap((n) => (n.spec.kind === 'sink-topic' ? [n.spec.topic] : [])))]
  const topology: Topology = {
    name: p.name,
    graph: g,
    subtopologies,
    internalTopics,
    sourceTopics,
    sinkTopics,
    fused,
    errors,
    deadLetterTopic,
    describe: () => describeTopology(topology),
  }
  return topology
}

function checkWired(pipeline: string, nodes: GraphNode[]): void {
  for (const n of nodes) {
    if (n.spec.kind === 'side-output' && nodes[n.inputs[0].from].spec.kind !== 'window') {
      throw new SluiceError('SLUICE_ERR_INVALID_PIPELINE', `late() of ${n.name} must follow a window step`)
    }
  }
  const consumed = new Set(nodes.flatMap((n) => n.inputs.map((e) => e.from)))
  const dangling = nodes.filter(
    (n) =>
      !consumed.has(n.id) &&
      n.spec.kind !== 'sink-topic' &&
      n.spec.kind !== 'sink-fn' &&
      n.spec.kind !== 'sink' &&
      n.spec.kind !== 'source-table',
  )
  if (dangling.length === nodes.length) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_PIPELINE',
      `pipeline ${pipeline} has no sink: end it with .to(topic) or .forEach(fn), or nothing will be kept`,
    )
  }
}

function describeNode(n: GraphNode, t: Topology): string {
  const s = n.spec
  switch (s.kind) {
    case 'source-topic':
      return `Source: ${n.name} (topic: ${s.topic}, key: ${s.keySerde.name}, value: ${s.valueSerde.name}, watermarks: ${s.watermarks.name})`
    case 'source-memory':
      return `Source: ${n.name} (in memory, watermarks: ${s.watermarks.name})`
    case 'source-table':
      return `Table: ${n.name} (topic: ${s.topic}, store: ${n.name})`
    case 'repartition':
      return t.fused.has(n.id)
        ? `Repartition: ${n.name} (fused: one task, no topic)`
        : `Repartition: ${n.name} (topic: ${repartitionTopicName(t.name, n.name)})`
    case 'window': {
      const a = s.assigner
      const shape =
        a.kind === 'session'
          ? `session gap ${a.gap}ms`
          : `${a.kind} size ${a.size}ms${a.kind === 'tumbling' ? '' : ` advance ${a.advance}ms`}`
      return `Window: ${n.name} (${shape}, ${s.aggregator.name}, lateness ${s.lateness}ms, emit ${s.emit}, store: ${n.name}, changelog: ${changelogTopicName(t.name, n.name)})`
    }
    case 'process':
      return `Process: ${n.name} (store: ${n.name}${s.ttl === null ? '' : `, ttl ${s.ttl}ms`}, changelog: ${changelogTopicName(t.name, n.name)})`
    case 'join-stream':
      return `Join: ${n.name} (stream-stream within ${s.within}ms, store: ${n.name})`
    case 'join-table':
      return `Join: ${n.name} (stream-table, ${s.inner ? 'inner' : 'left'})`
    case 'sink-topic':
      return `Sink: ${n.name} (topic: ${s.topic})`
    case 'sink-fn':
      return `Sink: ${n.name} (function)`
    case 'sink':
      return `Sink: ${n.name} (connector, commit state: ${changelogTopicName(t.name, n.name)})`
    case 'side-output':
      return `Side output: ${n.name} (late records)`
    default:
      return `Processor: ${n.name} (${s.kind})`
  }
}

export function describeTopology(t: Topology): string {
  const outputs = t.graph.outputs()
  const lines = [`Topology: ${t.name}`]
  for (const st of t.subtopologies) {
    lines.push(`  Sub-topology ${st.id} (${st.partitions} task${st.partitions === 1 ? '' : 's'})`)
    for (const id of st.nodes) {
      const n = t.graph.node(id)
      lines.push(`    ${describeNode(n, t)}`)
      const next = (outputs.get(id) ?? []).map((o) => {
        const to = t.graph.node(o.to).name
        return o.port === 'main' ? to : `${to} [${o.port}]`
      })
      if (next.length > 0) lines.push(`      --> ${next.join(', ')}`)
    }
  }
  const e = t.errors
  lines.push(
    `  Errors: deserialization ${e.deserialization}, processing ${e.processing}, production ${e.production}` +
      (t.deadLetterTopic === null ? '' : ` (dead letters: ${t.deadLetterTopic})`),
  )
  return lines.join('\n')
}
