// The fraud detection reference pipeline: transactions, rules, alerts (docs/fraud.md).

export { feedTransactions } from './feed.ts'
export {
  type ExpectedAlert,
  type GeneratedEvent,
  type GeneratorOptions,
  generateTransactions,
} from './generator.ts'
export { FRAUD_TOPICS, type FraudPipelineOptions, type FraudTopics, fraudPipeline } from './pipeline.ts'
export * from './rules.ts'
export * from './transaction.ts'
export { type FraudSnapshot, type FraudView, fraudView } from './view.ts'
