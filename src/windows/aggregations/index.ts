// The built-in window aggregations. Each is a factory returning an Aggregator whose accumulator is
// structured-cloneable (state backends serialize it) and whose merge leaves its inputs untouched.
export { type AvgAccumulator, avg } from './avg.ts'
export { type CollectOptions, collect } from './collect.ts'
export {
  type CombinedAccumulator,
  type CombinedInput,
  type CombinedResult,
  combine,
} from './combine.ts'
export { count } from './count.ts'
export { countDistinct } from './count-distinct.ts'
export { max } from './max.ts'
export { min } from './min.ts'
export { type ReduceAccumulator, reduce } from './reduce.ts'
export { sum } from './sum.ts'
export { type Ranked, type TopNOptions, topN } from './top-n.ts'
