// The .proto text of a FileDescriptorProto. Confluent's clients send Protobuf schemas as base64 descriptors; the
// registry keeps schemas as text, as Confluent's does, so that every reader gets the text it expects.
import protobuf from 'protobufjs'
import descriptor from 'protobufjs/ext/descriptor.js'
import {
  LABEL_REPEATED,
  LABEL_REQUIRED,
  scalarTypes,
  TYPE_ENUM,
  TYPE_GROUP,
  TYPE_MESSAGE,
} from './protobuf-descriptor.ts'
import { registryError, registryErrorCode } from './registry-error.ts'

type Json = { [key: string]: unknown }
interface Field {
  name: string
  number: number
  label?: number
  type?: number
  typeName?: string
  extendee?: string
  defaultValue?: string
  oneofIndex?: number
  jsonName?: string
  proto3Optional?: boolean
  options?: Json
}
interface Message {
  name: string
  field: Field[]
  extension: Field[]
  nestedType: Message[]
  enumType: Enum[]
  oneofDecl: { name: string }[]
  extensionRange: { start: number; end: number }[]
  reservedRange: { start: number; end: number }[]
  reservedName: string[]
  options?: Json
}
interface Enum {
  name: string
  value: { name: string; number: number; options?: Json }[]
  reservedRange: { start: number; end: number }[]
  reservedName: string[]
  options?: Json
}
interface Service {
  name: string
  method: {
    name: string
    inputType: string
    outputType: string
    clientStreaming?: boolean
    serverStreaming?: boolean
    options?: Json
  }[]
  options?: Json
}
interface File {
  package?: string
  dependency: string[]
  publicDependency: number[]
  weakDependency: number[]
  messageType: Message[]
  enumType: Enum[]
  service: Service[]
  extension: Field[]
  options?: Json
  syntax?: string
}

const types = descriptor as unknown as Record<string, protobuf.Type>
const scalarNames = new Map(Object.entries(scalarTypes).map(([name, n]) => [n, name]))
const MAX_FIELD_NUMBER = 536870911
const MAX_ENUM_NUMBER = 2147483647

function unsupported(what: string): Error {
  return registryError(
    'INVALID_SCHEMA',
    `invalid PROTOBUF schema: the serialized descriptor uses ${what}, which Sluice cannot keep as .proto text; register the .proto text instead`,
  )
}

/** The options a descriptor options message holds, as `name = value` (scalars and enums; custom ones are lost). */
function optionPairs(type: string, options: Json | undefined, skip: readonly string[] = []): string[] {
  if (options === undefined) return []
  const pairs: string[] = []
  for (const field of types[type].fieldsArray) {
    const value = options[field.name]
    if (value === undefined || field.repeated || skip.includes(field.name)) continue
    const resolved = field.resolve().resolvedType
    if (resolved instanceof protobuf.Type) continue
    const name = field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
    const text =
      resolved instanceof protobuf.Enum
        ? resolved.valuesById[value as number]
        : typeof value === 'string'
          ? JSON.stringify(value)
          : String(value)
    pairs.push(`${name} = ${text}`)
  }
  return pairs
}

function optionLines(type: string, options: Json | undefined, pad: string, skip?: readonly string[]) {
  return optionPairs(type, options, skip).map((pair) => `${pad}option ${pair};`)
}

/** protoc's default JSON name: `order_id` is `orderId`. */
function defaultJsonName(name: string): string {
  return name.replace(/_([a-z]?)/g, (_, c: string) => c.toUpperCase())
}

function typeText(f: Pick<Field, 'type' | 'typeName'>): string {
  if (f.type === TYPE_GROUP) throw unsupported('groups')
  if (f.type !== undefined && f.type !== TYPE_MESSAGE && f.type !== TYPE_ENUM) {
    const name = scalarNames.get(f.type)
    if (name !== undefined) return name
  }
  if (f.typeName === undefined || f.typeName === '') throw unsupported('a field without a type')
  return f.typeName
}

function defaultLiteral(f: Field): string {
  const value = f.defaultValue as string
  if (f.type === scalarTypes.string) return JSON.stringify(value)
  if (f.type === scalarTypes.bytes) return `"${value}"` // descriptors hold bytes defaults C-escaped already
  return value
}

