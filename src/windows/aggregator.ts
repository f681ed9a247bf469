// An aggregation over the values of a key in a window. `merge` lets windows be built from panes (hopping windows
// add each record to one pane, not to every window) and lets session windows merge; every built-in has it.

export interface Aggregator<V, A, R = A> {
  /** Shown in describe(). */
  readonly name: string
  init(): A
  /** May mutate and return `acc`. */
  add(acc: A, value: V): A
  /** Combines two accumulators into a new one; must not mutate either (panes are shared between windows). */
  merge?(a: A, b: A): A
  result(acc: A): R
}
