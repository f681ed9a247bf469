// What a pipeline does with a record it cannot read, process or write: a policy per kind of failure says whether
// the pipeline stops ('fail'), drops and counts the record ('skip'), or sends it to the dead-letter topic
// ('dead-letter'). The planner resolves them per pipeline; the runtime (runtime/dead-letters.ts) applies them.
import { SluiceError } from '../errors/index.ts'

export type ErrorPolicy = 'fail' | 'skip' | 'dead-letter'

export type FailureKind = 'deserialization' | 'processing' | 'production'

export interface ErrorPolicies {
  /** A source, table or repartition record whose key or value the serde refuses, or whose timestamp fails. */
  deserialization: ErrorPolicy
  /** A user function (map, filter, aggregate, process...) throws on a record. */
  processing: ErrorPolicy
  /** A result the sink topic's serde refuses. */
  production: ErrorPolicy
}

/** Bad input goes to the dead-letter topic; a failing user function or sink serde stops the pipeline. */
export const DEFAULT_ERROR_POLICIES: Readonly<ErrorPolicies> = {
  deserialization: 'dead-letter',
  processing: 'fail',
  production: 'fail',
}

export function deadLetterTopicName(applicationId: string): string {
  return `${applicationId}-dead-letters`
}

const POLICIES: readonly ErrorPolicy[] = ['fail', 'skip', 'dead-letter']

/** The defaults with the pipeline's choices over them; an unknown kind or policy is refused by name. */
export function resolvePolicies(pipeline: string, given: Partial<ErrorPolicies> | undefined): ErrorPolicies {
  const out = { ...DEFAULT_ERROR_POLICIES }
  for (const [kind, policy] of Object.entries(given ?? {})) {
    if (!(kind in out)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `pipeline ${pipeline}: errors.${kind} is not a kind of failure; use deserialization, processing or production`,
      )
    }
    if (!POLICIES.includes(policy as ErrorPolicy)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_PIPELINE',
        `pipeline ${pipeline}: errors.${kind} is ${JSON.stringify(policy)}; use 'fail', 'skip' or 'dead-letter'`,
      )
    }
    out[kind as FailureKind] = policy as ErrorPolicy
  }
  return out
}
