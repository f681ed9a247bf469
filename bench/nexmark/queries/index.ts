// The Nexmark queries by name, each a function from the event stream to its result stream.
import type { Stream } from '../../../src/index.ts'
import type { NexmarkEvent } from '../model.ts'
import { q0 } from './q0.ts'
import { q1 } from './q1.ts'
import { q2 } from './q2.ts'
import { q3 } from './q3.ts'
import { q4 } from './q4.ts'
import { q5 } from './q5.ts'
import { q7 } from './q7.ts'
import { q8 } from './q8.ts'

export const QUERIES: Record<string, (events: Stream<null, NexmarkEvent>) => Stream<unknown, unknown>> = {
  q0,
  q1,
  q2,
  q3,
  q4,
  q5,
  q7,
  q8,
}
