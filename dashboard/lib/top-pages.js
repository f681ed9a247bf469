// The top pages card: a window picker and a bar list of the ten most viewed pages of the picked window.
import { $, el } from './dom.js'
import { formatCount, formatWindow } from './format.js'

/**
 * Renders the window picker and the top ten pages of the picked window; returns the pick, which falls back to
 * 'latest' when the picked window is no longer kept.
 * @param {ReturnType<typeof import('./clickstream.js').readClickstream> | null} r
 * @param {string} selected 'latest' or a window's start
 */
export function renderTopPages(r, selected) {
  const windows = r?.windows ?? []
  const select = $('window-select')
  const latest = r?.closed ?? r?.open ?? null
  if (selected !== 'latest' && !windows.some((w) => String(w.start) === selected)) selected = 'latest'
  const options = [
    latest === null
      ? el('option', { value: 'latest', text: 'No windows yet' })
      : el('option', {
          value: 'latest',
          text: `${latest.closed ? 'Last complete' : 'Current'} · ${formatWindow(latest.start, latest.end)}`,
        }),
    ...windows.map((w) =>
      el('option', {
        value: String(w.start),
        text: `${formatWindow(w.start, w.end)}${w.closed ? '' : ' · in progress'}`,
      }),
    ),
  ]
  const signature = options.map((o) => `${o.value}=${o.textContent}`).join('\n')
  if (select.dataset.signature !== signature) {
    select.replaceChildren(...options)
    select.dataset.signature = signature
  }
  select.value = selected
  select.disabled = windows.length === 0

  const w = selected === 'latest' ? latest : windows.find((x) => String(x.start) === selected)
  $('top-window').textContent =
    w === null || w === undefined
      ? 'Views per page in a 1-minute window'
      : `Views per page, ${formatWindow(w.start, w.end)}${w.closed ? '' : ' (in progress)'}`
  const list = $('top-pages')
  const top = w?.top ?? []
  const max = top.reduce((m, t) => Math.max(m, t.views), 0)
  while (list.children.length > top.length) list.lastChild.remove()
  top.forEach((t, i) => {
    let li = list.children[i]
    if (li === undefined) {
      li = el(
        'li',
        { className: 'bar' },
        el('span', { className: 'bar-fill', 'aria-hidden': 'true' }),
        el('span', { className: 'bar-rank' }),
        el('span', { className: 'bar-page' }),
        el('span', { className: 'bar-views' }),
      )
      list.append(li)
    }
    li.dataset.page = t.page
    li.dataset.views = String(t.views)
    li.querySelector('.bar-fill').style.width = `${max === 0 ? 0 : Math.max(2, (t.views / max) * 100)}%`
    li.querySelector('.bar-rank').textContent = `${i + 1}`
    const page = li.querySelector('.bar-page')
    page.textContent = t.page
    page.title = t.page
    li.querySelector('.bar-views').textContent = formatCount(t.views)
    li.setAttribute('aria-label', `${i + 1}. ${t.page}: ${formatCount(t.views)} views`)
  })
  const empty = $('top-pages-empty')
  empty.hidden = top.length > 0
  empty.textContent =
    r === null
      ? 'Waiting for the clickstream results…'
      : w
        ? 'No page views in this window.'
        : 'Waiting for the first window of clicks…'
  $('window-footer').textContent = w
    ? [
        `${formatCount(w.views)} views`,
        w.pages === null ? null : `${formatCount(w.pages)} pages`,
        w.activeUsers === null ? null : `${formatCount(w.activeUsers)} active users`,
      ]
        .filter((x) => x !== null)
        .join(' · ')
    : ''
  return selected
}
