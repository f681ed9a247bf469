// Number and time formatting for the dashboard: one place, so every card reads the same way.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })
const fine = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 })

const isNumber = (v) => typeof v === 'number' && Number.isFinite(v)

/** 12,345 — or an en dash when there is no value yet. */
export function formatCount(v) {
  return isNumber(v) ? integer.format(v) : '–'
}

/** 1.2K, 3.4M: for axis ticks and tight spots. */
export function formatCompact(v) {
  if (!isNumber(v)) return '–'
  return Math.abs(v) < 1000 ? fine.format(v) : compact.format(v)
}

/** A rate with one decimal below 10 (2.5 events/s), whole numbers above. */
export function formatRate(v) {
  if (!isNumber(v)) return '–'
  return v < 10 ? decimal.format(v) : integer.format(v)
}

/** Milliseconds as the unit a person would say: 850 ms, 1.2 s, 3 min 20 s, 2 h 5 min, 3 d. */
export function formatDuration(ms) {
  if (!isNumber(ms)) return '–'
  const sign = ms < 0 ? '−' : ''
  const a = Math.abs(ms)
  if (a < 1000) return `${sign}${integer.format(a)} ms`
  if (a < 60_000) return `${sign}${decimal.format(a / 1000)} s`
  if (a < 3_600_000) {
    const m = Math.floor(a / 60_000)
    const s = Math.round((a % 60_000) / 1000)
    return s === 0 ? `${sign}${m} min` : `${sign}${m} min ${s} s`
  }
  if (a < 86_400_000) {
    const h = Math.floor(a / 3_600_000)
    const m = Math.round((a % 3_600_000) / 60_000)
    return m === 0 ? `${sign}${h} h` : `${sign}${h} h ${m} min`
  }
  return `${sign}${decimal.format(a / 86_400_000)} d`
}

const pad = (n) => String(n).padStart(2, '0')

/** 14:03:07, in the viewer's time zone. */
export function formatClock(t, { seconds = true } = {}) {
  if (!isNumber(t)) return '–'
  const d = new Date(t)
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`
  return seconds ? `${hm}:${pad(d.getSeconds())}` : hm
}

/** 14:03–14:04, with the date in front when the window is not from today. */
export function formatWindow(start, end) {
  if (!isNumber(start) || !isNumber(end)) return '–'
  const s = new Date(start)
  const sameDay = s.toDateString() === new Date().toDateString()
  const seconds = s.getSeconds() !== 0 || new Date(end).getSeconds() !== 0
  const range = `${formatClock(start, { seconds })}–${formatClock(end, { seconds })}`
  if (sameDay) return range
  return `${s.getFullYear()}-${pad(s.getMonth() + 1)}-${pad(s.getDate())} ${range}`
}

/** "5 s ago", "3 min ago". */
export function formatAgo(t, now = Date.now()) {
  if (!isNumber(t)) return 'never'
  const d = Math.max(0, now - t)
  if (d < 1500) return 'just now'
  return `${formatDuration(Math.round(d / 1000) * 1000)} ago`
}
