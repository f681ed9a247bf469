// The transactions of the fraud benchmark: the app's seeded generator with many clean accounts and some of each
// fraud scenario, no malformed events, and the alerts its ground truth expects.
import { type ExpectedAlert, generateTransactions } from '../../apps/fraud/generator.ts'
import type { Transaction } from '../../apps/fraud/transaction.ts'

const HOUR = 3_600_000
/** The generator's mean time between two transactions of a clean account (its default). */
export const MEAN_GAP_MS = 4 * HOUR

export interface Workload {
  /** In arrival order. */
  transactions: Transaction[]
  /**
   * How many transactions come before the first one after the clean traffic ends: the profile outliers come days
   * later, and the watermark they move times out every partial match. Up to here, the state is as in steady traffic.
   */
  steady: number
  alerts: ExpectedAlert[]
  accounts: number
}

/**
 * About `events` transactions of `accounts` clean accounts plus `fraudPerRule` accounts per scenario: event time
 * long enough for each clean account to make events / accounts transactions (4 hours apart on average).
 */
export function fraudWorkload(options: {
  accounts: number
  events: number
  fraudPerRule: number
  seed?: number
}): Workload {
  const durationMs = (options.events / options.accounts) * MEAN_GAP_MS
  const g = generateTransactions({
    seed: options.seed ?? 1,
    cleanAccounts: options.accounts,
    fraudPerRule: options.fraudPerRule,
    durationMs,
    meanGapMs: MEAN_GAP_MS,
    malformedRate: 0,
  })
  const transactions: Transaction[] = []
  for (const e of g.events) if (e.kind === 'tx') transactions.push(e.tx)
  const end = transactions[0].ts + durationMs
  let steady = transactions.findIndex((t) => t.ts > end)
  if (steady === -1) steady = transactions.length
  return { transactions, steady, alerts: g.alerts, accounts: options.accounts + 4 * options.fraudPerRule }
}
