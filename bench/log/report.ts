// Turns repeated measurements into medians and a markdown report: the machine, the table, the ratios to the disk
// and to the plain write loop, and whether the targets are met.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, release, totalmem } from 'node:os'
import type { CaseSpec, Phase } from './cases.ts'

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
  cpu: number
}

export function rates(phases: readonly Phase[]): Rates {
  return {
    recPerSec: median(phases.map((p) => p.records / p.seconds)),
    mbPerSec: median(phases.map((p) => p.bytes / p.seconds / 1e6)),
    cpu: median(phases.map((p) => p.cpu)),
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
      `${fmtInt(plain.recPerSec)} records/s, ${fmtInt(plain.mbPerSec)} MB/s (${fmt2(plain.mbPerSec / dd)} of dd)`,
  )
  lines.push('')
  lines.push(
    '| layer | fsync | batch | append records/s | append MB/s | append CPU | read records/s | read MB/s | read CPU | append ÷ dd | append ÷ plain loop |',
  )
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const c of cases) {
    lines.push(
      `| ${c.layer} | ${c.fsync} | ${c.batch} | ${fmtInt(c.append.recPerSec)} | ${fmt1(c.append.mbPerSec)} | ` +
        `${fmt2(c.append.cpu)} | ${fmtInt(c.read.recPerSec)} | ${fmt1(c.read.mbPerSec)} | ${fmt2(c.read.cpu)} | ` +
        `${fmt2(c.append.mbPerSec / dd)} | ${fmt2(c.append.mbPerSec / plain.mbPerSec)} |`,
    )
  }
  lines.push('')
  for (const c of cases) {
    if (c.batch !== TARGETS.batch || c.fsync !== TARGETS.fsync) continue
    const a = c.append.recPerSec >= TARGETS.appendPerSec ? 'met' : 'NOT met'
    const r = c.read.recPerSec >= TARGETS.readPerSec ? 'met' : 'NOT met'
    lines.push(
      `Targets (${c.layer}, batch ${c.batch}, fsync ${c.fsync}): append ${fmtInt(c.append.recPerSec)} / ` +
        `${fmtInt(TARGETS.appendPerSec)} records/s ${a}; read ${fmtInt(c.read.recPerSec)} / ` +
        `${fmtInt(TARGETS.readPerSec)} records/s ${r}`,
    )
  }
  return lines.join('\n')
}
