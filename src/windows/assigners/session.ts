// Session windows: per key, records closer than `gap` in event time belong to one session; a record that bridges
// two sessions merges them.
import { type Duration, toMillis } from '../../time/duration.ts'
import type { SessionWindows } from './types.ts'

export function session(options: { gap: Duration } | Duration): SessionWindows {
  const gap = toMillis(typeof options === 'object' ? options.gap : options, 'session gap')
  if (gap <= 0) throw new RangeError('a session window needs a gap > 0')
  return { kind: 'session', gap }
}
