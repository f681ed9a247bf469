// End to end: `sluice produce` from piped stdin, then `sluice consume` reading it back, on the embedded log.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { jsonLines, Sandbox, waitUntilOpened } from './helpers.ts'

const users = Array.from({ length: 30 }, (_, i) => ({ id: `user-${i % 7}`, seq: i, amount: i * 1.5 }))
const ndjson = `${users.map((u) => JSON.stringify(u)).join('\n')}\n`

describe('sluice produce and consume', () => {
  let sb: Sandbox
  before(async () => {
    sb = await Sandbox.create()
    await sb.ok(['topics', 'create', 'payments', '--partitions', '3'])
  })
  after(() => sb.cleanup())

  test('NDJSON with --key-field round-trips through consume --from-beginning --exit-at-end --json', async () => {
    const produced = await sb.ok(['produce', 'payments', '--key-field', 'id', '--json'], { input: ndjson })
    const summary = JSON.parse(produced.stdout)
    assert.equal(summary.produced, users.length)
    assert.equal(summary.rejected, 0)
    assert.equal(
      summary.partitions.reduce((n: number, p: { records: number }) => n + p.records, 0),
      users.length,
    )

    const consumed = await sb.ok(['consume', 'payments', '--from-beginning', '--exit-at-end', '--json'])
    const records = jsonLines(consumed.stdout)
    assert.equal(records.length, users.length)
    // Order holds per partition, and one key always lands in one partition.
    const partitionOfKey = new Map<unknown, unknown>()
    const lastOffset = new Map<unknown, number>()
    for (const r of records) {
      assert.equal(r.topic, 'payments')
      assert.equal(r.valueEncoding, 'json')
      assert.equal(r.key, (r.value as { id: string }).id)
      assert.deepEqual(r.headers, [])
      assert.equal(typeof r.timestamp, 'number')
      assert.equal(partitionOfKey.get(r.key) ?? r.partition, r.partition)
      partitionOfKey.set(r.key, r.partition)
      assert.ok((r.offset as number) > (lastOffset.get(r.partition) ?? -1))
      lastOffset.set(r.partition, r.offset as number)
    }
    const bySeq = records.map((r) => r.value as (typeof users)[number]).sort((a, b) => a.seq - b.seq)
    assert.deepEqual(bySeq, users)
  })

  test('--max stops after that many records', async () => {
    const result = await sb.ok(['consume', 'payments', '--from-beginning', '--max', '5', '--json'])
    assert.equal(jsonLines(result.stdout).length, 5)
  })

  test('text mode prints each value as it was produced', async () => {
    const result = await sb.ok(['consume', 'payments', '-b', '-e'])
    const lines = result.stdout.trimEnd().split('\n').sort()
    assert.deepEqual(lines, users.map((u) => JSON.stringify(u)).sort())
  })

  test('numbers keep their exact digits; non-JSON lines print as strings, binary as base64', async () => {
    await sb.ok(['topics', 'create', 'mixed', '-p', '1'])
    await sb.ok(['produce', 'mixed'], { input: '{"big":12345678901234567890,"price":1.50}\n' })
    await sb.ok(['produce', 'mixed', '--format', 'lines'], { input: 'hello world\n' })
    await sb.ok(['produce', 'mixed', '--format', 'lines'], { input: Buffer.from([0xff, 0xfe, 0x0a]) })
    const result = await sb.ok(['consume', 'mixed', '-b', '-e', '--json'])
    assert.match(result.stdout, /"value":\{"big":12345678901234567890,"price":1.50\},"valueEncoding":"json"/)
    const [, text, binary] = jsonLines(result.stdout)
    assert.deepEqual([text.value, text.valueEncoding], ['hello world', 'utf8'])
    assert.deepEqual([binary.value, binary.valueEncoding], ['//4=', 'base64'])
  })

  test('bad lines are reported with their line number; the good ones are written; exit code 3', async () => {
    await sb.ok(['topics', 'create', 'partial', '-p', '2'])
    const input = ['{"id":"a"}', '{"id":', '', '[1,2]', '{"id":"b"}', '{"other":1}', '{"id":"c"}'].join('\n')
    const result = await sb.run(['produce', 'partial', '--key-field', 'id', '--json'], { input })
    assert.equal(result.code, 3)
    const summary = JSON.parse(result.stdout)
    assert.deepEqual([summary.produced, summary.rejectedLines, summary.blankLines], [3, [2, 4, 6], 1])
    const errors = result.stderr.trimEnd().split('\n')
    assert.equal(errors.length, 3)
    assert.match(errors[0], /^error SLUICE_ERR_INPUT_PARSE: line 2: not valid JSON/)
    assert.match(errors[1], /^error SLUICE_ERR_INPUT_PARSE: line 4: expected a JSON object, got an array$/)
    assert.match(errors[2], /^error SLUICE_ERR_INPUT_PARSE: line 6: key field "id" is missing$/)

    const consumed = jsonLines((await sb.ok(['consume', 'partial', '-b', '-e', '--json'])).stdout)
    assert.deepEqual(consumed.map((r) => r.key).sort(), ['a', 'b', 'c'])
  })

  test("a record over the topic's max.message.bytes is rejected alone, by line number, in order", async () => {
    await sb.ok(['topics', 'create', 'small', '-p', '1', '--config', 'max.message.bytes=300'])
    const lines = [
      '{"i":1}',
      JSON.stringify({ big: 'x'.repeat(400) }),
      ...Array.from({ length: 20 }, (_, i) => `{"i":${i + 2}}`),
    ]
    const result = await sb.run(['produce', 'small', '--json'], { input: lines.join('\n') })
    assert.equal(result.code, 3)
    assert.deepEqual(JSON.parse(result.stdout).rejectedLines, [2])
    assert.match(result.stderr, /^error SLUICE_ERR_RECORD_TOO_LARGE: line 2: .*max\.message\.bytes.*\n$/)
    const consumed = (await sb.ok(['consume', 'small', '-b', '-e'])).stdout
    assert.equal(consumed, `${lines.filter((_, i) => i !== 1).join('\n')}\n`)
  })

  test('the text summary names the rejected lines', async () => {
    const result = await sb.run(['produce', 'partial'], { input: '{"ok":1}\nnope\n' })
    assert.equal(result.code, 3)
    assert.match(result.stdout, /^produced 1 record\(s\) to "partial" .*; rejected 1 line\(s\): 2\n$/)
  })

  test('--partition writes every record to one partition', async () => {
    await sb.ok(['topics', 'create', 'pinned', '-p', '3'])
    await sb.ok(['produce', 'pinned', '--partition', '2', '--key-field', 'id'], { input: ndjson })
    const records = jsonLines((await sb.ok(['consume', 'pinned', '-b', '-e', '--json'])).stdout)
    assert.equal(records.length, users.length)
    assert.ok(records.every((r) => r.partition === 2))
    const only2 = jsonLines(
      (await sb.ok(['consume', 'pinned', '-b', '-e', '--json', '--partition', '1'])).stdout,
    )
    assert.equal(only2.length, 0)

    const missing = await sb.run(['produce', 'pinned', '--partition', '3'], { input: '{}\n' })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^error SLUICE_ERR_PARTITION_NOT_FOUND: topic "pinned" has 3 partition/)
  })

  test('--key-field with --format lines is a usage error', async () => {
    const result = await sb.run(['produce', 'pinned', '--format', 'lines', '--key-field', 'id'], {
      input: 'x\n',
    })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^error SLUICE_ERR_INVALID_ARGUMENT: --key-field needs --format ndjson/)
  })

  test('consume --exit-at-end on an empty topic prints nothing and exits 0', async () => {
    await sb.ok(['topics', 'create', 'empty', '-p', '2'])
    const result = await sb.ok(['consume', 'empty', '--from-beginning', '--exit-at-end'])
    assert.equal(result.stdout, '')
  })

  test('without --max or --exit-at-end consume follows until SIGINT, then exits 0 and frees the data dir', async () => {
    const consumer = sb.start(['consume', 'payments', '--from-beginning', '--json'])
    await consumer.waitFor((p) => jsonLines(p.stdout).length === users.length, 'all records are printed')
    // Still running: it is waiting for new records, not done.
    assert.equal(consumer.child.exitCode, null)
    consumer.child.kill('SIGINT')
    const result = await consumer.exited
    assert.deepEqual([result.code, result.signal, result.stderr], [0, null, ''])
    await sb.ok(['topics', 'list'])
  })

  test('Ctrl-C stops produce: what was read is written and counted, exit code 130, data dir released', async () => {
    await sb.ok(['topics', 'create', 'stream', '-p', '1'])
    const producer = sb.start(['produce', 'stream', '--format', 'lines', '--json'], { keepStdinOpen: true })
    await waitUntilOpened(sb, producer)
    producer.child.stdin?.write('one\ntwo\n')
    producer.child.kill('SIGINT')
    const result = await producer.exited
    assert.deepEqual([result.code, result.stderr], [130, ''])
    const summary = JSON.parse(result.stdout)
    assert.equal(summary.interrupted, true)
    // Whether the lines arrived before the signal is up to the scheduler; what matters is that the summary and
    // the log agree, and that a line is never half-written.
    const consumed = (await sb.ok(['consume', 'stream', '-b', '-e'])).stdout
    assert.equal(consumed, ['one\n', 'one\ntwo\n'][summary.produced - 1] ?? '')
  })

  test('producing to a missing topic says how to create it', async () => {
    const result = await sb.run(['produce', 'nope'], { input: '{}\n' })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^error SLUICE_ERR_TOPIC_NOT_FOUND: .*sluice topics create nope --partitions/)
  })
})
