// JSON Schema in the Confluent wire format: the record is JSON text after the 5-byte header, and is validated
// against this serde's schema on write and on read (a record that breaks the reader's schema is bad input).
import AjvModule from 'ajv'
import { type SchemaBoundOptions, schemaSerdeError, serializeError } from './schema-bound.ts'
import type { Serde } from './serde.ts'
import { readHeader, writeHeader } from './wire-format.ts'

const Ajv = AjvModule.default

export type JsonSchema = string | object

export interface JsonSchemaOptions extends SchemaBoundOptions<JsonSchema> {
  /** Validate records on read too. Default true. */
  validateOnRead?: boolean
}

export function compileJsonSchema(schema: JsonSchema): (value: unknown) => string | undefined {
  // strict: false because registries hold schemas written for any draft, with keywords Ajv does not know.
  const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false })
  const validate = ajv.compile(typeof schema === 'string' ? JSON.parse(schema) : schema)
  return (value) => (validate(value) ? undefined : ajv.errorsText(validate.errors))
}

export function jsonSchema<T = unknown>(options: JsonSchemaOptions): Serde<T> {
  const name = 'json-schema'
  const check = compileJsonSchema(options.schema)
  const validateOnRead = options.validateOnRead ?? true
  return {
    name,
    serialize(value) {
      if (value === null || value === undefined) return null
      const problem = check(value)
      if (problem !== undefined) {
        throw serializeError(name, `the value does not match the schema: ${problem}`)
      }
      return writeHeader(options.id, Buffer.from(JSON.stringify(value)))
    },
    deserialize(bytes) {
      if (bytes === null) return null as T
      try {
        const { offset } = readHeader(bytes)
        const value = JSON.parse(bytes.subarray(offset).toString('utf8'))
        if (validateOnRead) {
          const problem = check(value)
          if (problem !== undefined)
            throw new Error(`the record does not match the reader schema: ${problem}`)
        }
        return value as T
      } catch (err) {
        throw schemaSerdeError(name, bytes, err)
      }
    },
  }
}
