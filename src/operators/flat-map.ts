// flatMap: zero or more values for each record, all with its key and timestamp.
import type { Rec } from '../graph/logical.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function flatMapOperator(
  fn: (value: unknown, key: unknown, timestamp: number) => Iterable<unknown>,
  ctx: OperatorContext,
): Operator {
  return {
    process(records) {
      const out: Rec[] = []
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        const before = out.length
        try {
          for (const value of fn(r.value, r.key, r.timestamp))
            out.push({ key: r.key, value, timestamp: r.timestamp })
        } catch (err) {
          out.length = before // what it gave before it threw goes with the record
          ctx.fail(operatorError(ctx.name, err, r), r)
        }
      }
      if (out.length > 0) ctx.emit(out)
    },
  }
}
