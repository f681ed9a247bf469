// The serdes every pipeline can use without a schema: JSON, UTF-8 strings, raw bytes, and doubles.
import { SluiceError } from '../errors/index.ts'
import type { Serde } from './serde.ts'

function serdeError(name: string, bytes: Buffer | null, cause: unknown): SluiceError {
  const preview = bytes === null ? 'null' : JSON.stringify(bytes.subarray(0, 64).toString('utf8'))
  return new SluiceError(
    'SLUICE_ERR_SERDE',
    `cannot deserialize ${bytes === null ? 'a null value' : `${bytes.length} bytes`} with the ${name} serde ` +
      `(starts with ${preview}): ${(cause as Error)?.message ?? cause}; check the producer's format or use another serde`,
    { cause, details: { serde: name } },
  )
}

/** JSON text in UTF-8; `null` bytes stay null (tombstones). */
export function json<T = unknown>(): Serde<T> {
  return {
    name: 'json',
    serialize: (value) => (value === null || value === undefined ? null : Buffer.from(JSON.stringify(value))),
    deserialize: (bytes) => {
      if (bytes === null) return null as T
      try {
        return JSON.parse(bytes.toString('utf8')) as T
      } catch (err) {
        throw serdeError('json', bytes, err)
      }
    },
  }
}

export function string(): Serde<string> {
  return {
    name: 'string',
    serialize: (value) => (value === null || value === undefined ? null : Buffer.from(value, 'utf8')),
    deserialize: (bytes) => (bytes === null ? (null as unknown as string) : bytes.toString('utf8')),
  }
}

export function bytes(): Serde<Buffer> {
  return {
    name: 'bytes',
    // undefined becomes null, as in the other serdes: the log takes a Buffer or null, never undefined.
    serialize: (value) => value ?? null,
    deserialize: (b) => b as Buffer,
  }
}

/** An IEEE 754 double in 8 big-endian bytes, as Kafka's DoubleSerializer. */
export function double(): Serde<number> {
  return {
    name: 'double',
    serialize: (value) => {
      if (value === null || value === undefined) return null
      const b = Buffer.allocUnsafe(8)
      b.writeDoubleBE(value)
      return b
    },
    deserialize: (b) => {
      if (b === null) return null as unknown as number
      if (b.length !== 8) throw serdeError('double', b, new Error(`expected 8 bytes, got ${b.length}`))
      return b.readDoubleBE(0)
    },
  }
}
