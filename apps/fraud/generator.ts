// A seeded generator of card transactions: clean accounts that spend around their typical amount at home, and fraud
// accounts that behave so for a while and then show one injected scenario (a burst of large charges, card testing,
// impossible travel, or an outlier against their profile) and go quiet. It returns the ground truth of the alerts
// the scenarios must raise, and a share of malformed events that must end in the dead-letter topic.
import { random } from '../clickstream/random.ts'
import type { Rule, Transaction } from './transaction.ts'

export interface GeneratorOptions {
  seed?: number
  /** Accounts with only clean traffic. Default 500. */
  cleanAccounts?: number
  /** Fraud accounts per scenario. Default 10. */
  fraudPerRule?: number
  /** Epoch ms of the first transaction. */
  start?: number
  /** Event time covered. Default 5 days. */
  durationMs?: number
  /** Mean time between two transactions of a clean account. Default 4 hours. */
  meanGapMs?: number
  /** Share of malformed events among all. Default 0.003. */
  malformedRate?: number
  /** Before every account name, so that several runs of the generator make distinct accounts. Default ''. */
  accountPrefix?: string
  /** How long after its last transaction a profile outlier comes. Default 2 to 3 days (too slow for any travel alarm). */
  outlierGapMs?: [min: number, max: number]
  /** Ids are `t<prefix><n>`. Default ''. */
  idPrefix?: string
}

/** One event as it arrives: a transaction, or bytes that are not one. */
export type GeneratedEvent =
  | { kind: 'tx'; tx: Transaction; arrival: number }
  | { kind: 'malformed'; key: string | null; bytes: Buffer; arrival: number; why: string }

export interface ExpectedAlert {
  alertId: string
  account: string
  rule: Rule
  txIds: string[]
}

export interface Generated {
  events: GeneratedEvent[]
  alerts: ExpectedAlert[]
  /** The last event time. */
  end: number
}

const COUNTRIES = ['US', 'CA', 'BR', 'GB', 'FR', 'DE', 'ES', 'IT', 'NG', 'IN', 'CN', 'JP', 'AU']
/** For each home, a country at least 8,000 km away. */
const FAR: Record<string, string> = {
  US: 'IN',
  CA: 'AU',
  BR: 'JP',
  GB: 'AU',
  FR: 'AU',
  DE: 'AU',
  ES: 'JP',
  IT: 'AU',
  NG: 'JP',
  IN: 'US',
  CN: 'BR',
  JP: 'BR',
  AU: 'GB',
}
const MERCHANTS = ['grocer', 'fuel', 'cafe', 'books', 'travel', 'online', 'electronics', 'pharmacy']
const MIN = 60_000
const DAY = 24 * 60 * MIN
const RULES: Rule[] = ['big-three', 'card-testing', 'impossible-travel', 'profile-outlier']

