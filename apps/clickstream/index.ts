// The clickstream analyzer: what the server, the dashboard and the demo command use.
export {
  type ClickstreamApp,
  type ClickstreamAppOptions,
  createClickstreamApp,
  createClickstreamTopics,
} from './app.ts'
export { type Checked, type Click, checkClick, lenientJson, type Problem, Unparseable } from './click.ts'
export {
  CLICKSTREAM_TOPICS,
  type ClickstreamOptions,
  type ClickstreamResult,
  type ClickstreamTopics,
  clickstreamPipeline,
  type DeadLetter,
} from './pipeline.ts'
export { type ClickstreamRedisOptions, clickstreamRedisSink, clickstreamRedisWrites } from './redis.ts'
export { type SendOptions, type SendStats, sendClicks } from './send.ts'
export {
  DEFAULT_START,
  generateClicks,
  type MalformedKind,
  type SimEvent,
  type SimKind,
  type SimulatorOptions,
  simulateClicks,
} from './simulator.ts'
export {
  type ClickstreamSnapshot,
  type ClickstreamView,
  type ClickstreamViewOptions,
  clickstreamView,
  type WindowSummary,
} from './view.ts'
