// How failures look: one line with a code on stderr and a non-zero exit; a stack only with SLUICE_DEBUG=1.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { formatError } from '../../src/cli/errors.ts'
import { SluiceError } from '../../src/errors/index.ts'
import { Sandbox, waitUntilOpened } from './helpers.ts'

describe('formatError', () => {
  test('a SluiceError shows its code; a multi-line message is folded into one line', () => {
    const err = new SluiceError('SLUICE_ERR_IO', 'disk full\n  while appending')
    assert.equal(formatError(err), 'error SLUICE_ERR_IO: disk full while appending')
  })

  test('a system error shows its code; a bug shows its class and how to get the stack', () => {
    const enoent = Object.assign(new Error('no such file'), { code: 'ENOENT' })
    assert.equal(formatError(enoent), 'error ENOENT: no such file')
    assert.match(
      formatError(new TypeError('x is undefined')),
      /^error TypeError: x is undefined \(.*SLUICE_DEBUG=1/,
    )
  })
})

describe('sluice errors', () => {
  let sb: Sandbox
  before(async () => {
    sb = await Sandbox.create()
    await sb.ok(['topics', 'create', 'busy', '-p', '1'])
  })
  after(() => sb.cleanup())

  test('a failure is one line, code then message, without a stack trace', async () => {
    const result = await sb.run(['consume', 'missing', '--exit-at-end'])
    assert.equal(result.code, 1)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /^error SLUICE_ERR_TOPIC_NOT_FOUND: topic "missing" does not exist .*\n$/)
  })

  test('SLUICE_DEBUG=1 adds the stack trace', async () => {
    const result = await sb.run(['consume', 'missing', '--exit-at-end'], { env: { SLUICE_DEBUG: '1' } })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^error SLUICE_ERR_TOPIC_NOT_FOUND: /)
    assert.match(result.stderr, /\n {4}at /)
  })

  test('a data directory held by a running consumer is reported as locked', async () => {
    const consumer = sb.start(['consume', 'busy'])
    await waitUntilOpened(sb, consumer)
    const result = await sb.run(['topics', 'describe', 'busy'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^error SLUICE_ERR_DATA_DIR_LOCKED: .*in use by process \d+.*\n$/)
    consumer.child.kill('SIGINT')
    assert.equal((await consumer.exited).code, 0)
    await sb.ok(['topics', 'list'])
  })

  test('a closed stdout (`| head`) ends consume quietly', async () => {
    await sb.ok(['produce', 'busy', '--format', 'lines'], { input: 'x\n'.repeat(100) })
    const consumer = sb.start(['consume', 'busy', '--from-beginning'])
    // Closed before the first record is written, so that the consumer's first write finds no reader.
    consumer.child.stdout?.destroy()
    const result = await consumer.exited
    assert.equal(result.code, 0)
    assert.equal(result.stderr, '')
  })
})
