// Fuzzing `POST /v1/topics/:topic/records`: random and mutated bodies (bytes flipped, inserted, deleted, cut off;
// huge numbers, deep nesting, bad UTF-8, wrong content types, bodies over the limits) sent to the real server on
// loopback over the embedded log on disk. Each answer is checked against a reference parse of the same request, and
// what the topic holds against every answer given so far.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { type Log, type LogConsumer, openEmbeddedLog, partitionForKey } from '../../src/log/index.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

const BODY_LIMIT = 64 * 1024
const MAX_RECORDS = 40
const MAX_MESSAGE_BYTES = 8 * 1024
/** Deepest nesting of a record the server accepts. */
const MAX_DEPTH = 1000
/** Generous for a busy machine: the point is that no request hangs. */
const ANSWER_WITHIN_MS = 10_000
const PARTITIONS: Record<string, number> = { one: 1, three: 3 }
/** The server's validate hook refuses these, so that its problems are reported among the others. */
const PRIVATE_PAGE = '/private'
const REFUSED = 'page /private is not ingested'

let dir: string
let log: Log
let server: SluiceServer | undefined
let url: string
let reader: LogConsumer | undefined
/** Every record read so far, per `topic:partition`, in offset order: what the topics must still hold at the end. */
const ledger = new Map<string, Stored[]>()

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-fuzz-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  for (const [topic, partitions] of Object.entries(PARTITIONS)) {
    await log.admin().createTopic(topic, { partitions, config: { 'max.message.bytes': MAX_MESSAGE_BYTES } })
  }
  server = createServer({
    log,
    bodyLimit: BODY_LIMIT,
    ingest: {
      maxRecords: MAX_RECORDS,
      validate: (_topic, value) => (isObject(value) && value.page === PRIVATE_PAGE ? REFUSED : null),
    },
    dashboardDir: null,
  })
  ;({ url } = await server.listen({ port: 0 }))
  reader = await readCommitted()
})
after(async () => {
  await reader?.close()
  await server?.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Stored {
  key: string | null
  value: string
}

interface Read extends Stored {
  topic: string
  partition: number
}

async function readCommitted(): Promise<LogConsumer> {
  const c = log.consumer({ isolationLevel: 'read_committed' })
  const all = Object.entries(PARTITIONS).flatMap(([topic, n]) =>
    Array.from({ length: n }, (_, partition) => ({ topic, partition })),
  )
  await c.assign(all)
  for (const tp of all) await c.seek(tp, 'earliest')
  return c
}

/** What the topics gained since the last call; recorded in the ledger before anything is asserted about it. */
async function readNew(): Promise<Read[]> {
  const out: Read[] = []
  for (let batch = await reader!.poll(); batch.length > 0; batch = await reader!.poll()) {
    for (const r of batch) {
      const stored = { key: r.key?.toString() ?? null, value: r.value?.toString() ?? 'null value' }
      const tp = `${r.topic}:${r.partition}`
      if (!ledger.has(tp)) ledger.set(tp, [])
      ledger.get(tp)!.push(stored)
      out.push({ topic: r.topic, partition: r.partition, ...stored })
    }
  }
  return out
}

interface Request {
  topic: string
  query: string
  contentType: string | undefined
  body: Uint8Array
  /** Sent as a stream in chunks of this many bytes (chunked transfer encoding, no content-length). */
  chunks?: number
}

interface Answer {
  status: number
  body: {
    accepted?: number
    error?: { code: string; message: string; records?: { index: number; message: string }[] }
  }
}

function inChunks(body: Uint8Array, size: number): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < body.length; i += size) controller.enqueue(body.subarray(i, i + size))
      controller.close()
    },
  })
}

async function post(req: Request): Promise<Answer> {
  const headers: Record<string, string> =
    req.contentType === undefined ? {} : { 'content-type': req.contentType }
  try {
    const res = await fetch(`${url}/v1/topics/${encodeURIComponent(req.topic)}/records${req.query}`, {
      method: 'POST',
      headers,
      body: req.chunks === undefined ? req.body : inChunks(req.body, req.chunks),
      duplex: 'half',
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    })
    const text = await res.text()
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `answer ${res.status}: ${text}`)
    return { status: res.status, body: JSON.parse(text) }
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err
    assert.fail(`no answer within ${ANSWER_WITHIN_MS} ms, or the connection broke: ${err}`)
  }
}

