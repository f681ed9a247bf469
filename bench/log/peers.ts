// The yardsticks the log is compared with, measured in the same run on the same filesystem: `dd` for the disk's
// sequential write bandwidth, and a plain framed write loop (length + CRC32C per record, 1000 records per write).
import { spawnSync } from 'node:child_process'
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { crc32c } from '@node-rs/crc32'
import { Meter, type Phase } from './meter.ts'
import { removeScratch, scratchFile } from './scratch.ts'
import type { Record } from './workload.ts'

export interface DdResult {
  bytes: number
  seconds: number
  mbPerSec: number
}

/** `dd if=/dev/zero bs=1M count=<mib> conv=fdatasync`: sequential write bandwidth down to the disk. */
export function ddWrite(baseDir: string, mib: number): DdResult {
  const file = scratchFile(baseDir, 'dd')
  try {
    const res = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fdatasync'], {
      encoding: 'utf8',
    })
    if (res.status !== 0) throw new Error(`dd failed: ${res.stderr || res.error?.message}`)
    return parseDd(res.stderr)
  } finally {
    removeScratch(file)
  }
}

function parseDd(text: string): DdResult {
  // "536870912 bytes (537 MB, 512 MiB) copied, 0.233 s, 2.3 GB/s"
  const m = /(\d+) bytes .* copied, ([\d.,]+) s/.exec(text)
  if (!m) throw new Error(`cannot parse dd output: ${text}`)
  const bytes = Number(m[1])
  const seconds = Number(m[2].replace(',', '.'))
  return { bytes, seconds, mbPerSec: bytes / seconds / 1e6 }
}

/**
 * The simplest durable log one could write by hand: each 100-byte value framed as length (int32) + CRC32C (uint32)
 * + bytes, 1000 records per writeSync, fdatasync every `intervalMs` in the background (as the log's interval mode).
 */
export async function plainFramedLoop(
  baseDir: string,
  pool: readonly Record[],
  seconds: number,
  maxRecords: number,
  intervalMs: number,
): Promise<Phase> {
  const file = scratchFile(baseDir, 'plain')
  const fd = openSync(file, 'w')
  const perWrite = 1000
  try {
    const t0 = performance.now()
    const meter = new Meter()
    const deadline = t0 + seconds * 1000
    let lastSync = t0
    let lastYield = t0
    let syncing: Promise<void> | null = null
    let records = 0
    let bytes = 0
    let next = 0
    while (records < maxRecords) {
      let size = 0
      for (let i = 0; i < perWrite; i++) size += 8 + pool[(next + i) % pool.length].value.length
      const buf = Buffer.allocUnsafe(size)
      let pos = 0
      for (let i = 0; i < perWrite; i++) {
        const v = pool[next++ % pool.length].value
        buf.writeInt32BE(v.length, pos)
        buf.writeUInt32BE(crc32c(v), pos + 4)
        v.copy(buf, pos + 8)
        pos += 8 + v.length
      }
      let written = 0
      while (written < size) written += writeSync(fd, buf, written, size - written)
      records += perWrite
      bytes += size
      const now = performance.now()
      if (now >= deadline) break
      if (now - lastSync >= intervalMs && syncing === null) {
        lastSync = now
        syncing = new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())))
        syncing.then(() => {
          syncing = null
        })
      }
      if (now - lastYield >= 5) {
        await nextTurn()
        lastYield = now
      }
    }
    const phase = meter.phase(records, bytes)
    if (syncing) await syncing
    return phase
  } finally {
    closeSync(fd)
    removeScratch(file)
  }
}
