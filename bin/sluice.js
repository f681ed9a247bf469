#!/usr/bin/env node
// Entry point of the `sluice` command. Node 24 runs the TypeScript sources directly (type stripping).
// Older Node versions cannot load them at all, so say so in one line instead of an ERR_UNKNOWN_FILE_EXTENSION trace.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  process.stderr.write(
    `error: sluice needs Node.js 24 or newer, this is ${process.version}; run it with npx sluice or node_modules/.bin/node\n`,
  )
  process.exit(1)
}

const { main } = await import('../src/cli/main.ts')
// main() reports its own errors and sets process.exitCode; this catch is the last resort for a bug in it.
main(process.argv).catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`)
  process.exit(1)
})