// ---- the reference: what the server must answer, from the request alone ----

interface Rejection {
  status: number
  code: string
  message: RegExp
  /** Per-record problems the answer lists, by index. */
  records?: { index: number; message: RegExp }[]
}

type Outcome = { accept: Stored[]; mayBeTooLarge: boolean } | { reject: Rejection[] }

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function mediaOf(contentType: string | undefined): 'json' | 'ndjson' | 'other' | 'none' {
  if (contentType === undefined) return 'none'
  const type = contentType.split(';')[0].trim().toLowerCase()
  return type === 'application/json' ? 'json' : type === 'application/x-ndjson' ? 'ndjson' : 'other'
}

function* lines(body: Uint8Array): Generator<Uint8Array> {
  let start = 0
  for (let i = 0; i < body.length; i++) {
    if (body[i] === 0x0a) {
      yield body.subarray(start, i)
      start = i + 1
    }
  }
  yield body.subarray(start)
}

/** Why a parsed record cannot be stored as sent: nested too deep, or a number JSON.stringify would make null. */
function valueProblem(value: unknown): RegExp | null {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v === 'number' && !Number.isFinite(v)) return /number beyond the range of a double/
    if (v === null || typeof v !== 'object') continue
    if (depth + 1 > MAX_DEPTH) return new RegExp(`nested more than ${MAX_DEPTH} levels deep`)
    for (const child of Object.values(v)) stack.push([child, depth + 1])
  }
  return null
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function reference(req: Request): Outcome {
  const media = mediaOf(req.contentType)
  const bodyTooLarge = {
    status: 413,
    code: 'SLUICE_ERR_RECORD_TOO_LARGE',
    message: /larger than the server accepts/,
  }
  const badType = {
    status: 415,
    code: 'SLUICE_ERR_INPUT_PARSE',
    message: /unsupported content type: send application\/json or application\/x-ndjson/,
  }
  const notParsed = (message: RegExp) => ({
    reject: [{ status: 400, code: 'SLUICE_ERR_INPUT_PARSE', message }],
  })
  const wrongType = media === 'other' || (media === 'none' && req.body.length > 0)
  if (req.body.length > BODY_LIMIT) return { reject: wrongType ? [bodyTooLarge, badType] : [bodyTooLarge] }
  if (wrongType) return { reject: [badType] }

  let values: unknown[] = []
  const lineProblems = new Map<number, RegExp>()
  if (media === 'json') {
    let text: string
    try {
      text = strictUtf8.decode(req.body)
    } catch {
      return notParsed(/the request body is not valid: it is not UTF-8/)
    }
    if (text.startsWith('\uFEFF')) text = text.slice(1)
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return notParsed(/the request body is not valid: it is not JSON/)
    }
    values = Array.isArray(parsed) ? parsed : [parsed]
  } else if (media === 'ndjson') {
    let lineNumber = 0
    for (const line of lines(req.body)) {
      lineNumber++
      let text: string
      try {
        text = strictUtf8.decode(line).trim()
      } catch {
        lineProblems.set(values.length, new RegExp(`^line ${lineNumber} is not UTF-8`))
        values.push(undefined)
        continue
      }
      if (text === '') continue
      try {
        values.push(JSON.parse(text))
      } catch {
        lineProblems.set(values.length, new RegExp(`^line ${lineNumber} is not JSON`))
        values.push(undefined)
      }
    }
  }

  if (!(req.topic in PARTITIONS)) {
    const message = new RegExp(`topic ${req.topic} does not exist; create it first`)
    return { reject: [{ status: 404, code: 'SLUICE_ERR_TOPIC_NOT_FOUND', message }] }
  }
  const keyFields = new URLSearchParams(req.query).getAll('key')
  if (keyFields.length > 1) return notParsed(/give one key field/)
  const keyField = keyFields[0]
  if (values.length === 0) return notParsed(/the request has no records/)
  if (values.length > MAX_RECORDS) {
    const message = new RegExp(`${values.length} records in one request; at most ${MAX_RECORDS}`)
    return { reject: [{ status: 413, code: 'SLUICE_ERR_RECORD_TOO_LARGE', message }] }
  }
  const problems: { index: number; message: RegExp }[] = []
  values.forEach((v, index) => {
    const noKey =
      keyField !== undefined && !(isObject(v) && Object.hasOwn(v, keyField) && v[keyField] !== null)
        ? new RegExp(`record has no field ${JSON.stringify(keyField)} to take the key from`)
        : null
    const refused = isObject(v) && v.page === PRIVATE_PAGE ? new RegExp(`^${REFUSED}$`) : null
    const message = lineProblems.get(index) ?? valueProblem(v) ?? noKey ?? refused
    if (message) problems.push({ index, message })
  })
  if (problems.length > 0) {
    const message = new RegExp(
      `^${problems.length} of ${values.length} records are invalid \\(record ${problems[0].index}: .*nothing was written`,
    )
    return {
      reject: [{ status: 400, code: 'SLUICE_ERR_INPUT_PARSE', message, records: problems.slice(0, 100) }],
    }
  }
  const stored = values.map((v) => ({
    key: keyField === undefined ? null : JSON.stringify((v as Record<string, unknown>)[keyField]),
    value: JSON.stringify(v),
  }))
  // The reference does not model the log's framing, only bounds it (61 bytes a batch, 40 a record): a request whose
  // records come near max.message.bytes may get either answer, and a 413 must then have written nothing.
  const sizes = stored.map((r) => Buffer.byteLength(r.value) + Buffer.byteLength(r.key ?? ''))
  if (sizes.some((n) => n > MAX_MESSAGE_BYTES)) {
    return {
      reject: [{ status: 413, code: 'SLUICE_ERR_RECORD_TOO_LARGE', message: /exceeds max\.message\.bytes/ }],
    }
  }
  const total = sizes.reduce((a, b) => a + b, 0) + 61 + 40 * sizes.length
  return { accept: stored, mayBeTooLarge: total > MAX_MESSAGE_BYTES }
}

