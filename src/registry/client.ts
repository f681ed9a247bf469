// What a pipeline needs from a schema registry, over HTTP (any Confluent-compatible registry) or in process (the
// store), and schema-bound serdes made from a subject: the pipeline's reader schema is checked against what the
// subject holds before any record is read, and the subject's schemas are cached for the synchronous serdes.
import { SluiceError } from '../errors/index.ts'
import { avro } from '../serde/avro.ts'
import { jsonSchema } from '../serde/json-schema.ts'
import { protobufSerde } from '../serde/protobuf.ts'
import type { WriterSchema } from '../serde/schema-bound.ts'
import type { Serde } from '../serde/serde.ts'
import { type ReferencedSchema, referencedTexts, type SchemaType } from './compatibility.ts'
import { registryErrorCodes as codes, registryError } from './registry-error.ts'
import type { SchemaInput, SchemaReference, StoredSchema, SubjectVersion } from './store.ts'

export interface RegistryApi {
  subjects(): Promise<string[]>
  schemaById(id: number): Promise<StoredSchema>
  versions(subject: string): Promise<number[]>
  version(subject: string, version: number | 'latest'): Promise<SubjectVersion>
  lookup(subject: string, input: SchemaInput): Promise<SubjectVersion>
  register(subject: string, input: SchemaInput): Promise<{ id: number }>
  /** Problems of the candidate against the versions the subject's level covers; empty when compatible. */
  compatibility(subject: string, version: undefined, input: SchemaInput): Promise<string[]>
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json'

/** A client of a Confluent-compatible registry at `url` (Sluice's or Confluent's). */
export function httpRegistry(url: string): RegistryApi {
  const base = url.replace(/\/+$/, '')
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': CONTENT_TYPE },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (err) {
      throw new SluiceError(
        'SLUICE_ERR_CONNECTION',
        `cannot reach the schema registry at ${base}: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
    const answer = (await res.json().catch(() => ({}))) as T & { error_code?: number; message?: string }
    if (!res.ok) {
      const code = answer.error_code ?? res.status
      const name = (Object.keys(codes) as (keyof typeof codes)[]).find((k) => codes[k] === code)
      if (name !== undefined)
        throw registryError(name, `${answer.message ?? res.statusText} (registry ${base})`)
      throw new SluiceError(
        'SLUICE_ERR_CONNECTION',
        `the schema registry at ${base} answered ${res.status}: ${answer.message}`,
      )
    }
    return answer
  }
  const s = encodeURIComponent
  const stored = (b: Partial<StoredSchema>): StoredSchema => ({
    schemaType: b.schemaType ?? 'AVRO',
    schema: b.schema as string,
    references: b.references ?? [],
  })
  return {
    subjects: () => call('GET', '/subjects'),
    schemaById: async (id) => stored(await call('GET', `/schemas/ids/${id}`)),
    versions: (subject) => call('GET', `/subjects/${s(subject)}/versions`),
    version: async (subject, version) => {
      const v = await call<SubjectVersion>('GET', `/subjects/${s(subject)}/versions/${version}`)
      return { ...v, ...stored(v) }
    },
    lookup: async (subject, input) => {
      const v = await call<SubjectVersion>('POST', `/subjects/${s(subject)}`, input)
      return { ...v, ...stored(v) }
    },
    register: (subject, input) => call('POST', `/subjects/${s(subject)}/versions`, input),
    compatibility: async (subject, _version, input) => {
      const answer = await call<{ is_compatible: boolean; messages?: string[] }>(
        'POST',
        `/compatibility/subjects/${s(subject)}/versions?verbose=true`,
        input,
      )
      return answer.is_compatible ? [] : (answer.messages ?? ['incompatible'])
    },
  }
}

export interface SubjectSerdeOptions {
  subject: string
  schemaType?: SchemaType
  /** The pipeline's schema. Without it, the subject's latest version is used. */
  schema?: string
  /** Register `schema` when the subject does not hold it yet. Default false: it must be registered already. */
  register?: boolean
  /** Protobuf: the message type to write. */
  messageName?: string
  /** What `schema` references (other subjects' versions), as registered with it. */
  references?: SchemaReference[]
}

export interface SubjectSerde<T> extends Serde<T> {
  readonly id: number
  /** Fetches schemas registered since the serde was made, so that records written with them can be read. */
  refresh(): Promise<void>
  /** The schema id `bytes` were written with when the serde cannot read it yet; null when it can (or not the wire format). */
  unknownId(bytes: Buffer | null): number | null
  /**
   * Fetches the schemas of these ids by id, as Confluent's deserializers do, so that their records can be read; an id
   * the registry does not have is asked again no sooner than 30 s later (its records are not of the subject).
   */
  learn(ids: Iterable<number>): Promise<void>
}

const MISSING_RETRY_MS = 30_000

/**
 * A serde bound to a subject. With a schema, it first checks that schema against the subject at the subject's
 * level and fails with every problem named when it is not compatible.
 */
export async function subjectSerde<T = unknown>(
  api: RegistryApi,
  options: SubjectSerdeOptions,
): Promise<SubjectSerde<T>> {
  const { subject } = options
  let mine: { id: number; schemaType: SchemaType; schema: string; references: SchemaReference[] }
  if (options.schema === undefined) {
    mine = await api.version(subject, 'latest')
  } else {
    const input = {
      schema: options.schema,
      schemaType: options.schemaType ?? 'AVRO',
      references: options.references ?? [],
    }
    const problems = await api.compatibility(subject, undefined, input).catch((err) => {
      if ((err as SluiceError).details?.errorCode === 40401) return [] // a new subject: nothing to be compatible with
      throw err
    })
    if (problems.length > 0) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_CONFIG',
        `the ${input.schemaType} schema for subject "${subject}" is not compatible with what the subject holds: ` +
          `${problems.join('; ')}. Evolve the schema within the subject's compatibility level, or change the level`,
        { details: { subject, problems } },
      )
    }
    const found = await api.lookup(subject, input).catch(async (err) => {
      if (!options.register) {
        throw new SluiceError(
          'SLUICE_ERR_INVALID_CONFIG',
          `subject "${subject}" does not hold the pipeline's schema; register it or pass register: true`,
          { cause: err, details: { subject } },
        )
      }
      return { ...input, id: (await api.register(subject, input)).id }
    })
    mine = { id: found.id, schemaType: input.schemaType, schema: input.schema, references: input.references }
  }
  // The schemas a schema references, under their names, each after its own references (as the store resolves them).
  async function referenced(
    refs: readonly SchemaReference[],
    out: ReferencedSchema[] = [],
    seen = new Set<string>(),
  ): Promise<ReferencedSchema[]> {
    for (const ref of refs) {
      const key = `${ref.subject}/${ref.version}`
      const sv = await api.version(ref.subject, ref.version)
      if (!seen.has(key)) {
        seen.add(key)
        await referenced(sv.references, out, seen)
      }
      if (!out.some((r) => r.name === ref.name && r.schema === sv.schema)) {
        out.push({ name: ref.name, schema: sv.schema })
      }
    }
    return out
  }
  const writers = new Map<number, WriterSchema>()
  async function refresh(): Promise<void> {
    for (const v of await api.versions(subject)) {
      const sv = await api.version(subject, v)
      writers.set(sv.id, { schema: sv.schema, referenced: referencedTexts(await referenced(sv.references)) })
    }
  }
  await refresh()
  const mineReferenced = await referenced(mine.references)
  const bound = {
    schema: mine.schema,
    id: mine.id,
    referenced: referencedTexts(mineReferenced),
    writerSchema: (id: number) => writers.get(id),
  }
  const serde: Serde<T> =
    mine.schemaType === 'AVRO'
      ? avro<T>(bound)
      : mine.schemaType === 'JSON'
        ? jsonSchema<T>({
            ...bound,
            // JSON Schema `$ref`s a referenced schema by its reference's name, not by anything the schema declares.
            referencedByName: Object.fromEntries(mineReferenced.map((r) => [r.name, r.schema])),
          })
        : protobufSerde<T>({ ...bound, messageName: options.messageName })
  const missing = new Map<number, number>()
  const unknownId = (bytes: Buffer | null): number | null => {
    // JSON Schema records are read with the reader's schema alone: any id will do
    if (mine.schemaType === 'JSON' || bytes === null || bytes.length < 5 || bytes[0] !== 0) return null
    const id = bytes.readUInt32BE(1)
    if (id === mine.id || writers.has(id)) return null
    const since = missing.get(id)
    return since !== undefined && Date.now() - since < MISSING_RETRY_MS ? null : id
  }
  async function learn(ids: Iterable<number>): Promise<void> {
    for (const id of ids) {
      if (writers.has(id)) continue
      const found = await api.schemaById(id).catch((err) => {
        if ((err as SluiceError).details?.errorCode === 40403) return null
        throw err
      })
      if (found === null || found.schemaType !== mine.schemaType) missing.set(id, Date.now())
      else
        writers.set(id, {
          schema: found.schema,
          referenced: referencedTexts(await referenced(found.references)),
        })
    }
  }
  return { ...serde, name: `${serde.name}(${subject})`, id: mine.id, refresh, unknownId, learn }
}
