// The schema registry's REST API on Confluent's paths, bodies, error codes ({ error_code, message }) and content
// type, so that Confluent's clients and serializers talk to `sluice serve` as to a Confluent registry.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isCompatibilityLevel } from '../registry/compatibility.ts'
import { registryError, registryErrorCode } from '../registry/registry-error.ts'
import { isSchemaType } from '../registry/schema-text.ts'
import { fromSerialized, inFormat } from '../registry/serialized-schemas.ts'
import type { SchemaInput, SchemaRegistry, StoredSchema } from '../registry/store.ts'

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json'

type Params = { subject: string; version: string; id: string }
type Query = {
  deleted?: string
  permanent?: string
  verbose?: string
  defaultToGlobal?: string
  /** `serialized`: Protobuf schemas as base64 FileDescriptorProtos, as Confluent's Protobuf serdes ask. */
  format?: string
}
type Req = FastifyRequest<{ Params: Params; Querystring: Query; Body: unknown }>

function schemaInput(body: unknown): SchemaInput {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  if (typeof b.schema !== 'string' || b.schema.trim() === '') {
    throw registryError('INVALID_SCHEMA', 'the body needs "schema", the schema text as a string')
  }
  const schemaType = b.schemaType ?? 'AVRO'
  if (!isSchemaType(schemaType)) {
    throw registryError(
      'INVALID_SCHEMA',
      `unknown schemaType ${JSON.stringify(schemaType)}: use AVRO, JSON or PROTOBUF`,
    )
  }
  const references = b.references ?? []
  const valid = (r: Record<string, unknown> | null) =>
    typeof r?.name === 'string' && typeof r.subject === 'string' && Number.isInteger(r.version)
  if (!Array.isArray(references) || !references.every(valid)) {
    throw registryError('INVALID_SCHEMA', '"references" must be a list of { name, subject, version }')
  }
  return { schema: b.schema, schemaType, references: references as SchemaInput['references'] }
}

/** Confluent leaves schemaType out for Avro, and references when there are none. */
function schemaBody(s: StoredSchema): Record<string, unknown> {
  return {
    ...(s.schemaType === 'AVRO' ? {} : { schemaType: s.schemaType }),
    ...(s.references.length > 0 ? { references: s.references } : {}),
    schema: s.schema,
  }
}

function level(body: unknown) {
  const value = (body as { compatibility?: unknown } | null)?.compatibility
  if (!isCompatibilityLevel(value)) {
    throw registryError(
      'INVALID_COMPATIBILITY_LEVEL',
      `invalid compatibility level ${JSON.stringify(value)}: use NONE, BACKWARD, FORWARD, FULL or a _TRANSITIVE form`,
    )
  }
  return value
}

function schemaId(text: string): number {
  const id = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(id)) throw registryError('SCHEMA_NOT_FOUND', `schema ${text} not found`)
  return id
}

