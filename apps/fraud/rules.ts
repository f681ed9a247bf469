// The fraud rules: three patterns (complex event processing) and a running profile per account in keyed state.
import { afterMatch, type Match, type ProcessFunction, pattern } from '../../src/index.ts'
import { type Alert, distanceKm, type Rule, type Transaction } from './transaction.ts'

export const BIG_AMOUNT = 1000
/** Faster than an airliner between two transactions: the card cannot be in both places. */
export const MAX_SPEED_KMH = 900

/** Three or more transactions over $1000 from one account within 5 minutes: one alert per burst. */
export const bigThree = pattern<Transaction>('big')
  .where((t) => t.amount > BIG_AMOUNT)
  .times(3)
  .within('5m')
  .afterMatch(afterMatch.skipPastLastEvent())

/** Card testing: three or more tiny charges in a row, then a large one within 10 minutes. */
export const cardTesting = pattern<Transaction>('probes')
  .where((t) => t.amount < 2)
  .timesOrMore(3)
  .consecutive()
  .followedBy('large')
  .where((t) => t.amount > 500)
  .within('10m')
  .afterMatch(afterMatch.skipPastLastEvent())

/** Two consecutive transactions from places too far apart for the time between them. */
export const impossibleTravel = pattern<Transaction>('from')
  .next('to')
  .where((t, ctx) => {
    const from = ctx.events('from')[0]
    const hours = Math.max(t.ts - from.ts, 1) / 3_600_000
    return distanceKm(from.country, t.country) / hours > MAX_SPEED_KMH
  })
  .within('12h')
  .afterMatch(afterMatch.skipPastLastEvent())

function alertOf(rule: Rule, txs: Transaction[], reason: string): Alert {
  return {
    alertId: `${rule}:${txs[0].id}`,
    account: txs[0].account,
    rule,
    txIds: txs.map((t) => t.id),
    ts: txs[txs.length - 1].ts,
    reason,
  }
}

export function bigThreeAlert(m: Match<Transaction>): Alert {
  const txs = m.stages.big
  return alertOf('big-three', txs, `${txs.length} transactions over $${BIG_AMOUNT} within 5 minutes`)
}

export function cardTestingAlert(m: Match<Transaction>): Alert {
  const txs = [...m.stages.probes, ...m.stages.large]
  return alertOf(
    'card-testing',
    txs,
    `${m.stages.probes.length} charges under $2, then $${m.stages.large[0].amount.toFixed(2)}`,
  )
}

export function impossibleTravelAlert(m: Match<Transaction>): Alert {
  const [from] = m.stages.from
  const [to] = m.stages.to
  const km = Math.round(distanceKm(from.country, to.country))
  const minutes = Math.round((to.ts - from.ts) / 60_000)
  return alertOf(
    'impossible-travel',
    [from, to],
    `${from.country} to ${to.country}: ${km} km in ${minutes} min`,
  )
}

/** Transactions an account needs before its profile judges. */
export const PROFILE_WARMUP = 5
export const OUTLIER_FACTOR = 10

/**
 * A running profile per account (count and mean amount, countries seen), kept 30 days after the account's last
 * transaction: a transaction over 10 times the mean from a country the account never used is an outlier.
 */
export const profileRule: ProcessFunction<string, Transaction, Alert> = {
  process(t, ctx) {
    const state = ctx.valueState<[n: number, sum: number, countries: string[]]>('profile')
    const profile = state.get() ?? [0, 0, []]
    const [n, sum, countries] = profile
    const mean = n === 0 ? 0 : sum / n
    const known = countries.includes(t.country)
    if (n >= PROFILE_WARMUP && t.amount > OUTLIER_FACTOR * mean && !known) {
      ctx.emit(
        alertOf(
          'profile-outlier',
          [t],
          `$${t.amount.toFixed(2)} is ${Math.round(t.amount / mean)}x the account's mean, from ${t.country}, never used before`,
        ),
      )
    }
    // updated in place: one array per account rather than one per transaction
    profile[0] = n + 1
    profile[1] = sum + t.amount
    if (!known) countries.push(t.country)
    state.set(profile)
  },
}
