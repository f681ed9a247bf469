// A Protobuf schema's FileDescriptorProto, built from its .proto text with protobufjs: what Confluent's registry
// answers for `format=serialized`, and the form by which two Protobuf schemas are the same schema.
import protobuf from 'protobufjs'
import descriptor from 'protobufjs/ext/descriptor.js'

type Json = { [key: string]: unknown }
type Options = { [key: string]: unknown } | undefined

/** Confluent names the schema's own file "default"; its clients name the dependencies after the references. */
export const OWN_FILE_NAME = 'default'

export const scalarTypes: Readonly<Record<string, number>> = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  bytes: 12,
  uint32: 13,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
}
export const TYPE_GROUP = 10
export const TYPE_MESSAGE = 11
export const TYPE_ENUM = 14
export const LABEL_OPTIONAL = 1
export const LABEL_REQUIRED = 2
export const LABEL_REPEATED = 3

const types = descriptor as unknown as Record<string, protobuf.Type>

/** protoc's name for the entry type of a map field: `line_items` is `LineItemsEntry`. */
export function mapEntryName(field: string): string {
  return `${field.replace(/(?:^|_)([a-z]?)/g, (_, c: string) => c.toUpperCase())}Entry`
}

/** `syntax` or `edition`, the first statement of a .proto file; proto2 when there is none. */
function syntaxOf(text: string): string {
  const head = text.replace(/^(?:\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/, '')
  return /^(?:syntax|edition)\s*=\s*(["'])(.*?)\1/.exec(head)?.[2] ?? 'proto2'
}

/** Parsed options kept as the descriptor's options message holds them (scalars and enums; no custom options). */
function optionsOf(type: string, parsed: Options): Json | undefined {
  if (parsed === undefined) return undefined
  const fields = types[type].fields
  const out: Json = {}
  for (const [key, value] of Object.entries(parsed)) {
    const field = fields[protobuf.util.camelCase(key)]
    if (field === undefined || field.repeated || field.resolve().resolvedType instanceof protobuf.Type)
      continue
    out[field.name] = value
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function resolvedTypeOf(field: protobuf.FieldBase): protobuf.Type | protobuf.Enum | null {
  try {
    field.resolve()
  } catch {
    return null // an import that is not a reference
  }
  return field.resolvedType
}

function typeOf(field: protobuf.FieldBase): Json {
  const scalar = scalarTypes[field.type]
  if (scalar !== undefined) return { type: scalar }
  const resolved = resolvedTypeOf(field)
  if (resolved instanceof protobuf.Enum) return { type: TYPE_ENUM, typeName: resolved.fullName }
  if (resolved instanceof protobuf.Type) {
    const group = field instanceof protobuf.Field && field.delimited
    return { type: group ? TYPE_GROUP : TYPE_MESSAGE, typeName: resolved.fullName }
  }
  // Unresolved, as protoc leaves a type name before linking: no type, the name as written.
  return { typeName: field.type }
}

function defaultText(value: unknown): string {
  if (value === Number.POSITIVE_INFINITY) return 'inf'
  if (value === Number.NEGATIVE_INFINITY) return '-inf'
  if (Number.isNaN(value)) return 'nan'
  return String(value)
}

function fieldOf(field: protobuf.Field, oneofs: readonly protobuf.OneOf[]): Json {
  const options = field.options as Options
  const out: Json = { name: field.name, number: field.id }
  if (field instanceof protobuf.MapField) {
    Object.assign(out, {
      label: LABEL_REPEATED,
      type: TYPE_MESSAGE,
      typeName: `${field.parent?.fullName}.${mapEntryName(field.name)}`,
    })
  } else {
    // `rule` as well: `required` comes from features, which stay unresolved when an extension's type is missing.
    const required = field.rule === 'required' || field.required
    out.label = field.repeated ? LABEL_REPEATED : required ? LABEL_REQUIRED : LABEL_OPTIONAL
    Object.assign(out, typeOf(field))
  }
  if (field.extend !== undefined) {
    const extended = field.parent?.lookup(field.extend, [protobuf.Type])
    out.extendee = extended?.fullName ?? field.extend
  }
  if (field.partOf !== null) out.oneofIndex = oneofs.indexOf(field.partOf)
  if (options?.default !== undefined) out.defaultValue = defaultText(options.default)
  if (typeof options?.json_name === 'string') out.jsonName = options.json_name
  if (options?.proto3_optional === true) out.proto3Optional = true
  out.options = optionsOf('FieldOptions', options)
  return out
}

function mapEntryOf(field: protobuf.MapField): Json {
  return {
    name: mapEntryName(field.name),
    field: [
      { name: 'key', number: 1, label: LABEL_OPTIONAL, type: scalarTypes[field.keyType] },
      { name: 'value', number: 2, label: LABEL_OPTIONAL, ...typeOf(field) },
    ],
    options: { mapEntry: true },
  }
}

/** Reserved ranges and names; message ranges end after their last number, enum ranges on it. */
function reservedOf(reserved: (number[] | string)[] | undefined, endAfter: number) {
  const ranges = (reserved ?? []).filter((r): r is number[] => typeof r !== 'string')
  return {
    reservedRange: ranges.map(([start, end]) => ({ start, end: end + endAfter })),
    reservedName: (reserved ?? []).filter((r): r is string => typeof r === 'string'),
  }
}

function enumOf(e: protobuf.Enum): Json {
  const valueOptions = (e.valuesOptions ?? {}) as Record<string, Options>
  return {
    name: e.name,
    value: Object.entries(e.values).map(([name, number]) => ({
      name,
      number,
      options: optionsOf('EnumValueOptions', valueOptions[name]),
    })),
    options: optionsOf('EnumOptions', e.options as Options),
    ...reservedOf(e.reserved, 0),
  }
}

/** Whether a oneof is the one protoc makes for a proto3 `optional` field. */
function synthetic(oneof: protobuf.OneOf): boolean {
  return oneof.fieldsArray.length === 1 && oneof.fieldsArray[0].options?.proto3_optional === true
}

function messageOf(type: protobuf.Type): Json {
  // protoc puts the synthetic oneofs of proto3 `optional` fields after the declared ones.
  const oneofs = [...type.oneofsArray.filter((o) => !synthetic(o)), ...type.oneofsArray.filter(synthetic)]
  // Fields that extensions add to this type (`declaringField`) belong to the extension's file, not here.
  const fields = type.fieldsArray.filter((f) => f.declaringField === null)
  const nested = type.nestedArray
  return {
    name: type.name,
    field: fields.map((f) => fieldOf(f, oneofs)),
    nestedType: [
      ...nested.filter((n): n is protobuf.Type => n instanceof protobuf.Type).map(messageOf),
      ...fields.flatMap((f: protobuf.FieldBase) => (f instanceof protobuf.MapField ? [mapEntryOf(f)] : [])),
    ],
    enumType: nested.filter((n): n is protobuf.Enum => n instanceof protobuf.Enum).map(enumOf),
    extension: nested
      .filter((n): n is protobuf.Field => n instanceof protobuf.Field)
      .map((f) => fieldOf(f, [])),
    oneofDecl: oneofs.map((o) => ({ name: o.name })),
    extensionRange: (type.extensions ?? []).map(([start, end]) => ({ start, end: end + 1 })),
    ...reservedOf(type.reserved, 1),
    options: optionsOf('MessageOptions', type.options as Options),
  }
}

function serviceOf(service: protobuf.Service): Json {
  return {
    name: service.name,
    method: service.methodsArray.map((m) => {
      try {
        m.resolve()
      } catch {
        // an import that is not a reference: the names as written
      }
      return {
        name: m.name,
        inputType: m.resolvedRequestType?.fullName ?? m.requestType,
        outputType: m.resolvedResponseType?.fullName ?? m.responseType,
        clientStreaming: m.requestStream === true ? true : undefined,
        serverStreaming: m.responseStream === true ? true : undefined,
        options: optionsOf('MethodOptions', m.options as Options),
      }
    }),
    options: optionsOf('ServiceOptions', service.options as Options),
  }
}

/** Well-known types (`google/protobuf/timestamp.proto`) need no reference, as with Confluent's registry. */
function addWellKnownTypes(root: protobuf.Root, imports: Iterable<string>): void {
  for (const name of imports) {
    const known = protobuf.common.get(name)
    if (known === null || known.nested === undefined) continue
    try {
      root.addJSON(known.nested)
    } catch {
      // a reference declares them already
    }
  }
}

/**
 * The FileDescriptorProto of a .proto text (named `default`), its types resolved with the texts it references.
 * Type names are fully qualified and map fields have protoc's entry types; comments, formatting and custom
 * options do not appear, so two texts that declare the same things give the same bytes.
 */
export function fileDescriptorOf(schema: string, referenced: readonly string[] = []): Uint8Array {
  // Parsed alone first: what this file declares, in order, and its own package, imports and options.
  const alone = protobuf.parse(schema, new protobuf.Root(), { keepCase: true })
  const ownNs = (alone.package ? alone.root.lookup(alone.package) : alone.root) as protobuf.Namespace
  const root = new protobuf.Root()
  const imports = new Set([...(alone.imports ?? []), ...(alone.weakImports ?? [])])
  for (const text of referenced) {
    const parsed = protobuf.parse(text, root, { keepCase: true })
    for (const name of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) imports.add(name)
  }
  const parsed = protobuf.parse(schema, root, { keepCase: true })
  addWellKnownTypes(root, imports)
  try {
    root.resolveAll()
  } catch {
    // Types from imports that are not references stay unresolved; each field resolves what it can.
  }
  const ns = (parsed.package ? root.lookup(parsed.package) : root) as protobuf.Namespace
  const own = ownNs.nestedArray.map((n) => ns.get(n.name)).filter((n) => n !== null)
  const syntax = syntaxOf(schema)
  const dependency = [...(alone.imports ?? []), ...(alone.weakImports ?? [])]
  const file: Json = {
    name: OWN_FILE_NAME,
    package: alone.package,
    dependency,
    weakDependency: (alone.weakImports ?? []).map((_, i) => (alone.imports ?? []).length + i),
    messageType: own.filter((n) => n instanceof protobuf.Type).map(messageOf),
    enumType: own.filter((n) => n instanceof protobuf.Enum).map(enumOf),
    service: own.filter((n) => n instanceof protobuf.Service).map(serviceOf),
    extension: own.filter((n) => n instanceof protobuf.Field).map((f) => fieldOf(f, [])),
    options: optionsOf('FileOptions', { ...alone.root.options, ...ownNs.options }),
  }
  if (syntax === 'proto3') file.syntax = 'proto3'
  else if (syntax !== 'proto2') Object.assign(file, { syntax: 'editions', edition: `EDITION_${syntax}` })
  const message = types.FileDescriptorProto.fromObject(file)
  return types.FileDescriptorProto.encode(message).finish()
}

/** Confluent's `format=serialized`: the FileDescriptorProto, base64-encoded. */
export function serializedProtobuf(schema: string, referenced: readonly string[] = []): string {
  return Buffer.from(fileDescriptorOf(schema, referenced)).toString('base64')
}
