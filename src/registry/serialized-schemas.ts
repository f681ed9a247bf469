// What Confluent's Protobuf serdes need of the registry beyond .proto text: schemas answered as base64
// FileDescriptorProtos (`format=serialized`), and schemas sent that way kept as text and matched, by descriptor, to
// the version that holds the same schema. Built on the store's public calls, for the REST routes.
import { fileDescriptorOf, serializedProtobuf } from './protobuf-descriptor.ts'
import { protoTextFromSerialized } from './protobuf-print.ts'
import type { SchemaInput, SchemaReference, SchemaRegistry, StoredSchema } from './store.ts'

/** The texts `references` name, each after the ones it references itself, once each (soft-deleted ones too). */
async function referencedTexts(
  registry: SchemaRegistry,
  references: readonly SchemaReference[],
  out: string[] = [],
  seen = new Set<string>(),
): Promise<string[]> {
  for (const ref of references) {
    const key = `${ref.subject}/${ref.version}`
    if (seen.has(key)) continue
    seen.add(key)
    const v = await registry.version(ref.subject, ref.version, { deleted: true })
    await referencedTexts(registry, v.references, out, seen)
    if (!out.includes(v.schema)) out.push(v.schema)
  }
  return out
}

/**
 * A schema in the format a request asks for. `serialized` gives a Protobuf schema as its base64 FileDescriptorProto;
 * other formats, and other schema types, give the text (Confluent also answers the text for formats it lacks).
 */
export async function inFormat<T extends StoredSchema>(
  registry: SchemaRegistry,
  schema: T,
  format: string | undefined,
): Promise<T> {
  if (format?.toLowerCase() !== 'serialized' || schema.schemaType !== 'PROTOBUF') return schema
  const referenced = await referencedTexts(registry, schema.references)
  return { ...schema, schema: serializedProtobuf(schema.schema, referenced) }
}

function sameReferences(a: readonly SchemaReference[], b: readonly SchemaReference[]): boolean {
  return (
    a.length === b.length &&
    a.every((r, i) => r.name === b[i].name && r.subject === b[i].subject && r.version === b[i].version)
  )
}

async function descriptorOf(registry: SchemaRegistry, s: StoredSchema): Promise<Buffer | undefined> {
  try {
    return Buffer.from(fileDescriptorOf(s.schema, await referencedTexts(registry, s.references)))
  } catch {
    return undefined // a reference that is gone: the store reports it
  }
}

export interface MatchIn {
  /** Look for the same schema among this subject's versions, newest first. */
  subject?: string
  /** Then among every other subject's, as registering does: the same schema keeps its id across subjects. */
  otherSubjects?: boolean
}

/**
 * A Protobuf schema sent as a base64 FileDescriptorProto, as .proto text: the text of a version that declares the
 * same (so that the store finds that version, or reuses its id), else the descriptor printed as text. Other
 * schemas pass unchanged.
 */
export async function fromSerialized(
  registry: SchemaRegistry,
  input: SchemaInput,
  within: MatchIn = {},
): Promise<SchemaInput> {
  if (input.schemaType !== 'PROTOBUF') return input
  const text = protoTextFromSerialized(input.schema)
  if (text === undefined) return input
  const references = input.references ?? []
  const candidate = await descriptorOf(registry, { schemaType: 'PROTOBUF', schema: text, references })
  if (candidate === undefined) return { ...input, schema: text }
  const subjects = within.subject === undefined ? [] : [within.subject]
  if (within.otherSubjects === true) {
    subjects.push(...(await registry.subjects()).filter((s) => s !== within.subject))
  }
  for (const subject of subjects) {
    const versions = await registry.versions(subject).catch(() => [])
    for (const n of versions.toReversed()) {
      const v = await registry.version(subject, n)
      if (v.schemaType !== 'PROTOBUF' || !sameReferences(v.references, references)) continue
      if ((await descriptorOf(registry, v))?.equals(candidate)) return { ...input, schema: v.schema }
    }
  }
  return { ...input, schema: text }
}
