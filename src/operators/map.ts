// map: a new value for each record; key and timestamp stay.
import type { Rec } from '../graph/logical.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function mapOperator(
  fn: (value: unknown, key: unknown, timestamp: number) => unknown,
  ctx: OperatorContext,
): Operator {
  return {
    process(records) {
      const out = new Array<Rec>(records.length)
      let n = 0
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        let value: unknown
        try {
          value = fn(r.value, r.key, r.timestamp)
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
          continue
        }
        out[n++] = { key: r.key, value, timestamp: r.timestamp }
      }
      out.length = n
      ctx.emit(out)
    },
  }
}
