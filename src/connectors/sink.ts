// The sink contract: how results leave Sluice for systems outside the log. A sink states its guarantee, and the
// runner drives it through a two-phase commit tied to the log's commit, so that a transactional sink shows each
// result exactly once: prepare() makes an interval's records durable but not visible, the log transaction then
// records the commit id in the sink step's changelogged state, and commit() makes them visible. After a crash,
// open() learns the last commit id the log committed: prepared work up to it is committed, later work discarded.
import type { Rec } from '../graph/logical.ts'

/**
 * - `transactional`: results become visible exactly once (two-phase commit against the log's commit).
 * - `idempotent`: results may be written again after a crash, but writing one twice has the effect of once
 *   (deterministic ids, upserts).
 * - `at-least-once`: results may appear more than once after a crash.
 */
export type SinkGuarantee = 'transactional' | 'idempotent' | 'at-least-once'

export interface SinkContext {
  pipeline: string
  /** The sink step's name. */
  step: string
  taskId: string
  partition: number
}

export interface Sink<K = unknown, V = unknown> {
  readonly guarantee: SinkGuarantee
  /**
   * Called before the task writes anything, with the last commit id the log committed for this task's sink (null
   * on a first run). A transactional sink commits what it prepared up to that id and discards anything later.
   */
  open(context: SinkContext, lastCommitted: number | null): Promise<void>
  /** Records of the current interval, in order. Synchronous: buffer them. */
  write(records: readonly Rec<K, V>[]): void
  /** Makes the interval's records durable (and, if transactional, not yet visible). */
  prepare(commitId: number): Promise<void>
  /** The log committed `commitId`: make its records visible. Must be idempotent (it is repeated after a crash). */
  commit(commitId: number): Promise<void>
  /** The log commit failed: drop what was prepared for `commitId`. */
  abort(commitId: number): Promise<void>
  close(): Promise<void>
}

/** Sinks are created per task: a factory gets the task's context. */
export type SinkFactory<K = unknown, V = unknown> = (context: SinkContext) => Sink<K, V>
