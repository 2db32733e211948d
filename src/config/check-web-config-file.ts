/**
 * Validates the `--web.config.file` (TLS, basic auth) with the rest of the
 * configuration, so a missing file or a typo in it is a configuration
 * problem (exit 2, listed with the others) rather than a failure at start.
 * The certificate files it names are read when the server starts.
 */
import { dirname, resolve } from 'node:path';
import { parseWebConfig, WebConfigError } from '../http/web-config.js';
import { describeReadError } from './describe-read-error.js';

/** Returns the problems of the web config file at `path` (empty = fine). */
export function checkWebConfigFile(path: string, readFile: (path: string) => string): string[] {
  const file = resolve(path);
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    return [`cannot read the web config file: ${describeReadError(e)}`];
  }
  try {
    parseWebConfig(text, dirname(file), file);
    return [];
  } catch (e) {
    if (e instanceof WebConfigError) return e.problems.map((problem) => `web config file: ${problem}`);
    throw e;
  }
}
