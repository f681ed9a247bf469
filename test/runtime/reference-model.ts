// A plain reference for the engine's event-time semantics (Flink's), for differential tests: it replays the records
// in the order a task processes them and decides everything naively, with no panes, heaps or indexes.
//
// - Watermark of a source partition: W = max timestamp seen − maxOutOfOrderness − 1 (−∞ before any record). A task's
//   W is the min over its inputs, inputs idle for longer than the idle timeout (processing time) left out, and it
//   never goes back. Records are processed with the W left by the records before them.
// - Repartition topics: each upstream task sends its W (or "idle") to every downstream partition whenever its W
//   rises (or its inputs went idle); downstream W is the min over the upstream tasks' last word, idle ones left out.
// - Fixed windows [start, end): fire in 'final' mode once W >= end − 1 + lateness (result timestamp end − 1, key
//   {key, start, end}); a record is late when every window containing it is already that far; 'update' emits the
//   current result of every not-yet-done window a non-late record lands in.
// - Sessions: a record opens [t, t + gap) and merges the sessions of its key it overlaps or touches (as Flink:
//   records at most gap apart share a session); late when the merged session is done; 'update' retracts
//   merged-away sessions with a null value.
// - Interval join: a record is late when t + lateness <= W; every two non-late records of one key, one per side,
//   at most `within` apart, make a pair with the later timestamp.
// - Keyed process: event-time timers fire when W >= their time, in time order; processing-time timers when the
//   clock reaches them; with a TTL, state written at `now` reads as absent from now + ttl on.

export interface RefRecord<V = number> {
  key: string
  value: V
  timestamp: number
}

export interface RefOutput {
  key: unknown
  value: unknown
  timestamp: number
}

export type EmitMode = 'final' | 'update'

/** Floor modulo, for negative numbers too. */
const mod = (a: number, m: number) => ((a % m) + m) % m

// ---------------------------------------------------------------------------------------------- watermarks

/** The inputs of one task, each a source partition with bounded out-of-orderness, and the task's watermark. */
export class TaskWatermark {
  readonly #max: number[]
  readonly #lastActivity: number[]
  readonly #ended: boolean[]
  readonly #delay: number[]
  readonly #idleTimeout: number | null
  #w = Number.NEGATIVE_INFINITY

  /** `delay`: the maxOutOfOrderness of every input, or of each. */
  constructor(inputs: number, delay: number | number[], idleTimeout: number | null = null, now = 0) {
    this.#max = new Array(inputs).fill(Number.NEGATIVE_INFINITY)
    this.#lastActivity = new Array(inputs).fill(now)
    this.#ended = new Array(inputs).fill(false)
    this.#delay = typeof delay === 'number' ? new Array(inputs).fill(delay) : delay
    this.#idleTimeout = idleTimeout
  }

  get current(): number {
    return this.#w
  }

  /** True when every input is idle (and none has ended). */
  idle(now: number): boolean {
    return this.#max.every((_, i) => this.#inputWatermark(i, now) === null)
  }

  /** A record reached input `i`; returns the task's watermark afterwards. */
  onRecord(i: number, timestamp: number, now: number): number {
    this.#max[i] = Math.max(this.#max[i], timestamp)
    this.#lastActivity[i] = now
    return this.recompute(now)
  }

  end(i: number, now: number): number {
    this.#ended[i] = true
    return this.recompute(now)
  }

  #inputWatermark(i: number, now: number): number | null {
    if (this.#ended[i]) return Number.POSITIVE_INFINITY
    if (this.#idleTimeout !== null && now - this.#lastActivity[i] > this.#idleTimeout) return null
    return this.#max[i] - this.#delay[i] - 1
  }

  recompute(now: number): number {
    const active = this.#max.map((_, i) => this.#inputWatermark(i, now)).filter((w) => w !== null)
    if (active.length > 0) this.#w = Math.max(this.#w, Math.min(...active))
    return this.#w
  }
}

/** One source topic of P partitions (one task each) feeding a repartition topic: the downstream tasks' watermark. */
export class RepartitionedWatermark {
  readonly upstream: TaskWatermark[]
  /** What each upstream task last said: a watermark, 'idle', or nothing yet (−∞). */
  readonly #view: (number | 'idle')[]
  readonly #announcedIdle: boolean[]
  #w = Number.NEGATIVE_INFINITY

  constructor(partitions: number, delay: number, idleTimeout: number | null) {
    this.upstream = Array.from({ length: partitions }, () => new TaskWatermark(1, delay, idleTimeout))
    this.#view = new Array(partitions).fill(Number.NEGATIVE_INFINITY)
    this.#announcedIdle = new Array(partitions).fill(false)
  }

