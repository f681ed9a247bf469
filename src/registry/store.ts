// The registry's state: subjects, versions, global ids and compatibility config, kept in a compacted `_schemas`
// topic of the log (records shaped as Confluent's own), so every registry instance over the same log agrees.
// Each call first reads the topic to its end; writes go to the topic and take effect when read back.

import { isSluiceError } from '../errors/index.ts'
import type { Log, LogConsumer, LogProducer, TopicPartition } from '../log/contract.ts'
import {
  type CompatibilityLevel,
  checkCompatibility,
  type ReferencedSchema,
  type SchemaText,
  type SchemaType,
} from './compatibility.ts'
import { registryError } from './registry-error.ts'
import { canonicalSchema, validateSchema } from './schema-text.ts'

export interface SchemaReference {
  name: string
  subject: string
  version: number
}

export interface SchemaInput {
  schema: string
  schemaType?: SchemaType
  references?: SchemaReference[]
}

export interface StoredSchema {
  schemaType: SchemaType
  schema: string
  references: SchemaReference[]
}

export interface SubjectVersion extends StoredSchema {
  subject: string
  version: number
  id: number
}

interface Entry extends StoredSchema {
  id: number
  deleted: boolean
}

export interface SchemaRegistryOptions {
  log: Log
  /** Default `_schemas`. */
  topic?: string
  /** The global level until one is set. Default BACKWARD, as Confluent's. */
  defaultCompatibility?: CompatibilityLevel
}

type Version = number | 'latest'

/** `latest` or `-1`, or a version number from 1 to 2^31-1; else 42202. */
export function parseVersion(text: string | number): Version {
  if (text === 'latest' || text === -1 || text === '-1') return 'latest'
  const n = typeof text === 'number' ? text : /^[0-9]+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isInteger(n) || n < 1 || n > 0x7fffffff) {
    throw registryError(
      'INVALID_VERSION',
      `the version "${text}" is not valid: use a number from 1 to 2147483647, "latest" or -1`,
    )
  }
  return n
}

export class SchemaRegistry {
  readonly #log: Log
  readonly #tp: TopicPartition
  readonly #producer: LogProducer
  readonly #consumer: LogConsumer
  readonly #defaultLevel: CompatibilityLevel
  readonly #subjects = new Map<string, Map<number, Entry>>()
  readonly #configs = new Map<string | null, CompatibilityLevel>()
  #maxId = 0
  // One call at a time: each reads the topic with the one consumer, and ids are given out in order.
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(log: Log, topic: string, defaultLevel: CompatibilityLevel) {
    this.#log = log
    this.#tp = { topic, partition: 0 }
    this.#producer = log.producer({ clientId: 'schema-registry' })
    this.#consumer = log.consumer({ clientId: 'schema-registry', isolationLevel: 'read_committed' })
    this.#defaultLevel = defaultLevel
  }

