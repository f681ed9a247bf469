// A live time-series line chart in SVG: a time axis over the last few minutes, a value axis from zero with
// rounded ticks and its unit, one line per series (gaps where a value is missing), and a crosshair that reads out
// every series at the pointer. Colors come from CSS (.series-0, .series-1, ...) so themes apply.

const NS = 'http://www.w3.org/2000/svg'
const MARGIN = { top: 22, right: 14, bottom: 24, left: 48 }

const escapeXml = (s) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])

/** A step of 1, 2, 2.5 or 5 times a power of ten that splits `range` into about `count` parts. */
export function niceStep(range, count) {
  if (!(range > 0)) return 1
  const raw = range / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const f = raw / power
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * power
}

const pad = (n) => String(n).padStart(2, '0')
const clock = (t, seconds) => {
  const d = new Date(t)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`
}

/**
 * @param {HTMLElement} root an empty element; the chart fills its width
 * @param {{ label: string, unit: string, series: { name: string }[], spanMs?: number, height?: number,
 *   tick?: (v: number) => string, value?: (v: number) => string, minMax?: number }} options
 */
export function timeSeriesChart(root, options) {
  const { label, unit, series, spanMs = 5 * 60_000, height = 168 } = options
  const tick = options.tick ?? ((v) => String(v))
  const value = options.value ?? tick
  const minMax = options.minMax ?? 1
  root.classList.add('chart')
  const svg = document.createElementNS(NS, 'svg')
  svg.setAttribute('role', 'img')
  svg.setAttribute('height', String(height))
  const tooltip = document.createElement('div')
  tooltip.className = 'chart-tooltip'
  tooltip.hidden = true
  const empty = document.createElement('div')
  empty.className = 'chart-empty'
  empty.textContent = 'Collecting data…'
  root.append(svg, tooltip, empty)

  let points = []
  let now = Date.now()
  let hoverX = null
  let scale = null

  const render = () => {
    const width = Math.max(240, root.clientWidth)
    svg.setAttribute('width', String(width))
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
    const x0 = MARGIN.left
    const x1 = width - MARGIN.right
    const y0 = height - MARGIN.bottom
    const y1 = MARGIN.top
    const tStart = now - spanMs
    const visible = points.filter((p) => p.t >= tStart - 2000)
    let max = 0
    for (const p of visible) for (const v of p.values) if (v !== null && v > max) max = v
    const step = niceStep(Math.max(max, minMax), 4)
    const top = Math.max(step, Math.ceil(Math.max(max, minMax) / step) * step)
    const x = (t) => x0 + ((t - tStart) / spanMs) * (x1 - x0)
    const y = (v) => y0 - (v / top) * (y0 - y1)
    scale = { x, y, x0, x1, tStart, visible }

    const parts = []
    // Value axis: gridlines and labels, with the unit above them.
    for (let v = 0; v <= top + step / 1e6; v += step) {
      const yy = y(v).toFixed(1)
      parts.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${yy}" y2="${yy}"/>`)
      parts.push(
        `<text class="tick" x="${x0 - 6}" y="${yy}" dy="0.32em" text-anchor="end">${escapeXml(tick(v))}</text>`,
      )
    }
    parts.push(`<text class="unit" x="${x0 - 6}" y="${y1 - 10}" text-anchor="end">${escapeXml(unit)}</text>`)
    // Time axis: a tick per minute (per 30 s on short spans), on round clock times.
    const every = spanMs <= 2 * 60_000 ? 30_000 : spanMs <= 10 * 60_000 ? 60_000 : 5 * 60_000
    for (let t = Math.ceil(tStart / every) * every; t <= now; t += every) {
      const xx = x(t).toFixed(1)
      parts.push(`<line class="grid grid-x" x1="${xx}" x2="${xx}" y1="${y1}" y2="${y0}"/>`)
      parts.push(
        `<text class="tick" x="${xx}" y="${y0 + 16}" text-anchor="middle">${clock(t, every < 60_000)}</text>`,
      )
    }
    parts.push(`<line class="axis" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/>`)
    // Lines, broken where a value is missing; the first series also gets a soft area.
    series.forEach((_, i) => {
      const runs = []
      let run = []
      for (const p of visible) {
        const v = p.values[i]
        if (v === null || v === undefined) {
          if (run.length > 0) runs.push(run)
          run = []
        } else run.push([Math.max(x0, x(p.t)), y(v)])
      }
      if (run.length > 0) runs.push(run)
      for (const r of runs) {
        const d = r.map(([a, b], j) => `${j === 0 ? 'M' : 'L'}${a.toFixed(1)},${b.toFixed(1)}`).join('')
        if (i === 0 && r.length > 1) {
          parts.push(
            `<path class="area series-${i}" d="${d}L${r[r.length - 1][0].toFixed(1)},${y0}L${r[0][0].toFixed(1)},${y0}Z"/>`,
          )
        }
        parts.push(`<path class="line series-${i}" d="${d}"/>`)
      }
      const last = runs.at(-1)?.at(-1)
      if (last)
        parts.push(
          `<circle class="dot series-${i}" cx="${last[0].toFixed(1)}" cy="${last[1].toFixed(1)}" r="3"/>`,
        )
    })
    if (hoverX !== null)
      parts.push(`<line class="crosshair" x1="${hoverX}" x2="${hoverX}" y1="${y1}" y2="${y0}"/>`)
    svg.innerHTML = parts.join('')

    const latest = visible.at(-1)
    const described = latest
      ? series.map((s, i) => `${s.name} ${latest.values[i] === null ? 'no value' : value(latest.values[i])}`)
      : ['no data yet']
    svg.setAttribute(
      'aria-label',
      `${label} over the last ${Math.round(spanMs / 60_000)} minutes: ${described.join(', ')}`,
    )
    empty.hidden = visible.length >= 2
    renderTooltip()
  }

  const renderTooltip = () => {
    if (hoverX === null || scale === null || scale.visible.length === 0) {
      tooltip.hidden = true
      return
    }
    let nearest = scale.visible[0]
    for (const p of scale.visible)
      if (Math.abs(scale.x(p.t) - hoverX) < Math.abs(scale.x(nearest.t) - hoverX)) nearest = p
    const rows = series
      .map(
        (s, i) =>
          `<div><span class="swatch series-${i}"></span>${escapeXml(s.name)} <b>${
            nearest.values[i] === null ? '–' : escapeXml(value(nearest.values[i]))
          }</b></div>`,
      )
      .join('')
    tooltip.innerHTML = `<div class="chart-tooltip-time">${clock(nearest.t, true)}</div>${rows}`
    tooltip.hidden = false
    const left = Math.min(hoverX + 12, root.clientWidth - tooltip.offsetWidth - 4)
    tooltip.style.left = `${Math.max(4, left)}px`
  }

  svg.addEventListener('pointermove', (e) => {
    const box = svg.getBoundingClientRect()
    const px = e.clientX - box.left
    hoverX = scale && px >= scale.x0 && px <= scale.x1 ? Math.round(px) : null
    render()
  })
  svg.addEventListener('pointerleave', () => {
    hoverX = null
    render()
  })
  new ResizeObserver(() => render()).observe(root)

  return {
    /** @param {{ t: number, values: (number | null)[] }[]} next oldest first */
    update(next, at = Date.now()) {
      points = next
      now = at
      render()
    },
  }
}
