// `sluice demo fraud` as a user runs it: the server, registry, pipeline and live generator start, the dashboard URL
// is printed and serves the fraud page, transactions flow, and --duration stops it cleanly with a summary.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Sandbox } from '../../cli/helpers.ts'

describe('sluice demo fraud', () => {
  let sb: Sandbox
  before(async () => {
    sb = await Sandbox.create()
  })
  after(() => sb.cleanup())

  it('runs the pipeline with its dashboard on live transactions, and stops after --duration', async () => {
    const demo = sb.start(['demo', 'fraud', '--port', '0', '--rate', '200', '--duration', '6'])
    await demo.waitFor(
      (p) => /dashboard {2}http:\/\/127\.0\.0\.1:\d+\/dashboard\/fraud\.html/.test(p.stdout),
      'the URL',
    )
    const dashboard = demo.stdout.match(/dashboard {2}(\S+)/)![1]
    const page = await fetch(dashboard)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<title>Fraud detection · Sluice<\/title>/)
    const base = new URL(dashboard).origin
    const subjects = (await (await fetch(`${base}/subjects`)).json()) as string[]
    assert.ok(subjects.includes('transactions-value'), `subjects: ${subjects}`)
    const result = await demo.exited
    assert.equal(result.code, 0, result.stderr)
    const sent = Number(
      result.stdout
        .match(/sent (\d+)/g)
        ?.at(-1)
        ?.slice(5),
    )
    assert.ok(sent > 200, `transactions were sent: ${result.stdout}`)
    assert.match(result.stdout, /stopped: \d+ alerts, \d+ dead letters\n$/)
  })
})