  static async open(options: SchemaRegistryOptions): Promise<SchemaRegistry> {
    const topic = options.topic ?? '_schemas'
    const admin = options.log.admin()
    try {
      await admin.createTopic(topic, { partitions: 1, config: { 'cleanup.policy': 'compact' } })
    } catch (err) {
      if (!isSluiceError(err, 'SLUICE_ERR_TOPIC_EXISTS')) throw err
    }
    const registry = new SchemaRegistry(options.log, topic, options.defaultCompatibility ?? 'BACKWARD')
    await registry.#consumer.assign([registry.#tp])
    await registry.#consumer.seek(registry.#tp, 'earliest')
    await registry.#serial(async () => {})
    return registry
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => {})
    await this.#consumer.close()
    await this.#producer.close()
  }

  #serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      await this.#catchUp()
      return fn()
    })
    this.#queue = run.catch(() => {})
    return run
  }

  async #catchUp(): Promise<void> {
    const end = await this.#log.admin().listOffsets(this.#tp.topic, 0, 'latest')
    while ((this.#consumer.position(this.#tp) ?? 0) < end) {
      for (const record of await this.#consumer.poll({ timeoutMs: 100 })) {
        if (record.key !== null) this.#apply(JSON.parse(record.key.toString('utf8')), record.value)
      }
    }
  }

  #apply(key: { keytype: string; subject?: string | null; version?: number }, value: Buffer | null): void {
    const body = value === null ? null : JSON.parse(value.toString('utf8'))
    if (key.keytype === 'SCHEMA' && typeof key.subject === 'string' && typeof key.version === 'number') {
      let versions = this.#subjects.get(key.subject)
      if (body === null) {
        versions?.delete(key.version)
        if (versions?.size === 0) this.#subjects.delete(key.subject)
        return
      }
      if (versions === undefined) {
        versions = new Map()
        this.#subjects.set(key.subject, versions)
      }
      versions.set(key.version, {
        id: body.id,
        schemaType: body.schemaType ?? 'AVRO',
        schema: body.schema,
        references: body.references ?? [],
        deleted: body.deleted === true,
      })
      this.#maxId = Math.max(this.#maxId, body.id)
    } else if (key.keytype === 'CONFIG') {
      const subject = key.subject ?? null
      if (body === null) this.#configs.delete(subject)
      else this.#configs.set(subject, body.compatibilityLevel)
    }
  }

  async #write(key: object, value: object | null): Promise<void> {
    await this.#producer.send([
      {
        topic: this.#tp.topic,
        partition: 0,
        key: Buffer.from(JSON.stringify(key)),
        value: value === null ? null : Buffer.from(JSON.stringify(value)),
      },
    ])
    await this.#catchUp()
  }

  async #writeEntry(subject: string, version: number, entry: Entry | null): Promise<void> {
    const key = { keytype: 'SCHEMA', subject, version, magic: 1 }
    if (entry === null) return this.#write(key, null)
    const { id, schemaType, schema, references, deleted } = entry
    await this.#write(key, { subject, version, id, schemaType, schema, references, deleted })
  }

  /** Versions of a subject, oldest first, leaving out soft-deleted ones unless asked. */
  #versions(subject: string, includeDeleted = false): [number, Entry][] {
    const versions = this.#subjects.get(subject)
    if (versions === undefined) return []
    return [...versions].filter(([, e]) => includeDeleted || !e.deleted).sort((a, b) => a[0] - b[0])
  }

  #liveVersionsOrThrow(subject: string, includeDeleted = false): [number, Entry][] {
    const versions = this.#versions(subject, includeDeleted)
    if (versions.length === 0) throw registryError('SUBJECT_NOT_FOUND', `subject "${subject}" not found`)
    return versions
  }

  #find(subject: string, version: Version, includeDeleted = false): [number, Entry] {
    const versions = this.#liveVersionsOrThrow(subject, includeDeleted)
    const found = version === 'latest' ? versions.at(-1) : versions.find(([v]) => v === version)
    if (found === undefined) {
      throw registryError('VERSION_NOT_FOUND', `version ${version} of subject "${subject}" not found`)
    }
    return found
  }

  #view(subject: string, [version, e]: [number, Entry]): SubjectVersion {
    return {
      subject,
      version,
      id: e.id,
      schemaType: e.schemaType,
      schema: e.schema,
      references: e.references,
    }
  }

  subjects(options: { deleted?: boolean } = {}): Promise<string[]> {
    return this.#serial(() =>
      [...this.#subjects.keys()].filter((s) => this.#versions(s, options.deleted).length > 0).sort(),
    )
  }

  versions(subject: string, options: { deleted?: boolean } = {}): Promise<number[]> {
    return this.#serial(() => this.#liveVersionsOrThrow(subject, options.deleted).map(([v]) => v))
  }

  version(
    subject: string,
    version: string | number,
    options: { deleted?: boolean } = {},
  ): Promise<SubjectVersion> {
    const v = parseVersion(version)
    return this.#serial(() => this.#view(subject, this.#find(subject, v, options.deleted)))
  }

  schemaById(id: number): Promise<StoredSchema> {
    return this.#serial(() => {
      for (const versions of this.#subjects.values()) {
        for (const e of versions.values()) {
          if (e.id === id) return { schemaType: e.schemaType, schema: e.schema, references: e.references }
        }
      }
      throw registryError('SCHEMA_NOT_FOUND', `schema ${id} not found`)
    })
  }

  /** The subject's own level, or undefined when it follows the global one. */
  subjectLevel(subject: string): Promise<CompatibilityLevel | undefined> {
    return this.#serial(() => this.#configs.get(subject))
  }

  globalLevel(): Promise<CompatibilityLevel> {
    return this.#serial(() => this.#configs.get(null) ?? this.#defaultLevel)
  }

  setLevel(subject: string | null, level: CompatibilityLevel): Promise<void> {
    return this.#serial(() =>
      this.#write({ keytype: 'CONFIG', subject, magic: 0 }, { compatibilityLevel: level }),
    )
  }

  /** Removes a subject's own level; returns what it was. */
  deleteLevel(subject: string): Promise<CompatibilityLevel> {
    return this.#serial(async () => {
      const level = this.#configs.get(subject)
      if (level === undefined) {
        throw registryError(
          'SUBJECT_LEVEL_NOT_CONFIGURED',
          `subject "${subject}" has no compatibility level of its own`,
        )
      }
      await this.#write({ keytype: 'CONFIG', subject, magic: 0 }, null)
      return level
    })
  }

  #effectiveLevel(subject: string): CompatibilityLevel {
    return this.#configs.get(subject) ?? this.#configs.get(null) ?? this.#defaultLevel
  }

  /**
   * The schemas `references` name, under their names, each after the ones it references itself (dependencies
   * first), once each, and again only under another name. A reference to a subject version that does not exist is
   * an invalid schema (42201).
   */
  #referenced(
    references: readonly SchemaReference[],
    out: ReferencedSchema[] = [],
    seen = new Set<string>(),
  ): ReferencedSchema[] {
    for (const ref of references) {
      const key = `${ref.subject}/${ref.version}`
      const entry = this.#subjects.get(ref.subject)?.get(ref.version)
      if (entry === undefined) {
        throw registryError(
          'INVALID_SCHEMA',
          `the reference "${ref.name}" names version ${ref.version} of subject "${ref.subject}", which does not exist`,
        )
      }
      if (!seen.has(key)) {
        seen.add(key)
        this.#referenced(entry.references, out, seen)
      }
      if (!out.some((r) => r.name === ref.name && r.schema === entry.schema)) {
        out.push({ name: ref.name, schema: entry.schema })
      }
    }
    return out
  }

  #text(s: StoredSchema): SchemaText {
    return { schemaType: s.schemaType, schema: s.schema, referenced: this.#referenced(s.references) }
  }

  /** The same schema: same type and text, and the same references (so the same text over a newer version is not). */
  #same(e: StoredSchema, s: SchemaInput & { schemaType: SchemaType }, canonical: string): boolean {
    return (
      e.schemaType === s.schemaType &&
      canonicalSchema(e.schemaType, e.schema) === canonical &&
      sameReferences(e.references, s.references ?? [])
    )
  }

  register(subject: string, input: SchemaInput): Promise<{ id: number; version: number }> {
    const schemaType = input.schemaType ?? 'AVRO'
    return this.#serial(async () => {
      validateSchema(schemaType, input.schema, this.#referenced(input.references ?? []))
      const canonical = canonicalSchema(schemaType, input.schema)
      const live = this.#versions(subject)
      const existing = live.find(([, e]) => this.#same(e, { ...input, schemaType }, canonical))
      if (existing !== undefined) return { id: existing[1].id, version: existing[0] }
      const problems = checkCompatibility(
        this.#effectiveLevel(subject),
        this.#text({ schemaType, schema: input.schema, references: input.references ?? [] }),
        live.map(([version, e]) => ({ ...this.#text(e), version })),
      )
      if (problems.length > 0) {
        throw registryError(
          'INCOMPATIBLE_SCHEMA',
          `the schema is incompatible with an earlier schema of subject "${subject}": ${problems.join('; ')}`,
          problems,
        )
      }
      // The same schema under any subject keeps its global id.
      let id = 0
      for (const versions of this.#subjects.values()) {
        for (const e of versions.values()) if (this.#same(e, { ...input, schemaType }, canonical)) id = e.id
      }
      if (id === 0) id = this.#maxId + 1
      const all = this.#versions(subject, true)
      const version = (all.at(-1)?.[0] ?? 0) + 1
      const references = input.references ?? []
      await this.#writeEntry(subject, version, {
        id,
        schemaType,
        schema: input.schema,
        references,
        deleted: false,
      })
      return { id, version }
    })
  }

  /** The version of a subject that holds this schema (POST /subjects/{subject}). */
  lookup(subject: string, input: SchemaInput, options: { deleted?: boolean } = {}): Promise<SubjectVersion> {
    const schemaType = input.schemaType ?? 'AVRO'
    return this.#serial(() => {
      validateSchema(schemaType, input.schema, this.#referenced(input.references ?? []))
      const canonical = canonicalSchema(schemaType, input.schema)
      const versions = this.#liveVersionsOrThrow(subject, options.deleted)
      const found = versions.findLast(([, e]) => this.#same(e, { ...input, schemaType }, canonical))
      if (found === undefined)
        throw registryError('SCHEMA_NOT_FOUND', `subject "${subject}" holds no such schema`)
      return this.#view(subject, found)
    })
  }

  /**
   * Problems of a candidate against one version of a subject (by the subject's level's direction), or against the
   * versions its level covers when `version` is undefined. Empty when compatible.
   */
  compatibility(
    subject: string,
    version: string | number | undefined,
    input: SchemaInput,
  ): Promise<string[]> {
    const schemaType = input.schemaType ?? 'AVRO'
    const v = version === undefined ? undefined : parseVersion(version)
    return this.#serial(() => {
      const references = input.references ?? []
      validateSchema(schemaType, input.schema, this.#referenced(references))
      const candidate = this.#text({ schemaType, schema: input.schema, references })
      const level = this.#effectiveLevel(subject)
      if (v === undefined) {
        const live = this.#versions(subject).map(([n, e]) => ({ ...this.#text(e), version: n }))
        return checkCompatibility(level, candidate, live)
      }
      const [n, e] = this.#find(subject, v)
      return checkCompatibility(level, candidate, [{ ...this.#text(e), version: n }])
    })
  }

  /** Soft delete (all versions hidden, ids kept), or permanent delete of a soft-deleted subject. */
  deleteSubject(subject: string, permanent = false): Promise<number[]> {
    return this.#serial(async () => {
      const all = this.#versions(subject, true)
      if (all.length === 0) throw registryError('SUBJECT_NOT_FOUND', `subject "${subject}" not found`)
      const live = all.filter(([, e]) => !e.deleted)
      if (permanent) {
        if (live.length > 0) {
          throw registryError(
            'SUBJECT_NOT_SOFT_DELETED',
            `subject "${subject}" was not deleted first; delete it without permanent=true, then permanently`,
          )
        }
        for (const [v] of all) await this.#writeEntry(subject, v, null)
        if (this.#configs.has(subject)) await this.#write({ keytype: 'CONFIG', subject, magic: 0 }, null)
        return all.map(([v]) => v)
      }
      if (live.length === 0) {
        throw registryError(
          'SUBJECT_SOFT_DELETED',
          `subject "${subject}" was soft deleted; add permanent=true to remove it`,
        )
      }
      for (const [v, e] of live) await this.#writeEntry(subject, v, { ...e, deleted: true })
      return live.map(([v]) => v)
    })
  }

  deleteVersion(subject: string, version: string | number, permanent = false): Promise<number> {
    const v = parseVersion(version)
    return this.#serial(async () => {
      const [n, e] = this.#find(subject, v, v !== 'latest')
      if (!permanent && e.deleted) {
        throw registryError(
          'VERSION_SOFT_DELETED',
          `version ${n} of subject "${subject}" was soft deleted; add permanent=true to remove it`,
        )
      }
      if (permanent) {
        if (!e.deleted) {
          throw registryError(
            'VERSION_NOT_SOFT_DELETED',
            `version ${n} of subject "${subject}" was not deleted first; delete it without permanent=true, then permanently`,
          )
        }
        await this.#writeEntry(subject, n, null)
      } else {
        await this.#writeEntry(subject, n, { ...e, deleted: true })
      }
      return n
    })
  }
}

function sameReferences(a: readonly SchemaReference[], b: readonly SchemaReference[]): boolean {
  return (
    a.length === b.length &&
    a.every((r, i) => r.name === b[i].name && r.subject === b[i].subject && r.version === b[i].version)
  )
}

export function openSchemaRegistry(options: SchemaRegistryOptions): Promise<SchemaRegistry> {
  return SchemaRegistry.open(options)
}
