// Exit codes of the `sluice` command, in one place so that scripts and docs/cli.md agree on them.

export const EXIT_OK = 0
/** The command failed; stderr says why in one line. */
export const EXIT_FAILURE = 1
/** The command line itself was wrong (unknown option, missing argument); nothing was done. */
export const EXIT_USAGE = 2
/** `produce` wrote the good lines but rejected some input lines (each one reported on stderr). */
export const EXIT_PARTIAL = 3
/** `produce` was stopped by SIGINT/SIGTERM: the lines read until then were written (128 + SIGINT, by convention). */
export const EXIT_INTERRUPTED = 130
