// Durations as users write them ('500ms', '10s', '1m', '2h', '1d') or as milliseconds.
import { SluiceError } from '../errors/index.ts'

export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export function toMillis(d: Duration, what = 'duration'): number {
  if (typeof d === 'number') {
    if (Number.isFinite(d) && d >= 0) return d
  } else {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(d)
    if (m) return Math.round(Number(m[1]) * UNITS[m[2]])
  }
  throw new SluiceError(
    'SLUICE_ERR_INVALID_ARGUMENT',
    `${what} ${JSON.stringify(d)} is not a duration: use milliseconds >= 0 or a string like '500ms', '10s', '1m', '2h', '1d'`,
  )
}
