// Steps that only forward: merge (several inputs, one output), a side output's reader, and a repartition fused
// into one task (single-partition in-memory pipelines need no topic to move records between tasks).
import type { Operator, OperatorContext } from './operator.ts'

export function passThroughOperator(ctx: OperatorContext): Operator {
  return {
    process(records) {
      ctx.emit(records)
    },
  }
}
