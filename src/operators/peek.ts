// peek: looks at each record and passes the batch on unchanged.
import type { Rec } from '../graph/logical.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function peekOperator(
  fn: (value: unknown, key: unknown, timestamp: number) => void,
  ctx: OperatorContext,
): Operator {
  return {
    process(records) {
      let out: Rec[] | null = null // a copy only once a record failed
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        try {
          fn(r.value, r.key, r.timestamp)
          out?.push(r)
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
          out ??= records.slice(0, i)
        }
      }
      ctx.emit(out ?? records)
    },
  }
}
