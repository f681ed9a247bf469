// The fraud dashboard in a real browser (Debian's chromium through playwright-core) against the whole stack in this
// process: the embedded log, the schema registry, the fraud pipeline and the server. Generated transactions with
// injected fraud go in; the page must show every alert of the ground truth, the counts per rule and the dead letters.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { feedTransactions, fraudPipeline, fraudView, generateTransactions } from '../../apps/fraud/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { type RunningPipeline, runPipeline } from '../../src/runtime/runner.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

const CHROMIUM = '/usr/bin/chromium'
const MISSING = `${CHROMIUM} is missing: install Debian's chromium with \`apt-get install -y chromium\` (as root)`
const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url))
// Outside CI a machine without chromium skips this file; in CI it fails, saying how to install it.
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true' ? MISSING : false

async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (
    !(await Promise.resolve()
      .then(probe)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('fraud dashboard, end to end', { skip }, () => {
  let dir: string
  let log: Log
  let registry: SchemaRegistry
  let run: RunningPipeline
  let server: SluiceServer
  let browser: Browser
  let page: Page

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(MISSING)
    dir = mkdtempSync(join(tmpdir(), 'sluice-fraud-dashboard-'))
    log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    registry = await openSchemaRegistry({ log })
    await log.admin().createTopic('transactions', { partitions: 4 })
    await log.admin().createTopic('fraud_alerts', { partitions: 1 })
  })
  after(async () => {
    await browser?.close()
    await server?.close()
    await run?.stop()
    await registry?.close()
    await log?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('shows every alert of the ground truth, the counts per rule and the dead letters', async () => {
    const view = fraudView()
    run = await runPipeline(fraudPipeline({ view: view.factory }), {
      log,
      registry,
      stateDir: join(dir, 'state'),
      commitIntervalMs: 50,
    })
    server = createServer({ log, dashboardDir: DASHBOARD_DIR, feeds: [view], pipelines: [run] })
    const { url } = await server.listen({ port: 0 })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(`${url}/dashboard/fraud.html`)
    // biome-ignore lint/performance/useDomNodeTextContent: what a person sees is the rendered text
    const text = (testid: string) => page.getByTestId(testid).innerText()
    await waitFor('the feed to be live', async () => (await text('connection')) === 'Live')
    assert.equal(await text('alerts-empty'), 'No alert yet: fraud is injected a few minutes in.')

    const generated = generateTransactions({ seed: 11, cleanAccounts: 200, fraudPerRule: 5 })
    const fed = await feedTransactions(log, registry, generated)
    const total = fed.transactions + fed.malformed + 4
    await waitFor('the pipeline to commit its input', () => {
      const st = run.status()
      return (
        st.partitions.filter((p) => p.topic === 'transactions').reduce((n, p) => n + (p.position ?? 0), 0) >=
        total
      )
    })
    await waitFor(
      'every alert on the page',
      async () => (await text('alerts-total')) === String(generated.alerts.length),
    ).catch(async (err) => {
      throw new Error(
        `${err.message}: the view has ${view.snapshot().total}, the page ${await text('alerts-total')}, ${errors}`,
      )
    })
    for (const rule of ['big-three', 'card-testing', 'impossible-travel', 'profile-outlier']) {
      assert.equal(await text(`rule-${rule}`), '5', rule)
    }
    const shown = await page
      .getByTestId('alerts')
      .locator('tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-alert')))
    assert.deepEqual(shown.sort(), generated.alerts.map((a) => a.alertId).sort())
    await waitFor('the dead letters', async () => (await text('dead-letters')) === String(fed.malformed))
    assert.deepEqual(errors, [], 'the page runs without errors')
    await page.screenshot({ path: join(tmpdir(), 'sluice-fraud-dashboard.png'), fullPage: true })
  })
})
