// Can a reader with one .proto schema read data written with another? Confluent's Protobuf rules, which look at
// the wire: field numbers and wire types matter, names do not; removed messages, changed packages, required
// fields added or removed and fields taken out of a oneof do.
import protobuf from 'protobufjs'

type PbType = protobuf.Type

// Scalar types that share a wire encoding and so read each other's data.
const wireGroups: readonly (readonly string[])[] = [
  ['int32', 'uint32', 'int64', 'uint64', 'bool', 'enum'],
  ['sint32', 'sint64'],
  ['fixed32', 'sfixed32'],
  ['fixed64', 'sfixed64'],
  ['string', 'bytes'],
]
const lengthDelimited = new Set(['string', 'bytes', 'message'])

interface Parsed {
  pkg: string
  types: Map<string, PbType>
}

function parse(text: string, referenced: readonly string[] = []): Parsed {
  const shared = new protobuf.Root()
  for (const ref of referenced) protobuf.parse(ref, shared, { keepCase: true })
  const { root, package: pkg } = protobuf.parse(text, shared, { keepCase: true })
  try {
    root.resolveAll()
  } catch {
    // Imports (schema references) are not resolved here; types from them compare by name.
  }
  const types = new Map<string, PbType>()
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) types.set(nested.fullName.replace(/^\./, ''), nested)
      if (nested instanceof protobuf.Namespace) walk(nested)
    }
  }
  walk(root)
  return { pkg: pkg ?? '', types }
}

/** 'message' or 'enum' for named types, else the scalar name. */
function kindOf(field: protobuf.Field): string {
  const resolved = field.resolvedType
  if (resolved instanceof protobuf.Enum) return 'enum'
  if (resolved instanceof protobuf.Type) return 'message'
  return field.type
}

function typeName(field: protobuf.Field): string {
  return field.resolvedType ? field.resolvedType.fullName.replace(/^\./, '') : field.type
}

function wireCompatible(a: string, b: string): boolean {
  return a === b || wireGroups.some((g) => g.includes(a) && g.includes(b))
}

/** Problems for reading data written with `writer` by a reader with `reader` (Confluent's diff writer → reader). */
export function protobufReadProblems(
  reader: string,
  writer: string,
  readerReferenced: readonly string[] = [],
  writerReferenced: readonly string[] = [],
): string[] {
  const r = parse(reader, readerReferenced)
  const w = parse(writer, writerReferenced)
  const problems: string[] = []
  if (r.pkg !== w.pkg) problems.push(`the package changed from "${w.pkg}" to "${r.pkg}"`)
  for (const [name, wt] of w.types) {
    const rt = r.types.get(name)
    if (rt === undefined) {
      problems.push(`${name}: the message was removed`)
      continue
    }
    let movedIntoOneof = 0
    for (const wf of wt.fieldsArray) {
      const rf = rt.fieldsById[wf.id]
      const at = `${name}.${wf.name} (${wf.id})`
      if (rf === undefined) {
        if (wf.required) problems.push(`${at}: a required field was removed`)
        if (wf.partOf !== null && wf.partOf.fieldsArray.length > 0)
          problems.push(`${at}: a field of a oneof was removed`)
        continue
      }
      const wk = kindOf(wf)
      const rk = kindOf(rf)
      if (rf.map !== wf.map || (wk === 'message') !== (rk === 'message') || !wireCompatible(wk, rk)) {
        problems.push(`${at}: the type changed from ${wf.map ? 'map' : wk} to ${rf.map ? 'map' : rk}`)
      } else if (wk === 'message' && typeName(wf) !== typeName(rf)) {
        problems.push(`${at}: the message type changed from ${typeName(wf)} to ${typeName(rf)}`)
      } else if (wf.repeated !== rf.repeated && !(lengthDelimited.has(wk) && !wf.repeated)) {
        problems.push(`${at}: changed between repeated and single`)
      }
      if (rf.required && !wf.required) problems.push(`${at}: the field became required`)
      if (wf.required && !rf.required) problems.push(`${at}: the field is no longer required`)
      if (wf.partOf !== null && rf.partOf === null)
        problems.push(`${at}: the field was taken out of its oneof`)
      if (wf.partOf === null && rf.partOf !== null) movedIntoOneof++
    }
    for (const rf of rt.fieldsArray) {
      if (rf.required && wt.fieldsById[rf.id] === undefined) {
        problems.push(`${name}.${rf.name} (${rf.id}): a required field was added`)
      }
    }
    if (movedIntoOneof > 1)
      problems.push(`${name}: ${movedIntoOneof} existing fields were moved into a oneof`)
  }
  return problems
}
