// HTTP ingest: `POST /v1/topics/:topic/records` with one JSON value or a JSON array of values (application/json), or
// NDJSON (application/x-ndjson), in UTF-8. A request is all or nothing: every record is checked first, and if any is
// bad the answer is a 4xx listing each bad record by index, and nothing is written; otherwise all records are
// appended (atomically, see ingest-writer.ts) and durable (per the log's fsync policy) before the 2xx. The record
// timestamp is the ingest time; event time belongs in the value.
import type { FastifyInstance } from 'fastify'
import { isSluiceError } from '../errors/index.ts'
import type { Log, ProducerRecord } from '../log/contract.ts'
import { partitionForKey } from '../log/partitioner.ts'
import { type HttpError, httpError, sendError } from './http-errors.ts'
import { type ParsedBody, registerBodyParsers, valueProblem } from './ingest-body.ts'
import { IngestWriter } from './ingest-writer.ts'

export interface IngestOptions {
  /** Most records in one request. Default 10,000. */
  maxRecords?: number
  /** Checks a value before it is accepted; returns an error message, or null when the value is fine. */
  validate?: (topic: string, value: unknown) => string | null
}

interface RecordProblem {
  index: number
  message: string
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

export function registerIngest(
  app: FastifyInstance,
  log: Log,
  options: IngestOptions = {},
): { close(): Promise<void> } {
  const maxRecords = options.maxRecords ?? 10_000
  const writer = new IngestWriter(log)
  const partitionCounts = new Map<string, number>()
  // The server picks every record's partition, so that the writer knows whether a request spans several.
  const roundRobin = new Map<string, number>()

  // A scope of its own: its body parsers (JSON and NDJSON only, as bytes) are not the other routes' business.
  app.register(async (scope) => {
    registerBodyParsers(scope)
    scope.post<{ Params: { topic: string }; Querystring: { key?: string | string[] } }>(
      '/v1/topics/:topic/records',
      async (req, reply) => {
        const { topic } = req.params
        let partitions = partitionCounts.get(topic)
        if (partitions === undefined) {
          try {
            partitions = (await log.admin().describeTopic(topic)).partitions.length
          } catch (err) {
            if (isSluiceError(err, 'SLUICE_ERR_TOPIC_NOT_FOUND')) {
              return sendError(
                reply,
                httpError(
                  404,
                  'SLUICE_ERR_TOPIC_NOT_FOUND',
                  `topic ${topic} does not exist; create it first (sluice topics create ${topic} --partitions N)`,
                ),
              )
            }
            throw err
          }
          partitionCounts.set(topic, partitions)
        }
        const keyField = req.query.key
        if (Array.isArray(keyField)) {
          return sendError(
            reply,
            httpError(
              400,
              'SLUICE_ERR_INPUT_PARSE',
              `give one key field (?key=user), not ${keyField.length}: ${JSON.stringify(keyField)}`,
            ),
          )
        }
        // no body at all; a body of any content type but JSON and NDJSON has had its 415 already
        const body = (req.body as ParsedBody | undefined) ?? { values: [], problems: new Map() }
        const items = body.values
        if (items.length === 0) {
          return sendError(
            reply,
            httpError(
              400,
              'SLUICE_ERR_INPUT_PARSE',
              'the request has no records: send a JSON value, a JSON array or NDJSON lines',
            ),
          )
        }
        if (items.length > maxRecords) {
          return sendError(
            reply,
            httpError(
              413,
              'SLUICE_ERR_RECORD_TOO_LARGE',
              `${items.length} records in one request; at most ${maxRecords} are accepted: split the batch`,
            ),
          )
        }
        const now = Date.now()
        const problems: RecordProblem[] = []
        const records: ProducerRecord[] = new Array(items.length)
        for (let i = 0; i < items.length; i++) {
          const value = items[i]
          const problem = body.problems.get(i) ?? valueProblem(value)
          if (problem !== null) {
            problems.push({ index: i, message: problem })
            continue
          }
          let key: Buffer | null = null
          if (keyField !== undefined) {
            // an own field only: `constructor` or `__proto__` of any object is not a field the client sent
            const k = isObject(value) && Object.hasOwn(value, keyField) ? value[keyField] : undefined
            if (k === undefined || k === null) {
              problems.push({
                index: i,
                message: `record has no field ${JSON.stringify(keyField)} to take the key from`,
              })
              continue
            }
            key = Buffer.from(JSON.stringify(k))
          }
          const invalid = options.validate?.(topic, value)
          if (invalid) {
            problems.push({ index: i, message: invalid })
            continue
          }
          const partition = key !== null ? partitionForKey(key, partitions) : nextPartition(topic, partitions)
          records[i] = { topic, partition, key, value: Buffer.from(JSON.stringify(value)), timestamp: now }
        }
        if (problems.length > 0) {
          const err: HttpError = httpError(
            400,
            'SLUICE_ERR_INPUT_PARSE',
            `${problems.length} of ${items.length} records are invalid (record ${problems[0].index}: ${problems[0].message}); ` +
              'nothing was written: fix them and send the request again',
          )
          err.body.error.records = problems.slice(0, 100)
          return sendError(reply, err)
        }
        await writer.write(records) // a batch over max.message.bytes is a 413 from the error handler
        return reply.code(200).send({ accepted: records.length })
      },
    )
  })

  function nextPartition(topic: string, partitions: number): number {
    const n = roundRobin.get(topic) ?? 0
    roundRobin.set(topic, n + 1)
    return n % partitions
  }

  return { close: () => writer.close() }
}
