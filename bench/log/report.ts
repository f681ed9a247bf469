// Turns repeated measurements into medians and a markdown report: the machine, the table, the ratios to the disk
// and to the plain write loop, and whether the targets are met.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, release, totalmem } from 'node:os'
import type { CaseSpec } from './cases.ts'
import type { Phase } from './meter.ts'

export const TARGETS = { appendPerSec: 3_000_000, readPerSec: 6_000_000, batch: 1000, fsync: 'interval' }

export interface Machine {
  date: string
  node: string
  cpus: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  filesystem: string
}

export function describeMachine(dir: string): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown'
  let filesystem = 'unknown'
  try {
    const df = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n').pop() ?? ''
    const [device, type] = df.split(/\s+/)
    filesystem = `${type} on ${device}`
  } catch {}
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    filesystem,
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

export interface Rates {
  recPerSec: number
  mbPerSec: number
  /** Process CPU over wall time: 1.0 is one busy core; less means the process waited (disk, or other processes). */
  cpu: number
  /** Records per second of process CPU time: what one core does when it gets to run. */
  recPerCpuSec: number
  /** Cores other processes kept busy meanwhile. */
  others: number
}

export function rates(phases: readonly Phase[]): Rates {
  return {
    recPerSec: median(phases.map((p) => p.records / p.seconds)),
    mbPerSec: median(phases.map((p) => p.bytes / p.seconds / 1e6)),
    cpu: median(phases.map((p) => p.cpu)),
    recPerCpuSec: median(phases.map((p) => p.records / (p.seconds * p.cpu))),
    others: median(phases.map((p) => p.others)),
  }
}

export interface CaseSummary extends CaseSpec {
  append: Rates
  read: Rates
  bytesPerRecord: number
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US')
const fmt1 = (n: number) => n.toFixed(1)
const fmt2 = (n: number) => n.toFixed(2)

export function markdown(
  machine: Machine,
  settings: string,
  cases: readonly CaseSummary[],
  dds: readonly number[],
  plain: Rates,
): string {
  const dd = dds.length > 0 ? median(dds) : Number.NaN
  const lines: string[] = []
  lines.push(
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB RAM, ${machine.filesystem}, ` +
      `Linux ${machine.kernel}, Node ${machine.node}, ${machine.date}`,
  )
  lines.push(`Settings: ${settings}`)
  lines.push('')
  lines.push(
    `Peers (medians): dd sequential write ${fmtInt(dd)} MB/s (${dds.length} runs, ${fmtInt(Math.min(...dds))} to ${fmtInt(Math.max(...dds))}); plain framed write loop ` +
      `${fmtInt(plain.recPerSec)} records/s, ${fmtInt(plain.mbPerSec)} MB/s (${fmt2(plain.mbPerSec / dd)} of dd; ` +
      `CPU ours/others ${fmt2(plain.cpu)}/${fmt2(plain.others)})`,
  )
  lines.push('')
  lines.push(
    '| layer | fsync | batch | append records/s | append MB/s | append records/CPU-s | read records/s | read MB/s | ' +
      'read records/CPU-s | CPU ours/others: append; read | append ÷ dd | append ÷ plain loop |',
  )
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const c of cases) {
    lines.push(
      `| ${c.layer} | ${c.fsync} | ${c.batch} | ${fmtInt(c.append.recPerSec)} | ${fmt1(c.append.mbPerSec)} | ` +
        `${fmtInt(c.append.recPerCpuSec)} | ${fmtInt(c.read.recPerSec)} | ${fmt1(c.read.mbPerSec)} | ` +
        `${fmtInt(c.read.recPerCpuSec)} | ${fmt2(c.append.cpu)}/${fmt2(c.append.others)}; ` +
        `${fmt2(c.read.cpu)}/${fmt2(c.read.others)} | ` +
        `${fmt2(c.append.mbPerSec / dd)} | ${fmt2(c.append.mbPerSec / plain.mbPerSec)} |`,
    )
  }
  lines.push('')
  for (const c of cases) {
    if (c.batch !== TARGETS.batch || c.fsync !== TARGETS.fsync) continue
    const verdict = (value: number, target: number) => (value >= target ? 'met' : 'NOT met')
    lines.push(
      `Targets (${c.layer}, batch ${c.batch}, fsync ${c.fsync}): append ${fmtInt(c.append.recPerSec)} records/s ` +
        `(${fmtInt(c.append.recPerCpuSec)} per CPU-s) vs ${fmtInt(TARGETS.appendPerSec)}: ` +
        `${verdict(c.append.recPerSec, TARGETS.appendPerSec)} wall-clock, ` +
        `${verdict(c.append.recPerCpuSec, TARGETS.appendPerSec)} per CPU-s; read ${fmtInt(c.read.recPerSec)} ` +
        `records/s (${fmtInt(c.read.recPerCpuSec)} per CPU-s) vs ${fmtInt(TARGETS.readPerSec)}: ` +
        `${verdict(c.read.recPerSec, TARGETS.readPerSec)} wall-clock, ` +
        `${verdict(c.read.recPerCpuSec, TARGETS.readPerSec)} per CPU-s`,
    )
  }
  return lines.join('\n')
}
