// The fraud dashboard: counts per rule and the latest alerts from the server's live feed (event `fraud`), with the
// pipeline's transaction rate and latency from its status (event `status`), updated without a reload.
import { timeSeriesChart } from './lib/chart.js'
import { connect } from './lib/connection.js'
import { $, el } from './lib/dom.js'
import { formatClock, formatCompact, formatCount, formatDuration, formatRate } from './lib/format.js'
import { inputRate, inputRecords } from './lib/status.js'

const SPAN_MS = 5 * 60_000
const RULES = {
  'big-three': 'Large burst',
  'card-testing': 'Card testing',
  'impossible-travel': 'Impossible travel',
  'profile-outlier': 'Profile outlier',
}
const history = []
const charts = {
  rate: timeSeriesChart(document.querySelector('[data-chart="rate"]'), {
    label: 'Transactions',
    unit: 'transactions/s',
    series: [{ name: 'transactions/s' }],
    spanMs: SPAN_MS,
    tick: formatCompact,
    value: (v) => `${formatRate(v)} transactions/s`,
    minMax: 5,
  }),
  latency: timeSeriesChart(document.querySelector('[data-chart="latency"]'), {
    label: 'End-to-end latency',
    unit: 'ms',
    series: [{ name: 'p50' }, { name: 'p99' }],
    spanMs: SPAN_MS,
    tick: formatCompact,
    value: formatDuration,
    minMax: 10,
  }),
}

function onStatus(statuses) {
  const s = (Array.isArray(statuses) ? statuses : []).find((x) => x.applicationId.includes('fraud')) ?? null
  const pill = $('pipeline-state')
  pill.dataset.state = s?.state ?? 'unknown'
  pill.querySelector('.pill-text').textContent =
    s === null ? 'No pipeline' : `${s.applicationId} · ${s.state}`
  const banner = $('banner')
  banner.hidden = s?.state !== 'failed'
  banner.textContent =
    s?.state === 'failed' ? `Pipeline ${s.applicationId} failed: ${s.error ?? 'no reason given'}` : ''
  if (s === null) return
  const now = Date.now()
  const records = inputRecords(s)
  history.push({
    t: now,
    records,
    rate: inputRate(history, now, records),
    p50: s.latencyMs?.p50 ?? null,
    p99: s.latencyMs?.p99 ?? null,
  })
  while (history.length > 0 && history[0].t < now - 2 * SPAN_MS) history.shift()
  charts.rate.update(
    history.map((h) => ({ t: h.t, values: [h.rate] })),
    now,
  )
  charts.latency.update(
    history.map((h) => ({ t: h.t, values: [h.p50, h.p99] })),
    now,
  )
  const last = history.at(-1)
  $('rate-now').textContent = formatRate(last?.rate)
  $('latency-p50').textContent = formatDuration(last?.p50)
  $('latency-p99').textContent = formatDuration(last?.p99)
  const dead = $('dead-letters')
  dead.textContent = formatCount(s.deadLetters)
  dead.classList.toggle('nonzero', (s.deadLetters ?? 0) > 0)
}

function onAlerts(snapshot) {
  const total = $('alerts-total')
  total.textContent = formatCount(snapshot.total)
  total.classList.toggle('nonzero', snapshot.total > 0)
  for (const rule of Object.keys(RULES))
    $(`rule-${rule}`).textContent = formatCount(snapshot.byRule?.[rule] ?? 0)
  $('alerts-empty').hidden = snapshot.recent.length > 0
  $('alerts').replaceChildren(
    ...snapshot.recent.map((a) =>
      el(
        'tr',
        { 'data-alert': a.alertId },
        el('td', { text: formatClock(a.ts) }),
        el('td', { text: a.account }),
        el('td', { text: RULES[a.rule] ?? a.rule }),
        el('td', { text: a.reason }),
        el('td', { text: a.txIds.join(', '), title: a.alertId }),
      ),
    ),
  )
  if (snapshot.updatedAt) $('updated').textContent = `Updated ${formatClock(snapshot.updatedAt)}`
}

connect('/v1/feed', {
  events: ['status', 'fraud'],
  onEvent: (name, data) => (name === 'status' ? onStatus(data) : onAlerts(data)),
  onState: (st) => {
    const c = $('connection')
    c.dataset.phase = st.phase
    c.querySelector('.connection-text').textContent =
      st.phase === 'live' ? 'Live' : st.phase === 'connecting' ? 'Connecting…' : 'Reconnecting…'
  },
})
