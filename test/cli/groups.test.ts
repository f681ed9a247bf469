// End to end: `consume --group` commits what it printed, and `sluice groups` reports offsets and lag.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { jsonLines, Sandbox } from './helpers.ts'

const TOTAL = 20
const input = Array.from({ length: TOTAL }, (_, i) => JSON.stringify({ id: `k${i}`, i })).join('\n')

interface PartitionRow {
  topic: string
  partition: number
  committed: number | null
  highWatermark: number | null
  lag: number | null
}

describe('sluice groups', () => {
  let sb: Sandbox
  before(async () => {
    sb = await Sandbox.create()
    await sb.ok(['topics', 'create', 'events', '--partitions', '2'])
    await sb.ok(['produce', 'events', '--key-field', 'id'], { input })
  })
  after(() => sb.cleanup())

  async function describeGroup(group: string) {
    return JSON.parse((await sb.ok(['groups', 'describe', group, '--json'])).stdout) as {
      groupId: string
      state: string
      members: unknown[]
      partitions: PartitionRow[]
      totalLag: number
    }
  }

  test('consume --group commits the printed records; describe shows lag = high watermark − committed', async () => {
    const first = jsonLines(
      (await sb.ok(['consume', 'events', '--group', 'billing', '-b', '--max', '7', '--json'])).stdout,
    )
    assert.equal(first.length, 7)

    assert.deepEqual(JSON.parse((await sb.ok(['groups', 'list', '--json'])).stdout), [
      { groupId: 'billing', state: 'Empty', members: 0 },
    ])
    assert.equal((await sb.ok(['groups', 'list'])).stdout, 'billing\n')

    const group = await describeGroup('billing')
    assert.equal(group.groupId, 'billing')
    assert.deepEqual(group.members, [])
    assert.deepEqual(
      group.partitions.map((p) => p.partition),
      [0, 1],
    )
    let committed = 0
    for (const p of group.partitions) {
      assert.equal(p.topic, 'events')
      assert.equal(p.lag, (p.highWatermark as number) - (p.committed as number))
      // Committed = next offset to read = one past the last record printed from that partition.
      const printed = first.filter((r) => r.partition === p.partition)
      assert.equal(p.committed ?? 0, printed.length === 0 ? 0 : (printed.at(-1)?.offset as number) + 1)
      committed += p.committed ?? 0
    }
    assert.equal(committed, 7)
    assert.equal(group.totalLag, TOTAL - 7)

    const text = (await sb.ok(['groups', 'describe', 'billing'])).stdout
    assert.match(text, /^Group: billing\nState: Empty/)
    assert.match(text, /TOPIC\s+PARTITION\s+COMMITTED\s+HIGH-WATERMARK\s+LAG\s+MEMBER/)
    assert.match(text, new RegExp(`Total lag: ${TOTAL - 7}\\n$`))

    // The next run resumes after the commit: together the two runs saw every record exactly once.
    const rest = jsonLines(
      (await sb.ok(['consume', 'events', '--group', 'billing', '--exit-at-end', '--json'])).stdout,
    )
    assert.equal(rest.length, TOTAL - 7)
    const seen = [...first, ...rest].map((r) => (r.value as { i: number }).i).sort((a, b) => a - b)
    assert.deepEqual(
      seen,
      Array.from({ length: TOTAL }, (_, i) => i),
    )
    assert.equal((await describeGroup('billing')).totalLag, 0)
  })

  test('a consumer without --group commits nothing', async () => {
    await sb.ok(['consume', 'events', '-b', '--max', '3'])
    assert.deepEqual(
      JSON.parse((await sb.ok(['groups', 'list', '--json'])).stdout).map(
        (g: { groupId: string }) => g.groupId,
      ),
      ['billing'],
    )
  })

  test('--group with --partition is a usage error', async () => {
    const result = await sb.run(['consume', 'events', '--group', 'g', '--partition', '0'])
    assert.equal(result.code, 2)
    assert.match(
      result.stderr,
      /^error SLUICE_ERR_INVALID_ARGUMENT: --partition cannot be combined with --group/,
    )
  })

  test('describing an unknown group fails with one line', async () => {
    const result = await sb.run(['groups', 'describe', 'nobody', '--json'])
    assert.equal(result.code, 1)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /^error SLUICE_ERR_GROUP_NOT_FOUND: .*nobody.*\n$/)
  })
})
