// The Log contract on Apache Kafka: `openKafkaLog({ brokers })` gives the same Log the embedded log gives, so a
// pipeline runs on either unchanged.
import { Admin } from '@platformatic/kafka'
import { SluiceError } from '../errors/index.ts'
import type {
  ConsumerOptions,
  Log,
  LogAdmin,
  LogConsumer,
  LogProducer,
  ProducerOptions,
} from '../log/contract.ts'
import { baseOptions, type KafkaLogOptions } from './client-options.ts'
import { toSluiceError } from './errors.ts'
import { KafkaAdmin } from './kafka-admin.ts'
import { KafkaConsumer } from './kafka-consumer.ts'
import { KafkaProducer } from './kafka-producer.ts'

export type { KafkaLogOptions } from './client-options.ts'

class KafkaLog implements Log {
  readonly kind = 'kafka' as const
  readonly options: KafkaLogOptions
  #admin: Admin | undefined
  #clients = new Set<{ close(): Promise<void> }>()
  #closed = false

  constructor(options: KafkaLogOptions) {
    this.options = options
  }

  checkOpen(): void {
    if (this.#closed)
      throw new SluiceError('SLUICE_ERR_LOG_CLOSED', 'this Kafka log is closed; open a new one')
  }

  adminClient(): Admin {
    this.checkOpen()
    this.#admin ??= new Admin(baseOptions(this.options))
    return this.#admin
  }

  admin(): LogAdmin {
    const admin = new KafkaAdmin(this)
    // Every admin call checks that the log is still open before it reaches the broker.
    return new Proxy(admin, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          try {
            this.checkOpen()
          } catch (error) {
            return Promise.reject(error)
          }
          return value.apply(target, args)
        }
      },
    })
  }

  producer(options?: ProducerOptions): LogProducer {
    this.checkOpen()
    const producer = new KafkaProducer(this, options)
    this.#clients.add(producer)
    return producer
  }

  consumer(options?: ConsumerOptions): LogConsumer {
    this.checkOpen()
    const consumer = new KafkaConsumer(this, options)
    this.#clients.add(consumer)
    return consumer
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await Promise.all([...this.#clients].map((c) => c.close().catch(() => {})))
    this.#closed = true
    await this.#admin?.close().catch(() => {})
  }
}

/** Connects to a Kafka cluster; checks that a broker answers before resolving. */
export async function openKafkaLog(options: KafkaLogOptions): Promise<Log> {
  if (options.brokers.length === 0) {
    throw new SluiceError('SLUICE_ERR_INVALID_CONFIG', 'openKafkaLog needs at least one broker (host:port)')
  }
  const log = new KafkaLog(options)
  try {
    await log.adminClient().metadata({ topics: [] })
  } catch (error) {
    await log.close()
    throw toSluiceError(error, `connecting to ${options.brokers.join(', ')}`, { brokers: options.brokers })
  }
  return log
}
