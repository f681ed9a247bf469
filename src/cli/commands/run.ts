// `sluice run <module>`: runs a pipeline defined in a TypeScript or JavaScript module on the embedded log, until
// its bounded inputs end or it is stopped (Ctrl-C: finish the batch, commit, close; twice: exit at once).
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Command, Option } from 'commander'
import { SluiceError } from '../../errors/index.ts'
import { commonOptions, integer, withLog } from '../shared.ts'

interface RunCliOptions {
  dataDir: string
  stateDir?: string
  guarantee: 'exactly-once' | 'at-least-once'
  commitInterval?: number
  applicationId?: string
  registry?: string
  json?: boolean
}

async function loadPipeline(modulePath: string): Promise<import('../../dsl/pipeline.ts').Pipeline> {
  const { Pipeline } = await import('../../dsl/pipeline.ts')
  const mod = (await import(pathToFileURL(resolve(modulePath)).href)) as {
    default?: unknown
    pipeline?: unknown
  }
  let candidate = mod.default ?? mod.pipeline
  if (typeof candidate === 'function') candidate = await (candidate as () => unknown)()
  if (!(candidate instanceof Pipeline)) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `${modulePath} must export a pipeline (export default pipeline('name')...) or a function returning one`,
    )
  }
  return candidate
}

export function registerRun(program: Command): void {
  const cmd = program
    .command('run <module>')
    .description('run the pipeline a module exports on the embedded log, until its inputs end or Ctrl-C')
    .addOption(
      new Option('--guarantee <mode>', 'processing guarantee')
        .choices(['exactly-once', 'at-least-once'])
        .default('exactly-once'),
    )
    .option(
      '--commit-interval <ms>',
      'commit interval in milliseconds (default 100 exactly-once, 1000 at-least-once)',
      integer(1),
    )
    .option('--state-dir <path>', 'local state directory (default <data-dir>/state)')
    .option('--application-id <id>', 'consumer group and state name (default: the pipeline name)')
    .addOption(
      new Option(
        '--registry <url>',
        'schema registry for serdes named by subject (e.g. http://127.0.0.1:8080)',
      ).env('SLUICE_REGISTRY_URL'),
    )
    .addHelpText(
      'after',
      '\nThe module exports a pipeline as its default export (or a function returning one), e.g.\n' +
        "  export default pipeline('clicks').source(...)...\n" +
        'Input topics and sink topics must exist; internal topics are created.',
    )
    .action(async (modulePath: string, options: RunCliOptions) => {
      const p = await loadPipeline(modulePath)
      await withLog(
        options,
        async (log) => {
          const { restoreChannel, runPipeline } = await import('../../runtime/runner.ts')
          const onRestore = (message: unknown) => {
            const p = message as import('../../runtime/runner.ts').RestoreProgress
            if (p.records > 0 || p.done) {
              process.stderr.write(
                options.json
                  ? `${JSON.stringify({ event: 'restore', ...p })}\n`
                  : `restoring ${p.store} of task ${p.task}: ${p.records} records, ${p.percent}%${p.done ? ' (done)' : ''}\n`,
              )
            }
          }
          restoreChannel.subscribe(onRestore)
          const { stopOnSignals } = await import('../../runtime/shutdown.ts')
          const run = await runPipeline(p, {
            log,
            guarantee: options.guarantee,
            commitIntervalMs: options.commitInterval,
            stateDir: options.stateDir ?? resolve(options.dataDir, 'state'),
            applicationId: options.applicationId,
            registry: options.registry,
          })
          const say = (event: Record<string, unknown>, text: string) =>
            process.stderr.write(options.json ? `${JSON.stringify(event)}\n` : `${text}\n`)
          say(
            { event: 'started', pipeline: run.applicationId },
            `running ${run.applicationId} (Ctrl-C to stop)`,
          )
          const remove = stopOnSignals(run, {
            onSignal: (signal, forced) =>
              say(
                { event: forced ? 'forced-exit' : 'stopping', signal },
                forced
                  ? 'exiting now'
                  : 'stopping: finishing the batch and committing (Ctrl-C again to exit now)',
              ),
          })
          try {
            await run.done
          } finally {
            remove()
            restoreChannel.unsubscribe(onRestore)
          }
          say({ event: 'stopped', pipeline: run.applicationId }, `stopped ${run.applicationId}`)
        },
        { create: true },
      )
    })
  commonOptions(cmd)
}
