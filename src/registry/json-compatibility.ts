// Can a reader with one JSON Schema accept every document valid under another? A structural check of the
// keywords that decide it in practice (types, properties and the content model, required, enum, bounds, items),
// following Confluent's JSON Schema rules: in an open content model adding a property is incompatible,
// in a closed one removing it is.
type Json = Record<string, unknown>

function types(schema: Json): Set<string> | undefined {
  const t = schema.type
  if (t === undefined) return undefined
  return new Set(Array.isArray(t) ? (t as string[]) : [t as string])
}

function isOpen(schema: Json): boolean {
  return schema.additionalProperties !== false
}

const lowerBounds = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties']
const upperBounds = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties']

function compare(reader: unknown, writer: unknown, path: string, out: string[]): void {
  if (reader === true || reader === undefined) return
  if (reader === false) {
    if (writer !== false) out.push(`${path}: the reader accepts nothing here`)
    return
  }
  if (typeof reader !== 'object' || reader === null) return
  const r = reader as Json
  const w = (typeof writer === 'object' && writer !== null ? writer : {}) as Json
  const rt = types(r)
  const wt = types(w)
  if (rt !== undefined) {
    const accepted = (t: string): boolean => rt.has(t) || (t === 'integer' && rt.has('number'))
    const missing = wt === undefined ? ['any type'] : [...wt].filter((t) => !accepted(t))
    if (missing.length > 0) out.push(`${path}: the reader does not accept ${missing.join(', ')}`)
  }
  if (r.enum !== undefined) {
    const allowed = (r.enum as unknown[]).map((v) => JSON.stringify(v))
    const written = w.enum === undefined ? undefined : (w.enum as unknown[]).map((v) => JSON.stringify(v))
    if (written === undefined) out.push(`${path}: the reader added an enum`)
    else {
      const gone = written.filter((v) => !allowed.includes(v))
      if (gone.length > 0) out.push(`${path}: the reader's enum lacks ${gone.join(', ')}`)
    }
  }
  if (r.const !== undefined && JSON.stringify(r.const) !== JSON.stringify(w.const)) {
    out.push(`${path}: the reader's const differs`)
  }
  if (r.pattern !== undefined && r.pattern !== w.pattern) out.push(`${path}: the reader's pattern differs`)
  for (const k of lowerBounds) {
    if (typeof r[k] === 'number' && !(typeof w[k] === 'number' && (w[k] as number) >= (r[k] as number))) {
      out.push(`${path}: ${k} was raised or added`)
    }
  }
  for (const k of upperBounds) {
    if (typeof r[k] === 'number' && !(typeof w[k] === 'number' && (w[k] as number) <= (r[k] as number))) {
      out.push(`${path}: ${k} was lowered or added`)
    }
  }
  const wRequired = new Set((w.required as string[] | undefined) ?? [])
  for (const name of (r.required as string[] | undefined) ?? []) {
    if (!wRequired.has(name)) out.push(`${path}/${name}: the property became required`)
  }
  const rProps = (r.properties ?? {}) as Json
  const wProps = (w.properties ?? {}) as Json
  if (isOpen(w) && !isOpen(r)) out.push(`${path}: the content model was closed (additionalProperties: false)`)
  for (const name of Object.keys(rProps)) {
    if (name in wProps) compare(rProps[name], wProps[name], `${path}/${name}`, out)
    else if (isOpen(w)) out.push(`${path}/${name}: a property was added to an open content model`)
  }
  for (const name of Object.keys(wProps)) {
    if (!(name in rProps) && !isOpen(r))
      out.push(`${path}/${name}: a property was removed from a closed content model`)
  }
  if (r.items !== undefined && !Array.isArray(r.items)) compare(r.items, w.items ?? {}, `${path}/items`, out)
}

export function jsonReadProblems(reader: string, writer: string): string[] {
  const out: string[] = []
  compare(JSON.parse(reader), JSON.parse(writer), '', out)
  return out.map((p) => (p.startsWith(':') ? `/${p}` : p))
}
