// Can a reader with one Avro schema read data written with another? The rules of Avro's schema resolution, as
// Apache Avro's SchemaCompatibility (which Confluent's registry uses) applies them, with a path to each problem.
import avsc from 'avsc'

// avsc's typings do not describe the reflective fields used here (fields, symbols, types...), hence this view.
interface AvroType {
  typeName: string
  name?: string
  symbols?: string[]
  default?: unknown
  size?: number
  types?: AvroType[]
  itemsType?: AvroType
  valuesType?: AvroType
  fields?: AvroField[]
  getAliases(): string[]
}

interface AvroField {
  name: string
  type: AvroType
  getAliases(): string[]
  defaultValue(): unknown
}

/** Parses a schema after the schemas it references (dependencies first), whose named types it may use. */
export function parseAvroSchema(schema: string, referenced: readonly string[] = []): AvroType {
  const registry = {}
  for (const text of referenced) avsc.Type.forSchema(JSON.parse(text), { registry })
  return avsc.Type.forSchema(JSON.parse(schema), { registry }) as unknown as AvroType
}

function kind(t: AvroType): string {
  return t.typeName.startsWith('union') ? 'union' : t.typeName
}

function shortName(name: string | undefined): string | undefined {
  return name?.slice(name.lastIndexOf('.') + 1)
}

/** Named types match by unqualified name, or when the reader lists the writer's full name as an alias. */
function namesMatch(reader: AvroType, writer: AvroType): boolean {
  if (shortName(reader.name) === shortName(writer.name)) return true
  return writer.name !== undefined && reader.getAliases().includes(writer.name)
}

// Writer kind → reader kinds that read it by promotion (Avro spec, "Schema Resolution").
const promotions: Record<string, readonly string[]> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
}

class Checker {
  readonly problems: string[] = []
  // Pairs being checked: a recursive type meets itself again, and is assumed compatible there.
  private readonly seen = new Set<string>()
  private readonly ids = new Map<AvroType, number>()

  private id(t: AvroType): number {
    let n = this.ids.get(t)
    if (n === undefined) {
      n = this.ids.size
      this.ids.set(t, n)
    }
    return n
  }

  /** Returns whether reader reads writer; records a message for each problem when `report`. */
  check(reader: AvroType, writer: AvroType, path: string, report = true): boolean {
    const key = `${this.id(reader)}:${this.id(writer)}`
    if (this.seen.has(key)) return true
    this.seen.add(key)
    try {
      return this.compare(reader, writer, path, report)
    } finally {
      this.seen.delete(key)
    }
  }

  private fail(report: boolean, path: string, message: string): false {
    if (report) this.problems.push(`${path || '/'}: ${message}`)
    return false
  }

  private compare(reader: AvroType, writer: AvroType, path: string, report: boolean): boolean {
    const r = kind(reader)
    const w = kind(writer)
    if (w === 'union') {
      // Every branch the writer may have written must be readable.
      let ok = true
      for (const branch of writer.types ?? []) {
        ok = this.check(reader, branch, path, report) && ok
      }
      return ok
    }
    if (r === 'union') {
      if ((reader.types ?? []).some((branch) => this.check(branch, writer, path, false))) return true
      return this.fail(
        report,
        path,
        `the reader's union has no branch that reads the writer's ${describe(writer)}`,
      )
    }
    if (r !== w) {
      if (promotions[w]?.includes(r)) return true
      return this.fail(
        report,
        path,
        `the reader's ${describe(reader)} cannot read the writer's ${describe(writer)}`,
      )
    }
    switch (r) {
      case 'record':
        return this.records(reader, writer, path, report)
      case 'enum': {
        if (!namesMatch(reader, writer)) return this.nameMismatch(reader, writer, path, report)
        const missing = (writer.symbols ?? []).filter((s) => !reader.symbols?.includes(s))
        if (missing.length === 0 || reader.default !== undefined) return true
        return this.fail(
          report,
          path,
          `the reader's enum ${reader.name} lacks the symbols ${missing.join(', ')} and has no default`,
        )
      }
      case 'fixed':
        if (!namesMatch(reader, writer)) return this.nameMismatch(reader, writer, path, report)
        if (reader.size === writer.size) return true
        return this.fail(
          report,
          path,
          `fixed ${reader.name} has size ${reader.size}, the writer's ${writer.size}`,
        )
      case 'array':
        return this.check(reader.itemsType as AvroType, writer.itemsType as AvroType, `${path}/items`, report)
      case 'map':
        return this.check(
          reader.valuesType as AvroType,
          writer.valuesType as AvroType,
          `${path}/values`,
          report,
        )
      default:
        return true
    }
  }

  private nameMismatch(reader: AvroType, writer: AvroType, path: string, report: boolean): false {
    const message = `the reader's ${kind(reader)} is named ${reader.name}, the writer's ${writer.name}`
    return this.fail(report, path, `${message} (give the reader an alias)`)
  }

  private records(reader: AvroType, writer: AvroType, path: string, report: boolean): boolean {
    if (!namesMatch(reader, writer)) return this.nameMismatch(reader, writer, path, report)
    let ok = true
    for (const field of reader.fields ?? []) {
      const names = [field.name, ...field.getAliases()]
      const written = writer.fields?.find((f) => names.includes(f.name))
      const fieldPath = `${path}/${field.name}`
      if (written === undefined) {
        if (field.defaultValue() === undefined) {
          ok =
            this.fail(report, fieldPath, 'the reader has a field the writer lacks, without a default') && ok
        }
        continue
      }
      ok = this.check(field.type, written.type, fieldPath, report) && ok
    }
    return ok
  }
}

function describe(t: AvroType): string {
  return t.name === undefined ? kind(t) : `${kind(t)} ${t.name}`
}

/** The problems that keep `reader` from reading data written with `writer`; empty when it can. */
export function avroReadProblems(
  reader: string,
  writer: string,
  readerReferenced: readonly string[] = [],
  writerReferenced: readonly string[] = [],
): string[] {
  const checker = new Checker()
  checker.check(parseAvroSchema(reader, readerReferenced), parseAvroSchema(writer, writerReferenced), '')
  return checker.problems
}
