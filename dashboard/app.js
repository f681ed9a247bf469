// The clickstream dashboard: listens to the server's live feed and keeps every card current without a reload.
// Pipeline status arrives every second (event `status`); the app's results when they change (event `clickstream`,
// or the name in ?feed=). Charts keep the last minutes of status in the page.
import { timeSeriesChart } from './lib/chart.js'
import { readClickstream } from './lib/clickstream.js'
import { connect } from './lib/connection.js'
import { $, el } from './lib/dom.js'
import {
  formatAgo,
  formatClock,
  formatCompact,
  formatCount,
  formatDuration,
  formatRate,
  formatWindow,
} from './lib/format.js'
import { inputRate, inputRecords, pipelineWatermark, sumLag, watermarkLagSeconds } from './lib/status.js'
import { renderTopPages } from './lib/top-pages.js'

const params = new URLSearchParams(location.search)
const FEED = params.get('feed') ?? 'clickstream'
const SPAN_MS = 5 * 60_000
const KEEP_MS = 10 * 60_000

const state = {
  statuses: null,
  selectedPipeline: null,
  /** applicationId -> [{ t, rate, p50, p99, lag, watermarkLag }] */
  history: new Map(),
  /** The app's latest feed event, as sent. */
  snapshot: null,
  selectedWindow: 'latest',
  connection: { phase: 'connecting', retryAt: null, attempts: 0, lastMessageAt: null },
}

