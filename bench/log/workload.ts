// The benchmark's records: 100-byte values that look like real events (JSON text with varied fields) and small
// keys, generated once from a fixed seed so every run writes the same bytes.
import type { ProducerRecord } from '../../src/log/index.ts'

export const VALUE_BYTES = 100
export const KEY_BYTES = 8
/** Distinct records in the pool; batches cycle through it so generating data costs nothing while timing. */
const POOL = 4096

/** A small deterministic PRNG (mulberry32), so runs are comparable. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000
  }
}

const PAGES = ['home', 'search', 'product', 'cart', 'checkout', 'account', 'help', 'blog']
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

export interface Record {
  key: Buffer
  value: Buffer
}

/** The pool of records: keys like `u:004217`, values like `{"user":4217,"page":"/cart/…","ms":…,"s":"…"}`. */
export function makeRecords(seed = 42): Record[] {
  const rnd = prng(seed)
  const out: Record[] = []
  for (let i = 0; i < POOL; i++) {
    const user = Math.floor(rnd() * 1_000_000)
    const key = Buffer.from(`u:${String(user).padStart(6, '0')}`)
    const page = PAGES[Math.floor(rnd() * PAGES.length)]
    let text = `{"user":${user},"page":"/${page}/${Math.floor(rnd() * 1e5)}","ms":${Math.floor(rnd() * 5000)},"s":"`
    while (text.length < VALUE_BYTES - 2) text += ALNUM[Math.floor(rnd() * ALNUM.length)]
    const value = Buffer.from(`${text.slice(0, VALUE_BYTES - 2)}"}`)
    if (key.length !== KEY_BYTES || value.length !== VALUE_BYTES) throw new Error('bad benchmark record size')
    out.push({ key, value })
  }
  return out
}

/** Batches for PartitionLog.append: `count` arrays of `size` records, timestamps included. */
export function partitionBatches(
  pool: readonly Record[],
  size: number,
  timestamp: number,
): { key: Buffer; value: Buffer; timestamp: number }[][] {
  const count = Math.max(1, Math.ceil(POOL / size))
  const batches = []
  for (let b = 0; b < count; b++) {
    const batch = []
    for (let i = 0; i < size; i++) {
      const r = pool[(b * size + i) % pool.length]
      batch.push({ key: r.key, value: r.value, timestamp: timestamp + i })
    }
    batches.push(batch)
  }
  return batches
}

/** Batches for producer.send: the same records, addressed to one explicit partition; the log stamps the time. */
export function producerBatches(
  pool: readonly Record[],
  size: number,
  topic: string,
  partition: number,
): ProducerRecord[][] {
  const count = Math.max(1, Math.ceil(POOL / size))
  const batches = []
  for (let b = 0; b < count; b++) {
    const batch: ProducerRecord[] = []
    for (let i = 0; i < size; i++) {
      const r = pool[(b * size + i) % pool.length]
      batch.push({ topic, partition, key: r.key, value: r.value })
    }
    batches.push(batch)
  }
  return batches
}
