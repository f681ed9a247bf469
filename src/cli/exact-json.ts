// JSON.parse that keeps numbers exactly as written. Record values are bytes the CLI must not alter: a plain
// parse would turn 12345678901234567890 into 12345678901234567000 and 1.50 into 1.5 when printed back.
// Node 24's JSON.parse gives revivers the source text, and JSON.rawJSON lets JSON.stringify emit it verbatim.

interface RawJson {
  rawJSON(text: string): { readonly rawJSON: string }
  isRawJSON(value: unknown): value is { readonly rawJSON: string }
}
type SourceReviver = (this: unknown, key: string, value: unknown, context: { source?: string }) => unknown

const raw = JSON as unknown as RawJson

const keepNumberText: SourceReviver = (_key, value, context) =>
  typeof value === 'number' && context.source !== undefined && String(value) !== context.source
    ? raw.rawJSON(context.source)
    : value

/** Parses JSON text; numbers that would lose digits or formatting come back as raw JSON that stringifies as is. */
export function parseExact(text: string): unknown {
  return JSON.parse(text, keepNumberText as Parameters<typeof JSON.parse>[1])
}

/** The text of a parsed scalar: strings as they are, numbers in their original spelling, the rest as JSON. */
export function scalarText(value: unknown): string {
  if (typeof value === 'string') return value
  if (raw.isRawJSON(value)) return value.rawJSON
  return JSON.stringify(value)
}
