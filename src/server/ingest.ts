// HTTP ingest: `POST /v1/topics/:topic/records` with one JSON value, a JSON array of values, or NDJSON. A request
// is all or nothing: every record is checked first, and if any is bad the answer is a 4xx listing each bad record
// by index, and nothing is written; otherwise all records are appended and durable (per the log's fsync policy)
// before the 2xx. The record timestamp is the ingest time; event time belongs in the value.
import type { FastifyInstance, FastifyReply } from 'fastify'
import { isSluiceError } from '../errors/index.ts'
import type { Log, LogProducer, ProducerRecord } from '../log/contract.ts'
import { type HttpError, httpError, sendError } from './http-errors.ts'

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

const NDJSON = 'application/x-ndjson'

/** Parses NDJSON, collecting a problem per bad line instead of stopping at the first. */
function parseNdjson(text: string, problems: RecordProblem[]): unknown[] {
  const out: unknown[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === '') continue
    try {
      out.push(JSON.parse(line))
    } catch (err) {
      problems.push({ index: out.length, message: `line ${i + 1} is not JSON: ${(err as Error).message}` })
      out.push(undefined)
    }
  }
  return out
}

export function registerIngest(
  app: FastifyInstance,
  log: Log,
  options: IngestOptions = {},
): { producer: LogProducer } {
  const maxRecords = options.maxRecords ?? 10_000
  const producer = log.producer({ clientId: 'sluice-ingest' })
  const partitionCounts = new Map<string, number>()

  app.addContentTypeParser(NDJSON, { parseAs: 'string' }, (_req, body, done) => done(null, body))

  app.post<{ Params: { topic: string }; Querystring: { key?: string } }>(
    '/v1/topics/:topic/records',
    async (req, reply: FastifyReply) => {
      const { topic } = req.params
      const keyField = req.query.key
      if (!partitionCounts.has(topic)) {
        try {
          const d = await log.admin().describeTopic(topic)
          partitionCounts.set(topic, d.partitions.length)
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
      }
      const problems: RecordProblem[] = []
      let items: unknown[]
      const contentType = String(req.headers['content-type'] ?? '')
      if (contentType.startsWith(NDJSON)) items = parseNdjson(req.body as string, problems)
      else if (Array.isArray(req.body)) items = req.body
      else if (req.body === undefined || req.body === null || req.body === '') items = []
      else items = [req.body]
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
      const records: ProducerRecord[] = new Array(items.length)
      for (let i = 0; i < items.length; i++) {
        const value = items[i]
        if (value === undefined) continue // a parse problem already recorded
        let key: Buffer | null = null
        if (keyField !== undefined) {
          const k =
            value !== null && typeof value === 'object'
              ? (value as Record<string, unknown>)[keyField]
              : undefined
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
        records[i] = { topic, key, value: Buffer.from(JSON.stringify(value)), timestamp: now }
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
      try {
        await producer.send(records)
      } catch (err) {
        if (isSluiceError(err, 'SLUICE_ERR_RECORD_TOO_LARGE')) {
          return sendError(reply, httpError(413, err.code, err.message))
        }
        throw err
      }
      return reply.code(200).send({ accepted: records.length })
    },
  )
  return { producer }
}
