// Tumbling windows: fixed size, back to back, each record in exactly one window.
import { type Duration, toMillis } from '../../time/duration.ts'
import type { FixedWindows } from './types.ts'

export interface TumblingOptions {
  size: Duration
  /** Shifts window boundaries, e.g. '-5h' is not allowed but an offset of 30m starts hours at :30. */
  offset?: Duration
}

export function tumbling(options: TumblingOptions | Duration): FixedWindows {
  const o = typeof options === 'object' ? options : { size: options }
  const size = toMillis(o.size, 'window size')
  if (size <= 0) throw new RangeError('a tumbling window needs a size > 0')
  const offset = o.offset === undefined ? 0 : toMillis(o.offset, 'window offset') % size
  return { kind: 'tumbling', size, advance: size, offset, paneSize: size }
}
