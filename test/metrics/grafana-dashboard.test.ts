// docs/grafana-dashboard.json and docs/metrics.md stay in step with the metrics the runner exports: the dashboard
// parses, queries only metrics that exist, and every metric is documented.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { PipelineMetrics } from '../../src/metrics/pipeline-metrics.ts'

const root = new URL('../../', import.meta.url)
const dashboard = JSON.parse(readFileSync(new URL('docs/grafana-dashboard.json', root), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[]
  templating: { list: { name: string; type: string; query: unknown }[] }
}
const metricsDoc = readFileSync(new URL('docs/metrics.md', root), 'utf8')

/** Metric names with the series Prometheus derives from them (histograms: _bucket, _sum, _count). */
async function exported(): Promise<{ base: Set<string>; series: Set<string> }> {
  const registry = new Registry()
  new PipelineMetrics(registry)
  const base = new Set<string>()
  const series = new Set<string>()
  for (const m of await registry.getMetricsAsJSON()) {
    base.add(m.name)
    series.add(m.name)
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) series.add(m.name + s)
  }
  return { base, series }
}

describe('the Grafana dashboard', () => {
  it('has a Prometheus data source variable and queries in every panel', () => {
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource')
    assert.equal(ds?.query, 'prometheus')
    assert.ok(dashboard.panels.length >= 8)
    for (const p of dashboard.panels) assert.ok(p.targets.length > 0, `${p.title} has a query`)
  })

  it('queries only metrics that src/metrics/pipeline-metrics.ts defines, and all of them', async () => {
    const { base, series } = await exported()
    const queried = new Set<string>()
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))
    exprs.push(JSON.stringify(dashboard.templating.list))
    for (const expr of exprs) for (const [name] of expr.matchAll(/\bsluice_[a-z_]+/g)) queried.add(name)
    for (const name of queried) assert.ok(series.has(name), `${name} is queried but not defined`)
    for (const name of base) {
      const used = [...queried].some((q) => q === name || q.startsWith(`${name}_`))
      assert.ok(used, `${name} is defined but no panel shows it`)
    }
  })

  it('docs/metrics.md documents every metric', async () => {
    for (const name of (await exported()).base)
      assert.ok(metricsDoc.includes(`\`${name}\``), `${name} is missing from docs/metrics.md`)
  })
})
