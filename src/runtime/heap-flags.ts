/**
 * The runtime's V8 young generation, set by `--max-semi-space-mb` (a runtime setting like any
 * other). Left alone, V8 sizes it from the memory the process may use: in a container with a 512
 * MiB limit (the predictor's default before 1Gi) each semi-space is 1 MiB, so request objects still
 * in flight at a scavenge (every few ms under load) are promoted and collected later by major GCs
 * on the event loop; on a machine with 24 GiB it is 64 MiB, which holds more memory and measured no
 * better under attack than 16 (README, "Under attack"). A V8 heap flag only takes effect when the
 * isolate is created, so the runtime applies it by executing itself again (same process id,
 * `process.execve`) before it starts anything. V8 flags are process-wide: the worker threads'
 * isolates get the same bound (their `resourceLimits` cannot lower it); a semi-space grows only as
 * far as its isolate's allocation rate needs.
 */

const semiSpaceFlag = /^--max[-_]semi[-_]space[-_]size(?:=|$)/;

/** True when Node's own options (its command line or NODE_OPTIONS) already size the semi-space: they win. */
export function semiSpaceGiven(execArgv: readonly string[], nodeOptions = ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((option) => semiSpaceFlag.test(option));
}

/**
 * The command line (argv[0] first, for `process.execve`) that runs this process again with V8's
 * semi-space at `mb` MiB, or undefined when there is nothing to do: `mb` 0 (V8's own sizing) or
 * the flag already given to Node, which is also what stops the second run from executing again.
 */
export function semiSpaceReexec(
  mb: number,
  current: { execPath: string; execArgv: readonly string[]; argv: readonly string[] },
  nodeOptions?: string,
): string[] | undefined {
  if (mb === 0 || semiSpaceGiven(current.execArgv, nodeOptions)) return undefined;
  return [current.execPath, ...current.execArgv, `--max-semi-space-size=${mb}`, ...current.argv.slice(1)];
}
