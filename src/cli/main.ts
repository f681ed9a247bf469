// The `sluice` command: builds the commander program from one file per command group and turns every outcome
// into an exit code, so that errors reach the user as one line instead of a stack trace.
import { Command, CommanderError } from 'commander'
import pkg from '../../package.json' with { type: 'json' }
import { registerConsume } from './commands/consume.ts'
import { registerDemo } from './commands/demo.ts'
import { registerDlq } from './commands/dlq.ts'
import { registerGroups } from './commands/groups.ts'
import { registerProduce } from './commands/produce.ts'
import { registerRun } from './commands/run.ts'
import { registerSchema } from './commands/schema.ts'
import { registerServe } from './commands/serve.ts'
import { registerTopics } from './commands/topics.ts'
import { reportError } from './errors.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts'
import { guardStdout, OutputClosedError } from './output.ts'

/** Commander's usage errors ("error: unknown option ...") in the same one-line shape as every other error. */
function formatUsageError(message: string): string {
  const text = message.trim().replace(/^error:\s*/, '')
  return `error SLUICE_ERR_INVALID_ARGUMENT: ${text.replace(/\s*\n\s*/g, ' ')}\n`
}

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Sluice: stream processing on an embedded durable log')
    .version(pkg.version, '-V, --version', 'print the version')
    .helpCommand(false)
    // Set before any subcommand is added: .command() copies both settings into each subcommand.
    .exitOverride()
    .configureOutput({ outputError: (str, writeErr) => writeErr(formatUsageError(str)) })
    .showSuggestionAfterError(true)
  registerTopics(program)
  registerProduce(program)
  registerConsume(program)
  registerGroups(program)
  registerRun(program)
  registerServe(program)
  registerSchema(program)
  registerDlq(program)
  registerDemo(program)
  return program
}

/** Runs the CLI for a full argv (node, script, args...); resolves to the exit code and sets process.exitCode. */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number
  guardStdout()
  try {
    await buildProgram().parseAsync([...argv])
    code = typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK
  } catch (err) {
    if (err instanceof OutputClosedError) {
      // The reader went away (`sluice topics list | head -0`): nothing left to tell anyone.
      code = EXIT_OK
    } else if (err instanceof CommanderError) {
      // --help and --version end with exit code 0; a usage error was already printed by outputError.
      code = err.exitCode === 0 ? EXIT_OK : EXIT_USAGE
    } else {
      reportError(err, (line) => process.stderr.write(line))
      code = EXIT_FAILURE
    }
  }
  process.exitCode = code
  return code
}
