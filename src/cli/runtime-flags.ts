/**
 * The V8 flags the `netprobe` command runs with, and which of them a process
 * still lacks. They must be on node's command line: V8 sizes its young
 * generation when the heap is created, so `v8.setFlagsFromString` at run
 * time has no effect on it (measured; docs/benchmarks.md, part 5). Pure, so
 * the choice is testable without starting a process.
 */

/**
 * - A 1 MiB semi-space (default 16 MiB): every scrape at 2,000 interfaces
 *   makes megabytes of short-lived strings, and a large young generation
 *   kept them resident.
 * - `--optimize-for-size`: V8 grows the old generation in smaller steps and
 *   prefers smaller code. At 2,000 interfaces the two together took RSS from
 *   ~105 to ~60 MiB with the CPU within the noise (docs/benchmarks.md, part 5).
 */
export const RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--optimize-for-size'];

/** `--max_semi_space_size=4` and `--no-max-semi-space-size` both name `max-semi-space-size`. */
export function flagName(arg: string): string {
  const name = (arg.split('=')[0] ?? '').replace(/^--?/, '').replace(/_/g, '-');
  return name.startsWith('no-') ? name.slice(3) : name;
}

/**
 * The flags of `wanted` that neither node's own options (`execArgv`) nor
 * `NODE_OPTIONS` already set: what the operator chose wins, whatever its value.
 */
export function missingRuntimeFlags(wanted: readonly string[], execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((a) => a.startsWith('-')).map(flagName));
  return wanted.filter((flag) => !given.has(flagName(flag)));
}

/** Arguments of a command that ends on its own (help, version, check, `top`): not worth a restart. */
export function isShortLivedCommand(argv: readonly string[]): boolean {
  if (argv[0] === 'top') return true;
  const args = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length);
  return args.some((a) => a === '-h' || a === '--help' || a === '--version' || a === '--check' || a.startsWith('--check='));
}
