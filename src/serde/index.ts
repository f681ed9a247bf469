export { bytes, double, json, string } from './builtin.ts'
export type { Serde } from './serde.ts'
