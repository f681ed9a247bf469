// Writes generated transactions to the log as an evolving producer would: the first half with schema v1, then v2
// (registered mid-stream), keyed by account, plus the malformed events and one closing transaction per partition
// far in event time, so every pattern's watermark passes the data.
import type { Log, ProducerRecord } from '../../src/log/index.ts'
import { type RegistryApi, subjectSerde } from '../../src/registry/client.ts'
import type { Generated } from './generator.ts'
import { TRANSACTION_V1, TRANSACTION_V2, type Transaction } from './transaction.ts'

const DEVICES = ['ios', 'android', 'web', 'pos']

export async function feedTransactions(
  log: Log,
  registry: RegistryApi,
  generated: Generated,
  options: { topic?: string; closers?: boolean } = {},
): Promise<{ transactions: number; malformed: number }> {
  const topic = options.topic ?? 'transactions'
  const subject = `${topic}-value`
  const v1 = await subjectSerde<Omit<Transaction, 'device'>>(registry, {
    subject,
    schema: TRANSACTION_V1,
    register: true,
  })
  const half = Math.floor(generated.events.length / 2)
  let v2: Awaited<ReturnType<typeof subjectSerde<Transaction>>> | null = null
  const producer = log.producer()
  let transactions = 0
  let malformed = 0
  try {
    for (let from = 0; from < generated.events.length; from += 5000) {
      if (from >= half && v2 === null) {
        v2 = await subjectSerde<Transaction>(registry, { subject, schema: TRANSACTION_V2, register: true })
      }
      const batch: ProducerRecord[] = []
      for (const [i, e] of generated.events.slice(from, from + 5000).entries()) {
        if (e.kind === 'malformed') {
          malformed++
          batch.push({
            topic,
            key: e.key === null ? null : Buffer.from(e.key),
            value: e.bytes,
            timestamp: Math.round(e.arrival),
          })
          continue
        }
        transactions++
        const { device: _, ...t } = e.tx
        const value =
          v2 === null || from + i < half
            ? v1.serialize(t)
            : v2.serialize({ ...e.tx, device: DEVICES[Number(e.tx.id.slice(1)) % DEVICES.length] })
        batch.push({ topic, key: Buffer.from(JSON.stringify(e.tx.account)), value, timestamp: e.tx.ts })
      }
      await producer.send(batch)
    }
    if (options.closers !== false) {
      const { partitions } = await log.admin().describeTopic(topic)
      const serde =
        v2 ?? (await subjectSerde<Transaction>(registry, { subject, schema: TRANSACTION_V2, register: true }))
      const ts = generated.end + 24 * 3_600_000
      await producer.send(
        partitions.map(({ partition }) => {
          const t: Transaction = {
            id: `closer-${partition}`,
            account: `closer-${partition}`,
            amount: 0,
            merchant: '-',
            country: 'US',
            ts,
            device: null,
          }
          return {
            topic,
            partition,
            key: Buffer.from(JSON.stringify(t.account)),
            value: serde.serialize(t),
            timestamp: ts,
          }
        }),
      )
    }
  } finally {
    await producer.close()
  }
  return { transactions, malformed }
}
