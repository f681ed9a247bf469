// Dead-letter records: a record the pipeline could not read, process or write, with the original bytes (or the
// record as the failing step saw it) and headers that say what went wrong, where, and to which record. The policies
// that send records here are in graph/error-policies.ts.
import type { FailureKind } from '../graph/error-policies.ts'
import type { Rec } from '../graph/logical.ts'
import type { Header, LogRecord, ProducerRecord } from '../log/contract.ts'

/** Headers a dead-letter record carries, before the original record's own headers. */
export const DLQ_HEADERS = {
  kind: 'sluice.dlq.kind',
  code: 'sluice.dlq.error.code',
  message: 'sluice.dlq.error.message',
  pipeline: 'sluice.dlq.pipeline',
  step: 'sluice.dlq.step',
  task: 'sluice.dlq.task',
  topic: 'sluice.dlq.topic',
  partition: 'sluice.dlq.partition',
  /** The exact offset of the record (deserialization failures). */
  offset: 'sluice.dlq.offset',
  /** "first-last": the offsets of the input batch the task was processing (processing and production failures). */
  offsets: 'sluice.dlq.offsets',
  timestamp: 'sluice.dlq.timestamp',
  /** 'original': key and value are the bytes as read; 'json': the record as the failing step saw it, as JSON. */
  payload: 'sluice.dlq.payload',
  failedAt: 'sluice.dlq.failed-at',
} as const

const PREFIX = 'sluice.dlq.'

/** Where the failing record came from, as far as the task knows. */
export interface Provenance {
  pipeline: string
  step: string
  task: string
  topic?: string
  partition?: number
  offset?: number
  offsets?: [first: number, last: number]
}

export interface Failure {
  kind: FailureKind
  code: string
  message: string
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8')

function headersOf(f: Failure, at: Provenance, payload: 'original' | 'json', timestamp: number, now: number) {
  const h: Header[] = [
    [DLQ_HEADERS.kind, text(f.kind)],
    [DLQ_HEADERS.code, text(f.code)],
    [DLQ_HEADERS.message, text(f.message.slice(0, 4000))],
    [DLQ_HEADERS.pipeline, text(at.pipeline)],
    [DLQ_HEADERS.step, text(at.step)],
    [DLQ_HEADERS.task, text(at.task)],
  ]
  if (at.topic !== undefined) h.push([DLQ_HEADERS.topic, text(at.topic)])
  if (at.partition !== undefined) h.push([DLQ_HEADERS.partition, text(String(at.partition))])
  if (at.offset !== undefined) h.push([DLQ_HEADERS.offset, text(String(at.offset))])
  if (at.offsets !== undefined) h.push([DLQ_HEADERS.offsets, text(`${at.offsets[0]}-${at.offsets[1]}`)])
  h.push(
    [DLQ_HEADERS.timestamp, text(String(timestamp))],
    [DLQ_HEADERS.payload, text(payload)],
    [DLQ_HEADERS.failedAt, text(String(now))],
  )
  return h
}

/** A record that could not be read: its own bytes and headers, with the failure's headers in front. */
export function deadLetterOfRaw(
  topic: string,
  f: Failure,
  at: Provenance,
  record: LogRecord,
  now: number,
): ProducerRecord {
  return {
    topic,
    key: record.key,
    value: record.value,
    headers: [...headersOf(f, at, 'original', record.timestamp, now), ...record.headers],
    timestamp: Math.max(0, record.timestamp),
  }
}

/** JSON of a value, or null when it has none (a cycle, a BigInt): the headers still say what failed. */
function jsonBytes(v: unknown): Buffer | null {
  try {
    const s = JSON.stringify(v)
    return s === undefined ? null : text(s)
  } catch {
    return null
  }
}

/** A record that failed inside the pipeline: the key and value the failing step had, as JSON. */
export function deadLetterOfRec(
  topic: string,
  f: Failure,
  at: Provenance,
  r: Rec,
  now: number,
): ProducerRecord {
  return {
    topic,
    key: jsonBytes(r.key),
    value: jsonBytes(r.value),
    headers: headersOf(f, at, 'json', r.timestamp, now),
    timestamp: Math.max(0, Number.isFinite(r.timestamp) ? r.timestamp : 0),
  }
}

/** A dead-letter record as `sluice dlq` and the test driver show it. */
export interface DeadLetter {
  kind: string
  code: string
  message: string
  pipeline: string
  step: string
  task: string
  topic: string | null
  partition: number | null
  offset: number | null
  offsets: string | null
  timestamp: number | null
  payload: string
  failedAt: number | null
  key: Buffer | null
  value: Buffer | null
  /** The original record's headers (the dead-letter headers left out). */
  headers: Header[]
}

/** Reads the dead-letter headers of a record; null when it has none (not written by Sluice). */
export function parseDeadLetter(r: {
  key: Buffer | null
  value: Buffer | null
  headers: readonly Header[]
}): DeadLetter | null {
  const get = (name: string): string | null => {
    const h = r.headers.find((x) => x[0] === name)
    return h === undefined ? null : Buffer.from(h[1]).toString('utf8')
  }
  const num = (name: string): number | null => {
    const v = get(name)
    return v === null || v === '' || !Number.isFinite(Number(v)) ? null : Number(v)
  }
  const kind = get(DLQ_HEADERS.kind)
  if (kind === null) return null
  return {
    kind,
    code: get(DLQ_HEADERS.code) ?? '',
    message: get(DLQ_HEADERS.message) ?? '',
    pipeline: get(DLQ_HEADERS.pipeline) ?? '',
    step: get(DLQ_HEADERS.step) ?? '',
    task: get(DLQ_HEADERS.task) ?? '',
    topic: get(DLQ_HEADERS.topic),
    partition: num(DLQ_HEADERS.partition),
    offset: num(DLQ_HEADERS.offset),
    offsets: get(DLQ_HEADERS.offsets),
    timestamp: num(DLQ_HEADERS.timestamp),
    payload: get(DLQ_HEADERS.payload) ?? 'original',
    failedAt: num(DLQ_HEADERS.failedAt),
    key: r.key,
    value: r.value,
    headers: r.headers.filter((h) => !h[0].startsWith(PREFIX)),
  }
}
