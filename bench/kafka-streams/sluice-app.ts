// The Sluice side of bench/kafka-streams.ts as a process of its own, as the Kafka Streams side is a JVM: the windowed
// count (pipeline.ts) on Kafka with runPipeline's defaults (exactly-once, 100 ms commits, memory state).
// Prints `running` once the pipeline runs; SIGTERM stops it after a final commit; so does the end of stdin.
// Usage: node bench/kafka-streams/sluice-app.ts --brokers H:P --application-id A --input T --output T --window-ms N
//   --grace-ms N --state-dir D
import { writeSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { openKafkaLog } from '../../src/kafka/index.ts'
import { runPipeline } from '../../src/runtime/runner.ts'
import { stopOnSignals } from '../../src/runtime/shutdown.ts'
import { windowedCount } from './pipeline.ts'

const { values } = parseArgs({
  options: {
    brokers: { type: 'string' },
    'application-id': { type: 'string' },
    input: { type: 'string' },
    output: { type: 'string' },
    'window-ms': { type: 'string' },
    'grace-ms': { type: 'string' },
    'state-dir': { type: 'string' },
  },
})

process.stdin.on('close', () => process.exit(0)) // never outlive the benchmark
process.stdin.resume()
try {
  const log = await openKafkaLog({ brokers: String(values.brokers).split(','), clientId: 'bench-sluice' })
  const applicationId = String(values['application-id'])
  const p = windowedCount(applicationId, String(values.input), String(values.output), {
    windowMs: Number(values['window-ms']),
    graceMs: Number(values['grace-ms']),
  })
  const run = await runPipeline(p, { log, applicationId, stateDir: values['state-dir'] })
  stopOnSignals(run)
  writeSync(1, 'running\n')
  await run.done
  await log.close()
  process.exit(0)
} catch (err) {
  writeSync(2, `${(err as Error)?.stack ?? err}\n`)
  process.exit(1)
}
