// Runs one operator outside a task, with a watermark and a clock the test moves, over a store whose changelog the
// test can take at any point: enough to stop an operator at a commit and bring a new one back from the changelog,
// as a restart does.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Rec } from '../../src/graph/logical.ts'
import type { Operator, OperatorContext } from '../../src/operators/operator.ts'
import type { StateBackendFactory } from '../../src/state/backend.ts'
import { memoryState } from '../../src/state/backends/memory.ts'
import { Store } from '../../src/state/store.ts'
import { MIN_WATERMARK } from '../../src/time/watermarks.ts'

export type Step =
  | { kind: 'records'; records: Rec[] }
  | { kind: 'watermark'; to: number }
  | { kind: 'clock'; to: number }
  | { kind: 'commit' }

export class OperatorHarness {
  readonly store: Store
  readonly out: Rec[] = []
  readonly late: Rec[] = []
  /** What the commits so far drained, in order. */
  readonly changelog: { key: Buffer; value: Buffer | null }[] = []
  readonly op: Operator
  watermark: number
  now: number

  readonly #backend: StateBackendFactory
  readonly #dir: string

  constructor(
    make: (ctx: OperatorContext) => Operator,
    options: { backend?: StateBackendFactory; watermark?: number; now?: number } = {},
  ) {
    this.#backend = options.backend ?? memoryState()
    this.#dir = this.#backend.kind === 'memory' ? '' : mkdtempSync(join(tmpdir(), 'sluice-operator-'))
    this.store = new Store('step', this.#backend.open({ dir: this.#dir, store: 'step', taskId: '0_0' }), true)
    this.watermark = options.watermark ?? MIN_WATERMARK
    this.now = options.now ?? 0
    const ctx: OperatorContext = {
      name: 'step',
      taskId: '0_0',
      partition: 0,
      emit: (records) => this.out.push(...records),
      emitTo: (_port, records) => this.late.push(...records),
      store: () => this.store,
      storeOf: () => this.store,
      watermark: () => this.watermark,
      now: () => this.now,
      count: () => {},
      fail: (err) => {
        throw err
      },
    }
    this.op = make(ctx)
  }

  run(step: Step): void {
    if (step.kind === 'commit') this.commit()
    else if (step.kind === 'records') this.op.process(step.records, 0)
    else if (step.kind === 'watermark') {
      if (step.to <= this.watermark) return
      this.watermark = step.to
      this.op.onWatermark?.(step.to)
    } else {
      if (step.to <= this.now) return
      this.now = step.to
      this.op.onProcessingTime?.(step.to)
    }
  }

  commit(): void {
    for (const c of this.store.drainChanges()) this.changelog.push(c)
  }

  /**
   * Commits, then makes a new operator over a store rebuilt from the changelog, as a restart after that commit
   * would: it has seen the same watermark and clock.
   */
  restart(
    make: (ctx: OperatorContext) => Operator,
    options: { forgetWatermark?: boolean } = {},
  ): OperatorHarness {
    this.commit()
    const next = new OperatorHarness(make, {
      backend: this.#backend,
      // a restarted task starts at -Infinity until its inputs' watermarks come back
      watermark: options.forgetWatermark ? MIN_WATERMARK : this.watermark,
      now: this.now,
    })
    for (const c of this.changelog) next.store.applyChange(c.key, c.value)
    next.changelog.push(...this.changelog)
    next.op.onRestore?.()
    return next
  }

  async close(): Promise<void> {
    await this.store.backend.close()
    if (this.#dir !== '') rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** Records as comparable text, sorted: outputs compared as multisets. */
export function asMultiset(records: Rec[]): string[] {
  return records.map((r) => JSON.stringify([r.key, r.value, r.timestamp])).sort()
}

/** A store's entries as comparable text, sorted. */
export function storeContents(store: Store): string[] {
  return [...store.entries()].map((e) => JSON.stringify(e, (_k, v) => (v instanceof Map ? [...v] : v))).sort()
}
