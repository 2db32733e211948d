/**
 * Validates one interface name or glob from the configuration, so a typo is
 * reported at startup with the other problems instead of failing later. The
 * rules are the interface filter's own (`compileInterfaceFilter`).
 */
import { NetprobeError } from '../errors/index.js';
import { compileInterfaceFilter } from '../net/interface-filter.js';

/** Returns why `pattern` is not a usable interface name or glob (naming it), or undefined. */
export function checkInterfacePattern(pattern: string): string | undefined {
  try {
    compileInterfaceFilter([pattern]);
    return undefined;
  } catch (e) {
    if (e instanceof NetprobeError && e.code === 'NP_ERR_BAD_GLOB') return e.message;
    throw e;
  }
}
