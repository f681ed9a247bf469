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
import { encodeKey } from '../state/key-codec.ts'
import { TimerQueue } from '../time/timer-queue.ts'
import { type Operator, type OperatorContext, operatorError } from './operator.ts'

type TimerDomain = 'event' | 'processing'
type Stored = [value: unknown, expiresAt: number]

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
    `t|${domain === 'event' ? 'e' : 'p'}|${time}|${k}`

  function read(stateKey: string): unknown {
    const stored = store.get(stateKey) as Stored | undefined
    if (stored === undefined) return undefined
    if (stored[1] > 0 && stored[1] <= ctx.now()) {
      store.delete(stateKey)
      return undefined
    }
    return stored[0]
  }

  function write(stateKey: string, value: unknown): void {
    store.put(stateKey, [value, ttl === null ? 0 : ctx.now() + ttl] satisfies Stored)
  }

  const valueStates = new Map<string, ValueState<unknown>>()
  const mapStates = new Map<string, MapState<string | number, unknown>>()
  const listStates = new Map<string, ListState<unknown>>()

  function valueState(name: string): ValueState<unknown> {
    let s = valueStates.get(name)
    if (s === undefined) {
      s = {
        get: () => read(`v|${name}|${ks}`),
        set: (v) => write(`v|${name}|${ks}`, v),
        clear: () => store.delete(`v|${name}|${ks}`),
      }
      valueStates.set(name, s)
    }
    return s
  }

  function mapState(name: string): MapState<string | number, unknown> {
    let s = mapStates.get(name)
    if (s === undefined) {
      const current = () =>
        (read(`m|${name}|${ks}`) as Map<string | number, unknown> | undefined) ?? new Map()
      const save = (m: Map<string | number, unknown>) =>
        m.size === 0 ? store.delete(`m|${name}|${ks}`) : write(`m|${name}|${ks}`, m)
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
        clear: () => store.delete(`m|${name}|${ks}`),
      }
      mapStates.set(name, s)
    }
    return s
  }

  function listState(name: string): ListState<unknown> {
    let s = listStates.get(name)
    if (s === undefined) {
      const current = () => (read(`l|${name}|${ks}`) as unknown[] | undefined) ?? []
      s = {
        get: () => [...current()],
        add: (v) => {
          const l = current()
          l.push(v)
          write(`l|${name}|${ks}`, l)
        },
        set: (values) =>
          values.length === 0 ? store.delete(`l|${name}|${ks}`) : write(`l|${name}|${ks}`, [...values]),
        clear: () => store.delete(`l|${name}|${ks}`),
      }
      listStates.set(name, s)
    }
    return s
  }

  function addTimer(domain: TimerDomain, time: number): void {
    const queue = domain === 'event' ? eventTimers : processingTimers
    if (queue.has(time, ks)) return
    queue.add(time, ks)
    store.put(timerKey(domain, time, ks), key)
  }

  function deleteTimer(domain: TimerDomain, time: number): void {
    ;(domain === 'event' ? eventTimers : processingTimers).delete(time, ks)
    store.delete(timerKey(domain, time, ks))
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
      for (const k of due.keys) {
        const tk = timerKey(domain, due.time, k)
        key = store.get(tk)
        store.delete(tk)
        ks = k
        timestamp = due.time
        context.timeDomain = domain
        try {
          fn.onTimer(due.time, context)
        } catch (err) {
          throw operatorError(ctx.name, err, { key, value: `timer at ${due.time}`, timestamp: due.time })
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
          throw operatorError(ctx.name, err, r)
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
      for (const [k] of store.entries('t|')) {
        const [, d, time, ...rest] = k.split('|')
        ;(d === 'e' ? eventTimers : processingTimers).add(Number(time), rest.join('|'))
      }
    },
  }
}
