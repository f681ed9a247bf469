// The fraud alerts as the dashboard shows them: an in-process view fed by a sink that applies only committed
// alerts (transactional within the process), with the latest alerts and counts per rule, for the server's live feed.
import type { Sink, SinkFactory } from '../../src/index.ts'
import type { Alert, Rule } from './transaction.ts'

export interface FraudSnapshot {
  /** The latest alerts, newest first. */
  recent: Alert[]
  byRule: Record<Rule, number>
  total: number
  /** When a commit last changed the view (epoch ms), or null. */
  updatedAt: number | null
}

export interface FraudView {
  /** The name of the server's live feed event. */
  readonly name: string
  readonly factory: SinkFactory<string, Alert>
  snapshot(): FraudSnapshot
  onUpdate(listener: () => void): () => void
}

export function fraudView(options: { keep?: number } = {}): FraudView {
  const keep = options.keep ?? 50
  const recent: Alert[] = []
  const seen = new Set<string>()
  const byRule: Record<Rule, number> = {
    'big-three': 0,
    'card-testing': 0,
    'impossible-travel': 0,
    'profile-outlier': 0,
  }
  let total = 0
  let updatedAt: number | null = null
  const listeners = new Set<() => void>()
  const apply = (alerts: Alert[]) => {
    for (const a of alerts) {
      if (seen.has(a.alertId)) continue // a replay after a restart of the process that keeps this view
      seen.add(a.alertId)
      total++
      byRule[a.rule]++
      recent.unshift(a)
    }
    recent.length = Math.min(recent.length, keep)
    updatedAt = Date.now()
    for (const l of listeners) l()
  }
  return {
    name: 'fraud',
    factory: () => {
      let pending: Alert[] = []
      const prepared = new Map<number, Alert[]>()
      return {
        guarantee: 'transactional',
        async open() {},
        write(records) {
          for (const r of records) pending.push(r.value)
        },
        async prepare(id) {
          prepared.set(id, pending)
          pending = []
        },
        async commit(id) {
          const alerts = prepared.get(id)
          prepared.delete(id)
          if (alerts !== undefined && alerts.length > 0) apply(alerts)
        },
        async abort(id) {
          prepared.delete(id)
        },
        async close() {},
      } satisfies Sink<string, Alert>
    },
    snapshot: () => ({ recent: [...recent], byRule: { ...byRule }, total, updatedAt }),
    onUpdate(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
