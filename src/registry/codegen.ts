// TypeScript types from a registered schema, for the values the Sluice serdes read and write: Avro records and
// enums, JSON Schema objects, Protobuf messages (64-bit integers as strings, enums by name, as the serde gives them).
import avsc from 'avsc'
import protobuf from 'protobufjs'
import type { SchemaType } from './compatibility.ts'

function pascal(name: string): string {
  const short = name.slice(name.lastIndexOf('.') + 1)
  return short.replace(/(^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_m, _s, c: string) => c.toUpperCase())
}

function prop(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name)
}

function doc(text: unknown, indent = ''): string {
  return typeof text === 'string' && text !== '' ? `${indent}/** ${text.replace(/\*\//g, '* /')} */\n` : ''
}

interface AvroView {
  typeName: string
  name?: string
  doc?: string
  symbols?: string[]
  types?: AvroView[]
  itemsType?: AvroView
  valuesType?: AvroView
  fields?: { name: string; type: AvroView; doc?: string }[]
}

function avroTypes(schema: string): string {
  const out: string[] = []
  const done = new Set<string>()
  const ref = (t: AvroView): string => {
    const kind = t.typeName.startsWith('union') ? 'union' : t.typeName
    switch (kind) {
      case 'null':
        return 'null'
      case 'boolean':
        return 'boolean'
      case 'int':
      case 'long':
      case 'float':
      case 'double':
        return 'number'
      case 'bytes':
      case 'fixed':
        return 'Buffer'
      case 'string':
        return 'string'
      case 'array':
        return `Array<${ref(t.itemsType as AvroView)}>`
      case 'map':
        return `Record<string, ${ref(t.valuesType as AvroView)}>`
      case 'union':
        return (t.types ?? []).map(ref).join(' | ')
      case 'enum':
      case 'record':
      case 'error': {
        const name = pascal(t.name as string)
        if (!done.has(name)) {
          done.add(name)
          if (kind === 'enum') {
            out.push(
              `${doc(t.doc)}export type ${name} = ${(t.symbols ?? []).map((s) => JSON.stringify(s)).join(' | ')}\n`,
            )
          } else {
            const fields = (t.fields ?? []).map(
              (f) => `${doc(f.doc, '  ')}  ${prop(f.name)}: ${ref(f.type)}\n`,
            )
            out.push(`${doc(t.doc)}export interface ${name} {\n${fields.join('')}}\n`)
          }
        }
        return name
      }
      default:
        return 'unknown'
    }
  }
  const root = avsc.Type.forSchema(JSON.parse(schema)) as unknown as AvroView
  const top = ref(root)
  if (!done.has(top)) out.push(`export type Value = ${top}\n`)
  return out.join('\n')
}

type Json = Record<string, unknown>

function jsonTypes(schema: string, rootName: string): string {
  const out: string[] = []
  const ref = (s: unknown, name: string): string => {
    if (s === true || s === undefined) return 'unknown'
    if (s === false) return 'never'
    const j = s as Json
    if (Array.isArray(j.enum)) return j.enum.map((v) => JSON.stringify(v)).join(' | ')
    if (j.const !== undefined) return JSON.stringify(j.const)
    const types =
      j.type === undefined ? [] : Array.isArray(j.type) ? (j.type as string[]) : [j.type as string]
    if (types.length === 0 && j.properties !== undefined) types.push('object')
    if (types.length === 0) return 'unknown'
    return types
      .map((t) => {
        if (t === 'string') return 'string'
        if (t === 'integer' || t === 'number') return 'number'
        if (t === 'boolean') return 'boolean'
        if (t === 'null') return 'null'
        if (t === 'array') return `Array<${ref(j.items, `${name}Item`)}>`
        if (t === 'object') {
          if (j.properties === undefined) return 'Record<string, unknown>'
          const required = new Set((j.required as string[] | undefined) ?? [])
          const props = Object.entries(j.properties as Json).map(([k, v]) => {
            const opt = required.has(k) ? '' : '?'
            return `${doc((v as Json)?.description, '  ')}  ${prop(k)}${opt}: ${ref(v, name + pascal(k))}\n`
          })
          out.push(`${doc(j.description)}export interface ${name} {\n${props.join('')}}\n`)
          return name
        }
        return 'unknown'
      })
      .join(' | ')
  }
  const parsed = JSON.parse(schema) as Json
  const title = typeof parsed.title === 'string' ? pascal(parsed.title) : rootName
  const top = ref(parsed, title)
  if (top !== title) out.push(`export type ${title} = ${top}\n`)
  return out.join('\n')
}

const protoScalars: Record<string, string> = {
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'string',
  uint64: 'string',
  sint64: 'string',
  fixed64: 'string',
  sfixed64: 'string',
  bool: 'boolean',
  string: 'string',
  bytes: 'Buffer',
}

function protoTypes(schema: string): string {
  const { root } = protobuf.parse(schema, { keepCase: true })
  root.resolveAll()
  const out: string[] = []
  const nameOf = (t: protobuf.ReflectionObject): string => {
    const parts: string[] = []
    let o: protobuf.ReflectionObject | null = t
    while (o !== null && (o instanceof protobuf.Type || o instanceof protobuf.Enum)) {
      parts.unshift(pascal(o.name))
      o = o.parent
    }
    return parts.join('_')
  }
  const fieldType = (f: protobuf.Field): string => {
    const base = f.resolvedType ? nameOf(f.resolvedType) : (protoScalars[f.type] ?? 'unknown')
    if (f instanceof protobuf.MapField) return `Record<string, ${base}>`
    return f.repeated ? `Array<${base}>` : base
  }
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const n of ns.nestedArray) {
      if (n instanceof protobuf.Enum) {
        out.push(
          `export type ${nameOf(n)} = ${Object.keys(n.values)
            .map((v) => JSON.stringify(v))
            .join(' | ')}\n`,
        )
      } else if (n instanceof protobuf.Type) {
        const fields = n.fieldsArray.map((f) => `  ${prop(f.name)}: ${fieldType(f)}\n`)
        out.push(`export interface ${nameOf(n)} {\n${fields.join('')}}\n`)
        walk(n)
      } else if (n instanceof protobuf.Namespace) {
        walk(n)
      }
    }
  }
  walk(root)
  return out.join('\n')
}

/** TypeScript declarations for the values of a schema; `rootName` names a JSON Schema without a title. */
export function typescriptTypes(schemaType: SchemaType, schema: string, rootName = 'Value'): string {
  const body =
    schemaType === 'AVRO'
      ? avroTypes(schema)
      : schemaType === 'JSON'
        ? jsonTypes(schema, rootName)
        : protoTypes(schema)
  return `// Generated by sluice from a ${schemaType} schema. Do not edit.\n\n${body}`
}
