// The in-process view: committed results only, upserts (a result replaces the one before it), the latest windows
// kept and older ones dropped, and listeners told after each commit without being able to fail it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ClickstreamResult } from '../../../apps/clickstream/pipeline.ts'
import { clickstreamView } from '../../../apps/clickstream/view.ts'
import type { Rec, SinkContext } from '../../../src/index.ts'

const ctx: SinkContext = { pipeline: 'clickstream', step: 'page-views-sink', taskId: '1_0', partition: 0 }
const rec = (value: ClickstreamResult): Rec<unknown, ClickstreamResult> => ({
  key: null,
  value,
  timestamp: 0,
})
const views = (start: number, page: string, n: number): ClickstreamResult => ({
  kind: 'page-views',
  start,
  end: start + 60_000,
  page,
  views: n,
})

describe('clickstream view', () => {
  it('shows results once committed, and nothing of an aborted commit', async () => {
    const view = clickstreamView({ clock: () => 42 })
    const sink = view.factory(ctx)
    await sink.open(ctx, null)
    sink.write([rec(views(0, '/a', 1))])
    await sink.prepare(1)
    assert.deepEqual(view.snapshot().windows, [])
    assert.equal(view.snapshot().updatedAt, null)
    await sink.commit(1)
    assert.equal(view.snapshot().totals.views, 1)
    assert.equal(view.snapshot().updatedAt, 42)
    sink.write([rec(views(0, '/a', 2))])
    await sink.prepare(2)
    await sink.abort(2)
    await sink.commit(2)
    assert.equal(view.snapshot().totals.views, 1)
  })

  it('takes each result as the new value of its window, and sums the views', async () => {
    const view = clickstreamView()
    const sink = view.factory(ctx)
    await sink.open(ctx, null)
    sink.write([
      rec(views(0, '/a', 1)),
      rec(views(0, '/a', 2)),
      rec(views(0, '/b', 1)),
      rec(views(60_000, '/a', 1)),
      rec({ kind: 'active-users', start: 0, end: 60_000, users: 2 }),
      rec({
        kind: 'top-pages',
        start: 0,
        end: 60_000,
        pages: [
          { page: '/a', views: 2 },
          { page: '/b', views: 1 },
        ],
      }),
      rec({ kind: 'active-users-5m', start: -240_000, end: 60_000, users: 2 }),
      rec({ kind: 'total', name: 'dead-letters', count: 3 }),
      rec({ kind: 'total', name: 'dead-letters', count: 4 }),
      rec({ kind: 'total', name: 'late', count: 1 }),
    ])
    await sink.prepare(1)
    await sink.commit(1)
    assert.deepEqual(view.snapshot(), {
      windows: [
        { start: 60_000, end: 120_000, views: 1, pages: 1, activeUsers: null, topPages: [] },
        {
          start: 0,
          end: 60_000,
          views: 3,
          pages: 2,
          activeUsers: 2,
          topPages: [
            { page: '/a', views: 2 },
            { page: '/b', views: 1 },
          ],
        },
      ],
      activeUsers5m: [{ start: -240_000, end: 60_000, users: 2 }],
      totals: { views: 4, deadLetters: 4, late: 1 },
      updatedAt: view.snapshot().updatedAt,
    })
    assert.deepEqual(view.pageViews(0), { '/a': 2, '/b': 1 })
    assert.equal(view.pageViews(120_000), null)
  })

  it('keeps the latest windows and ignores results for windows already dropped', async () => {
    const view = clickstreamView({ windows: 3 })
    const sink = view.factory(ctx)
    await sink.open(ctx, null)
    for (let i = 0; i < 5; i++) sink.write([rec(views(i * 60_000, '/a', 1))])
    await sink.prepare(1)
    await sink.commit(1)
    assert.deepEqual(
      view.snapshot().windows.map((w) => w.start),
      [240_000, 180_000, 120_000],
    )
    sink.write([rec(views(0, '/a', 5))])
    await sink.prepare(2)
    await sink.commit(2)
    assert.deepEqual(
      view.snapshot().windows.map((w) => w.start),
      [240_000, 180_000, 120_000],
    )
  })

  it('tells listeners after each commit; a failing listener does not fail the commit', async () => {
    const view = clickstreamView()
    const sink = view.factory(ctx)
    await sink.open(ctx, null)
    let calls = 0
    const unsubscribe = view.onUpdate(() => calls++)
    view.onUpdate(() => {
      throw new Error('dashboard went away')
    })
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    sink.write([rec(views(0, '/a', 1))])
    await sink.prepare(1)
    await sink.commit(1)
    unsubscribe()
    sink.write([rec(views(0, '/a', 2))])
    await sink.prepare(2)
    await sink.commit(2)
    await new Promise((r) => setImmediate(r))
    process.off('warning', onWarning)
    assert.equal(calls, 1)
    assert.ok(warnings.some((w) => w.includes('dashboard went away')))
  })
})
