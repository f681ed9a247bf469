// Complex event processing: the pattern language, and detection on keyed streams (docs/cep.md).
export { type DetectOptions, detect, type Match, PatternStream, type TimedOut } from './detect.ts'
export {
  afterMatch,
  type Condition,
  type Contiguity,
  type MatchContext,
  Pattern,
  pattern,
  type SkipStrategy,
} from './pattern.ts'
