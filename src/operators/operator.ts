// The runtime's view of a step: a synchronous function over batches of records, told when the watermark and the
// clock move. Operators emit through their context; only sources, sinks and commits ever await.
import { SluiceError } from '../errors/index.ts'
import type { Rec } from '../graph/logical.ts'
import type { Store } from '../state/store.ts'

export interface OperatorContext {
  readonly name: string
  readonly taskId: string
  readonly partition: number
  /** Sends records to every step reading this one's main output. */
  emit(records: Rec[]): void
  /** Sends records to a named side output ('late', or a branch index). */
  emitTo(port: string, records: Rec[]): void
  /** This step's own state store (stateful steps only). */
  store(): Store
  /** Another step's store in the same task (a table joined against). */
  storeOf(step: string): Store
  /** The watermark as this step has seen it. */
  watermark(): number
  /** Processing time. */
  now(): number
  /** Adds to a named counter of this step (late records, matched rows...). */
  count(metric: string, n: number): void
  /**
   * A user function failed on `record`. Throws `err` when the pipeline's processing policy is 'fail'; otherwise the
   * record is counted (and dead-lettered) and the step goes on without it.
   */
  fail(err: unknown, record: Rec): void
}

export interface Operator {
  /** `input` is the index of the input edge the records came by (joins have two). */
  process(records: Rec[], input: number): void
  /** The watermark reached this step; fire what is due before it moves on downstream. */
  onWatermark?(watermark: number): void
  onProcessingTime?(now: number): void
  /** State was restored from the changelog: rebuild in-memory indexes such as timers. */
  onRestore?(): void
}

/** Wraps a failure of a user function with the step and the record it failed on. */
export function operatorError(step: string, err: unknown, record: Rec): SluiceError {
  let preview: string
  try {
    preview = JSON.stringify(record.value)?.slice(0, 200) ?? String(record.value)
  } catch {
    preview = String(record.value)
  }
  return new SluiceError(
    'SLUICE_ERR_OPERATOR',
    `step ${step} failed on a record (key ${JSON.stringify(record.key)}, timestamp ${record.timestamp}, value ${preview}): ${(err as Error)?.message ?? err}`,
    { cause: err, details: { step, timestamp: record.timestamp } },
  )
}
