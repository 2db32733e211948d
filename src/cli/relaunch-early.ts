/**
 * Imported first by the `netprobe` entry point, for its side effect: a
 * command that will serve becomes a node with its runtime flags before the
 * rest of netprobe is evaluated, so the replaced image did little work.
 * Short-lived commands (help, version, check, top) run as they were started.
 */
import { relaunchWithRuntimeFlags } from './relaunch.js';
import { isShortLivedCommand } from './runtime-flags.js';

if (!isShortLivedCommand(process.argv.slice(2))) relaunchWithRuntimeFlags();