function isSubsequence(part: Stored[], whole: Stored[]): boolean {
  let i = 0
  for (const s of whole) if (i < part.length && part[i].key === s.key && part[i].value === s.value) i++
  return i === part.length
}

const byContent = (a: Stored, b: Stored) =>
  `${a.key}\u0000${a.value}`.localeCompare(`${b.key}\u0000${b.value}`)

/** Sends one request and checks its answer and what it wrote against the reference. */
async function check(req: Request): Promise<number> {
  const want = reference(req)
  const got = await post(req)
  const written = await readNew()
  const what = `${got.status} ${JSON.stringify(got.body).slice(0, 400)}`
  assert.ok(got.status < 500, `a 5xx: ${what}`)
  if ('reject' in want || (got.status === 413 && want.mayBeTooLarge)) {
    const allowed =
      'reject' in want
        ? want.reject
        : [{ status: 413, code: 'SLUICE_ERR_RECORD_TOO_LARGE', message: /exceeds max\.message\.bytes/ }]
    const match = allowed.find((r) => r.status === got.status)
    assert.ok(match, `expected ${allowed.map((r) => r.status).join(' or ')}, got ${what}`)
    assert.equal(got.body.error?.code, match.code, what)
    assert.match(got.body.error.message, match.message, what)
    if (match.records) {
      const listed = got.body.error.records ?? []
      assert.deepEqual(
        listed.map((r) => r.index),
        match.records.map((r) => r.index),
        `the bad records, by index: ${what}`,
      )
      for (const [i, r] of listed.entries()) assert.match(r.message, match.records[i].message, what)
    }
    assert.deepEqual(written, [], `a rejected request wrote records: ${what}`)
    return got.status
  }
  assert.deepEqual(got, { status: 200, body: { accepted: want.accept.length } }, what)
  assert.ok(
    written.every((r) => r.topic === req.topic),
    `records written to another topic than ${req.topic}`,
  )
  const stored = written.map(({ key, value }) => ({ key, value }))
  if (PARTITIONS[req.topic] === 1) {
    assert.deepEqual(stored, want.accept, 'the records, in order')
  } else {
    assert.deepEqual([...stored].sort(byContent), [...want.accept].sort(byContent), 'the records')
    for (let p = 0; p < PARTITIONS[req.topic]; p++) {
      const inP = written.filter((r) => r.partition === p)
      assert.ok(isSubsequence(inP, want.accept), `partition ${p} has the request's records out of order`)
      for (const r of inP) {
        if (r.key !== null) assert.equal(partitionForKey(Buffer.from(r.key), PARTITIONS[req.topic]), p, r.key)
      }
    }
  }
  return got.status
}

