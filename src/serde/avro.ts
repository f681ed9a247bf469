// Avro in the Confluent wire format (avsc). Reading resolves the writer's schema to this serde's reader schema,
// so a pipeline with a newer schema reads old records (defaults fill added fields, promotions widen numbers).
import avsc from 'avsc'
import { type SchemaBoundOptions, schemaSerdeError, unknownSchemaId } from './schema-bound.ts'
import type { Serde } from './serde.ts'
import { readHeader, writeHeader } from './wire-format.ts'

export type AvroSchema = string | object

type AvroType = ReturnType<typeof avsc.Type.forSchema>
type Resolver = ReturnType<AvroType['createResolver']>

export function parseAvro(schema: AvroSchema): AvroType {
  return avsc.Type.forSchema((typeof schema === 'string' ? JSON.parse(schema) : schema) as never)
}

export function avro<T = unknown>(options: SchemaBoundOptions<AvroSchema>): Serde<T> {
  const name = 'avro'
  const reader = parseAvro(options.schema)
  // One resolver per writer id: building it walks both schemas, so do it once.
  const resolvers = new Map<number, Resolver | null>([[options.id, null]])

  function resolverFor(id: number): Resolver | null {
    const known = resolvers.get(id)
    if (known !== undefined) return known
    const text = options.writerSchema?.(id)
    if (text === undefined) throw unknownSchemaId(name, id)
    const resolver = reader.createResolver(parseAvro(text))
    resolvers.set(id, resolver)
    return resolver
  }

  return {
    name,
    serialize(value) {
      if (value === null || value === undefined) return null
      return writeHeader(options.id, reader.toBuffer(value))
    },
    deserialize(bytes) {
      if (bytes === null) return null as T
      try {
        const { schemaId, offset } = readHeader(bytes)
        const resolver = resolverFor(schemaId)
        const payload = bytes.subarray(offset)
        return (resolver === null ? reader.fromBuffer(payload) : reader.fromBuffer(payload, resolver)) as T
      } catch (err) {
        throw schemaSerdeError(name, bytes, err)
      }
    },
  }
}
