#!/usr/bin/env node
/**
 * The `netprobe` command. Configuration problems are printed one per line
 * (no stack traces: they are the user's to fix) and exit 2; runtime failures
 * are logged and exit 1; a stop signal exits 0 once everything is detached.
 */
// First: a server restarts node with its runtime flags before anything else is evaluated.
import './relaunch-early.js';
import { readFileSync } from 'node:fs';
import { formatProblem } from '../config/config-problem.js';
import { renderHelp } from '../config/describe-settings.js';
import { loadConfig } from '../config/load-config.js';
import { createLogger } from '../log/logger.js';
import { packageVersion } from '../exporter/package-version.js';

/** Exit status for invalid configuration (flags, env, file). */
export const EXIT_BAD_CONFIG = 2;
/** When the pages only the start needed are dropped from RSS (src/cli/trim-startup-pages.ts). */
const TRIM_AFTER_MS = 30_000;

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // `netprobe top`: a client of a running exporter, with flags of its own (src/cli/top.ts).
  if (argv[0] === 'top') {
    const { runTop } = await import('./top.js');
    return runTop(argv.slice(1));
  }
  const version = packageVersion();
  const loaded = loadConfig({ argv, env, readFile: (path) => readFileSync(path, 'utf8') });
  if (!loaded.ok) {
    for (const problem of loaded.problems) process.stderr.write(`netprobe: ${formatProblem(problem)}\n`);
    return EXIT_BAD_CONFIG;
  }
  if (loaded.command === 'help') {
    process.stdout.write(renderHelp(version));
    return 0;
  }
  if (loaded.command === 'version') {
    process.stdout.write(`netprobe ${version}\n`);
    return 0;
  }
  const { settings, exporter: exporterConfig } = loaded;
  const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
  // Loaded only now: --help, --version and config errors need no kernel bindings.
  if (loaded.command === 'check') {
    const { check } = await import('./check.js');
    return check({ settings, exporterConfig, logger, version, write: (text) => process.stdout.write(text) });
  }
  // relaunch-early.js made this a node with the runtime flags, or says why not.
  const { reportRelaunch } = await import('./relaunch.js');
  reportRelaunch(logger);
  const { applyAllocatorPolicy } = await import('./allocator-policy.js');
  const { trimStartupPages } = await import('./trim-startup-pages.js');
  applyAllocatorPolicy(logger);
  trimStartupPages(logger);
  const { serve } = await import('./serve.js');
  // The start-up code goes cold in steps: node's bootstrap before serve.js is
  // loaded, the module loading here, the
  // interface start-up when serve() reports started, the first scrapes' paths
  // at TRIM_AFTER_MS. Trimming at each step keeps file pages that are done with
  // from adding to the start-up's own peak (docs/benchmarks.md, part 5).
  trimStartupPages(logger);
  setTimeout(() => trimStartupPages(logger), TRIM_AFTER_MS).unref();
  return serve({ settings, exporterConfig, logger, version, onStarted: () => trimStartupPages(logger) });
}

const status = await main(process.argv.slice(2), process.env);
// Exit explicitly: a leftover handle (a netlink socket, a keep-alive
// connection) must not keep a stopped exporter alive.
process.exit(status);
