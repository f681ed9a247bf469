// The keyed process function: user code with per-key value, map and list state, and event- and processing-time
// timers, as Flink's KeyedProcessFunction. State and timers live in the step's store, so they are changelogged and
// restored like window state. With a TTL, a state value not written for that long (processing time) reads as absent.
import type {
  ListState,
  MapState,
  ProcessContext,
  ProcessFunction,
  Rec,
  ValueState,
} from '../graph/logical.ts'
import { checkStateKey, checkStateValue } from '../state/backend.ts'
import { encodeKey, numberText } from '../state/key-codec.ts'
import { TimerQueue } from '../time/timer-queue.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

type TimerDomain = 'event' | 'processing'
type Stored = [value: unknown, expiresAt: number]

/** Slots of the table of state keys kept for numeric record keys (a power of two). */
const KEPT_KEYS = 1024

/**
 * One named state of the current key: its store key and, once read or written, the pair the store holds for it.
 * Both are kept while records of the same key come, so a get and then a set build one key string and write into
 * the pair they read instead of a new one (mutating a value got from the store and putting it again is allowed).
 */
interface Cell {
  /** Index into the state keys kept for a record key. */
  readonly id: number
  readonly prefix: string
  ks: string | undefined
  key: string
  stored: Stored | undefined
}