  get current(): number {
    return this.#w
  }

  #send(p: number, word: number | 'idle'): void {
    this.#view[p] = word
    const active = this.#view.filter((w) => w !== 'idle')
    if (active.length > 0) this.#w = Math.max(this.#w, Math.min(...active))
  }

  #afterUpstream(p: number, before: number): void {
    const after = this.upstream[p].current
    if (after > before) {
      this.#announcedIdle[p] = false
      this.#send(p, after)
    }
  }

  onRecord(p: number, timestamp: number, now: number): void {
    const before = this.upstream[p].current
    this.upstream[p].onRecord(0, timestamp, now)
    this.#afterUpstream(p, before)
  }

  /** Processing time moved: an upstream task whose inputs all went idle says so, once. */
  onTime(now: number): void {
    for (let p = 0; p < this.upstream.length; p++) {
      const before = this.upstream[p].current
      this.upstream[p].recompute(now)
      this.#afterUpstream(p, before)
      if (this.upstream[p].idle(now) && !this.#announcedIdle[p]) {
        this.#announcedIdle[p] = true
        this.#send(p, 'idle')
      }
    }
  }

  end(now: number): void {
    for (let p = 0; p < this.upstream.length; p++) {
      const before = this.upstream[p].current
      this.upstream[p].end(0, now)
      this.#afterUpstream(p, before)
    }
  }
}

// ---------------------------------------------------------------------------------------------- fixed windows

export interface FixedShape {
  size: number
  advance: number
  offset: number
}

export interface WindowStep {
  outputs: RefOutput[]
  late: RefRecord[]
}

/** Results of a window over the values of its records, in arrival order. */
export type RefAggregate = (values: number[]) => unknown

export class FixedWindowsModel {
  readonly #shape: FixedShape
  readonly #lateness: number
  readonly #emit: EmitMode
  readonly #agg: RefAggregate
  /** Windows not yet done, by `${start}|${key}`, with their records' values. */
  readonly #open = new Map<string, { key: string; start: number; values: number[] }>()
  lateCount = 0

  constructor(shape: FixedShape, lateness: number, emit: EmitMode, agg: RefAggregate) {
    this.#shape = shape
    this.#lateness = lateness
    this.#emit = emit
    this.#agg = agg
  }

  /** Every window start s with s <= t < s + size, found by trying each candidate. */
  startsFor(t: number): number[] {
    const { size, advance, offset } = this.#shape
    const out: number[] = []
    for (let s = t - size + 1; s <= t; s++) if (mod(s - offset, advance) === 0) out.push(s)
    return out
  }

