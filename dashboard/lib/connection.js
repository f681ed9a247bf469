// The live feed (server-sent events at /v1/feed) with our own reconnect: EventSource gives up for good on some
// failures (a 5xx, a proxy's HTML page), and says nothing when a connection silently stalls, so we watch for
// silence, close, and reopen with backoff, telling the page what state the connection is in.

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000]

/**
 * @param {string} url
 * @param {{
 *   events: string[],
 *   onEvent: (name: string, data: unknown) => void,
 *   onState: (state: { phase: 'connecting' | 'live' | 'reconnecting', retryAt: number | null,
 *     attempts: number, lastMessageAt: number | null }) => void,
 *   staleMs?: number,
 * }} options
 */
export function connect(url, { events, onEvent, onState, staleMs = 5000 }) {
  let source = null
  let attempts = 0
  let retryTimer = null
  let lastMessageAt = null
  let openedAt = 0
  let phase = 'connecting'
  let retryAt = null

  const report = () => onState({ phase, retryAt, attempts, lastMessageAt })

  const open = () => {
    clearTimeout(retryTimer)
    retryTimer = null
    retryAt = null
    phase = attempts === 0 ? 'connecting' : 'reconnecting'
    report()
    source = new EventSource(url)
    openedAt = Date.now()
    for (const name of events) {
      source.addEventListener(name, (e) => {
        lastMessageAt = Date.now()
        if (phase !== 'live') {
          phase = 'live'
          attempts = 0
          report()
        }
        let data
        try {
          data = JSON.parse(e.data)
        } catch {
          return // a torn message: the next one replaces it
        }
        onEvent(name, data)
      })
    }
    source.onerror = () => retry()
  }

  const retry = () => {
    if (source !== null) {
      source.close()
      source = null
    }
    if (retryTimer !== null) return
    const delay = BACKOFF_MS[Math.min(attempts, BACKOFF_MS.length - 1)]
    attempts++
    phase = 'reconnecting'
    retryAt = Date.now() + delay
    report()
    retryTimer = setTimeout(open, delay)
  }

  // The server sends status every second: a longer silence means the connection is gone even if no error came.
  const watchdog = setInterval(() => {
    if (source === null) return
    const since = lastMessageAt !== null && lastMessageAt > openedAt ? lastMessageAt : openedAt
    if (Date.now() - since > staleMs) retry()
  }, 1000)

  open()
  return {
    /** Reconnects now instead of waiting for the backoff. */
    retryNow() {
      if (source !== null) source.close()
      source = null
      open()
    },
    close() {
      clearInterval(watchdog)
      clearTimeout(retryTimer)
      if (source !== null) source.close()
    },
  }
}
