/**
 * Long-running processes inside a benchmark namespace (exporters, iperf3
 * servers, agents), each stopped by its own PID: `ip netns exec` execs the
 * command in place, so the PID we get is the command's own.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Netns } from './netns.js';
import { onCleanup } from './cleanup-registry.js';

export interface NsProcess {
  pid: number;
  child: ChildProcess;
  /** stdout and stderr so far (last 64 KiB), for error messages. */
  output(): string;
  /** Resolves with the next stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs` (default: the start option); resolves with the exit code (idempotent). */
  stop(graceMs?: number): Promise<number | null>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Names the process in errors and cleanup messages. */
  label?: string;
  /** How long a SIGTERM may take before SIGKILL (netprobe detaching thousands of tcx links takes a while). */
  stopGraceMs?: number;
}

export function startInNs(ns: Netns, cmd: string, args: string[], opts: StartOptions = {}): NsProcess {
  const child = ns.spawn(cmd, args, { env: opts.env ?? process.env });
  const label = opts.label ?? `${cmd} in ${ns.name}`;
  if (child.pid === undefined) throw new Error(`could not start ${label}`);
  const pid = child.pid;
  let log = '';
  let pendingLine = '';
  const lineWaiters = new Set<(line: string) => void>();
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-65536);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    keep(chunk);
    pendingLine += chunk.toString();
    let nl: number;
    while ((nl = pendingLine.indexOf('\n')) >= 0) {
      const line = pendingLine.slice(0, nl);
      pendingLine = pendingLine.slice(nl + 1);
      for (const w of [...lineWaiters]) w(line);
    }
  });
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));

  const stop = async (graceMs = opts.stopGraceMs ?? 5000): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return exited;
  };
  const unregister = onCleanup(label, () => stop().then(() => undefined));
  void exited.then(() => unregister());

  return {
    pid,
    child,
    output: () => log,
    waitForLine: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          lineWaiters.delete(onLine);
          reject(new Error(`${label}: no line matching ${pattern} within ${timeoutMs} ms; output:\n${log}`));
        }, timeoutMs);
        const onLine = (line: string): void => {
          if (!pattern.test(line)) return;
          clearTimeout(timer);
          lineWaiters.delete(onLine);
          resolve(line);
        };
        lineWaiters.add(onLine);
        void exited.then((code) => {
          if (!lineWaiters.has(onLine)) return;
          clearTimeout(timer);
          lineWaiters.delete(onLine);
          reject(new Error(`${label} exited (${code}) before printing ${pattern}; output:\n${log}`));
        });
      }),
    stop,
  };
}

/** Waits until a TCP socket listens on `port` in the process's namespace (read from /proc, no client needed). */
export async function waitForListen(proc: NsProcess, port: number, timeoutMs: number): Promise<void> {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null)
      throw new Error(`process ${proc.pid} exited (${proc.child.exitCode}) before listening; output:\n${proc.output()}`);
    for (const table of ['tcp', 'tcp6']) {
      const text = await readFile(`/proc/${proc.pid}/net/${table}`, 'utf8').catch(() => '');
      // Column 2 is local_address "IP:PORT", column 4 the state: 0A = LISTEN.
      if (text.split('\n').some((l) => l.includes(hexPort) && l.trim().split(/\s+/)[3] === '0A')) return;
    }
    await sleep(50);
  }
  throw new Error(`process ${proc.pid} did not listen on port ${port} within ${timeoutMs} ms; output:\n${proc.output()}`);
}
