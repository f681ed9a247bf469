// Can a reader with one JSON Schema accept every document valid under another? A structural check of the
// keywords that decide it in practice (types, properties and the content model, required, enum, bounds, items),
// following Confluent's JSON Schema rules: in an open content model adding a property is incompatible,
// in a closed one removing it is. `$ref`s are followed, within a schema and into the schemas its references name,
// so a change inside a referenced schema counts.
import { referenceUri, schemaId } from '../serde/json-schema.ts'
import type { ReferencedSchema } from './compatibility.ts'

type Json = Record<string, unknown>

/** A schema document, and the URI its relative `$ref`s resolve against ('' when it has none). */
interface Doc {
  uri: string
  root: unknown
}

/** A node of a schema, with the document it is in. */
interface Located {
  node: unknown
  doc: Doc
}

/** One side's documents: the schema, and each schema it references at the URI its reference name resolves to. */
class Documents {
  readonly root: Doc
  readonly #byUri = new Map<string, Doc>()

  constructor(schema: string, referenced: readonly ReferencedSchema[]) {
    const root = JSON.parse(schema)
    const base = schemaId(root)
    this.root = { uri: referenceUri(undefined, base ?? ''), root }
    this.#byUri.set(this.root.uri, this.root)
    for (const r of referenced) {
      const uri = referenceUri(base, r.name)
      const parsed = JSON.parse(r.schema)
      const id = schemaId(parsed)
      const doc = { uri: id === undefined ? uri : referenceUri(uri, id), root: parsed }
      for (const key of [uri, doc.uri]) if (!this.#byUri.has(key)) this.#byUri.set(key, doc)
    }
  }

  /** Where a `$ref` in `doc` leads; undefined for what this check does not follow (anchors, unknown URIs). */
  resolve(doc: Doc, ref: string): Located | undefined {
    const hash = ref.indexOf('#')
    const address = hash < 0 ? ref : ref.slice(0, hash)
    const pointer = hash < 0 ? '' : ref.slice(hash + 1)
    const target = address === '' ? doc : this.#byUri.get(referenceUri(doc.uri || undefined, address))
    if (target === undefined || (pointer !== '' && !pointer.startsWith('/'))) return undefined
    let node = target.root
    for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
      let key: string
      try {
        key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~')
      } catch {
        return undefined
      }
      if (typeof node !== 'object' || node === null || !(key in node)) return undefined
      node = (node as Json)[key]
    }
    return { node, doc: target }
  }

  /** The node itself, or what its `$ref` chain ends at (draft 7: a `$ref` stands for its target). */
  follow(at: Located): Located {
    const seen = new Set<unknown>()
    let here = at
    while (isRef(here.node) && !seen.has(here.node)) {
      seen.add(here.node)
      const next = this.resolve(here.doc, here.node.$ref)
      if (next === undefined) return here
      here = next
    }
    return here
  }
}

function isRef(node: unknown): node is { $ref: string } {
  return typeof node === 'object' && node !== null && typeof (node as Json).$ref === 'string'
}

interface Sides {
  reader: Documents
  writer: Documents
  /** Pairs of nodes being compared further up: a recursive schema meets them again, and is not compared twice. */
  onStack: Map<unknown, Set<unknown>>
}

// What an absent writer keyword accepts; one object, so that a recursive reader against it ends (see onStack).
const ANYTHING: Json = Object.freeze({})

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

function compare(readerAt: Located, writerAt: Located, path: string, out: string[], sides: Sides): void {
  const rAt = sides.reader.follow(readerAt)
  const wAt = sides.writer.follow(writerAt)
  const reader = rAt.node
  const writer = wAt.node
  if (reader === true || reader === undefined) return
  if (reader === false) {
    if (writer !== false) out.push(`${path}: the reader accepts nothing here`)
    return
  }
  if (typeof reader !== 'object' || reader === null) return
  const r = reader as Json
  const w = (typeof writer === 'object' && writer !== null ? writer : ANYTHING) as Json
  const pairs = sides.onStack.get(r) ?? new Set<unknown>()
  if (pairs.has(w)) return
  sides.onStack.set(r, pairs.add(w))
  try {
    compareNode(r, w, { reader: rAt.doc, writer: wAt.doc }, path, out, sides)
  } finally {
    pairs.delete(w)
  }
}

function compareNode(
  r: Json,
  w: Json,
  docs: { reader: Doc; writer: Doc },
  path: string,
  out: string[],
  sides: Sides,
): void {
  const inReader = (node: unknown): Located => ({ node, doc: docs.reader })
  const inWriter = (node: unknown): Located => ({ node, doc: docs.writer })
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
    if (name in wProps) compare(inReader(rProps[name]), inWriter(wProps[name]), `${path}/${name}`, out, sides)
    else if (isOpen(w)) out.push(`${path}/${name}: a property was added to an open content model`)
  }
  for (const name of Object.keys(wProps)) {
    if (!(name in rProps) && !isOpen(r))
      out.push(`${path}/${name}: a property was removed from a closed content model`)
  }
  if (r.items !== undefined && !Array.isArray(r.items)) {
    compare(inReader(r.items), inWriter(w.items ?? ANYTHING), `${path}/items`, out, sides)
  }
}

/** Problems for reading data written with `writer` by a reader with `reader`, each with the schemas it references. */
export function jsonReadProblems(
  reader: string,
  writer: string,
  readerReferenced: readonly ReferencedSchema[] = [],
  writerReferenced: readonly ReferencedSchema[] = [],
): string[] {
  const sides: Sides = {
    reader: new Documents(reader, readerReferenced),
    writer: new Documents(writer, writerReferenced),
    onStack: new Map(),
  }
  const out: string[] = []
  compare(
    { node: sides.reader.root.root, doc: sides.reader.root },
    { node: sides.writer.root.root, doc: sides.writer.root },
    '',
    out,
    sides,
  )
  return out.map((p) => (p.startsWith(':') ? `/${p}` : p))
}
