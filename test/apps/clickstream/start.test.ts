// `npm start` (apps/clickstream/main.ts): starts the server, the pipeline and the simulator on an empty data
// directory with no external service, serves the dashboard and results, and stops cleanly on Ctrl-C.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../../apps/clickstream/main.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sluice-start-'))
const children: ReturnType<typeof spawn>[] = []
after(() => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('npm start', () => {
  it('runs the clickstream analyzer end to end and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [MAIN, '--port', '0', '--rate', '300', '--data-dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: '' },
    })
    children.push(child)
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s
    })
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const deadline = Date.now() + 30_000
    let url: string | undefined
    while (url === undefined) {
      url = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1]
      if (Date.now() > deadline) throw new Error(`no dashboard URL printed: ${out}${err}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const page = await fetch(`${url}/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /text\/html/)
    // the simulator's clicks flow through the pipeline: records are processed and the feed has results
    for (;;) {
      const { pipelines } = (await (await fetch(`${url}/v1/pipelines`)).json()) as {
        pipelines: { recordsIn: number; state: string }[]
      }
      if (pipelines[0]?.recordsIn > 0) {
        assert.equal(pipelines[0].state, 'running')
        break
      }
      if (Date.now() > deadline) throw new Error(`no records processed: ${out}${err}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.match(await (await fetch(`${url}/metrics`)).text(), /sluice_records_in_total/)
    child.kill('SIGINT')
    assert.equal(await exited, 0, `${out}${err}`)
    assert.match(out, /stopped/)
  })
})
