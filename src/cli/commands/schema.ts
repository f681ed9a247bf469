// `sluice schema list|get|register|check|types`: a schema registry's subjects from the command line, over its
// REST API (Sluice's `sluice serve` or any Confluent-compatible registry).
import { readFileSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { type Command, Option } from 'commander'
import { SluiceError } from '../../errors/index.ts'
import { httpRegistry } from '../../registry/client.ts'
import { typescriptTypes } from '../../registry/codegen.ts'
import type { SchemaType } from '../../registry/compatibility.ts'
import { parseVersion } from '../../registry/store.ts'
import { EXIT_FAILURE } from '../exit-codes.ts'
import { write, writeJson } from '../output.ts'

interface RegistryOption {
  registry: string
  json?: boolean
}

function registryOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('-r, --registry <url>', 'schema registry URL')
      .env('SLUICE_REGISTRY_URL')
      .default('http://127.0.0.1:8080'),
  )
}

function typeOption(cmd: Command): Command {
  return cmd.addOption(
    new Option(
      '-t, --type <type>',
      'schema type (default: by file extension, .proto PROTOBUF, else AVRO)',
    ).choices(['AVRO', 'JSON', 'PROTOBUF']),
  )
}

function readSchema(file: string, type: SchemaType | undefined): { schema: string; schemaType: SchemaType } {
  let schema: string
  try {
    schema = readFileSync(file, 'utf8')
  } catch (err) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `cannot read the schema file ${file}: ${(err as Error).message}`,
    )
  }
  return { schema, schemaType: type ?? (file.endsWith('.proto') ? 'PROTOBUF' : 'AVRO') }
}

/** Adds the `schema` command group; `out` is where results go (stdout unless a test says otherwise). */
export function registerSchema(program: Command, out?: Writable): void {
  const schema = program.command('schema').description('subjects and schemas of a schema registry')

  registryOption(schema.command('list').description('list subjects').option('--json', 'print JSON')).action(
    async (opts: RegistryOption) => {
      const subjects = await httpRegistry(opts.registry).subjects()
      await (opts.json ? writeJson(subjects, out) : write(subjects.map((s) => `${s}\n`).join(''), out))
    },
  )

  registryOption(
    schema
      .command('get')
      .description("print a subject's schema (the latest version unless --version)")
      .argument('<subject>')
      .option('-v, --version <version>', 'version number or latest', 'latest')
      .option('--json', 'print subject, version, id and schema as JSON'),
  ).action(async (subject: string, opts: RegistryOption & { version: string }) => {
    const v = await httpRegistry(opts.registry).version(subject, parseVersion(opts.version))
    await (opts.json ? writeJson(v, out) : write(v.schema.endsWith('\n') ? v.schema : `${v.schema}\n`, out))
  })

  typeOption(
    registryOption(
      schema
        .command('register')
        .description('register a schema file under a subject')
        .argument('<subject>')
        .argument('<file>'),
    ),
  ).action(async (subject: string, file: string, opts: RegistryOption & { type?: SchemaType }) => {
    const { id } = await httpRegistry(opts.registry).register(subject, readSchema(file, opts.type))
    await write(`${id}\n`, out)
  })

  typeOption(
    registryOption(
      schema
        .command('check')
        .description(
          "check a schema file against a subject at the subject's compatibility level (exit 1 if not)",
        )
        .argument('<subject>')
        .argument('<file>'),
    ),
  ).action(async (subject: string, file: string, opts: RegistryOption & { type?: SchemaType }) => {
    const problems = await httpRegistry(opts.registry).compatibility(
      subject,
      undefined,
      readSchema(file, opts.type),
    )
    if (problems.length === 0) {
      await write('compatible\n', out)
      return
    }
    await write(`incompatible:\n${problems.map((p) => `  ${p}\n`).join('')}`, out)
    process.exitCode = EXIT_FAILURE
  })

  registryOption(
    schema
      .command('types')
      .description("print TypeScript types for a subject's schema")
      .argument('<subject>')
      .option('-v, --version <version>', 'version number or latest', 'latest'),
  ).action(async (subject: string, opts: RegistryOption & { version: string }) => {
    const v = await httpRegistry(opts.registry).version(subject, parseVersion(opts.version))
    await write(typescriptTypes(v.schemaType, v.schema), out)
  })
}