function ranges(rs: readonly { start: number; end: number }[], endAfter: number, max: number): string {
  return rs
    .map(({ start, end }) => {
      const last = end - endAfter
      if (last === start) return String(start)
      return `${start} to ${last >= max ? 'max' : last}`
    })
    .join(', ')
}

interface Scope {
  syntax: string
  pad: string
}

function fieldLine(f: Field, scope: Scope, entries: ReadonlyMap<string, Message>, inOneof: boolean): string {
  const entry = f.label === LABEL_REPEATED && f.type === TYPE_MESSAGE ? entryOf(f, entries) : undefined
  let label = ''
  let type: string
  if (entry !== undefined) {
    const key = entry.field.find((e) => e.number === 1) as Field
    const value = entry.field.find((e) => e.number === 2) as Field
    type = `map<${typeText(key)}, ${typeText(value)}>`
  } else {
    type = typeText(f)
    if (f.label === LABEL_REPEATED) label = 'repeated '
    else if (f.label === LABEL_REQUIRED) label = 'required '
    else if (!inOneof && (scope.syntax === 'proto2' || f.proto3Optional === true)) label = 'optional '
  }
  const options: string[] = []
  if (f.defaultValue !== undefined) options.push(`default = ${defaultLiteral(f)}`)
  if (f.jsonName !== undefined && f.jsonName !== defaultJsonName(f.name)) {
    options.push(`json_name = ${JSON.stringify(f.jsonName)}`)
  }
  options.push(...optionPairs('FieldOptions', f.options))
  const suffix = options.length > 0 ? ` [${options.join(', ')}]` : ''
  return `${scope.pad}${label}${type} ${f.name} = ${f.number}${suffix};`
}

/** The map entry type a field's type names, among the message's nested types. */
function entryOf(f: Field, entries: ReadonlyMap<string, Message>): Message | undefined {
  const name = f.typeName?.slice(f.typeName.lastIndexOf('.') + 1)
  return name === undefined ? undefined : entries.get(name)
}

function extendBlocks(extensions: readonly Field[], scope: Scope): string[] {
  const byExtendee = Map.groupBy(extensions, (f) => f.extendee ?? '')
  const inner = { ...scope, pad: `${scope.pad}  ` }
  return [...byExtendee].flatMap(([extendee, fields]) => [
    `${scope.pad}extend ${extendee} {`,
    ...fields.map((f) => fieldLine(f, inner, new Map(), false)),
    `${scope.pad}}`,
  ])
}

function enumLines(e: Enum, scope: Scope): string[] {
  const pad = `${scope.pad}  `
  const lines = [`${scope.pad}enum ${e.name} {`, ...optionLines('EnumOptions', e.options, pad)]
  for (const v of e.value) {
    const options = optionPairs('EnumValueOptions', v.options)
    lines.push(`${pad}${v.name} = ${v.number}${options.length > 0 ? ` [${options.join(', ')}]` : ''};`)
  }
  if (e.reservedRange.length > 0) lines.push(`${pad}reserved ${ranges(e.reservedRange, 0, MAX_ENUM_NUMBER)};`)
  if (e.reservedName.length > 0) {
    lines.push(`${pad}reserved ${e.reservedName.map((n) => JSON.stringify(n)).join(', ')};`)
  }
  lines.push(`${scope.pad}}`)
  return lines
}

