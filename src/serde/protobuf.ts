// Protobuf in the Confluent wire format (protobufjs): after the schema id come the message indexes, the path to
// the message type in its .proto file. Reading decodes with the reader's type of the same full name, which is how
// Protobuf evolves: unknown fields are skipped and missing ones take their defaults.
import protobuf from 'protobufjs'
import { compilePlainDecoder, type PlainDecoder, toObjectOptions } from './protobuf-decoder.ts'
import {
  asWriterSchema,
  type SchemaBoundOptions,
  schemaSerdeError,
  serializeError,
  unknownSchemaId,
} from './schema-bound.ts'
import type { Serde } from './serde.ts'
import { decodeMessageIndexes, MAGIC_BYTE, readHeader, writeHeader } from './wire-format.ts'

type PbType = protobuf.Type
type PbNamespace = protobuf.Namespace

export interface ProtobufOptions extends SchemaBoundOptions<string> {
  /** The message type to write, by full name (`shop.Order`); default the first message of the file. */
  messageName?: string
  /**
   * How 64-bit integers come back: 'string' (default) is exact; 'number' is about twice as fast to read and, like
   * JSON.parse, loses precision past 2^53.
   */
  longs?: 'string' | 'number'
}

export interface ParsedProto {
  root: protobuf.Root
  /** Top-level message types in file order. */
  messages: PbType[]
}

function messagesOf(ns: PbNamespace): PbType[] {
  return ns.nestedArray.filter((n): n is PbType => n instanceof protobuf.Type)
}

/** Parses a .proto file after the files it imports (the schemas it references). */
export function parseProto(text: string, referenced: readonly string[] = []): ParsedProto {
  const root = new protobuf.Root()
  for (const ref of referenced) protobuf.parse(ref, root, { keepCase: true })
  const parsed = protobuf.parse(text, root, { keepCase: true })
  const ns = parsed.package ? parsed.root.lookup(parsed.package) : parsed.root
  return { root: parsed.root, messages: messagesOf(ns as PbNamespace) }
}

function fullName(t: PbType): string {
  return t.fullName.replace(/^\./, '')
}

/** The message indexes of a type: its position among its siblings, from the top of the file down. */
export function indexesOf(proto: ParsedProto, type: PbType): number[] {
  const path: number[] = []
  let t: PbType = type
  while (t.parent instanceof protobuf.Type) {
    path.unshift(messagesOf(t.parent).indexOf(t))
    t = t.parent
  }
  path.unshift(proto.messages.indexOf(t))
  return path
}

export function typeAt(proto: ParsedProto, indexes: readonly number[]): PbType | undefined {
  let level = proto.messages
  let t: PbType | undefined
  for (const i of indexes) {
    t = level[i]
    if (t === undefined) return undefined
    level = messagesOf(t)
  }
  return t
}

/** The reader's type for a writer's type, with its compiled decoder (undefined: protobufjs decodes alone). */
interface Reading {
  type: PbType
  fast: PlainDecoder | undefined
}

export function protobufSerde<T = unknown>(options: ProtobufOptions): Serde<T> {
  const name = 'protobuf'
  const reader = parseProto(options.schema, options.referenced)
  const type =
    options.messageName === undefined ? reader.messages[0] : reader.root.lookupType(options.messageName)
  if (type === undefined) throw serializeError(name, 'the .proto file has no message type')
  const indexes = indexesOf(reader, type)
  const writers = new Map<number, ParsedProto>([[options.id, reader]])
  const longs = options.longs ?? 'string'
  const conversion = toObjectOptions(longs)

  function writerProto(id: number): ParsedProto {
    let proto = writers.get(id)
    if (proto === undefined) {
      const found = options.writerSchema?.(id)
      if (found === undefined) throw unknownSchemaId(name, id)
      const { schema, referenced } = asWriterSchema(found)
      proto = parseProto(schema, referenced)
      writers.set(id, proto)
    }
    return proto
  }

  const decoders = new Map<PbType, PlainDecoder | undefined>()
  function readingOf(type: PbType): Reading {
    if (!decoders.has(type)) {
      let fast: PlainDecoder | undefined
      try {
        fast = compilePlainDecoder(type, longs)
      } catch {
        fast = undefined // protobufjs will say what is wrong with the type when it decodes
      }
      decoders.set(type, fast)
    }
    return { type, fast: decoders.get(type) }
  }

  // Schema id and message indexes → the reading: a name lookup per record would cost more than the decode.
  const readings = new Map<string, Reading>()
  function readingFor(id: number, path: readonly number[]): Reading {
    const key = `${id}:${path.join('.')}`
    let r = readings.get(key)
    if (r === undefined) {
      const writerType = typeAt(writerProto(id), path)
      if (writerType === undefined) throw new Error(`no message type at indexes [${path}] of schema ${id}`)
      r = readingOf(reader.root.lookupType(fullName(writerType)))
      readings.set(key, r)
    }
    return r
  }

  // The compiled decoder for the last schema id seen with the usual indexes ([0], written as one 0 byte): the
  // records of a topic mostly share their writer's schema, so most need no lookup and no parse of the indexes.
  let lastId = -1
  let lastFast: PlainDecoder | undefined
  function fastFor(id: number): PlainDecoder | undefined {
    lastFast = readingFor(id, [0]).fast
    lastId = id
    return lastFast
  }

  /** Any record: the header read in full, then the compiled decoder, then protobufjs, which has the last word. */
  function deserializeAny(bytes: Buffer, tryCompiled: boolean): T {
    let reading: Reading
    let offset: number
    try {
      const header = readHeader(bytes)
      const at = decodeMessageIndexes(bytes, header.offset)
      reading = readingFor(header.schemaId, at.indexes)
      offset = at.offset
    } catch (err) {
      throw schemaSerdeError(name, bytes, err)
    }
    if (tryCompiled && reading.fast !== undefined) {
      try {
        return reading.fast(bytes, offset) as T
      } catch {
        // bytes the compiled decoder does not read as protobufjs would: protobufjs decides, value or error
      }
    }
    try {
      return reading.type.toObject(reading.type.decode(bytes.subarray(offset)), conversion) as T
    } catch (err) {
      throw schemaSerdeError(name, bytes, err)
    }
  }

  return {
    name,
    serialize(value) {
      if (value === null || value === undefined) return null
      // fromObject first: it takes what toObject gives (64-bit integers as strings, enums by name) and refuses
      // shapes it cannot convert; verify then checks the converted message.
      let message: protobuf.Message
      try {
        message = type.fromObject(value as Record<string, unknown>)
      } catch (err) {
        throw serializeError(name, `${fullName(type)}: ${(err as Error).message}`)
      }
      const problem = type.verify(message)
      if (problem !== null) throw serializeError(name, `${fullName(type)}: ${problem}`)
      const payload = type.encode(message).finish()
      return writeHeader(options.id, Buffer.from(payload.buffer, payload.byteOffset, payload.length), indexes)
    },
    deserialize(bytes) {
      if (bytes === null) return null as T
      if (bytes.length > 5 && bytes[0] === MAGIC_BYTE && bytes[5] === 0) {
        const id = ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0
        let fast = lastFast
        if (id !== lastId) {
          try {
            fast = fastFor(id)
          } catch (err) {
            throw schemaSerdeError(name, bytes, err)
          }
        }
        if (fast !== undefined) {
          try {
            return fast(bytes, 6) as T
          } catch {
            return deserializeAny(bytes, false) // protobufjs's answer counts: a value or the error
          }
        }
      }
      return deserializeAny(bytes, true)
    },
  }
}
