/**
 * Validates one interface name or glob from the configuration, so a typo is
 * reported at startup with the other problems instead of failing later.
 */

/** Linux limits interface names to 15 bytes (IFNAMSIZ - 1). */
const MAX_NAME_BYTES = 15;

/** Returns why `pattern` is not a usable interface name or glob, or undefined. */
export function checkInterfacePattern(pattern: string): string | undefined {
  if (/[\s/]/.test(pattern)) return 'interface names and globs contain no spaces or slashes';
  const isGlob = /[*?[\]{}!]/.test(pattern);
  if (!isGlob && Buffer.byteLength(pattern) > MAX_NAME_BYTES) return `longer than ${MAX_NAME_BYTES} bytes, so no interface can have this name`;
  return undefined;
}
