// Stream-table join: each stream record is joined with the table's current row for its key, at the time the record
// is processed (Kafka Streams' KStream-KTable semantics). The table input only updates the table's store.
import type { Rec } from '../graph/logical.ts'
import { encodeKey } from '../state/key-codec.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

export function tableJoinOperator(
  spec: { table: string; inner: boolean; joiner: (value: unknown, row: unknown, key: unknown) => unknown },
  ctx: OperatorContext,
): Operator {
  const rows = ctx.storeOf(spec.table)
  return {
    process(records, input) {
      if (input !== 0) return // table updates arrive through the table's own store
      const out: Rec[] = []
      let unmatched = 0
      for (const r of records) {
        const row = rows.get(encodeKey(r.key))
        if (row === undefined && spec.inner) {
          unmatched++
          continue
        }
        try {
          out.push({ key: r.key, value: spec.joiner(r.value, row ?? null, r.key), timestamp: r.timestamp })
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
        }
      }
      if (unmatched > 0) ctx.count('unmatched', unmatched)
      if (out.length > 0) ctx.emit(out)
    },
  }
}

/** The table's own step: keeps the latest value per key; a null value deletes the row. */
export function tableSourceOperator(ctx: OperatorContext): Operator {
  const rows = ctx.store()
  return {
    process(records) {
      for (const r of records) {
        const ks = encodeKey(r.key)
        if (r.value === null || r.value === undefined) rows.delete(ks)
        else rows.put(ks, r.value)
      }
    },
  }
}
