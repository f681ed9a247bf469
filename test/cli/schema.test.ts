// `sluice schema ...` against a live registry: register, list, get, check (exit 1 when incompatible), types.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { Command } from 'commander'
import { registerSchema } from '../../src/cli/commands/schema.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import { registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'

let dir: string
let log: Log
let registry: SchemaRegistry
let server: SluiceServer
let url: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-schema-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  registry = await openSchemaRegistry({ log })
  server = createServer({ log, dashboardDir: null })
  registerSchemaRegistry(server.app, registry)
  ;({ url } = await server.listen({ port: 0 }))
})
after(async () => {
  await server.close()
  await registry.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

async function sluice(...args: string[]): Promise<{ out: string; exitCode: number | undefined }> {
  const out = new PassThrough()
  let text = ''
  out.on('data', (chunk) => {
    text += chunk
  })
  const program = new Command('sluice').exitOverride()
  registerSchema(program, out)
  const before = process.exitCode
  process.exitCode = undefined
  try {
    await program.parseAsync(['node', 'sluice', ...args, '--registry', url])
    return { out: text, exitCode: process.exitCode as number | undefined }
  } finally {
    process.exitCode = before
  }
}

function file(name: string, content: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

const v1 = { type: 'record', name: 'Click', fields: [{ name: 'page', type: 'string' }] }

describe('sluice schema', () => {
  it('registers, lists, gets, checks and generates types', async () => {
    assert.equal((await sluice('schema', 'register', 'clicks-value', file('v1.avsc', v1))).out, '1\n')
    assert.equal((await sluice('schema', 'list')).out, 'clicks-value\n')
    assert.equal((await sluice('schema', 'get', 'clicks-value')).out, `${JSON.stringify(v1)}\n`)
    const meta = JSON.parse((await sluice('schema', 'get', 'clicks-value', '--version', '1', '--json')).out)
    assert.equal(meta.id, 1)

    const good = file('v2.avsc', { ...v1, fields: [...v1.fields, { name: 'ms', type: 'long', default: 0 }] })
    assert.deepEqual(await sluice('schema', 'check', 'clicks-value', good), {
      out: 'compatible\n',
      exitCode: undefined,
    })
    const bad = file('bad.avsc', { ...v1, fields: [{ name: 'page', type: 'int' }] })
    const checked = await sluice('schema', 'check', 'clicks-value', bad)
    assert.equal(checked.exitCode, 1)
    assert.match(
      checked.out,
      /^incompatible:\n {2}BACKWARD: .*\/page: the reader's int cannot read the writer's string/,
    )

    assert.match(
      (await sluice('schema', 'types', 'clicks-value')).out,
      /export interface Click \{\n {2}page: string\n\}/,
    )

    const proto = file('order.proto', 'syntax = "proto3";\nmessage Order { string id = 1; }\n')
    assert.equal((await sluice('schema', 'register', 'orders-value', proto)).out, '2\n')
    assert.match((await sluice('schema', 'get', 'orders-value', '--json')).out, /"schemaType":"PROTOBUF"/)
  })
})
