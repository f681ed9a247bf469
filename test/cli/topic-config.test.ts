// Unit tests of --config parsing: known settings with typed values, errors for the rest.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseTopicConfig } from '../../src/cli/topic-config.ts'
import { isSluiceError } from '../../src/errors/index.ts'

test('parses the given settings into typed values, and only those', () => {
  assert.deepEqual(
    parseTopicConfig('t', ['cleanup.policy=compact', 'retention.ms=-1', 'segment.bytes=1048576']),
    {
      'cleanup.policy': 'compact',
      'retention.ms': -1,
      'segment.bytes': 1048576,
    },
  )
})

test('rejects unknown names, bad values and a missing "="', () => {
  for (const [entry, pattern] of [
    ['retention.msx=1', /unknown setting "retention.msx"/],
    ['cleanup.policy=forever', /cleanup.policy/],
    ['segment.bytes=0', /segment.bytes/],
    ['retention.ms=1h', /retention.ms/],
    ['retention.ms', /expected key=value/],
  ] as const) {
    assert.throws(
      () => parseTopicConfig('t', [entry]),
      (err) => isSluiceError(err, 'SLUICE_ERR_INVALID_CONFIG') && pattern.test(err.message),
      entry,
    )
  }
})
