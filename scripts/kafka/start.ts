// Runs a local Kafka (KRaft, loopback, free ports) until Ctrl-C: `scripts/kafka/start.sh [brokers]`.
// Prints the bootstrap servers to point Sluice at; the data lives in a temp dir removed on stop.
import { startKafka } from '../../test/support/kafka.ts'

const brokers = Number(process.argv[2] ?? 1)
const cluster = await startKafka({ brokers })
console.log(`Kafka is up: --brokers ${cluster.brokers.join(',')} (Ctrl-C stops it and deletes its data)`)
const stop = async () => {
  await cluster.stop()
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
setInterval(() => {}, 1 << 30)
