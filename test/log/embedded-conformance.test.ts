// Runs the Log conformance suite against the embedded log, each test on its own data directory under one temp dir.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Log } from '../../src/log/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { logConformanceSuite } from './conformance/suite.ts'

const root = await mkdtemp(join(tmpdir(), 'sluice-embedded-conformance-'))
const dirs = new WeakMap<Log, string>()
let opened = 0

// A short maintenance interval so that transaction timeouts are enforced within the suite's waits.
const open = async (dataDir: string): Promise<Log> => {
  const log = await openEmbeddedLog({ dataDir, maintenanceIntervalMs: 50 })
  dirs.set(log, dataDir)
  return log
}

logConformanceSuite('embedded', {
  open: () => open(join(root, `log-${++opened}`)),
  reopen: (log) => {
    const dataDir = dirs.get(log)
    if (dataDir === undefined) throw new Error('reopen of a log this factory did not open')
    return open(dataDir)
  },
  cleanup: () => rm(root, { recursive: true, force: true }),
})