  #done(start: number, w: number): boolean {
    return start + this.#shape.size - 1 + this.#lateness <= w
  }

  #result(key: string, start: number, values: number[]): RefOutput {
    const end = start + this.#shape.size
    return { key: { key, start, end }, value: this.#agg(values), timestamp: end - 1 }
  }

  /** Processes one record with the task's watermark `w`. */
  process(r: RefRecord, w: number): WindowStep {
    const starts = this.startsFor(r.timestamp).filter((s) => !this.#done(s, w))
    if (starts.length === 0) {
      this.lateCount++
      return { outputs: [], late: [r] }
    }
    const outputs: RefOutput[] = []
    for (const start of starts) {
      const id = `${start}|${r.key}`
      const win = this.#open.get(id) ?? { key: r.key, start, values: [] }
      win.values.push(r.value)
      this.#open.set(id, win)
      if (this.#emit === 'update') outputs.push(this.#result(r.key, start, win.values))
    }
    return { outputs, late: [] }
  }

  /** The watermark rose to `w`: windows now done fire ('final') or are dropped ('update'). */
  advance(w: number): RefOutput[] {
    const due = [...this.#open.entries()].filter(([, win]) => this.#done(win.start, w))
    due.sort(([, a], [, b]) => a.start - b.start)
    const out: RefOutput[] = []
    for (const [id, win] of due) {
      this.#open.delete(id)
      if (this.#emit === 'final') out.push(this.#result(win.key, win.start, win.values))
    }
    return out
  }
}

// ---------------------------------------------------------------------------------------------- sessions

interface RefSession {
  start: number
  end: number
  values: number[]
}

export class SessionWindowsModel {
  readonly #gap: number
  readonly #lateness: number
  readonly #emit: EmitMode
  readonly #agg: RefAggregate
  readonly #sessions = new Map<string, RefSession[]>()
  lateCount = 0

  constructor(gap: number, lateness: number, emit: EmitMode, agg: RefAggregate) {
    this.#gap = gap
    this.#lateness = lateness
    this.#emit = emit
    this.#agg = agg
  }

  #done(end: number, w: number): boolean {
    return end - 1 + this.#lateness <= w
  }

  #out(key: string, s: RefSession, value: unknown): RefOutput {
    return { key: { key, start: s.start, end: s.end }, value, timestamp: s.end - 1 }
  }

  process(r: RefRecord, w: number): WindowStep {
    const t = r.timestamp
    const all = this.#sessions.get(r.key) ?? []
    const merged = all.filter((s) => s.start <= t + this.#gap && t <= s.end)
    const start = Math.min(t, ...merged.map((s) => s.start))
    const end = Math.max(t + this.#gap, ...merged.map((s) => s.end))
    if (this.#done(end, w)) {
      this.lateCount++
      return { outputs: [], late: [r] }
    }
    const next: RefSession = { start, end, values: [...merged.flatMap((s) => s.values), r.value] }
    this.#sessions.set(r.key, [...all.filter((s) => !merged.includes(s)), next])
    const outputs: RefOutput[] = []
    if (this.#emit === 'update') {
      for (const s of merged) if (s.start !== start || s.end !== end) outputs.push(this.#out(r.key, s, null))
      outputs.push(this.#out(r.key, next, this.#agg(next.values)))
    }
    return { outputs, late: [] }
  }

  advance(w: number): RefOutput[] {
    const out: RefOutput[] = []
    for (const [key, sessions] of this.#sessions) {
      for (const s of sessions) {
        if (this.#done(s.end, w) && this.#emit === 'final') out.push(this.#out(key, s, this.#agg(s.values)))
      }
      this.#sessions.set(
        key,
        sessions.filter((s) => !this.#done(s.end, w)),
      )
    }
    return out.sort((a, b) => a.timestamp - b.timestamp)
  }
}

// ---------------------------------------------------------------------------------------------- interval join

export class IntervalJoinModel {
  readonly #within: number
  readonly #lateness: number
  /** Every non-late record of each side so far (nothing expires: the reference pairs all of them). */
  readonly #seen: RefRecord[][] = [[], []]
  lateCount = 0

  constructor(within: number, lateness: number) {
    this.#within = within
    this.#lateness = lateness
  }

  /** A record of side 0 (left) or 1 (right); returns the pairs it completes, as [left value, right value]. */
  process(side: 0 | 1, r: RefRecord, w: number): RefOutput[] {
    if (r.timestamp + this.#lateness <= w) {
      this.lateCount++
      return []
    }
    const out: RefOutput[] = []
    for (const o of this.#seen[1 - side]) {
      if (o.key !== r.key || Math.abs(o.timestamp - r.timestamp) > this.#within) continue
      const value = side === 0 ? [r.value, o.value] : [o.value, r.value]
      out.push({ key: r.key, value, timestamp: Math.max(o.timestamp, r.timestamp) })
    }
    this.#seen[side].push(r)
    return out
  }
}

// ---------------------------------------------------------------------------------------------- keyed process

/** What the reference hands a process function: the same surface as the engine's ProcessContext, done naively. */
export interface RefProcessContext<Out> {
  readonly key: string
  readonly timestamp: number
  readonly watermark: number
  readonly now: number
  emit(value: Out, options?: { timestamp?: number }): void
  valueState<T>(name: string): { get(): T | undefined; set(value: T): void; clear(): void }
  mapState<MK extends string | number, MV>(
    name: string,
  ): {
    get(key: MK): MV | undefined
    set(key: MK, value: MV): void
    delete(key: MK): void
    has(key: MK): boolean
    entries(): [MK, MV][]
    clear(): void
  }
  listState<T>(name: string): { get(): T[]; add(value: T): void; set(values: T[]): void; clear(): void }
  registerEventTimeTimer(timestamp: number): void
  registerProcessingTimeTimer(timestamp: number): void
  deleteEventTimeTimer(timestamp: number): void
  deleteProcessingTimeTimer(timestamp: number): void
}

export interface RefProcessFunction<V, Out> {
  process(value: V, ctx: RefProcessContext<Out>): void
  onTimer?(
    timestamp: number,
    ctx: RefProcessContext<Out> & { readonly timeDomain: 'event' | 'processing' },
  ): void
}

type Domain = 'event' | 'processing'

/**
 * Runs a process function over naive state (a Map of [value, expiresAt] per state and key; a map or list state is
 * one value, as the engine documents) and naive timers (a list of (domain, time, key), scanned for the earliest).
 */
export class KeyedProcessModel<V, Out> {
  readonly #fn: RefProcessFunction<V, Out>
  readonly #ttl: number | null
  readonly #state = new Map<string, { value: unknown; expiresAt: number }>()
  #timers: { domain: Domain; time: number; key: string }[] = []
  #out: RefOutput[] = []
  watermark = Number.NEGATIVE_INFINITY
  now = 0

  constructor(fn: RefProcessFunction<V, Out>, ttl: number | null) {
    this.#fn = fn
    this.#ttl = ttl
  }

  #context(key: string, timestamp: number, domain: Domain): RefProcessContext<Out> & { timeDomain: Domain } {
    const model = this
    const read = (id: string): unknown => {
      const s = this.#state.get(id)
      if (s === undefined) return undefined
      if (s.expiresAt <= this.now) {
        this.#state.delete(id)
        return undefined
      }
      return s.value
    }
    const write = (id: string, value: unknown) =>
      this.#state.set(id, {
        value,
        expiresAt: this.#ttl === null ? Number.POSITIVE_INFINITY : this.now + this.#ttl,
      })
    const timer = (d: Domain, time: number, add: boolean) => {
      this.#timers = this.#timers.filter((x) => !(x.domain === d && x.time === time && x.key === key))
      if (add) this.#timers.push({ domain: d, time, key })
    }
    return {
      key,
      timestamp,
      timeDomain: domain,
      get watermark() {
        return model.watermark
      },
      get now() {
        return model.now
      },
      emit: (value, options) => {
        this.#out.push({ key, value, timestamp: options?.timestamp ?? timestamp })
      },
      valueState: <T>(name: string) => {
        const id = `v|${name}|${key}`
        return {
          get: () => read(id) as T | undefined,
          set: (v: T) => write(id, v),
          clear: () => this.#state.delete(id),
        }
      },
      mapState: <MK extends string | number, MV>(name: string) => {
        const id = `m|${name}|${key}`
        const entries = () => [...((read(id) as [MK, MV][] | undefined) ?? [])]
        const save = (e: [MK, MV][]) => (e.length === 0 ? this.#state.delete(id) : write(id, e))
        return {
          get: (k: MK) => entries().find(([x]) => x === k)?.[1],
          has: (k: MK) => entries().some(([x]) => x === k),
          set: (k: MK, v: MV) => {
            const e = entries()
            const i = e.findIndex(([x]) => x === k)
            if (i >= 0) e[i] = [k, v]
            else e.push([k, v])
            save(e)
          },
          delete: (k: MK) => save(entries().filter(([x]) => x !== k)),
          entries: () => entries(),
          clear: () => this.#state.delete(id),
        }
      },
      listState: <T>(name: string) => {
        const id = `l|${name}|${key}`
        const current = () => [...((read(id) as T[] | undefined) ?? [])]
        return {
          get: () => current(),
          add: (v: T) => write(id, [...current(), v]),
          set: (values: T[]) => (values.length === 0 ? this.#state.delete(id) : write(id, [...values])),
          clear: () => this.#state.delete(id),
        }
      },
      registerEventTimeTimer: (t) => timer('event', t, true),
      registerProcessingTimeTimer: (t) => timer('processing', t, true),
      deleteEventTimeTimer: (t) => timer('event', t, false),
      deleteProcessingTimeTimer: (t) => timer('processing', t, false),
    }
  }

  #take(): RefOutput[] {
    const out = this.#out
    this.#out = []
    return out
  }

  process(r: RefRecord<V>): RefOutput[] {
    this.#fn.process(r.value, this.#context(r.key, r.timestamp, 'event'))
    return this.#take()
  }

  /** Fires the earliest timer of `domain` due by `limit`, again and again (timers set while firing count too). */
  #fire(domain: Domain, limit: number): void {
    for (;;) {
      const due = this.#timers.filter((x) => x.domain === domain && x.time <= limit)
      if (due.length === 0) return
      const next = due.reduce((a, b) => (b.time < a.time ? b : a))
      this.#timers = this.#timers.filter((x) => x !== next)
      this.#fn.onTimer?.(next.time, this.#context(next.key, next.time, domain))
    }
  }

  /** The watermark rose to `w`. */
  advanceWatermark(w: number): RefOutput[] {
    this.watermark = w
    this.#fire('event', w)
    return this.#take()
  }

  /** Processing time moved to `now`. */
  advanceTime(now: number): RefOutput[] {
    this.now = now
    this.#fire('processing', now)
    return this.#take()
  }
}
