// `consume --isolation`: read_committed (the default) hides aborted transactions, read_uncommitted shows them,
// and --exit-at-end gets past the transaction markers at the end of a partition.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { Sandbox } from './helpers.ts'

describe('sluice consume --isolation', () => {
  let sb: Sandbox
  before(async () => {
    sb = await Sandbox.create()
    // Written through the API: the CLI's producer is not transactional. Closed before any CLI process runs,
    // since one process at a time owns a data directory.
    const log = await openEmbeddedLog({ dataDir: sb.dataDir })
    try {
      await log.admin().createTopic('ledger', { partitions: 1 })
      const producer = log.producer({ transactionalId: 'cli-test' })
      await producer.initTransactions()
      for (const [value, commit] of [
        ['{"n":1}', true],
        ['{"n":2}', false],
        ['{"n":3}', true],
      ] as const) {
        producer.beginTransaction()
        await producer.send([{ topic: 'ledger', value: Buffer.from(value) }])
        await (commit ? producer.commitTransaction() : producer.abortTransaction())
      }
      await producer.close()
    } finally {
      await log.close()
    }
  })
  after(() => sb.cleanup())

  test('read_committed is the default and skips the aborted record', async () => {
    const result = await sb.ok(['consume', 'ledger', '--from-beginning', '--exit-at-end'])
    assert.equal(result.stdout, '{"n":1}\n{"n":3}\n')
  })

  test('read_uncommitted shows the aborted record too', async () => {
    const result = await sb.ok(['consume', 'ledger', '-b', '-e', '--isolation', 'read_uncommitted'])
    assert.equal(result.stdout, '{"n":1}\n{"n":2}\n{"n":3}\n')
  })

  test('a group reading to the end has no lag left, markers included', async () => {
    await sb.ok(['consume', 'ledger', '-b', '-e', '--group', 'auditors'])
    const group = JSON.parse((await sb.ok(['groups', 'describe', 'auditors', '--json'])).stdout)
    assert.equal(group.totalLag, 0)
  })

  test('an unknown isolation level is a usage error', async () => {
    const result = await sb.run(['consume', 'ledger', '--isolation', 'dirty'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^error SLUICE_ERR_INVALID_ARGUMENT: .*--isolation.*dirty/)
  })
})
