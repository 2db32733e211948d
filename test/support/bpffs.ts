/** A bpffs of the test's own: pins made in it never reach the machine's /sys/fs/bpf. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A private bpffs instance at a fresh temporary directory; `cleanup()` unmounts and removes it (its pins go with it). */
export async function privateBpffs(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'np-bpffs-'));
  try {
    await run('mount', ['-t', 'bpf', 'bpf', dir]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    cleanup: async () => {
      await run('umount', [dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
