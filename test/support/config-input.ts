/** The config loader fed from memory: argv, env, and files by path (a missing one is ENOENT, as from disk). */
import { loadConfig, type LoadConfigResult } from '../../src/config/load-config.js';

export function loadConfigFrom(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): LoadConfigResult {
  return loadConfig({
    argv,
    env,
    readFile(path) {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return text;
    },
  });
}
