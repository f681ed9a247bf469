// Compatibility levels as Confluent's registry defines them, over a per-format "can this reader read that writer".
import { avroReadProblems } from './avro-compatibility.ts'
import { jsonReadProblems } from './json-compatibility.ts'
import { protobufReadProblems } from './protobuf-compatibility.ts'

export const compatibilityLevels = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const

export type CompatibilityLevel = (typeof compatibilityLevels)[number]

export type SchemaType = 'AVRO' | 'PROTOBUF' | 'JSON'

/** A schema another one references, under its reference's name (`geo.Address`, `money.proto`, `customer.json`). */
export interface ReferencedSchema {
  name: string
  schema: string
}

export interface SchemaText {
  schemaType: SchemaType
  schema: string
  /** The schemas it references, dependencies first (resolved from the registry's references). */
  referenced?: readonly ReferencedSchema[]
}

/**
 * The texts of referenced schemas, once each: Avro and Protobuf find them by what they declare, not by the
 * reference's name, and one schema may be referenced under two names.
 */
export function referencedTexts(referenced: readonly ReferencedSchema[] = []): string[] {
  return [...new Set(referenced.map((r) => r.schema))]
}

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (compatibilityLevels as readonly string[]).includes(value)
}

/** The problems that keep a reader of `reader` from reading data written with `writer`; empty when none. */
export function readProblems(reader: SchemaText, writer: SchemaText): string[] {
  if (reader.schemaType !== writer.schemaType) {
    return [`the schema type changed from ${writer.schemaType} to ${reader.schemaType}`]
  }
  switch (reader.schemaType) {
    case 'AVRO':
      return avroReadProblems(
        reader.schema,
        writer.schema,
        referencedTexts(reader.referenced),
        referencedTexts(writer.referenced),
      )
    case 'PROTOBUF':
      return protobufReadProblems(
        reader.schema,
        writer.schema,
        referencedTexts(reader.referenced),
        referencedTexts(writer.referenced),
      )
    case 'JSON':
      return jsonReadProblems(reader.schema, writer.schema, reader.referenced, writer.referenced)
  }
}

/**
 * Checks a candidate schema against the versions a subject holds (oldest first), per level: BACKWARD means the
 * candidate reads data written with the latest version (all versions when transitive), FORWARD that the latest
 * (all) reads data written with the candidate, FULL both. Returns the problems, each naming the version.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: SchemaText,
  previous: readonly (SchemaText & { version?: number })[],
): string[] {
  if (level === 'NONE' || previous.length === 0) return []
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1)
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL')
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL')
  const problems: string[] = []
  for (const old of against) {
    const name = old.version === undefined ? 'a previous version' : `version ${old.version}`
    if (backward) {
      for (const p of readProblems(candidate, old))
        problems.push(`BACKWARD: the new schema cannot read ${name}: ${p}`)
    }
    if (forward) {
      for (const p of readProblems(old, candidate))
        problems.push(`FORWARD: ${name} cannot read the new schema: ${p}`)
    }
  }
  return problems
}
