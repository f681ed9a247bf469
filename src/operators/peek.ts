// peek: looks at each record and passes the batch on unchanged.
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function peekOperator(
  fn: (value: unknown, key: unknown, timestamp: number) => void,
  ctx: OperatorContext,
): Operator {
  return {
    process(records) {
      for (const r of records) {
        try {
          fn(r.value, r.key, r.timestamp)
        } catch (err) {
          throw operatorError(ctx.name, err, r)
        }
      }
      ctx.emit(records)
    },
  }
}
