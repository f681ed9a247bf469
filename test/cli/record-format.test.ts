// Unit tests of how consume prints values: JSON parsed (numbers exact), text as text, binary as base64.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeValue, recordToJson, recordToText } from '../../src/cli/record-format.ts'
import type { ConsumedRecord } from '../../src/log/contract.ts'

const base: ConsumedRecord = {
  topic: 't',
  partition: 1,
  offset: 7,
  timestamp: 1700000000000,
  key: null,
  value: null,
  headers: [],
}

describe('decodeValue', () => {
  test('JSON values are parsed, keeping big numbers exact when printed', () => {
    const { data, encoding } = decodeValue(Buffer.from('{"id":12345678901234567890,"p":1.50}'))
    assert.equal(encoding, 'json')
    assert.equal(JSON.stringify(data), '{"id":12345678901234567890,"p":1.50}')
  })

  test('text that is not JSON is a string, binary is base64, null is null', () => {
    assert.deepEqual(decodeValue(Buffer.from('hello world')), { data: 'hello world', encoding: 'utf8' })
    assert.deepEqual(decodeValue(Buffer.from([0xff, 0xfe])), { data: '//4=', encoding: 'base64' })
    assert.deepEqual(decodeValue(null), { data: null, encoding: null })
  })
})

describe('recordToJson', () => {
  test('prints every field, with encodings for key, value and headers', () => {
    const record = {
      ...base,
      key: Buffer.from('k1'),
      value: Buffer.from('{"a":1}'),
      headers: [
        ['trace', Buffer.from('abc')],
        ['bin', Buffer.from([0x80])],
      ] as const,
    }
    assert.deepEqual(JSON.parse(JSON.stringify(recordToJson(record))), {
      topic: 't',
      partition: 1,
      offset: 7,
      timestamp: 1700000000000,
      key: 'k1',
      keyEncoding: 'utf8',
      value: { a: 1 },
      valueEncoding: 'json',
      headers: [
        { key: 'trace', value: 'abc', valueEncoding: 'utf8' },
        { key: 'bin', value: 'gA==', valueEncoding: 'base64' },
      ],
    })
  })

  test('text mode prints the value only; tombstones as (null)', () => {
    assert.equal(recordToText({ ...base, value: Buffer.from('{"a":1}') }), '{"a":1}')
    assert.equal(recordToText(base), '(null)')
  })
})
