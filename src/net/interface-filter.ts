/**
 * Which interfaces to count: include and exclude lists of exact names and
 * globs (`eth*`, `veth?*`, `{eth,ens}*`). Pure; shared by the eBPF loader
 * (`--ebpf.include/--ebpf.exclude`) and the exporter (`interfaceFilter`).
 */
import picomatch from 'picomatch';
import { NetprobeError } from '../errors/index.js';

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const IFNAMSIZ = 16;

/** A pattern that can never work (bad glob syntax, empty, or a character no interface name has). */
export class BadGlobError extends NetprobeError {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super('NP_ERR_BAD_GLOB', `interface pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'BadGlobError';
  }
}

export type InterfaceFilter = (name: string) => boolean;

/**
 * Compiles include/exclude lists into a predicate. An empty include list
 * means every interface; exclude wins over include; `!pattern` in `include`
 * excludes too.
 * Throws `BadGlobError` (code NP_ERR_BAD_GLOB) naming the first bad pattern.
 *
 * @example
 * const keep = compileInterfaceFilter(['eth*', 'ens3'], ['eth9']);
 * keep('eth0'); // true
 * keep('eth9'); // false
 * keep('lo');   // false
 */
export function compileInterfaceFilter(include: string[], exclude: string[] = []): InterfaceFilter {
  // `!pattern` in the include list is an exclusion, so a single list (the
  // exporter's `interfaceFilter`) can say "everything but lo": ['!lo'].
  const negated = include.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  const included = compileAny(include.filter((p) => !p.startsWith('!')));
  const excluded = compileAny([...exclude, ...negated]);
  if (!included && !excluded) return () => true;
  return (name) => (included ? included(name) : true) && !(excluded?.(name) ?? false);
}

function compileAny(patterns: string[]): InterfaceFilter | undefined {
  if (patterns.length === 0) return undefined;
  const exact = new Set<string>();
  const globs: InterfaceFilter[] = [];
  for (const pattern of patterns) {
    validate(pattern);
    // Compiling every pattern also rejects unbalanced brackets in ones that do not look like globs.
    const glob = compileGlob(pattern);
    if (picomatch.scan(pattern).isGlob) globs.push(glob);
    else exact.add(pattern);
  }
  if (globs.length === 0) return (name) => exact.has(name);
  return (name) => exact.has(name) || globs.some((g) => g(name));
}

function validate(pattern: string): void {
  if (pattern.trim() === '') throw new BadGlobError(pattern, 'empty pattern');
  if (pattern.includes('/')) throw new BadGlobError(pattern, 'interface names never contain "/"');
  if (/\s/.test(pattern)) throw new BadGlobError(pattern, 'interface names never contain white space');
  if (!picomatch.scan(pattern).isGlob && Buffer.byteLength(pattern) >= IFNAMSIZ) {
    throw new BadGlobError(pattern, `longer than ${IFNAMSIZ - 1} bytes, the longest interface name Linux allows`);
  }
}

function compileGlob(pattern: string): InterfaceFilter {
  try {
    // strictBrackets: an unbalanced `[` or `{` is an error, not a literal character.
    return picomatch(pattern, { dot: true, strictBrackets: true });
  } catch (e) {
    throw new BadGlobError(pattern, e instanceof Error ? e.message : String(e));
  }
}
