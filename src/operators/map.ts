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
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        let value: unknown
        try {
          value = fn(r.value, r.key, r.timestamp)
        } catch (err) {
          throw operatorError(ctx.name, err, r)
        }
        out[i] = { key: r.key, value, timestamp: r.timestamp }
      }
      ctx.emit(out)
    },
  }
}
