/**
 * Everything a benchmark creates registers its removal here, so a failure or
 * Ctrl-C still leaves no namespace, interface or process behind. Actions run
 * newest first (processes stop before their namespace goes).
 */
import { execFileSync } from 'node:child_process';

type Action = { label: string; run: () => Promise<void> | void };

const actions: Action[] = [];
let signalled = false;

/** Registers a removal; the returned function runs it now (once) and unregisters it. */
export function onCleanup(label: string, run: () => Promise<void> | void): () => Promise<void> {
  const action: Action = { label, run };
  actions.push(action);
  return async () => {
    const i = actions.indexOf(action);
    if (i < 0) return;
    actions.splice(i, 1);
    await action.run();
  };
}

/** Runs every registered removal, newest first; failures are reported, not thrown. */
export async function cleanupAll(): Promise<void> {
  while (actions.length > 0) {
    const action = actions.pop()!;
    try {
      await action.run();
    } catch (e) {
      process.stderr.write(`bench: cleanup of ${action.label} failed: ${(e as Error).message}\n`);
    }
  }
}

/**
 * Deletes every namespace named after this process (test/support/netns.ts
 * puts the PID in each name), including one whose creation was still in
 * flight when a signal came and so never registered its removal.
 */
export function sweepOwnNamespaces(): void {
  const mine = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.includes(`-${process.pid}-`));
  for (const name of mine) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
}

/** On SIGINT/SIGTERM: clean up, then exit 130/143. A second signal exits at once. */
export function cleanupOnSignals(): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (signalled) process.exit(code);
      signalled = true;
      process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
      void cleanupAll()
        .then(sweepOwnNamespaces)
        .finally(() => process.exit(code));
    });
  }
}