// ---- the requests ----

const utf8 = (text: string) => Buffer.from(text)

type Format = 'json' | 'ndjson'
interface Body {
  format: Format | 'bytes'
  bytes: Uint8Array
}

const recordArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record(
      {
        user: fc.string({ maxLength: 6 }),
        n: fc.integer(),
        page: fc.constantFrom('/', '/a', '/b?x=1', 'é€𝄞', '/', '/a', PRIVATE_PAGE),
      },
      { requiredKeys: ['n'] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
)

function encode(format: Format, values: unknown[], eol = '\n'): Uint8Array {
  const texts = values.map((v) => JSON.stringify(v))
  return utf8(format === 'json' ? `[${texts.join(',')}]` : texts.join(eol))
}

const validArb: fc.Arbitrary<Body> = fc.oneof(
  fc.array(recordArb, { maxLength: 8 }).map((rs) => ({ format: 'json' as const, bytes: encode('json', rs) })),
  recordArb.map((r) => ({ format: 'json' as const, bytes: utf8(JSON.stringify(r)) })),
  fc
    .record({
      rs: fc.array(recordArb, { maxLength: 8 }),
      eol: fc.constantFrom('\n', '\r\n', '\n\n', '\n \t\n'),
      last: fc.boolean(),
    })
    .map(({ rs, eol, last }) => ({
      format: 'ndjson' as const,
      bytes: utf8(rs.map((r) => JSON.stringify(r)).join(eol) + (last ? eol : '')),
    })),
)

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number }

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }),
      fc.constantFrom(...'[]{}",:\\\n0e-'.split('')).map((c) => [c.charCodeAt(0)]),
    ),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
)

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Buffer.from(bytes)
  for (const m of mutations) {
    const at = m.at % (b.length + 1)
    if (m.op === 'flip') {
      if (b.length > 0) b[at % b.length] ^= 1 << m.bit
    } else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)])
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)])
    else b = b.subarray(0, at)
  }
  return b
}

const formatArb = fc.constantFrom<Format>('json', 'ndjson')

const HUGE_NUMBERS = [
  '1e400',
  '-1e400',
  '2e308',
  `1${'0'.repeat(400)}`,
  '1.7976931348623157e308',
  '123456789012345678901234567890',
  `0.${'3'.repeat(400)}`,
  '1e-400',
  '-0',
]
const hugeNumberArb: fc.Arbitrary<Body> = fc
  .record({ n: fc.constantFrom(...HUGE_NUMBERS), format: formatArb, before: fc.nat(3) })
  .map(({ n, format, before }) => {
    const texts = Array.from({ length: before }, (_, i) => `{"user":"u${i}","n":${i}}`)
    texts.push(`{"user":"big","n":${n}}`)
    return { format, bytes: utf8(format === 'json' ? `[${texts.join(',')}]` : texts.join('\n')) }
  })

