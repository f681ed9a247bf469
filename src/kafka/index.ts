// Sluice on Apache Kafka (the `sluice/kafka` entry point): the Log contract over a Kafka cluster.
export { type KafkaLogOptions, openKafkaLog } from './kafka-log.ts'