export function keyedProcessOperator(
  fn: ProcessFunction<unknown, unknown, unknown>,
  ttl: number | null,
  ctx: OperatorContext,
): Operator {
  const store = ctx.store()
  const eventTimers = new TimerQueue()
  const processingTimers = new TimerQueue()
  let out: Rec[] = []
  let key: unknown
  let ks = ''
  let timestamp = 0

  const timerKey = (domain: TimerDomain, time: number, k: string) =>
    `${domain === 'event' ? 't|e|' : 't|p|'}${numberText(time)}|${k}`

  let cells = 0
  const cell = (prefix: string): Cell => ({ id: cells++, prefix, ks: undefined, key: '', stored: undefined })

  // The state keys built for recent numeric record keys (ids, the common case), by slot of the key's low bits and
  // then by cell. A key string built anew for every read is a rope that each Map it meets must flatten and hash
  // (~150 ns); a kept one was hashed once.
  const keptFor: (string | undefined)[] = new Array(KEPT_KEYS).fill(undefined)
  const kept: string[][] = Array.from({ length: KEPT_KEYS }, () => [])

  function keyOf(c: Cell): string {
    if (c.ks !== ks) {
      c.ks = ks
      c.stored = undefined
      if (typeof key === 'number') {
        const slot = (key | 0) & (KEPT_KEYS - 1)
        if (keptFor[slot] !== ks) {
          keptFor[slot] = ks
          kept[slot].length = 0
        }
        c.key = kept[slot][c.id] ??= c.prefix + ks
      } else c.key = c.prefix + ks
    }
    return c.key
  }

  function read(c: Cell): unknown {
    const stateKey = keyOf(c)
    const stored = store.get(stateKey) as Stored | undefined
    if (stored !== undefined && stored[1] > 0 && stored[1] <= ctx.now()) {
      store.delete(stateKey)
      c.stored = undefined
      return undefined
    }
    c.stored = stored
    return stored?.[0]
  }

  function write(c: Cell, value: unknown): void {
    const stateKey = keyOf(c)
    const expiresAt = ttl === null ? 0 : ctx.now() + ttl
    let stored = c.stored
    if (stored === undefined) {
      stored = [value, expiresAt]
      c.stored = stored
    } else {
      stored[0] = value
      stored[1] = expiresAt
    }
    store.put(stateKey, stored)
  }

  function remove(c: Cell): void {
    store.delete(keyOf(c))
    c.stored = undefined
  }

  const valueStates = new Map<string, ValueState<unknown>>()
  const mapStates = new Map<string, MapState<string | number, unknown>>()
  const listStates = new Map<string, ListState<unknown>>()

  function valueState(name: string): ValueState<unknown> {
    let s = valueStates.get(name)
    if (s === undefined) {
      const c = cell(`v|${name}|`)
      s = {
        get: () => read(c),
        set: (v) => write(c, v),
        clear: () => remove(c),
      }
      valueStates.set(name, s)
    }
    return s
  }

  function mapState(name: string): MapState<string | number, unknown> {
    let s = mapStates.get(name)
    if (s === undefined) {
      const c = cell(`m|${name}|`)
      const current = () => (read(c) as Map<string | number, unknown> | undefined) ?? new Map()
      const save = (m: Map<string | number, unknown>) => (m.size === 0 ? remove(c) : write(c, m))
      s = {
        get: (k) => current().get(k),
        has: (k) => current().has(k),
        set: (k, v) => {
          const m = current()
          m.set(k, v)
          save(m)
        },
        delete: (k) => {
          const m = current()
          m.delete(k)
          save(m)
        },
        entries: () => [...current().entries()],
        clear: () => remove(c),
      }
      mapStates.set(name, s)
    }
    return s
  }

  function listState(name: string): ListState<unknown> {
    let s = listStates.get(name)
    if (s === undefined) {
      const c = cell(`l|${name}|`)
      const current = () => (read(c) as unknown[] | undefined) ?? []
      s = {
        get: () => [...current()],
        add: (v) => {
          const l = current()
          l.push(v)
          write(c, l)
        },
        set: (values) => (values.length === 0 ? remove(c) : write(c, [...values])),
        clear: () => remove(c),
      }
      listStates.set(name, s)
    }
    return s
  }

  // The queues hold each timer by its store key, the string the store hashed already: firing one finds and deletes
  // its entry without building the key again.
  // A timer is stored (key → record key) so that a restore brings it back, but only at the next commit: most fire
  // or are deleted before it, and then never touch the store.
  const unstored = new Map<string, unknown>()
  store.beforeDrain(() => {
    for (const [tk, k] of unstored) store.put(tk, k)
    unstored.clear()
  })

  function addTimer(domain: TimerDomain, time: number): void {
    const tk = timerKey(domain, time, ks)
    // what the store would refuse is refused now, as a put would, not at the commit
    checkStateKey(tk, store.name)
    checkStateValue(key, store.name)
    if ((domain === 'event' ? eventTimers : processingTimers).add(time, tk)) unstored.set(tk, key)
  }

  function deleteTimer(domain: TimerDomain, time: number): void {
    const tk = timerKey(domain, time, ks)
    ;(domain === 'event' ? eventTimers : processingTimers).delete(time, tk)
    if (!unstored.delete(tk)) store.delete(tk)
  }

  /** The record key of a due timer, which is deleted. */
  function takeTimer(tk: string): unknown {
    const k = unstored.get(tk)
    if (k !== undefined || unstored.has(tk)) {
      unstored.delete(tk)
      return k
    }
    const stored = store.get(tk)
    store.delete(tk)
    return stored
  }

  const context: ProcessContext<unknown, unknown> & { timeDomain: TimerDomain } = {
    get key() {
      return key
    },
    get timestamp() {
      return timestamp
    },
    get watermark() {
      return ctx.watermark()
    },
    get now() {
      return ctx.now()
    },
    timeDomain: 'event',
    emit(value, options) {
      out.push({ key, value, timestamp: options?.timestamp ?? timestamp })
    },
    valueState: valueState as ProcessContext<unknown, unknown>['valueState'],
    mapState: mapState as unknown as ProcessContext<unknown, unknown>['mapState'],
    listState: listState as ProcessContext<unknown, unknown>['listState'],
    registerEventTimeTimer: (time) => addTimer('event', time),
    registerProcessingTimeTimer: (time) => addTimer('processing', time),
    deleteEventTimeTimer: (time) => deleteTimer('event', time),
    deleteProcessingTimeTimer: (time) => deleteTimer('processing', time),
  }

  function flush(): void {
    if (out.length === 0) return
    const batch = out
    out = []
    ctx.emit(batch)
  }

  function fire(domain: TimerDomain, limit: number): void {
    if (fn.onTimer === undefined) return
    const queue = domain === 'event' ? eventTimers : processingTimers
    for (let due = queue.pollUntil(limit); due !== null; due = queue.pollUntil(limit)) {
      for (const tk of due.keys) {
        key = takeTimer(tk)
        ks = encodeKey(key)
        timestamp = due.time
        context.timeDomain = domain
        try {
          fn.onTimer(due.time, context)
        } catch (err) {
          const timer = { key, value: `timer at ${due.time}`, timestamp: due.time }
          ctx.fail(operatorError(ctx.name, err, timer), timer)
        }
      }
    }
    flush()
  }

  return {
    process(records) {
      for (const r of records) {
        key = r.key
        ks = encodeKey(r.key)
        timestamp = r.timestamp
        try {
          fn.process(r.value, context)
        } catch (err) {
          ctx.fail(operatorError(ctx.name, err, r), r)
        }
      }
      flush()
    },
    onWatermark(wm) {
      fire('event', wm)
    },
    onProcessingTime(now) {
      fire('processing', now)
    },
    onRestore() {
      eventTimers.clear()
      processingTimers.clear()
      unstored.clear()
      for (const [tk] of store.entries('t|')) {
        const time = Number(tk.slice(4, tk.indexOf('|', 4)))
        ;(tk[2] === 'e' ? eventTimers : processingTimers).add(time, tk)
      }
    },
  }
}
