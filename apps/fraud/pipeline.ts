// The fraud detection pipeline: Avro transactions (read with the newest schema of their subject) keyed by account,
// four rules, alerts to an Avro topic and, when an alerting service is configured, to its webhook.
import {
  boundedOutOfOrderness,
  detect,
  type Pipeline,
  pipeline,
  type SinkFactory,
  subject,
  type WebhookSinkOptions,
  webhookSink,
} from '../../src/index.ts'
import {
  bigThree,
  bigThreeAlert,
  cardTesting,
  cardTestingAlert,
  impossibleTravel,
  impossibleTravelAlert,
  profileRule,
} from './rules.ts'
import { ALERT_SCHEMA, type Alert, ruleSymbol, TRANSACTION_V2, type Transaction } from './transaction.ts'

export interface FraudTopics {
  transactions: string
  alerts: string
}

export const FRAUD_TOPICS: FraudTopics = { transactions: 'transactions', alerts: 'fraud_alerts' }

export interface FraudPipelineOptions {
  name?: string
  topics?: Partial<FraudTopics>
  /** The alerting service: alerts are POSTed to it with their alertId as idempotency key. */
  webhook?: Omit<WebhookSinkOptions<string, Alert>, 'key'>
  /** Also hand committed alerts to this sink (the dashboard's view). */
  view?: SinkFactory<string, Alert>
}

/**
 * A transaction as a plain object. Avro decodes records as instances of a class of its own; the rules keep
 * transactions in state, and a state value that is a plain object goes to the changelog as JSON, several times
 * cheaper than the v8 serialization any other object needs.
 */
function plainTransaction(t: Transaction): Transaction {
  return {
    id: t.id,
    account: t.account,
    amount: t.amount,
    merchant: t.merchant,
    country: t.country,
    ts: t.ts,
    device: t.device,
  }
}

export function fraudPipeline(options: FraudPipelineOptions = {}): Pipeline {
  const topics = { ...FRAUD_TOPICS, ...options.topics }
  const p = pipeline(options.name ?? 'fraud')
  const byAccount = p
    .source<string, Transaction>('transactions', {
      topic: topics.transactions,
      value: subject({
        subject: `${topics.transactions}-value`,
        schemaType: 'AVRO',
        schema: TRANSACTION_V2,
        register: true,
      }),
      timestamp: (t) => t.ts,
      watermarks: boundedOutOfOrderness('5s'),
    })
    .map(plainTransaction, { name: 'plain' })
    .keyBy(null, { name: 'by-account' }) // producers key transactions by account
  const big = detect(byAccount, bigThree, { name: 'big-three' })
    .matches()
    .map(bigThreeAlert, { name: 'big-three-alert' })
  const testing = detect(byAccount, cardTesting, { name: 'card-testing' })
    .matches()
    .map(cardTestingAlert, { name: 'card-testing-alert' })
  const travel = detect(byAccount, impossibleTravel, { name: 'impossible-travel' })
    .matches()
    .map(impossibleTravelAlert, { name: 'impossible-travel-alert' })
  const outliers = byAccount.process(profileRule, { name: 'profile', ttl: '30d' })
  const alerts = big.merge([testing, travel, outliers], { name: 'alerts' })
  alerts
    .map((a) => ({ ...a, rule: ruleSymbol(a.rule) }), { name: 'alert-record' })
    .to(topics.alerts, {
      value: subject({
        subject: `${topics.alerts}-value`,
        schemaType: 'AVRO',
        schema: ALERT_SCHEMA,
        register: true,
      }),
    })
  if (options.view !== undefined) alerts.sink(options.view, { name: 'alert-view' })
  if (options.webhook !== undefined) {
    alerts.sink(webhookSink<string, Alert>({ ...options.webhook, key: (r) => r.value.alertId }), {
      name: 'notify',
    })
  }
  return p
}
