/**
 * Makes the running `netprobe` command a node started with RUNTIME_FLAGS, by
 * replacing the process image (execve): same PID, same stdio and signals, so
 * a container's entrypoint, a systemd unit or a shell sees one process, and
 * no parent node stays resident beside it (a spawned child would cost a
 * second ~40 MiB). Flags the operator gave (node's options, NODE_OPTIONS)
 * are kept and win. Where execve is not possible (no FFI), netprobe runs on
 * with node's defaults: they only cost memory.
 */
import { libc } from '../sys/libc.js';
import type { Logger } from '../log/logger.js';
import { missingRuntimeFlags, RUNTIME_FLAGS } from './runtime-flags.js';

let failure: { flags: string[]; reason: string } | undefined;

/** Returns only when no relaunch is needed or it failed; otherwise this process becomes the new one. */
export function relaunchWithRuntimeFlags(): void {
  const missing = missingRuntimeFlags(RUNTIME_FLAGS, process.execArgv, process.env['NODE_OPTIONS']);
  const script = process.argv[1];
  if (missing.length === 0 || script === undefined) return;
  const argv = [process.argv0, ...missing, ...process.execArgv, script, ...process.argv.slice(2)];
  const env = Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  try {
    const c = libc();
    // Node marks stdin, stdout and stderr close-on-exec; the new image needs them.
    for (const fd of [0, 1, 2]) c.keepAcrossExec(fd);
    failure = { flags: missing, reason: `execve: errno ${-c.execve(process.execPath, argv, env)}` };
  } catch (error) {
    failure = { flags: missing, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** Logs (debug) why the runtime flags are missing, once a logger exists. */
export function reportRelaunch(logger: Logger): void {
  if (failure) logger.debug(failure, 'could not restart node with its runtime flags; running with node defaults');
}
