// Numbers the dashboard derives from a pipeline's status (PipelineStatus in src/runtime/runner.ts).

/** Records read so far from the pipeline's input topics (its own repartition topics excluded). */
export const inputRecords = (status) => {
  let n = null
  for (const p of status.partitions ?? [])
    if (!p.topic.endsWith('-repartition') && typeof p.position === 'number') n = (n ?? 0) + p.position
  return n
}

/** Events per second read from the input topics over the last few seconds of history. */
export const inputRate = (history, now, records) => {
  if (records === null) return null
  const base = history.find((h) => h.t >= now - 5500 && h.records !== null)
  if (base === undefined || now - base.t < 900) return null
  return Math.max(0, ((records - base.records) * 1000) / (now - base.t))
}

export const sumLag = (status) => {
  let lag = null
  for (const p of status.partitions ?? []) if (typeof p.lag === 'number') lag = (lag ?? 0) + p.lag
  return lag
}

/** The slowest task's watermark: results of windows ending before it are final. Null before any task has one. */
export const pipelineWatermark = (status) => {
  let min = null
  for (const t of status?.tasks ?? [])
    if (typeof t.watermark === 'number' && Number.isFinite(t.watermark) && t.watermark > 0)
      min = min === null ? t.watermark : Math.min(min, t.watermark)
  return min
}

/** Processing time minus the pipeline's watermark, in seconds. */
export const watermarkLagSeconds = (status, now) => {
  const w = pipelineWatermark(status)
  return w === null ? null : Math.max(0, (now - w) / 1000)
}
