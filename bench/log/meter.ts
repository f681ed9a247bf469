// Wall time, this process's CPU time, and the CPU time everything else on the machine took meanwhile: on a shared
// machine the last one says whether a slow phase was slow or starved.
import { readFileSync } from 'node:fs'

export interface Phase {
  records: number
  bytes: number
  seconds: number
  /** Process CPU time (all threads) over wall time: 1.0 is one busy core. */
  cpu: number
  /** Cores kept busy by other processes (and the hypervisor's steal) during the phase. */
  others: number
}

/** Busy time of the whole machine in seconds (user, nice, system, irq, softirq, steal), or NaN off Linux. */
function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
    return (user + nice + system + irq + softirq + steal) / 100 // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN
  }
}

export class Meter {
  readonly #t0 = performance.now()
  readonly #cpu0 = process.cpuUsage()
  readonly #busy0 = machineBusySeconds()

  phase(records: number, bytes: number): Phase {
    const seconds = (performance.now() - this.#t0) / 1000
    const usage = process.cpuUsage(this.#cpu0)
    const cpuSeconds = (usage.user + usage.system) / 1e6
    const others = Math.max(0, (machineBusySeconds() - this.#busy0 - cpuSeconds) / seconds)
    return { records, bytes, seconds, cpu: cpuSeconds / seconds, others }
  }
}

/**
 * Waits until a half-second window in which other processes keep fewer than `maxCores` cores busy, or `timeoutMs`
 * passes. Returns how busy the last window was.
 */
export async function waitForQuiet(maxCores: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const meter = new Meter()
    await new Promise((resolve) => setTimeout(resolve, 500))
    // our own process is idle while waiting, so the window's busy time is the others'
    const { others } = meter.phase(0, 0)
    if (!(others >= maxCores) || performance.now() >= deadline) return others
  }
}