export function registerSchemaRegistry(app: FastifyInstance, registry: SchemaRegistry): void {
  app.register(async (scope) => {
    // Confluent clients send their own content types; bodies are JSON all the same.
    scope.addContentTypeParser(
      [REGISTRY_CONTENT_TYPE, 'application/vnd.schemaregistry+json', 'application/octet-stream'],
      { parseAs: 'string' },
      (_req, text, done) => {
        try {
          done(null, text === '' ? {} : JSON.parse(text as string))
        } catch (err) {
          ;(err as { statusCode?: number }).statusCode = 400
          done(err as Error, undefined)
        }
      },
    )
    scope.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-type', REGISTRY_CONTENT_TYPE)
      return payload
    })
    scope.setErrorHandler((err, _req, reply: FastifyReply) => {
      const code = registryErrorCode(err)
      if (code !== undefined) {
        const status = code >= 1000 ? Math.floor(code / 100) : code
        return reply.code(status).send({ error_code: code, message: (err as Error).message })
      }
      const status = (err as { statusCode?: number }).statusCode
      if (typeof status === 'number' && status >= 400 && status < 500) {
        return reply.code(status).send({ error_code: status, message: (err as Error).message })
      }
      return reply
        .code(500)
        .send({ error_code: 50001, message: `error in the backend store: ${(err as Error).message}` })
    })

    const deleted = (req: Req) => req.query.deleted === 'true'
    const permanent = (req: Req) => req.query.permanent === 'true'

    scope.get('/schemas/types', async () => ['AVRO', 'JSON', 'PROTOBUF'])
    const byId = async (req: Req) =>
      inFormat(registry, await registry.schemaById(schemaId(req.params.id)), req.query.format)
    scope.get('/schemas/ids/:id', async (req: Req) => schemaBody(await byId(req)))
    scope.get('/schemas/ids/:id/schema', async (req: Req) => (await byId(req)).schema)

    scope.get('/subjects', async (req: Req) => registry.subjects({ deleted: deleted(req) }))
    scope.post('/subjects/:subject', async (req: Req) => {
      const input = await fromSerialized(registry, schemaInput(req.body), { subject: req.params.subject })
      const found = await registry.lookup(req.params.subject, input, { deleted: deleted(req) })
      return { subject: found.subject, id: found.id, version: found.version, ...schemaBody(found) }
    })
    scope.delete('/subjects/:subject', async (req: Req) =>
      registry.deleteSubject(req.params.subject, permanent(req)),
    )

    scope.get('/subjects/:subject/versions', async (req: Req) =>
      registry.versions(req.params.subject, { deleted: deleted(req) }),
    )
    scope.post('/subjects/:subject/versions', async (req: Req) => {
      const input = await fromSerialized(registry, schemaInput(req.body), {
        subject: req.params.subject,
        otherSubjects: true,
      })
      const { id } = await registry.register(req.params.subject, input)
      return { id }
    })
    const version = async (req: Req) => {
      const v = await registry.version(req.params.subject, req.params.version, { deleted: deleted(req) })
      return inFormat(registry, v, req.query.format)
    }
    scope.get('/subjects/:subject/versions/:version', async (req: Req) => {
      const v = await version(req)
      return { subject: v.subject, version: v.version, id: v.id, ...schemaBody(v) }
    })
    scope.get('/subjects/:subject/versions/:version/schema', async (req: Req) => (await version(req)).schema)
    scope.delete('/subjects/:subject/versions/:version', async (req: Req) =>
      registry.deleteVersion(req.params.subject, req.params.version, permanent(req)),
    )

    const compatibility = async (req: Req) => {
      const input = await fromSerialized(registry, schemaInput(req.body))
      const problems = await registry.compatibility(req.params.subject, req.params.version, input)
      return {
        is_compatible: problems.length === 0,
        ...(req.query.verbose === 'true' ? { messages: problems } : {}),
      }
    }
    scope.post('/compatibility/subjects/:subject/versions/:version', compatibility)
    scope.post('/compatibility/subjects/:subject/versions', compatibility)

    scope.get('/config', async () => ({ compatibilityLevel: await registry.globalLevel() }))
    scope.put('/config', async (req: Req) => {
      const compatibility = level(req.body)
      await registry.setLevel(null, compatibility)
      return { compatibility }
    })
    scope.get('/config/:subject', async (req: Req) => {
      const own = await registry.subjectLevel(req.params.subject)
      if (own !== undefined) return { compatibilityLevel: own }
      if (req.query.defaultToGlobal === 'true') return { compatibilityLevel: await registry.globalLevel() }
      throw registryError(
        'SUBJECT_LEVEL_NOT_CONFIGURED',
        `subject "${req.params.subject}" has no compatibility level of its own (add defaultToGlobal=true for the global one)`,
      )
    })
    scope.put('/config/:subject', async (req: Req) => {
      const compatibility = level(req.body)
      await registry.setLevel(req.params.subject, compatibility)
      return { compatibility }
    })
    scope.delete('/config/:subject', async (req: Req) => ({
      compatibilityLevel: await registry.deleteLevel(req.params.subject),
    }))
  })
}
