// Validates a schema's text for its type and gives the form two registrations are compared by.
import protobuf from 'protobufjs'
import { compileJsonSchema } from '../serde/json-schema.ts'
import { parseAvroSchema } from './avro-compatibility.ts'
import { type ReferencedSchema, referencedTexts, type SchemaType } from './compatibility.ts'
import { registryError } from './registry-error.ts'

export const schemaTypes: readonly SchemaType[] = ['AVRO', 'JSON', 'PROTOBUF']

export function isSchemaType(value: unknown): value is SchemaType {
  return typeof value === 'string' && (schemaTypes as readonly string[]).includes(value)
}

/**
 * Throws 42201 when the text is not a valid schema of its type with the schemas it references: Avro named types
 * and Protobuf imports from their texts, JSON `$ref`s by the references' names.
 */
export function validateSchema(
  schemaType: SchemaType,
  schema: string,
  referenced: readonly ReferencedSchema[] = [],
): void {
  try {
    if (schemaType === 'AVRO') parseAvroSchema(schema, referencedTexts(referenced))
    else if (schemaType === 'JSON') {
      compileJsonSchema(schema, Object.fromEntries(referenced.map((r) => [r.name, r.schema])))
    } else {
      const root = new protobuf.Root()
      for (const ref of referencedTexts(referenced)) protobuf.parse(ref, root, { keepCase: true })
      protobuf.parse(schema, root, { keepCase: true })
    }
  } catch (err) {
    throw registryError('INVALID_SCHEMA', `invalid ${schemaType} schema: ${(err as Error).message}`)
  }
}

/** JSON schemas compare without whitespace; .proto text without surrounding blank space. */
export function canonicalSchema(schemaType: SchemaType, schema: string): string {
  return schemaType === 'PROTOBUF' ? schema.trim() : JSON.stringify(JSON.parse(schema))
}
