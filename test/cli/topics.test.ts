// End to end: `sluice topics` against the embedded log in a temporary data directory.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Sandbox } from './helpers.ts'

describe('sluice topics', () => {
  let sb: Sandbox
  before(async () => {
    sb = await Sandbox.create()
  })
  after(() => sb.cleanup())

  test('create, list, describe, delete', async () => {
    const created = await sb.ok([
      'topics',
      'create',
      'orders',
      '--partitions',
      '3',
      '--config',
      'retention.ms=60000',
    ])
    assert.match(created.stdout, /created topic "orders" with 3 partition/)
    await sb.ok([
      'topics',
      'create',
      'clicks',
      '-p',
      '1',
      '-c',
      'cleanup.policy=compact',
      '-c',
      'segment.bytes=65536',
    ])

    assert.equal((await sb.ok(['topics', 'list'])).stdout, 'clicks\norders\n')
    assert.deepEqual(JSON.parse((await sb.ok(['topics', 'list', '--json'])).stdout), ['clicks', 'orders'])

    const described = JSON.parse((await sb.ok(['topics', 'describe', 'orders', '--json'])).stdout)
    assert.equal(described.name, 'orders')
    assert.deepEqual(
      described.partitions.map((p: Record<string, number>) => [
        p.partition,
        p.logStartOffset,
        p.highWatermark,
      ]),
      [
        [0, 0, 0],
        [1, 0, 0],
        [2, 0, 0],
      ],
    )
    for (const p of described.partitions) {
      assert.equal(p.lastStableOffset, 0)
      assert.equal(typeof p.sizeBytes, 'number')
    }
    assert.equal(described.config['retention.ms'], 60000)
    const compacted = JSON.parse((await sb.ok(['topics', 'describe', 'clicks', '--json'])).stdout)
    assert.equal(compacted.config['cleanup.policy'], 'compact')
    assert.equal(compacted.config['segment.bytes'], 65536)

    const text = (await sb.ok(['topics', 'describe', 'orders'])).stdout
    assert.match(text, /^Topic: orders\nPartitions: 3\n/)
    assert.match(text, /PARTITION\s+LOG-START\s+HIGH-WATERMARK\s+LAST-STABLE\s+OFFSETS\s+SIZE/)
    assert.match(text, /^ {2}retention\.ms=60000$/m)

    assert.match((await sb.ok(['topics', 'delete', 'orders'])).stdout, /deleted topic "orders"/)
    assert.equal((await sb.ok(['topics', 'list'])).stdout, 'clicks\n')
  })

  test('create refuses an existing topic unless --if-not-exists', async () => {
    await sb.ok(['topics', 'create', 'dup', '--partitions', '1'])
    const again = await sb.run(['topics', 'create', 'dup', '--partitions', '1'])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /^error SLUICE_ERR_TOPIC_EXISTS: .*dup.*\n$/)
    const json = await sb.ok(['topics', 'create', 'dup', '--partitions', '1', '--if-not-exists', '--json'])
    assert.equal(JSON.parse(json.stdout).created, false)
  })

  test('describe and delete of a missing topic fail with one line; --if-exists succeeds', async () => {
    for (const args of [
      ['topics', 'describe', 'nope'],
      ['topics', 'delete', 'nope'],
    ]) {
      const result = await sb.run(args)
      assert.equal(result.code, 1)
      assert.match(result.stderr, /^error SLUICE_ERR_TOPIC_NOT_FOUND: .*\n$/)
    }
    const ok = await sb.ok(['topics', 'delete', 'nope', '--if-exists', '--json'])
    assert.deepEqual(JSON.parse(ok.stdout), { deleted: false, topic: 'nope' })
  })

  test('a bad --config is refused before anything is created', async () => {
    const other = join(sb.dir, 'never-created')
    const result = await sb.run([
      'topics',
      'create',
      't',
      '-p',
      '1',
      '-c',
      'retention.ms=soon',
      '--data-dir',
      other,
    ])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^error SLUICE_ERR_INVALID_CONFIG: .*retention\.ms.*\n$/)
    assert.equal(existsSync(other), false)
  })

  test('--data-dir selects the log; a missing one is an error, not a new empty log', async () => {
    const other = join(sb.dir, 'other')
    await sb.ok(['topics', 'create', 'elsewhere', '-p', '2', '--data-dir', other])
    assert.equal((await sb.ok(['topics', 'list', '--data-dir', other])).stdout, 'elsewhere\n')
    assert.doesNotMatch((await sb.ok(['topics', 'list'])).stdout, /elsewhere/)

    const missing = await sb.run(['topics', 'list', '--data-dir', join(sb.dir, 'typo')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^error SLUICE_ERR_INVALID_ARGUMENT: no sluice data directory at .*typo/)
    assert.equal(existsSync(join(sb.dir, 'typo')), false)
  })

  test('the default data directory is ./.sluice', async () => {
    await sb.ok(['topics', 'create', 'local', '-p', '1'], { env: { SLUICE_DATA_DIR: undefined } })
    assert.ok(existsSync(join(sb.dir, '.sluice')))
  })
})
