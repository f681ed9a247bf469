// `sluice run`: runs a pipeline module on the embedded log; a bounded one to its end, an unbounded one until
// SIGINT, which finishes the batch, commits and exits 0.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Sandbox } from './helpers.ts'

const SRC = fileURLToPath(new URL('../../src/index.ts', import.meta.url))

let sb: Sandbox
beforeEach(async () => {
  sb = await Sandbox.create()
})
afterEach(async () => {
  await sb.cleanup()
})

function outLines(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.ndjson'))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').trim().split('\n'))
}

describe('sluice run', () => {
  it('runs a bounded pipeline module to its end', async () => {
    const module = join(sb.dir, 'app.ts')
    writeFileSync(
      module,
      `import { pipeline, fileSink } from ${JSON.stringify(SRC)}
const p = pipeline('bounded')
p.fromRecords('n', Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: i, timestamp: i })))
  .map((v) => v * 3)
  .sink(fileSink({ dir: ${JSON.stringify(join(sb.dir, 'out'))} }), { name: 'triples' })
export default p
`,
    )
    const result = await sb.ok(['run', module])
    assert.match(result.stderr, /stopped bounded/)
    const values = outLines(join(sb.dir, 'out')).map((l) => JSON.parse(l).value)
    assert.deepEqual(
      values,
      Array.from({ length: 20 }, (_, i) => i * 3),
    )
  })

  it('stops an unbounded pipeline on SIGINT after committing what it processed', async () => {
    await sb.ok(['topics', 'create', 'in', '--partitions', '1'])
    await sb.ok(['produce', 'in', '--format', 'lines'], { input: '1\n2\n3\n' })
    const module = join(sb.dir, 'app.ts')
    writeFileSync(
      module,
      `import { pipeline, fileSink } from ${JSON.stringify(SRC)}
export default () => {
  const p = pipeline('unbounded')
  p.source('in', { topic: 'in' }).map((v) => v * 10).sink(fileSink({ dir: ${JSON.stringify(join(sb.dir, 'out'))} }), { name: 'tens' })
  return p
}
`,
    )
    const proc = sb.start(['run', module, '--commit-interval', '10'])
    await proc.waitFor((p) => p.stderr.includes('running unbounded'), 'the pipeline to start')
    const deadline = Date.now() + 15_000
    for (;;) {
      let n = 0
      try {
        n = outLines(join(sb.dir, 'out')).length
      } catch {}
      if (n === 3) break
      if (Date.now() > deadline) throw new Error('the pipeline did not write its results')
      await new Promise((r) => setTimeout(r, 20))
    }
    proc.child.kill('SIGINT')
    const result = await proc.exited
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /stopping: finishing the batch and committing/)
    assert.match(result.stderr, /stopped unbounded/)
    // the group's offset was committed: nothing is left to reprocess
    const groups = await sb.ok(['groups', 'describe', 'unbounded', '--json'])
    assert.match(groups.stdout, /"lag":0/)
    assert.deepEqual(
      outLines(join(sb.dir, 'out'))
        .map((l) => JSON.parse(l).value)
        .sort(),
      [10, 20, 30],
    )
  })
})
