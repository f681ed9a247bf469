// filter: keeps the records for which the predicate holds.
import type { Rec } from '../graph/logical.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function filterOperator(
  fn: (value: unknown, key: unknown) => boolean,
  ctx: OperatorContext,
): Operator {
  return {
    process(records) {
      const out: Rec[] = []
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        let keep: boolean
        try {
          keep = fn(r.value, r.key)
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
          continue
        }
        if (keep) out.push(r)
      }
      if (out.length > 0) ctx.emit(out)
    },
  }
}
