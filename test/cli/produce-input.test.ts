// Unit tests of produce's line splitting and checking: exact bytes, line numbers, and a reason for every reject.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseLine, splitLines } from '../../src/cli/produce-input.ts'

async function* stream(chunks: (string | Buffer)[]) {
  yield* chunks
}

async function lines(chunks: (string | Buffer)[]) {
  const out: { lineNumber: number; text: string }[] = []
  for await (const batch of splitLines(stream(chunks))) {
    for (const l of batch) out.push({ lineNumber: l.lineNumber, text: l.bytes.toString() })
  }
  return out
}

describe('splitLines', () => {
  test('numbers every line, blank ones included, across chunk boundaries', async () => {
    assert.deepEqual(await lines(['a\n\nb', 'c\r\n', 'd']), [
      { lineNumber: 1, text: 'a' },
      { lineNumber: 2, text: '' },
      { lineNumber: 3, text: 'bc' },
      { lineNumber: 4, text: 'd' },
    ])
  })

  test('yields the complete lines of each chunk as soon as the chunk arrives', async () => {
    const batches: string[][] = []
    for await (const batch of splitLines(stream(['a\nb', '\n', 'c'])))
      batches.push(batch.map((l) => l.bytes.toString()))
    assert.deepEqual(batches, [['a'], ['b'], ['c']])
  })

  test('a final newline does not make an extra line', async () => {
    assert.deepEqual(await lines(['x\n']), [{ lineNumber: 1, text: 'x' }])
  })

  test('keeps multi-byte characters split between chunks intact', async () => {
    const bytes = Buffer.from('{"v":"é"}\n')
    const out = await lines([bytes.subarray(0, 7), bytes.subarray(7)])
    assert.deepEqual(out, [{ lineNumber: 1, text: '{"v":"é"}' }])
  })
})

describe('parseLine', () => {
  test('ndjson: the value is the line bytes, unchanged', () => {
    const line = Buffer.from('{ "id": 12345678901234567890, "n": 1.50 }')
    const r = parseLine(line, 'ndjson')
    assert.equal(r.kind, 'record')
    assert.ok(r.kind === 'record' && r.value.equals(line) && r.key === null)
  })

  test('ndjson: --key-field takes the key from a top-level field, numbers as written', () => {
    const key = (line: string) => {
      const r = parseLine(Buffer.from(line), 'ndjson', 'id')
      return r.kind === 'record' ? r.key?.toString() : r
    }
    assert.equal(key('{"id":"u1"}'), 'u1')
    assert.equal(key('{"id":12345678901234567890}'), '12345678901234567890')
    assert.equal(key('{"id":true}'), 'true')
    assert.equal(key('{"id":{"a":1}}'), '{"a":1}')
  })

  test('ndjson: rejects with a reason', () => {
    const reason = (line: string | Buffer, keyField?: string) => {
      const r = parseLine(Buffer.from(line), 'ndjson', keyField)
      return r.kind === 'rejected' ? r.reason : r.kind
    }
    assert.match(reason('{"a":'), /^not valid JSON/)
    assert.match(reason('[1,2]'), /expected a JSON object, got an array/)
    assert.match(reason('42'), /expected a JSON object, got a number/)
    assert.match(reason('null'), /got null/)
    assert.match(reason(Buffer.from([0x7b, 0xff, 0x7d])), /not valid UTF-8/)
    assert.match(reason('{"a":1}', 'id'), /key field "id" is missing/)
    assert.match(reason('{"id":null}', 'id'), /key field "id" is null/)
  })

  test('blank lines are counted as blank in both formats, not written', () => {
    assert.equal(parseLine(Buffer.from('  '), 'ndjson').kind, 'blank')
    assert.equal(parseLine(Buffer.from(''), 'lines').kind, 'blank')
  })

  test('lines: any bytes are a value', () => {
    const r = parseLine(Buffer.from([0xff, 0x00, 0x41]), 'lines')
    assert.ok(r.kind === 'record' && r.value.equals(Buffer.from([0xff, 0x00, 0x41])))
  })

  test('a UTF-8 byte-order mark is not part of the value', () => {
    const r = parseLine(Buffer.from('\uFEFF{"a":1}'), 'ndjson')
    assert.ok(r.kind === 'record' && r.value.toString() === '{"a":1}')
  })
})