function messageLines(m: Message, scope: Scope): string[] {
  const inner = { ...scope, pad: `${scope.pad}  ` }
  const entries = new Map(
    m.nestedType.filter((n) => n.options?.mapEntry === true).map((n) => [n.name, n] as const),
  )
  const synthetic = new Set(
    m.oneofDecl.map((_, i) => i).filter((i) => m.field.every((f) => f.oneofIndex !== i || f.proto3Optional)),
  )
  const lines = [
    `${scope.pad}message ${m.name} {`,
    ...optionLines('MessageOptions', m.options, inner.pad, ['mapEntry']),
  ]
  const done = new Set<number>()
  for (const f of m.field) {
    const oneof = f.oneofIndex
    if (oneof === undefined || synthetic.has(oneof)) {
      lines.push(fieldLine(f, inner, entries, false))
    } else if (!done.has(oneof)) {
      done.add(oneof)
      const members = { ...inner, pad: `${inner.pad}  ` }
      lines.push(`${inner.pad}oneof ${m.oneofDecl[oneof].name} {`)
      for (const g of m.field.filter((g) => g.oneofIndex === oneof))
        lines.push(fieldLine(g, members, entries, true))
      lines.push(`${inner.pad}}`)
    }
  }
  for (const n of m.nestedType) if (!entries.has(n.name)) lines.push(...messageLines(n, inner))
  for (const e of m.enumType) lines.push(...enumLines(e, inner))
  lines.push(...extendBlocks(m.extension, inner))
  if (m.extensionRange.length > 0) {
    lines.push(`${inner.pad}extensions ${ranges(m.extensionRange, 1, MAX_FIELD_NUMBER)};`)
  }
  if (m.reservedRange.length > 0) {
    lines.push(`${inner.pad}reserved ${ranges(m.reservedRange, 1, MAX_FIELD_NUMBER)};`)
  }
  if (m.reservedName.length > 0) {
    lines.push(`${inner.pad}reserved ${m.reservedName.map((n) => JSON.stringify(n)).join(', ')};`)
  }
  lines.push(`${scope.pad}}`)
  return lines
}

function serviceLines(s: Service, scope: Scope): string[] {
  const pad = `${scope.pad}  `
  const lines = [`${scope.pad}service ${s.name} {`, ...optionLines('ServiceOptions', s.options, pad)]
  for (const m of s.method) {
    const input = `${m.clientStreaming === true ? 'stream ' : ''}${m.inputType}`
    const output = `${m.serverStreaming === true ? 'stream ' : ''}${m.outputType}`
    const options = optionLines('MethodOptions', m.options, `${pad}  `)
    const body = options.length > 0 ? ` {\n${options.join('\n')}\n${pad}}` : ';'
    lines.push(`${pad}rpc ${m.name}(${input}) returns (${output})${body}`)
  }
  lines.push(`${scope.pad}}`)
  return lines
}

function decode(bytes: Uint8Array): File {
  const message = types.FileDescriptorProto.decode(bytes)
  return types.FileDescriptorProto.toObject(message, { arrays: true, longs: Number }) as File
}

/** The .proto text of a FileDescriptorProto (proto2 or proto3; groups and editions are refused with 42201). */
export function protoTextOf(bytes: Uint8Array): string {
  return printFile(decode(bytes))
}

function printFile(file: File): string {
  if (file.syntax === 'editions') throw unsupported('editions')
  const scope = { syntax: file.syntax === 'proto3' ? 'proto3' : 'proto2', pad: '' }
  const lines = [`syntax = "${scope.syntax}";`]
  if (file.package) lines.push(`package ${file.package};`)
  file.dependency.forEach((name, i) => {
    const kind = file.publicDependency.includes(i)
      ? 'public '
      : file.weakDependency.includes(i)
        ? 'weak '
        : ''
    lines.push(`import ${kind}${JSON.stringify(name)};`)
  })
  lines.push(...optionLines('FileOptions', file.options, ''))
  for (const m of file.messageType) lines.push('', ...messageLines(m, scope))
  for (const e of file.enumType) lines.push('', ...enumLines(e, scope))
  for (const s of file.service) lines.push('', ...serviceLines(s, scope))
  if (file.extension.length > 0) lines.push('', ...extendBlocks(file.extension, scope))
  return `${lines.join('\n')}\n`
}

/**
 * A Protobuf schema sent as a base64 FileDescriptorProto (what Confluent's serializers send), as .proto text;
 * undefined when the schema is not one (.proto text, or anything else, is left to the validation of the text).
 */
export function protoTextFromSerialized(schema: string): string | undefined {
  const text = schema.trim()
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined
  let file: File
  try {
    file = decode(Buffer.from(text, 'base64'))
  } catch {
    return undefined
  }
  if (file.messageType.length + file.enumType.length + file.service.length === 0) return undefined
  try {
    return printFile(file)
  } catch (err) {
    if (registryErrorCode(err) !== undefined) throw err
    throw registryError(
      'INVALID_SCHEMA',
      `invalid PROTOBUF schema: a malformed descriptor: ${(err as Error).message}`,
    )
  }
}
