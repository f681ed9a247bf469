// What the schema-bound serdes (Avro, Protobuf, JSON Schema) share: the schema they write with, its registry id,
// and a way to find the schema a record was written with when it carries another id.
import { SluiceError } from '../errors/index.ts'

export interface SchemaBoundOptions<S> {
  /** The schema this serde writes with, and reads into (the reader schema). */
  schema: S
  /** Its global id in the schema registry, written into every record's header. */
  id: number
  /**
   * The schema text registered under another id, for records written with an older or newer schema. Synchronous
   * because serdes are: a registry client fills a cache before the pipeline starts and on a miss.
   */
  writerSchema?: (id: number) => string | WriterSchema | undefined
  /** The texts of the schemas `schema` references (Avro named types, Protobuf imports), dependencies first. */
  referenced?: readonly string[]
}

/** A writer's schema with the schemas it references, as a registry resolves them. */
export interface WriterSchema {
  schema: string
  referenced?: readonly string[]
}

export function asWriterSchema(w: string | WriterSchema): WriterSchema {
  return typeof w === 'string' ? { schema: w } : w
}

export function schemaSerdeError(name: string, bytes: Buffer | null, cause: unknown): SluiceError {
  if (cause instanceof SluiceError && cause.code === 'SLUICE_ERR_SERDE') return cause
  const head = bytes === null ? 'null' : bytes.subarray(0, 16).toString('hex')
  return new SluiceError(
    'SLUICE_ERR_SERDE',
    `cannot deserialize ${bytes === null ? 'a null value' : `${bytes.length} bytes`} with the ${name} serde ` +
      `(hex ${head}): ${(cause as Error)?.message ?? cause}; check the producer's schema and format`,
    { cause, details: { serde: name } },
  )
}

/** A value that does not fit the writer's schema: the caller's bug, named before any bytes exist. */
export function serializeError(name: string, problem: string): SluiceError {
  return new SluiceError('SLUICE_ERR_SERDE', `cannot serialize with the ${name} serde: ${problem}`, {
    details: { serde: name },
  })
}

export function unknownSchemaId(name: string, id: number): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_SERDE',
    `the record was written with schema id ${id}, which the ${name} serde does not know; ` +
      'register it or pass writerSchema so that the serde can look it up',
    { details: { serde: name, schemaId: id } },
  )
}
