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
  /**
   * The schemas `schema` may `$ref`, by the names of its schema references (`"customer.json"`,
   * `"https://example.com/customer.schema.json"`); `subjectSerde` fills this from the registry.
   */
  referencedByName?: Readonly<Record<string, JsonSchema>>
}

// Relative names resolve against a placeholder base, and come back relative, as Ajv resolves them.
const PLACEHOLDER = 'sluice-ref:/'

/**
 * The URI a schema reference's name stands for: the name resolved against the referencing schema's `$id`, as
 * Confluent registers referenced JSON schemas. `customer.json` under `$id` `https://example.com/order.json` is
 * `https://example.com/customer.json`; without an `$id` it stays `customer.json`.
 */
export function referenceUri(base: string | undefined, name: string): string {
  try {
    const href = new URL(name, new URL(base ?? '', PLACEHOLDER)).href.replace(/#$/, '')
    return href.startsWith(PLACEHOLDER) ? href.slice(PLACEHOLDER.length) : href
  } catch {
    return name
  }
}

/** The `$id` of a schema document (`id` in draft 4), when it has one. */
export function schemaId(schema: unknown): string | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined
  const { $id, id } = schema as { $id?: unknown; id?: unknown }
  return typeof $id === 'string' ? $id : typeof id === 'string' ? id : undefined
}

function parsed(schema: JsonSchema): object {
  return typeof schema === 'string' ? JSON.parse(schema) : schema
}

interface MissingRef {
  missingRef: string
  missingSchema: string
}

function isMissingRef(err: unknown): err is Error & MissingRef {
  return err instanceof Error && typeof (err as Partial<MissingRef>).missingRef === 'string'
}

/** Ajv's "can't resolve reference" said in terms of the schema's references. */
function missingRefMessage(
  err: MissingRef,
  rootUri: string,
  uris: ReadonlyMap<string, string>,
  ref: string,
): string {
  if (err.missingSchema === rootUri) return `$ref "${ref}" points at nothing in the schema`
  const name = uris.get(err.missingSchema)
  if (name !== undefined) return `$ref "${ref}" points at nothing in the referenced schema "${name}"`
  const names = [...uris.values()].map((n) => `"${n}"`).join(', ')
  return (
    `$ref "${ref}" names no schema: it is not among the schema's references (${names || 'it has none'}); ` +
    `add a reference { name: "${ref.split('#')[0]}", subject, version } to the schema it means`
  )
}

/**
 * A validator for `schema`, with the schemas it references added to Ajv under their reference names. Throws when
 * the schema does not compile, naming a `$ref` that nothing answers.
 */
export function compileJsonSchema(
  schema: JsonSchema,
  referencedByName: Readonly<Record<string, JsonSchema>> = {},
): (value: unknown) => string | undefined {
  // strict: false because registries hold schemas written for any draft, with keywords Ajv does not know.
  const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false })
  const root = parsed(schema)
  const base = schemaId(root)
  const uris = new Map<string, string>()
  // One object per text: Ajv refuses the same $id twice, which two names for one schema would otherwise give.
  const objects = new Map<JsonSchema, object>()
  for (const [name, text] of Object.entries(referencedByName)) {
    const uri = referenceUri(base, name)
    if (uris.has(uri)) continue
    uris.set(uri, name)
    const object = objects.get(text) ?? parsed(text)
    objects.set(text, object)
    ajv.addSchema(object, uri)
  }
  let validate: ReturnType<typeof ajv.compile>
  try {
    validate = ajv.compile(root)
  } catch (err) {
    if (!isMissingRef(err)) throw err
    const ref = /can't resolve reference (.*) from id/.exec(err.message)?.[1] ?? err.missingRef
    throw new Error(missingRefMessage(err, referenceUri(undefined, base ?? ''), uris, ref), { cause: err })
  }
  return (value) => (validate(value) ? undefined : ajv.errorsText(validate.errors))
}

export function jsonSchema<T = unknown>(options: JsonSchemaOptions): Serde<T> {
  const name = 'json-schema'
  const check = compileJsonSchema(options.schema, options.referencedByName)
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
