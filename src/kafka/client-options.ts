// What every Kafka client Sluice opens shares: the brokers, a client id, and short retries, so that a missing
// topic or a stopped broker turns into a SluiceError within seconds instead of a long hang.
import type { BaseOptions } from '@platformatic/kafka'

export interface KafkaLogOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[]
  /** Sent to the brokers with every request; shows in their logs and quotas. Default 'sluice'. */
  clientId?: string
  /** Request timeout. Default 30 s. */
  requestTimeoutMs?: number
}

export function baseOptions(options: KafkaLogOptions, clientId?: string): BaseOptions {
  return {
    clientId: clientId ?? options.clientId ?? 'sluice',
    bootstrapBrokers: [...options.brokers],
    timeout: options.requestTimeoutMs ?? 30_000,
    retries: 3,
    retryDelay: 100,
    metadataMaxAge: 1000,
  }
}
