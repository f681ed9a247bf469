// A serde named by its registry subject, for the DSL: `value: subject({ subject: 'orders-value', schema })`. The
// pipeline is defined before any registry is at hand, so the serde is bound when the pipeline starts
// (runPipeline({ registry })): the reader schema is checked against the subject then, and the pipeline does not
// start when it is not compatible.
import { SluiceError } from '../errors/index.ts'
import type { Serde } from '../serde/serde.ts'
import { type RegistryApi, type SubjectSerde, type SubjectSerdeOptions, subjectSerde } from './client.ts'

export interface SubjectBoundSerde<T> extends Serde<T> {
  readonly subject: string
  /** Checks the schema against the subject and fetches the subject's schemas; until then the serde refuses work. */
  bind(api: RegistryApi): Promise<void>
  /** See SubjectSerde: the runner asks, before a batch, for writer schemas its records need. */
  unknownId(bytes: Buffer | null): number | null
  learn(ids: Iterable<number>): Promise<void>
}

export function isSubjectBound(serde: Serde<unknown>): serde is SubjectBoundSerde<unknown> {
  return typeof (serde as Partial<SubjectBoundSerde<unknown>>).bind === 'function'
}

export function subject<T = unknown>(options: SubjectSerdeOptions): SubjectBoundSerde<T> {
  let bound: SubjectSerde<T> | null = null
  const unbound = (): never => {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_CONFIG',
      `the serde of subject "${options.subject}" is not bound to a registry yet: run the pipeline with a registry ` +
        '(runPipeline(p, { registry: url }), sluice run --registry <url>), or make the serde with subjectSerde()',
      { details: { subject: options.subject } },
    )
  }
  return {
    subject: options.subject,
    get name() {
      return bound?.name ?? `subject(${options.subject})`
    },
    async bind(api) {
      bound = await subjectSerde<T>(api, options)
    },
    unknownId: (bytes) => (bound === null ? null : bound.unknownId(bytes)),
    learn: async (ids) => {
      if (bound !== null) await bound.learn(ids)
    },
    serialize: (value) => (bound ?? unbound()).serialize(value),
    deserialize: (bytes) => (bound ?? unbound()).deserialize(bytes),
  }
}
