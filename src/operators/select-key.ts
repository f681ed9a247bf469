// selectKey: a new key for each record; value and timestamp stay.
import type { Rec } from '../graph/logical.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function selectKeyOperator(
  fn: (value: unknown, key: unknown) => unknown,
  ctx: OperatorContext,
): Operator {
  return {
    process(records) {
      const out = new Array<Rec>(records.length)
      let n = 0
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        let key: unknown
        try {
          key = fn(r.value, r.key)
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
          continue
        }
        out[n++] = { key, value: r.value, timestamp: r.timestamp }
      }
      out.length = n
      ctx.emit(out)
    },
  }
}