const deepArb: fc.Arbitrary<Body> = fc
  .record({
    depth: fc.constantFrom(999, 1000, 1001, 1002, 4000, 30_000),
    open: fc.constantFrom('[', '{"a":'),
    format: formatArb,
    wrap: fc.boolean(),
  })
  .map(({ depth, open, format, wrap }) => {
    const close = open === '[' ? ']' : '}'
    const value = `${open.repeat(depth)}0${close.repeat(depth)}`
    return { format, bytes: utf8(format === 'json' && wrap ? `[${value}]` : value) }
  })

const BAD_UTF8 = [
  [0xff],
  [0xc3],
  [0x80],
  [0xed, 0xa0, 0x80],
  [0xc0, 0xaf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
]
const badUtf8Arb: fc.Arbitrary<Body> = fc
  .record({ body: validArb, bad: fc.constantFrom(...BAD_UTF8), at: fc.nat() })
  .map(({ body, bad, at }) => {
    const b = Buffer.from(body.bytes)
    // right after a quote, so that usually only the encoding is wrong, inside a string
    const quotes = [...b.keys()].filter((i) => b[i] === 0x22)
    const pos = quotes.length > 0 ? quotes[at % quotes.length] + 1 : at % (b.length + 1)
    return {
      format: body.format,
      bytes: Buffer.concat([b.subarray(0, pos), Buffer.from(bad), b.subarray(pos)]),
    }
  })

const bomArb: fc.Arbitrary<Body> = validArb.map((body) => ({
  format: body.format,
  bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body.bytes]),
}))

/** One big record, so that the body is valid apart from its size; at or under the limit it is over max.message.bytes. */
const oversizedArb: fc.Arbitrary<Body> = fc
  .record({
    format: formatArb,
    extra: fc.oneof(fc.integer({ min: -64, max: 4096 }), fc.constantFrom(1 << 20, 4 << 20)),
  })
  .map(({ format, extra }) => {
    const frame = format === 'json' ? ['[{"pad":"', '"}]'] : ['{"pad":"', '"}']
    const pad = 'x'.repeat(BODY_LIMIT + extra - frame[0].length - frame[1].length)
    return { format, bytes: utf8(frame[0] + pad + frame[1]) }
  })

const manyRecordsArb: fc.Arbitrary<Body> = fc
  .record({ format: formatArb, count: fc.integer({ min: MAX_RECORDS - 1, max: MAX_RECORDS + 3 }) })
  .map(({ format, count }) => ({
    format,
    bytes: encode(
      format,
      Array.from({ length: count }, (_, n) => ({ user: `u${n % 7}`, n })),
    ),
  }))

/** Small records and one near max.message.bytes: with several partitions, the small ones land elsewhere. */
const mixedSizesArb: fc.Arbitrary<Body> = fc
  .record({
    small: fc.array(fc.nat(100), { minLength: 1, maxLength: 8 }),
    at: fc.nat(),
    big: fc.integer({ min: MAX_MESSAGE_BYTES - 300, max: MAX_MESSAGE_BYTES + 300 }),
    format: formatArb,
  })
  .map(({ small, at, big, format }) => {
    const values: unknown[] = small.map((n, i) => ({ user: `u${i}`, n }))
    values.splice(at % (values.length + 1), 0, { user: 'big', pad: 'x'.repeat(big) })
    return { format, bytes: encode(format, values) }
  })

const noiseArb: fc.Arbitrary<Body> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ format: 'bytes' as const, bytes })),
  fc
    .string({ unit: fc.constantFrom(...'[]{}",:0123456789.eE-+ntruefals \n\\'.split('')), maxLength: 80 })
    .chain((text) => formatArb.map((format) => ({ format, bytes: utf8(text) }))),
)

const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 6, arbitrary: validArb },
  {
    weight: 8,
    arbitrary: fc
      .record({ body: validArb, mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) })
      .map(({ body, mutations }) => ({ format: body.format, bytes: mutate(body.bytes, mutations) })),
  },
  { weight: 2, arbitrary: hugeNumberArb },
  { weight: 2, arbitrary: deepArb },
  { weight: 2, arbitrary: badUtf8Arb },
  { weight: 1, arbitrary: bomArb },
  { weight: 2, arbitrary: oversizedArb },
  { weight: 1, arbitrary: manyRecordsArb },
  { weight: 3, arbitrary: mixedSizesArb },
  { weight: 3, arbitrary: noiseArb },
)

