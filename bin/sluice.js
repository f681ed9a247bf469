#!/usr/bin/env node
// Entry point of the `sluice` command. Node 24 runs the TypeScript sources directly (type stripping).
import { main } from '../src/cli/main.ts'

main(process.argv).catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`)
  process.exit(1)
})