export function generateTransactions(options: GeneratorOptions = {}): Generated {
  const rand = random(options.seed ?? 1)
  const start = options.start ?? Date.UTC(2026, 10, 2)
  const duration = options.durationMs ?? 5 * DAY
  const meanGap = options.meanGapMs ?? 4 * 60 * MIN
  const prefix = options.accountPrefix ?? ''
  const [outlierMin, outlierMax] = options.outlierGapMs ?? [2 * DAY, 3 * DAY]
  const txs: Transaction[] = []
  const alerts: ExpectedAlert[] = []
  let next = 0
  const tx = (account: string, amount: number, country: string, ts: number): Transaction => {
    const t: Transaction = {
      id: `t${options.idPrefix ?? ''}${next++}`,
      account,
      amount: Math.round(amount * 100) / 100,
      merchant: rand.pick(MERCHANTS),
      country,
      ts: Math.round(ts),
      device: null,
    }
    txs.push(t)
    return t
  }
  /** Clean spending from `from` until `until`: around the typical amount, $5 to $900, at home. */
  const clean = (
    account: string,
    home: string,
    typical: number,
    from: number,
    until: number,
  ): Transaction | null => {
    let last: Transaction | null = null
    for (let ts = from + rand.exponential(meanGap); ts < until; ts += rand.exponential(meanGap)) {
      last = tx(account, Math.min(900, Math.max(5, typical * rand.between(0.3, 3))), home, ts)
    }
    return last
  }

  const cleanAccounts = options.cleanAccounts ?? 500
  for (let i = 0; i < cleanAccounts; i++) {
    clean(`${prefix}acc-${i}`, rand.pick(COUNTRIES), rand.between(20, 300), start, start + duration)
  }

  const fraudPerRule = options.fraudPerRule ?? 10
  for (const rule of RULES) {
    for (let i = 0; i < fraudPerRule; i++) {
      const account = `${prefix}acc-${rule}-${i}`
      const home = rand.pick(COUNTRIES)
      const typical =
        rule === 'big-three'
          ? rand.between(400, 800)
          : rule === 'profile-outlier'
            ? rand.between(20, 60)
            : rand.between(50, 200)
      // clean for a while, with at least ten transactions, then the scenario
      const at = start + duration * rand.between(0.4, 0.8)
      let before: Transaction | null = null
      for (let n = 0; n < 10 || before === null; n++)
        before = tx(
          account,
          Math.min(900, Math.max(5, typical * rand.between(0.3, 3))),
          home,
          start + ((at - start) * (n + rand.next())) / 12,
        )
      before = clean(account, home, typical, start + ((at - start) * 11) / 12, at - 30 * MIN) ?? before
      const last = txs.filter((t) => t.account === account).reduce((a, b) => (b.ts > a.ts ? b : a))
      if (rule === 'big-three') {
        const n = 3 + rand.int(2)
        const burst: Transaction[] = []
        for (let k = 0, ts = at; k < n; k++, ts += rand.between(30_000, 75_000))
          burst.push(tx(account, rand.between(1100, 3000), home, ts))
        alerts.push(expected(rule, account, burst.slice(0, 3)))
      } else if (rule === 'card-testing') {
        const probes: Transaction[] = []
        const n = 3 + rand.int(4)
        let ts = at
        for (let k = 0; k < n; k++, ts += rand.between(5_000, 30_000))
          probes.push(tx(account, rand.between(0.5, 1.99), home, ts))
        const large = tx(account, rand.between(600, 950), home, ts + rand.between(MIN, 4 * MIN))
        alerts.push(expected(rule, account, [...probes, large]))
      } else if (rule === 'impossible-travel') {
        const away = tx(
          account,
          Math.max(5, typical * rand.between(0.5, 1.5)),
          FAR[home],
          last.ts + rand.between(20 * MIN, 90 * MIN),
        )
        alerts.push(expected(rule, account, [last, away]))
      } else {
        // days later (no travel speed to speak of), far more than ever, somewhere new
        const other = rand.pick(COUNTRIES.filter((c) => c !== home))
        const outlier = tx(
          account,
          typical * rand.between(30, 45),
          other,
          last.ts + rand.between(outlierMin, outlierMax),
        )
        alerts.push(expected(rule, account, [outlier]))
      }
    }
  }

  // arrival: a short, random delay after the event (under 3 s, so never late for 5 s of out-of-orderness)
  const events: GeneratedEvent[] = txs.map((t) => ({
    kind: 'tx',
    tx: t,
    arrival: t.ts + Math.min(3000, rand.exponential(200)),
  }))
  const end = txs.reduce((m, t) => Math.max(m, t.ts), start)
  const malformed = Math.round(events.length * (options.malformedRate ?? 0.003))
  for (let i = 0; i < malformed; i++) events.push(malformedEvent(rand, start + rand.next() * (end - start)))
  events.sort((a, b) => a.arrival - b.arrival)
  return { events, alerts, end }
}

function expected(rule: Rule, account: string, txs: Transaction[]): ExpectedAlert {
  return { alertId: `${rule}:${txs[0].id}`, account, rule, txIds: txs.map((t) => t.id) }
}

function malformedEvent(rand: ReturnType<typeof random>, arrival: number): GeneratedEvent {
  const key = rand.next() < 0.5 ? JSON.stringify(`acc-${rand.int(500)}`) : null
  const kind = rand.int(4)
  if (kind === 0) {
    const bytes = Buffer.alloc(1 + rand.int(40))
    for (let i = 0; i < bytes.length; i++) bytes[i] = rand.int(256)
    bytes[0] = 1 // never the wire format's magic byte 0
    return { kind: 'malformed', key, bytes, arrival, why: 'random bytes' }
  }
  if (kind === 1)
    return {
      kind: 'malformed',
      key,
      bytes: Buffer.from('{"id":"x","amount":12.5}'),
      arrival,
      why: 'JSON, not Avro',
    }
  if (kind === 2) {
    const bytes = Buffer.from([0, 0, 0, 0x03, 0xe7, 2, 4, 6]) // schema id 999: never registered
    return { kind: 'malformed', key, bytes, arrival, why: 'unknown schema id' }
  }
  return { kind: 'malformed', key, bytes: Buffer.from([0, 0, 0]), arrival, why: 'cut short' }
}
