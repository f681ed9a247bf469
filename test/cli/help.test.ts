// Every command and subcommand answers --help (exit 0, usage on stdout), and the program answers --version.
// The command list comes from the program itself, so that a new command is covered without editing this file.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import type { Command } from 'commander'
import { buildProgram } from '../../src/cli/main.ts'
import { Sandbox } from './helpers.ts'

function commandPaths(cmd: Command, prefix: string[] = []): { path: string[]; leaf: boolean }[] {
  return cmd.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()]
    return [{ path, leaf: sub.commands.length === 0 }, ...commandPaths(sub, path)]
  })
}

const commands = commandPaths(buildProgram())
const paths = [[], ...commands.map((c) => c.path)]

describe('sluice --help', () => {
  let sandbox: Sandbox
  before(async () => {
    sandbox = await Sandbox.create()
  })
  after(() => sandbox.cleanup())

  test('the program has the commands of the issue', () => {
    const names = paths.map((p) => p.join(' '))
    for (const expected of [
      'topics create',
      'topics list',
      'topics describe',
      'topics delete',
      'produce',
      'consume',
      'dlq inspect',
      'dlq replay',
    ]) {
      assert.ok(names.includes(expected), `missing command ${expected}`)
    }
    assert.ok(names.includes('groups list') && names.includes('groups describe'))
  })

  for (const path of paths) {
    test(`sluice ${[...path, '--help'].join(' ')}`, async () => {
      const result = await sandbox.run([...path, '--help'])
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, new RegExp(`^Usage: ${['sluice', ...path].join(' ')} `))
      assert.equal(result.stderr, '')
    })
  }

  test('leaf commands document --data-dir', async () => {
    // demo and schema commands talk to a server over HTTP: they have no data directory to document
    const leaves = paths.filter(
      (p) =>
        p.length > 0 &&
        p[0] !== 'demo' &&
        p[0] !== 'schema' &&
        !paths.some((q) => q.length > p.length && q[0] === p[0]),
    )
    for (const path of leaves) {
      const result = await sandbox.run([...path, '--help'])
      assert.match(result.stdout, /--data-dir <path>/, `sluice ${path.join(' ')} --help`)
    }
  })

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    const result = await sandbox.run(['--version'])
    assert.equal(result.code, 0)
    assert.equal(result.stdout.trim(), pkg.version)
  })

  test('a usage error is one line with a code on stderr and exit code 2', async () => {
    const result = await sandbox.run(['topics', 'create', 'x', '--partitions', 'zero'])
    assert.equal(result.code, 2)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /^error SLUICE_ERR_INVALID_ARGUMENT: .*--partitions.*\n$/)
  })
})
