// The metrics of running pipelines, in one place, as Prometheus series: throughput, consumer lag, end-to-end
// latency, watermark lag, late records, dead letters, commit duration and restore progress. The runner feeds them;
// the server exposes them at /metrics and summarizes them at /v1/pipelines.
import { Counter, register as defaultRegistry, Gauge, Histogram, type Registry } from 'prom-client'

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10, 30]

export class PipelineMetrics {
  readonly registry: Registry
  readonly recordsIn: Counter<'pipeline' | 'task'>
  readonly recordsOut: Counter<'pipeline' | 'topic'>
  readonly consumerLag: Gauge<'pipeline' | 'topic' | 'partition'>
  readonly endToEndLatency: Histogram<'pipeline'>
  readonly watermarkLag: Gauge<'pipeline' | 'task'>
  readonly lateRecords: Counter<'pipeline' | 'step'>
  readonly deadLetters: Counter<'pipeline' | 'step'>
  readonly skippedRecords: Counter<'pipeline' | 'step'>
  readonly commitDuration: Histogram<'pipeline' | 'guarantee'>
  readonly commits: Counter<'pipeline' | 'guarantee'>
  readonly restoreRecords: Counter<'pipeline' | 'store'>
  readonly restorePercent: Gauge<'pipeline' | 'task' | 'store'>

  constructor(registry: Registry = defaultRegistry) {
    this.registry = registry
    const reuse = <T>(name: string, make: () => T): T =>
      (registry.getSingleMetric(name) as T | undefined) ?? make()
    this.recordsIn = reuse(
      'sluice_records_in_total',
      () =>
        new Counter({
          name: 'sluice_records_in_total',
          help: 'Records read by the tasks of a pipeline',
          labelNames: ['pipeline', 'task'],
          registers: [registry],
        }),
    )
    this.recordsOut = reuse(
      'sluice_records_out_total',
      () =>
        new Counter({
          name: 'sluice_records_out_total',
          help: 'Records written to output and internal topics, by topic',
          labelNames: ['pipeline', 'topic'],
          registers: [registry],
        }),
    )
    this.consumerLag = reuse(
      'sluice_consumer_lag_records',
      () =>
        new Gauge({
          name: 'sluice_consumer_lag_records',
          help: 'Records between the log end and what the pipeline has processed, per input partition',
          labelNames: ['pipeline', 'topic', 'partition'],
          registers: [registry],
        }),
    )
    this.endToEndLatency = reuse(
      'sluice_end_to_end_latency_seconds',
      () =>
        new Histogram({
          name: 'sluice_end_to_end_latency_seconds',
          help: 'From the input record timestamp (the ingest time for records ingested by sluice) to the commit of its effects',
          labelNames: ['pipeline'],
          buckets: LATENCY_BUCKETS,
          registers: [registry],
        }),
    )
    this.watermarkLag = reuse(
      'sluice_watermark_lag_seconds',
      () =>
        new Gauge({
          name: 'sluice_watermark_lag_seconds',
          help: 'Processing time minus the task watermark',
          labelNames: ['pipeline', 'task'],
          registers: [registry],
        }),
    )
    this.lateRecords = reuse(
      'sluice_late_records_total',
      () =>
        new Counter({
          name: 'sluice_late_records_total',
          help: 'Records that arrived after allowed lateness (sent to the late side output)',
          labelNames: ['pipeline', 'step'],
          registers: [registry],
        }),
    )
    this.deadLetters = reuse(
      'sluice_dead_letters_total',
      () =>
        new Counter({
          name: 'sluice_dead_letters_total',
          help: 'Records sent to a dead-letter topic',
          labelNames: ['pipeline', 'step'],
          registers: [registry],
        }),
    )
    this.skippedRecords = reuse(
      'sluice_skipped_records_total',
      () =>
        new Counter({
          name: 'sluice_skipped_records_total',
          help: "Records dropped by a step under the 'skip' error policy",
          labelNames: ['pipeline', 'step'],
          registers: [registry],
        }),
    )
    this.commitDuration = reuse(
      'sluice_commit_duration_seconds',
      () =>
        new Histogram({
          name: 'sluice_commit_duration_seconds',
          help: 'Duration of a commit (outputs, changelogs and offsets)',
          labelNames: ['pipeline', 'guarantee'],
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
          registers: [registry],
        }),
    )
    this.commits = reuse(
      'sluice_commits_total',
      () =>
        new Counter({
          name: 'sluice_commits_total',
          help: 'Commits made',
          labelNames: ['pipeline', 'guarantee'],
          registers: [registry],
        }),
    )
    this.restoreRecords = reuse(
      'sluice_restore_records_total',
      () =>
        new Counter({
          name: 'sluice_restore_records_total',
          help: 'Changelog records replayed to restore state',
          labelNames: ['pipeline', 'store'],
          registers: [registry],
        }),
    )
    this.restorePercent = reuse(
      'sluice_restore_progress_percent',
      () =>
        new Gauge({
          name: 'sluice_restore_progress_percent',
          help: 'Progress of restoring a store of a task',
          labelNames: ['pipeline', 'task', 'store'],
          registers: [registry],
        }),
    )
  }
}
