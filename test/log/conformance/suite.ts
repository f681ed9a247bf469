// The Log conformance suite: one set of tests of Kafka's observable semantics that every Log implementation (the
// embedded log, the Kafka adapter) must pass. It uses the contract only; each test names its own topics, groups
// and transactional ids uniquely and never assumes an empty log.
import { after, describe } from 'node:test'
import { fetchTests } from './fetch.ts'
import { groupTests } from './groups.ts'
import { groupPropertyTests } from './groups-property.ts'
import type { LogFactory } from './harness.ts'
import { idempotenceTests } from './idempotence.ts'
import { listOffsetsTests } from './list-offsets.ts'
import { produceTests } from './produce.ts'
import { topicsAdminTests } from './topics-admin.ts'
import { transactionTests } from './transactions.ts'
import { transactionFencingTests } from './transactions-fencing.ts'
import { transactionPropertyTests } from './transactions-property.ts'

export type { LogFactory } from './harness.ts'

/** Registers the conformance tests (node:test) for one Log implementation. */
export function logConformanceSuite(name: string, factory: LogFactory): void {
  describe(`Log conformance: ${name}`, () => {
    after(() => factory.cleanup())
    topicsAdminTests(factory)
    produceTests(factory)
    fetchTests(factory)
    listOffsetsTests(factory)
    idempotenceTests(factory)
    transactionTests(factory)
    transactionFencingTests(factory)
    transactionPropertyTests(factory)
    groupTests(factory)
    groupPropertyTests(factory)
  })
}
