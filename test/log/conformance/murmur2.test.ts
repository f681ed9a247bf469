// The suite's reference partitioner must match Kafka's own test vectors (UtilsTest.testMurmur2), or the keyed
// placement checks would prove nothing.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { kafkaPartitionForKey, murmur2 } from './murmur2.ts'

it('murmur2 matches the vectors of Kafka UtilsTest', () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [input, expected] of cases) assert.equal(murmur2(Buffer.from(input)), expected, input)
})

it('partition for key is in range and uses the positive hash', () => {
  for (let i = 0; i < 1000; i++) {
    const p = kafkaPartitionForKey(Buffer.from(`key-${i}`), 7)
    assert.ok(Number.isInteger(p) && p >= 0 && p < 7)
  }
  assert.equal(kafkaPartitionForKey(Buffer.from('foobar'), 4), (-790332482 & 0x7fffffff) % 4)
})