const CONTENT_TYPES: Record<Format, string[]> = {
  json: ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'],
  ndjson: ['application/x-ndjson', 'application/x-ndjson; charset=utf-8', 'Application/X-NDJSON'],
}
const OTHER_TYPES = [
  'text/plain',
  'text/plain;charset=UTF-8',
  'text/csv',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'application/jsonl',
  '',
]

/** A request as a counterexample prints it: short, with its body as text where that is readable. */
function describable(req: Request): Request {
  return Object.assign(req, {
    [fc.toStringMethod]: () => {
      const body = Buffer.from(req.body)
      const text = JSON.stringify(body.subarray(0, 300).toString('latin1'))
      return `POST /v1/topics/${req.topic}/records${req.query} (${req.contentType ?? 'no content type'}, ${body.length} bytes${req.chunks ? ` in chunks of ${req.chunks}` : ''}: ${text}${body.length > 300 ? '...' : ''})`
    },
  })
}

const requestArb: fc.Arbitrary<Request> = fc
  .record({
    topic: fc.constantFrom('one', 'three', 'one', 'three', 'nope'),
    query: fc.constantFrom(
      '',
      '',
      '',
      '?key=user',
      '?key=user',
      '?key=n',
      '?key=constructor',
      '?key=__proto__',
      '?key=user&key=n',
      '?other=1',
    ),
    body: bodyArb,
    labelled: fc.nat(9),
    chunks: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }) },
    ),
    as: fc.nat(),
    other: fc.option(fc.constantFrom(...OTHER_TYPES, ...CONTENT_TYPES.json, ...CONTENT_TYPES.ndjson), {
      nil: undefined,
      freq: 6,
    }),
  })
  .map(({ topic, query, body, labelled, as, other, chunks }) => {
    // mostly labelled as what it is; sometimes as something else, or not at all
    const own = body.format === 'bytes' ? [] : CONTENT_TYPES[body.format]
    const contentType = labelled < 8 && own.length > 0 ? own[as % own.length] : other
    // at most 256 chunks, so that a body of megabytes is not sent a byte at a time
    const size = chunks === undefined ? undefined : Math.max(chunks, Math.ceil(body.bytes.length / 256))
    return describable({ topic, query, contentType, body: body.bytes, chunks: size })
  })

describe('POST /v1/topics/:topic/records under fuzzing', () => {
  it('answers every request with a 2xx or the documented 4xx, and writes exactly what it accepted', async () => {
    const seen = new Set<number>()
    await fc.assert(
      fc.asyncProperty(requestArb, async (req) => {
        seen.add(await check(req))
      }),
      { numRuns: 400 },
    )
    // a guard on the generators: every kind of answer came up
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      [200, 400, 404, 413, 415],
    )
  })

  it('keeps concurrent requests whole: each is written entirely, in order, or not at all', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ count: fc.integer({ min: 1, max: 12 }), big: fc.boolean(), keyed: fc.boolean() }),
          // more requests than the server keeps transactional producers (8), so that some wait for one
          { minLength: 2, maxLength: 12 },
        ),
        async (requests) => {
          run++
          const bodies = requests.map(({ count, big }, req) =>
            Array.from({ length: count }, (_, seq) => ({
              user: `u${seq % 5}`,
              run,
              req,
              seq,
              ...(big && seq === count - 1 ? { pad: 'x'.repeat(MAX_MESSAGE_BYTES) } : {}),
            })),
          )
          const answers = await Promise.all(
            requests.map(({ keyed }, i) =>
              post({
                topic: 'three',
                query: keyed ? '?key=user' : '',
                contentType: 'application/json',
                body: utf8(JSON.stringify(bodies[i])),
              }),
            ),
          )
          const written = (await readNew()).map((r) => ({ ...r, record: JSON.parse(r.value) }))
          requests.forEach(({ big }, req) => {
            const mine = written.filter((r) => r.record.run === run && r.record.req === req)
            if (big) {
              assert.equal(answers[req].status, 413, JSON.stringify(answers[req].body))
              assert.deepEqual(mine, [], `rejected request ${req} wrote records`)
              return
            }
            assert.deepEqual(answers[req], { status: 200, body: { accepted: bodies[req].length } })
            assert.deepEqual(
              mine.map((r) => r.record).sort((a, b) => a.seq - b.seq),
              bodies[req],
            )
            for (let p = 0; p < PARTITIONS.three; p++) {
              const seqs = mine.filter((r) => r.partition === p).map((r) => r.record.seq)
              assert.deepEqual(
                seqs,
                [...seqs].sort((a, b) => a - b),
                `request ${req} out of order in partition ${p}`,
              )
            }
          })
          assert.equal(written.length, written.filter((r) => r.record.run === run).length)
        },
      ),
      { numRuns: 25 },
    )
  })
})

