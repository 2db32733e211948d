/**
 * A Cilium-style redirect for tests: packets for a pod's IPv4 address arriving
 * on the node's uplink go straight into the pod with bpf_redirect_peer(),
 * past its host veth (test/fixtures/redirect-peer.bpf.c, held by
 * test/fixtures/redirect-peer-agent.ts inside the node namespace, where
 * /sys/class/net shows its interfaces: `ip netns exec` is right here).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { compileFixtureProgram, fixturePath } from './bpf-compile.js';
import type { Netns } from './netns.js';

export interface RedirectPeer {
  /** Detaches the redirect (SIGTERM to its holder, by PID) and removes the compiled object. */
  stop(): Promise<void>;
}

export async function installRedirectPeer(node: Netns, opts: { uplink: string; podAddr: string; hostVeth: string }): Promise<RedirectPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'np-redirect-'));
  const object = compileFixtureProgram('redirect-peer.bpf.c', dir);
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      node.name,
      process.execPath,
      '--import',
      'tsx',
      fixturePath('redirect-peer-agent.ts'),
      object,
      opts.uplink,
      opts.podAddr,
      opts.hostVeth,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      new Promise<void>((resolve) => createInterface({ input: child.stdout }).once('line', () => resolve())),
      exited.then(() => {
        throw new Error(`redirect agent exited: ${stderr}`);
      }),
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}
