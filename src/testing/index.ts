// sluice/testing: drive a pipeline deterministically in tests, with virtual time.

export type { DeadLetter } from '../runtime/dead-letters.ts'
export { TestDriver, type TestDriverOptions, type TestInput, type TestOutput } from './driver.ts'