/** A request the regression tests spell out; what it wrote is read (and kept in the ledger) as for the fuzzing. */
async function send(topic: string, body: string | Uint8Array, contentType?: string, query = '') {
  const answer = await post({ topic, query, contentType, body: typeof body === 'string' ? utf8(body) : body })
  return { ...answer, written: await readNew() }
}

describe('what the fuzzing found, fixed', () => {
  it('refuses a record nested too deep with a 400 naming it; JSON.stringify overflowed the stack into a 500', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`
    for (const [type, body] of [
      ['application/json', `[1,${nested(30_000)}]`],
      ['application/x-ndjson', `1\n${nested(30_000)}`],
      ['application/x-ndjson', `1\n${nested(MAX_DEPTH + 1)}`],
    ]) {
      const res = await send('one', body, type)
      assert.equal(res.status, 400, type)
      assert.deepEqual(res.body.error?.records, [
        { index: 1, message: 'record is nested more than 1000 levels deep' },
      ])
      assert.deepEqual(res.written, [])
    }
    const deepest = await send('one', nested(MAX_DEPTH), 'application/x-ndjson')
    assert.deepEqual(deepest.body, { accepted: 1 })
    assert.deepEqual(
      deepest.written.map((r) => r.value),
      [nested(MAX_DEPTH)],
    )
  })

  it('writes nothing when one partition refuses its batch; the other partitions kept theirs under a 413', async () => {
    const users = ['a', 'b', 'c', 'd', 'e', 'f']
    const spread = new Set(users.map((u) => partitionForKey(utf8(JSON.stringify(u)), PARTITIONS.three)))
    assert.equal(spread.size, PARTITIONS.three, 'the small records land on every partition')
    const records: unknown[] = users.map((user) => ({ user }))
    records.push({ user: 'a', pad: 'x'.repeat(MAX_MESSAGE_BYTES) })
    const res = await send('three', JSON.stringify(records), 'application/json', '?key=user')
    assert.equal(res.status, 413)
    assert.match(res.body.error!.message, /exceeds max\.message\.bytes/)
    assert.deepEqual(res.written, [])
    const unkeyed = await send(
      'three',
      JSON.stringify([1, 2, 'x'.repeat(MAX_MESSAGE_BYTES)]),
      'application/json',
    )
    assert.equal(unkeyed.status, 413)
    assert.deepEqual(unkeyed.written, [])
  })

  it('takes the key from an own field only: ?key=constructor was a 500, ?key=__proto__ keyed records "{}"', async () => {
    for (const field of ['constructor', '__proto__', 'toString']) {
      const res = await send('three', '{"user":"u"}', 'application/json', `?key=${field}`)
      assert.equal(res.status, 400, field)
      assert.deepEqual(res.body.error?.records, [
        { index: 0, message: `record has no field "${field}" to take the key from` },
      ])
      assert.deepEqual(res.written, [])
    }
    const own = await send('three', '{"constructor":"c"}', 'application/json', '?key=constructor')
    assert.deepEqual(own.body, { accepted: 1 })
    assert.deepEqual(
      own.written.map((r) => r.key),
      ['"c"'],
    )
    const array = await send('three', '[["u"]]', 'application/json', '?key=0')
    assert.equal(array.status, 400, 'an array has no fields')
  })

  it('answers 415 to a body that is not JSON or NDJSON; text/plain, or none, was stored as one string', async () => {
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', undefined]) {
      const res = await send('one', '{"user":"u"}', type)
      assert.equal(res.status, 415, type)
      assert.match(res.body.error!.message, /send application\/json or application\/x-ndjson/)
      assert.deepEqual(res.written, [])
    }
  })

  it('reads NDJSON whatever the case of its content type; Application/X-NDJSON was stored as one string', async () => {
    const res = await send('one', '{"n":1}\n{"n":2}\n', 'Application/X-NDJSON')
    assert.deepEqual(res.body, { accepted: 2 })
    assert.deepEqual(
      res.written.map((r) => r.value),
      ['{"n":1}', '{"n":2}'],
    )
  })

  it('refuses a body that is not UTF-8; its bad bytes were stored as U+FFFD', async () => {
    const json = await send('one', Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), 'application/json')
    assert.equal(json.status, 400)
    assert.match(json.body.error!.message, /the request body is not valid: it is not UTF-8/)
    const ndjson = await send('one', Buffer.from('{"n":1}\n"\xc3"\n', 'latin1'), 'application/x-ndjson')
    assert.equal(ndjson.status, 400)
    assert.deepEqual(ndjson.body.error?.records, [
      { index: 1, message: 'line 2 is not UTF-8, which JSON must be' },
    ])
    assert.deepEqual([...json.written, ...ndjson.written], [])
  })

  it('refuses a number beyond the range of a double, which was stored as null', async () => {
    const res = await send('one', '[{"n":1},{"n":1e400},{"n":-2e308}]', 'application/json')
    assert.equal(res.status, 400)
    assert.deepEqual(
      res.body.error?.records?.map((r) => r.index),
      [1, 2],
    )
    assert.match(res.body.error!.records![0].message, /beyond the range of a double/)
    assert.deepEqual(res.written, [])
  })

  it('takes a body of null or "" as one record; the answer was "the request has no records"', async () => {
    for (const body of ['null', '""']) {
      const res = await send('one', body, 'application/json')
      assert.deepEqual(res.body, { accepted: 1 }, body)
      assert.deepEqual(
        res.written.map((r) => r.value),
        [body],
      )
    }
  })

  it('lists bad records in index order; NDJSON parse errors came before missing keys', async () => {
    const res = await send('one', '{"n":1}\n{bad\n{"user":"u"}\n', 'application/x-ndjson', '?key=user')
    assert.equal(res.status, 400)
    assert.deepEqual(
      res.body.error?.records?.map((r) => r.index),
      [0, 1],
    )
    assert.match(
      res.body.error!.message,
      /^2 of 3 records are invalid \(record 0: record has no field "user"/,
    )
  })

  it('refuses ?key given twice, which looked for a field named "user,n"', async () => {
    const res = await send('one', '{"user":"u","n":1}', 'application/json', '?key=user&key=n')
    assert.equal(res.status, 400)
    assert.match(res.body.error!.message, /give one key field/)
    assert.deepEqual(res.written, [])
  })
})

describe('after all of the above', () => {
  it('loses nothing it accepted: after a restart the topics hold exactly what was read after each answer', async () => {
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' }, 'the server is still up')
    await reader!.close()
    reader = undefined
    await server!.close()
    server = undefined
    await log.close()
    log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    const again = await readCommitted()
    const all = new Map<string, Stored[]>()
    for (let batch = await again.poll(); batch.length > 0; batch = await again.poll()) {
      for (const r of batch) {
        const tp = `${r.topic}:${r.partition}`
        if (!all.has(tp)) all.set(tp, [])
        all.get(tp)!.push({ key: r.key?.toString() ?? null, value: r.value!.toString() })
      }
    }
    await again.close()
    assert.ok(ledger.size > 0, 'some requests were accepted')
    assert.deepEqual(all, ledger)
  })
})
