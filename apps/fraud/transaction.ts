// A card transaction and a fraud alert, their Avro schemas (transactions evolve once: v2 adds the device), and the
// places transactions happen, for the travel-speed rule.

export interface Transaction {
  id: string
  account: string
  /** US dollars. */
  amount: number
  merchant: string
  /** ISO 3166 alpha-2. */
  country: string
  /** Event time, epoch ms. */
  ts: number
  /** v2 only: the device the card was used from; null in v1 records. */
  device: string | null
}

export type Rule = 'big-three' | 'card-testing' | 'impossible-travel' | 'profile-outlier'

export interface Alert {
  /** The rule and the first transaction it fired on: the same on every replay, so receivers can dedupe by it. */
  alertId: string
  account: string
  rule: Rule
  txIds: string[]
  /** The time of the last transaction of the alert. */
  ts: number
  reason: string
}

const txFields = [
  { name: 'id', type: 'string' },
  { name: 'account', type: 'string' },
  { name: 'amount', type: 'double' },
  { name: 'merchant', type: 'string' },
  { name: 'country', type: 'string' },
  { name: 'ts', type: 'long' },
]

export const TRANSACTION_V1 = JSON.stringify({
  type: 'record',
  name: 'Transaction',
  namespace: 'sluice.fraud',
  fields: txFields,
})

/** v2: a new optional field, so v2 readers read v1 records (device null) and v1 readers skip it. */
export const TRANSACTION_V2 = JSON.stringify({
  type: 'record',
  name: 'Transaction',
  namespace: 'sluice.fraud',
  fields: [...txFields, { name: 'device', type: ['null', 'string'], default: null }],
})

export const ALERT_SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Alert',
  namespace: 'sluice.fraud',
  fields: [
    { name: 'alertId', type: 'string' },
    { name: 'account', type: 'string' },
    {
      name: 'rule',
      type: {
        type: 'enum',
        name: 'Rule',
        symbols: ['big_three', 'card_testing', 'impossible_travel', 'profile_outlier'],
      },
    },
    { name: 'txIds', type: { type: 'array', items: 'string' } },
    { name: 'ts', type: 'long' },
    { name: 'reason', type: 'string' },
  ],
})

/** Avro enum symbols cannot hold '-': the rule as the alert schema writes it, and back. */
export const ruleSymbol = (r: Rule): string => r.replace(/-/g, '_')
export const ruleOfSymbol = (s: string): Rule => s.replace(/_/g, '-') as Rule

/** A point in each country (roughly its middle), for distances. */
export const PLACES: Record<string, [lat: number, lon: number]> = {
  US: [39.8, -98.6],
  CA: [56.1, -106.3],
  BR: [-14.2, -51.9],
  GB: [54.0, -2.5],
  FR: [46.6, 2.2],
  DE: [51.2, 10.4],
  ES: [40.4, -3.7],
  IT: [42.8, 12.6],
  NG: [9.1, 8.7],
  IN: [21.1, 78.0],
  CN: [35.9, 104.2],
  JP: [36.2, 138.3],
  AU: [-25.3, 133.8],
}

/** Great-circle distance in km between two countries' points (0 for one country, or an unknown one). */
export function distanceKm(a: string, b: string): number {
  const p = PLACES[a]
  const q = PLACES[b]
  if (p === undefined || q === undefined || a === b) return 0
  const rad = Math.PI / 180
  const dLat = (q[0] - p[0]) * rad
  const dLon = (q[1] - p[1]) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(p[0] * rad) * Math.cos(q[0] * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)))
}
