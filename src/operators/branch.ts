// branch: each record goes to the first output whose predicate holds, or to the last output when none does.
import type { Rec } from '../graph/logical.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function branchOperator(
  predicates: ((value: unknown, key: unknown) => boolean)[],
  ctx: OperatorContext,
): Operator {
  return {
    process(records) {
      const outs: Rec[][] = predicates.map(() => [])
      outs.push([])
      for (const r of records) {
        let i = 0
        try {
          while (i < predicates.length && !predicates[i](r.value, r.key)) i++
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
          continue
        }
        outs[i].push(r)
      }
      outs.forEach((out, i) => {
        if (out.length > 0) ctx.emitTo(String(i), out)
      })
    },
  }
}
