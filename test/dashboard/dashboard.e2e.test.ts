// The dashboard in a real browser (Debian's chromium through playwright-core) against the whole stack in this
// process: the embedded log, the clickstream pipeline and the server. Known clicks go in over HTTP, and the page must
// show what the pipeline computed, which must equal what a reference model computes from the same clicks.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import {
  type ClickstreamApp,
  type ClickstreamSnapshot,
  createClickstreamApp,
  createClickstreamTopics,
} from '../../apps/clickstream/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { type RunningPipeline, runPipeline } from '../../src/runtime/runner.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'
import { type ClickPlan, planClicks, referenceWindow, type WindowReference } from './reference.ts'

const CHROMIUM = '/usr/bin/chromium'
const MISSING = `${CHROMIUM} is missing: install Debian's chromium with \`apt-get install -y chromium\` (as root)`
const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url))
const PARTITIONS = 4
const MINUTE = 60_000
const SCREENSHOT = join(tmpdir(), 'sluice-dashboard.png')

// Outside CI a machine without chromium skips this file; in CI it fails, saying how to install it.
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' ? MISSING : false

async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v) return v
      last = v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('dashboard, end to end', { skip }, () => {
  let dir: string
  let log: Log
  let app: ClickstreamApp
  let run: RunningPipeline
  let server: SluiceServer
  let url: string
  let browser: Browser
  let page: Page
  let plan: ClickPlan
  let w0: WindowReference
  let w1: WindowReference
  let fiveMinutes: WindowReference

  const post = async (body: string, query = '') => {
    const res = await fetch(`${url}/v1/topics/clicks/records${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    })
    return { status: res.status, body: (await res.json()) as { accepted?: number } }
  }
  const send = async (values: unknown[], query = '?key=user') => {
    for (let i = 0; i < values.length; i += 100) {
      const batch = values.slice(i, i + 100)
      const res = await post(`${batch.map((v) => JSON.stringify(v)).join('\n')}\n`, query)
      assert.deepEqual(res, { status: 200, body: { accepted: batch.length } })
    }
  }
  const snapshot = (): ClickstreamSnapshot => app.view.snapshot()
  const watermark = () => Math.min(...run.status().tasks.map((t) => t.watermark))
  // biome-ignore lint/performance/useDomNodeTextContent: what a person sees is the rendered text
  const text = (testid: string) => page.getByTestId(testid).innerText()
  /** Polls the page until the element shows `expected`, then asserts it (for a clear message when it never does). */
  const shows = async (testid: string, expected: string) => {
    await waitFor(
      `${testid} to show ${expected}`,
      async () => (await text(testid)) === expected,
      10_000,
    ).catch(() => {})
    assert.equal(await text(testid), expected, testid)
  }
  const topPagesShown = () =>
    page
      .getByTestId('top-pages')
      .locator('li')
      .evaluateAll((items) =>
        items.map((li) => ({
          page: li.querySelector('.bar-page')?.textContent,
          views: Number(li.querySelector('.bar-views')?.textContent?.replaceAll(',', '')),
        })),
      )

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(MISSING)
    dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-'))
    log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    app = createClickstreamApp()
    await createClickstreamTopics(log, { partitions: PARTITIONS })
    run = await runPipeline(app.pipeline, { log, stateDir: join(dir, 'state') })
    server = createServer({ log, dashboardDir: DASHBOARD_DIR, feeds: [app.view], pipelines: [run] })
    ;({ url } = await server.listen({ port: 0 }))
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    await page.goto(url)
    await shows('connection', 'Live')
    assert.deepEqual(errors, [], 'the page loads without errors')
    // before any click: empty states, not zeros
    await shows('top-pages-empty', 'Waiting for the first window of clicks…')
    assert.equal(await text('active-1m'), '–')

    plan = planClicks(Date.now(), PARTITIONS)
    w0 = referenceWindow(plan.onTime, plan.t0, plan.t0 + MINUTE)
    w1 = referenceWindow(plan.onTime, plan.t0 + MINUTE, plan.t0 + 2 * MINUTE)
    fiveMinutes = referenceWindow(plan.onTime, plan.t0, plan.t0 + 5 * MINUTE)

    await send(plan.onTime)
    // not JSON: ingest refuses the request whole, so it never reaches the pipeline or its dead letters
    assert.equal((await post(`${plan.unparseable}\n`)).status, 400)
    await send(plan.malformed, '')
    await send(plan.closers)
    // the five-minute window [t0, t0 + 5m) is final once every task's watermark passed its end and the lateness
    await waitFor(
      'the watermark to close the test windows',
      () => watermark() >= plan.t0 + 5 * MINUTE + 10_000,
    )
    await send(plan.late)
    await waitFor(
      'the late clicks and dead letters to be counted',
      () =>
        snapshot().totals.late === plan.late.length &&
        snapshot().totals.deadLetters === plan.malformed.length &&
        snapshot().activeUsers5m.some((w) => w.start === plan.t0),
    )
  })

  after(async () => {
    await browser?.close()
    await server?.close()
    await run?.stop()
    await log?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('the pipeline computed what the reference model did', () => {
    const s = snapshot()
    const window = (start: number) => s.windows.find((w) => w.start === start)
    for (const ref of [w0, w1]) {
      const w = window(ref.start)
      assert.ok(w, `window ${new Date(ref.start).toISOString()} is in the view`)
      assert.deepEqual(w.topPages, ref.top)
      assert.equal(w.views, ref.views)
      assert.equal(w.activeUsers, ref.activeUsers)
    }
    assert.equal(s.activeUsers5m.find((w) => w.start === plan.t0)?.users, fiveMinutes.activeUsers)
    assert.deepEqual(s.totals, {
      views: plan.onTime.length + plan.closers.length,
      late: plan.late.length,
      deadLetters: plan.malformed.length,
    })
  })

  it('shows the pipeline’s numbers: active users, late events and dead letters', async () => {
    await shows('active-1m', String(w1.activeUsers))
    await shows('active-5m', String(fiveMinutes.activeUsers))
    // the minute of the closers is still open: its users are the ones active now
    await shows('active-now', String(plan.closers.length))
    await shows('views-total', String(plan.onTime.length + plan.closers.length))
    await shows('late-count', String(plan.late.length))
    await shows('dead-letter-count', String(plan.malformed.length))
    await shows('pipeline-state', 'clickstream · Running')
  })

  it('shows the top ten pages of the last complete minute, and of an earlier one when picked', async () => {
    // W1 is the newest closed window: the one shown by default
    await waitFor('the top pages of W1', async () => (await topPagesShown()).length === 10)
    assert.deepEqual(await topPagesShown(), w1.top)
    assert.match(
      await text('window-footer'),
      new RegExp(`^${w1.views} views · \\d+ pages · ${w1.activeUsers} active users$`),
    )

    await page.getByTestId('window-select').selectOption(String(w0.start))
    await waitFor('the top pages of W0', async () => (await topPagesShown())[0]?.page === w0.top[0].page)
    assert.deepEqual(await topPagesShown(), w0.top)
    assert.match(await text('top-window'), /^Views per page, /)
    await page.getByTestId('window-select').selectOption('latest')
  })

  it('charts the live status with axes and units', async (t) => {
    for (const chart of ['rate', 'latency', 'lag', 'watermark']) {
      const svg = page.locator(`[data-chart="${chart}"] svg`)
      assert.match((await svg.getAttribute('aria-label')) ?? '', /over the last 5 minutes/)
      assert.ok((await svg.locator('text.tick').count()) >= 4, `${chart} has axis ticks`)
      assert.ok(((await svg.locator('text.unit').textContent()) ?? '').length > 0, `${chart} names its unit`)
    }
    await waitFor('latency numbers', async () => /\d ms$/.test(await text('latency-p99')))
    await waitFor(
      'a line of the event rate',
      async () => (await page.locator('[data-chart="rate"] path.line').count()) > 0,
    )
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    t.diagnostic(`screenshot: ${SCREENSHOT}`)
  })

  it('fits a narrow screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 420, height: 900 })
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`)
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  it('tells when the live feed is lost and reconnects by itself', async () => {
    // the server drops every connection and, for a while, the feed cannot be reached
    await page.route('**/v1/feed', (route) => route.abort('connectionrefused'))
    server.app.server.closeAllConnections()
    await waitFor('the connection to be reported lost', async () =>
      (await text('connection')).startsWith('Disconnected'),
    )
    assert.equal(await page.getByTestId('stale').isVisible(), true)
    await page.unroute('**/v1/feed')
    await shows('connection', 'Live')
    assert.equal(await page.getByTestId('stale').isVisible(), false)
  })
})