const charts = {
  rate: timeSeriesChart(document.querySelector('[data-chart="rate"]'), {
    label: 'Event rate',
    unit: 'events/s',
    series: [{ name: 'events/s' }],
    spanMs: SPAN_MS,
    tick: formatCompact,
    value: (v) => `${formatRate(v)} events/s`,
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
  lag: timeSeriesChart(document.querySelector('[data-chart="lag"]'), {
    label: 'Consumer lag',
    unit: 'records',
    series: [{ name: 'lag' }],
    spanMs: SPAN_MS,
    tick: formatCompact,
    value: (v) => `${formatCount(v)} records`,
    minMax: 10,
  }),
  watermark: timeSeriesChart(document.querySelector('[data-chart="watermark"]'), {
    label: 'Watermark lag',
    unit: 's',
    series: [{ name: 'watermark lag' }],
    spanMs: SPAN_MS,
    tick: formatCompact,
    value: (v) => formatDuration(v * 1000),
    minMax: 5,
  }),
}

const currentPipeline = () => {
  const list = state.statuses ?? []
  return list.find((s) => s.applicationId === state.selectedPipeline) ?? list[0] ?? null
}

function onStatus(statuses) {
  const now = Date.now()
  state.statuses = Array.isArray(statuses) ? statuses : []
  for (const s of state.statuses) {
    const h = state.history.get(s.applicationId) ?? []
    const records = inputRecords(s)
    h.push({
      t: now,
      records,
      rate: inputRate(h, now, records),
      p50: s.latencyMs?.p50 ?? null,
      p99: s.latencyMs?.p99 ?? null,
      lag: sumLag(s),
      watermarkLag: watermarkLagSeconds(s, now),
    })
    while (h.length > 0 && h[0].t < now - KEEP_MS) h.shift()
    state.history.set(s.applicationId, h)
  }
  if (state.selectedPipeline === null && state.statuses.length > 0) {
    const preferred = state.statuses.find((s) => s.applicationId.includes(FEED)) ?? state.statuses[0]
    state.selectedPipeline = preferred.applicationId
  }
  renderPipeline()
  renderResults() // falls back to status numbers where the app has none
}

// ---- Rendering: pipeline ----

const STATE_LABEL = {
  running: 'Running',
  stopping: 'Stopping',
  stopped: 'Stopped',
  failed: 'Failed',
  restoring: 'Restoring',
}

function renderPipeline() {
  const list = state.statuses ?? []
  const picker = document.querySelector('.pipeline-picker')
  const select = $('pipeline-select')
  picker.hidden = list.length < 2
  const ids = list.map((s) => s.applicationId)
  if ([...select.options].map((o) => o.value).join('\n') !== ids.join('\n')) {
    select.replaceChildren(...ids.map((id) => el('option', { value: id, text: id })))
  }
  const s = currentPipeline()
  if (s !== null) select.value = s.applicationId

  const restoring = (s?.restores ?? []).filter((r) => !r.done)
  const phase = s === null ? 'unknown' : s.state === 'running' && restoring.length > 0 ? 'restoring' : s.state
  const pill = $('pipeline-state')
  pill.dataset.state = phase
  pill.querySelector('.pill-text').textContent =
    s === null
      ? 'No pipeline'
      : `${list.length > 1 ? '' : `${s.applicationId} · `}${STATE_LABEL[phase] ?? phase}`

  const banner = $('banner')
  const failed = list.filter((p) => p.state === 'failed')
  banner.hidden = failed.length === 0
  banner.textContent = failed
    .map((p) => `Pipeline ${p.applicationId} failed: ${p.error ?? 'no reason given'}`)
    .join(' · ')

  const history = s === null ? [] : (state.history.get(s.applicationId) ?? [])
  const now = Date.now()
  charts.rate.update(
    history.map((h) => ({ t: h.t, values: [h.rate] })),
    now,
  )
  charts.latency.update(
    history.map((h) => ({ t: h.t, values: [h.p50, h.p99] })),
    now,
  )
  charts.lag.update(
    history.map((h) => ({ t: h.t, values: [h.lag] })),
    now,
  )
  charts.watermark.update(
    history.map((h) => ({ t: h.t, values: [h.watermarkLag] })),
    now,
  )
  const last = history.at(-1)
  $('rate-now').textContent = formatRate(last?.rate)
  $('latency-p50').textContent = formatDuration(last?.p50)
  $('latency-p99').textContent = formatDuration(last?.p99)
  $('consumer-lag').textContent = formatCount(last?.lag)
  $('watermark-lag').textContent = last?.watermarkLag == null ? '–' : formatDuration(last.watermarkLag * 1000)

  $('pipeline-name').textContent = s === null ? '' : s.applicationId
  $('pipeline-empty').hidden = s !== null
  document.querySelector('.partitions').hidden = (s?.partitions ?? []).length === 0
  const facts = $('pipeline-facts')
  if (s === null) {
    facts.replaceChildren()
  } else {
    const out = Object.entries(s.recordsOut ?? {})
    const rows = [
      ['State', STATE_LABEL[phase] ?? phase],
      ['Guarantee', s.guarantee === 'exactly-once' ? 'Exactly once' : (s.guarantee ?? '–')],
      ['Tasks', formatCount(s.tasks?.length)],
      ['Input records read', formatCount(last?.records)],
      ['Records processed', formatCount(s.recordsIn), 'by all tasks, internal topics included'],
      [
        'Records written',
        formatCount(out.reduce((n, [, v]) => n + v, 0)),
        out.map(([k, v]) => `${k}: ${v}`).join('\n'),
      ],
      ['Late, all steps', formatCount(s.lateRecords), 'records past the lateness of any window step'],
      [
        'Last commit',
        s.lastCommitAt == null
          ? 'none yet'
          : `${formatAgo(s.lastCommitAt, now)} (${formatDuration(s.lastCommitMs)})`,
      ],
    ]
    for (const r of restoring) rows.push([`Restoring ${r.store}`, `${Math.round(r.percent)}%`])
    facts.replaceChildren(
      ...rows.flatMap(([k, v, title]) => [
        el('dt', { text: k }),
        el('dd', title ? { text: v, title } : { text: v }),
      ]),
    )
  }
  const error = $('pipeline-error')
  error.hidden = !s?.error
  error.textContent = s?.error ? `Error: ${s.error}` : ''
  $('partitions').replaceChildren(
    ...(s?.partitions ?? []).map((p) =>
      el(
        'tr',
        {},
        el('td', { text: p.topic }),
        el('td', { text: String(p.partition) }),
        el('td', { text: formatCount(p.position) }),
        el('td', { text: formatCount(p.highWatermark) }),
        el('td', { text: formatCount(p.lag) }),
      ),
    ),
  )
}

// ---- Rendering: the app's results ----

function setCount(testid, value) {
  const node = $(testid)
  node.textContent = formatCount(value)
  node.classList.toggle('nonzero', typeof value === 'number' && value > 0)
}

const results = () =>
  state.snapshot === null ? null : readClickstream(state.snapshot, pipelineWatermark(currentPipeline()))

function renderResults() {
  const r = results()
  const newest = r?.windows[0] ?? null
  // No open window means no clicks yet in the minute the watermark is in: nobody is active in it.
  setCount('active-now', r === null ? null : (r.open?.activeUsers ?? (newest === null ? null : 0)))
  $('active-now-note').textContent = r?.open
    ? `since ${formatClock(r.open.start, { seconds: false })}, so far`
    : newest
      ? `no clicks since ${formatClock(newest.end, { seconds: false })}`
      : 'current minute, so far'
  setCount('active-1m', r?.closed?.activeUsers ?? null)
  $('active-1m-note').textContent = r?.closed
    ? `minute ${formatWindow(r.closed.start, r.closed.end)}`
    : 'last complete minute'
  setCount('active-5m', r?.sliding?.users ?? null)
  $('active-5m-note').textContent = r?.sliding
    ? `${formatWindow(r.sliding.start, r.sliding.end)}`
    : 'sliding 5 minutes, once one closes'
  setCount('views-total', r?.totals.views ?? null)
  setCount('late-count', r?.totals.late ?? null)
  setCount('dead-letter-count', r?.totals.deadLetters ?? null)
  state.selectedWindow = renderTopPages(r, state.selectedWindow)
}

// ---- Connection ----

function renderConnection() {
  const c = state.connection
  const node = $('connection')
  node.dataset.phase = c.phase
  const text =
    c.phase === 'live'
      ? 'Live'
      : c.phase === 'connecting'
        ? 'Connecting…'
        : c.retryAt !== null && c.retryAt > Date.now()
          ? `Disconnected · retrying in ${Math.ceil((c.retryAt - Date.now()) / 1000)} s`
          : 'Reconnecting…'
  node.querySelector('.connection-text').textContent = text
  node.querySelector('.connection-retry').hidden = c.phase !== 'reconnecting'
  const stale = c.phase !== 'live' && c.lastMessageAt !== null
  document.body.classList.toggle('is-stale', stale)
  $('stale').hidden = !stale
  $('stale').textContent = stale
    ? `The live feed was lost at ${formatClock(c.lastMessageAt)}: the numbers below are from then, not now.`
    : ''
  $('updated').textContent =
    c.lastMessageAt === null
      ? 'Not updated yet'
      : `Updated ${formatAgo(c.lastMessageAt)} (${formatClock(c.lastMessageAt)})`
}

const feed = connect('/v1/feed', {
  events: ['status', FEED],
  onEvent(name, data) {
    state.connection.lastMessageAt = Date.now()
    if (name === 'status') onStatus(data)
    else {
      state.snapshot = data
      renderResults()
    }
  },
  onState(c) {
    state.connection = {
      ...c,
      lastMessageAt: Math.max(c.lastMessageAt ?? 0, state.connection.lastMessageAt ?? 0) || null,
    }
    renderConnection()
  },
})

$('pipeline-select').addEventListener('change', (e) => {
  state.selectedPipeline = e.target.value
  renderPipeline()
  renderResults()
})
$('window-select').addEventListener('change', (e) => {
  state.selectedWindow = renderTopPages(results(), e.target.value)
})
document.querySelector('.connection-retry').addEventListener('click', () => feed.retryNow())
setInterval(renderConnection, 1000)
renderResults()
renderConnection()
