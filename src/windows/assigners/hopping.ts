// Hopping windows (Flink's sliding windows): fixed size, starting every `advance`, so each record is in
// size / advance windows. Stored as panes of gcd(size, advance): a record updates one pane, not every window.
import { SluiceError } from '../../errors/index.ts'
import { type Duration, toMillis } from '../../time/duration.ts'
import type { FixedWindows } from './types.ts'

export interface HoppingOptions {
  size: Duration
  advance: Duration
  offset?: Duration
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

export function hopping(options: HoppingOptions): FixedWindows {
  const size = toMillis(options.size, 'window size')
  const advance = toMillis(options.advance, 'window advance')
  if (size <= 0 || advance <= 0 || advance > size) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `hopping windows need 0 < advance <= size, got size ${size} ms and advance ${advance} ms`,
    )
  }
  const offset = options.offset === undefined ? 0 : toMillis(options.offset, 'window offset') % advance
  return { kind: 'hopping', size, advance, offset, paneSize: gcd(size, advance) }
}

/**
 * Sliding windows of `size` evaluated every `every` (default: a 60th of the size, at least 1 ms): the aggregate over
 * the last `size` of event time, updated as time moves by `every`. The same machinery as hopping windows, so the
 * cost per record does not grow with size / every.
 */
export function sliding(options: { size: Duration; every?: Duration; offset?: Duration }): FixedWindows {
  const size = toMillis(options.size, 'window size')
  const every =
    options.every === undefined ? Math.max(1, Math.floor(size / 60)) : toMillis(options.every, 'every')
  return { ...hopping({ size, advance: every, offset: options.offset }), kind: 'sliding' }
}
