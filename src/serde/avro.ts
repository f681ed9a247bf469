// Avro in the Confluent wire format (avsc). Reading resolves the writer's schema to this serde's reader schema,
// so a pipeline with a newer schema reads old records (defaults fill added fields, promotions widen numbers).
import avsc from 'avsc'
import { checkAvroBounds, hasBlocks } from './avro-guard.ts'
import {
  asWriterSchema,
  type SchemaBoundOptions,
  schemaSerdeError,
  serializeError,
  unknownSchemaId,
} from './schema-bound.ts'
import type { Serde } from './serde.ts'
import { readHeader, writeHeader } from './wire-format.ts'

export type AvroSchema = string | object

type AvroType = ReturnType<typeof avsc.Type.forSchema>
type Resolver = ReturnType<AvroType['createResolver']>

interface Writer {
  resolver: Resolver | null
  guard: Parameters<typeof checkAvroBounds>[0] | null
}

function guardFor(type: AvroType): Writer['guard'] {
  const view = type as unknown as Writer['guard'] & object
  return hasBlocks(view) ? view : null
}

/** Parses a schema after the schemas it references (dependencies first), whose named types it may use. */
export function parseAvro(schema: AvroSchema, referenced: readonly string[] = []): AvroType {
  const registry = {}
  for (const text of referenced) avsc.Type.forSchema(JSON.parse(text), { registry })
  return avsc.Type.forSchema((typeof schema === 'string' ? JSON.parse(schema) : schema) as never, {
    registry,
  })
}

export function avro<T = unknown>(options: SchemaBoundOptions<AvroSchema>): Serde<T> {
  const name = 'avro'
  const reader = parseAvro(options.schema, options.referenced)
  // Per writer id: the resolver (null when it is the reader's own schema), and the writer's type when its bytes
  // need a bounds check before avsc decodes them.
  const writers = new Map<number, Writer>([[options.id, { resolver: null, guard: guardFor(reader) }]])

  function writerFor(id: number): Writer {
    const known = writers.get(id)
    if (known !== undefined) return known
    const found = options.writerSchema?.(id)
    if (found === undefined) throw unknownSchemaId(name, id)
    const { schema, referenced } = asWriterSchema(found)
    const type = parseAvro(schema, referenced)
    const writer = { resolver: reader.createResolver(type), guard: guardFor(type) }
    writers.set(id, writer)
    return writer
  }

  const scratch = Buffer.alloc(64 * 1024)
  scratch.writeUInt32BE(options.id >>> 0, 1)
  return {
    name,
    serialize(value) {
      if (value === null || value === undefined) return null
      // Encode after the header in a scratch buffer and copy once; a record too large for it takes the slow path.
      try {
        const end = reader.encode(value, scratch, 5)
        if (end < 0) return writeHeader(options.id, reader.toBuffer(value))
        return Buffer.from(scratch.subarray(0, end))
      } catch (err) {
        throw serializeError(name, `the value does not match the schema: ${(err as Error).message}`)
      }
    },
    deserialize(bytes) {
      if (bytes === null) return null as T
      try {
        const { schemaId, offset } = readHeader(bytes)
        const { resolver, guard } = writerFor(schemaId)
        const payload = bytes.subarray(offset)
        if (guard !== null) checkAvroBounds(guard, payload)
        return (resolver === null ? reader.fromBuffer(payload) : reader.fromBuffer(payload, resolver)) as T
      } catch (err) {
        throw schemaSerdeError(name, bytes, err)
      }
    },
  }
}
