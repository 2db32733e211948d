/**
 * Traffic from processes in a cgroup of the test's own, for the socket
 * meter's tests: a cgroup v2 directory with a unique name under the cgroup2
 * mount (its id is the directory's inode number), and UDP senders/receivers
 * (python3) started with `nsenter --net`, which keeps /sys mounted (`ip netns
 * exec` remounts it), and that move themselves into the cgroup before opening
 * a socket.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Netns } from './netns.js';
import { uniqueTag } from './netns.js';

const run = promisify(execFile);

export interface TestCgroup {
  path: string;
  /** The cgroup id: the directory's inode number. */
  id: bigint;
  /** rmdir, retried while the kernel still counts an exited process as a member. */
  remove(): Promise<void>;
}

/** A fresh cgroup directly under the cgroup2 root (the root exists: never mkdir -p under /sys). */
export function testCgroup(root: string): TestCgroup {
  const path = join(root, `np-sm-${process.pid}-${uniqueTag()}`);
  mkdirSync(path);
  return {
    path,
    id: BigInt(statSync(path).ino),
    remove: async () => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          rmdirSync(path);
          return;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') return;
          if (code !== 'EBUSY' || Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}

/** argv of a command run in `ns` (nsenter keeps /sys), inside `cgroup` when given. */
export function inNetns(ns: Netns, cgroup: TestCgroup | undefined, cmd: string, args: string[]): [string, string[]] {
  const nsenter = ['--net=/run/netns/' + ns.name];
  if (!cgroup) return ['nsenter', [...nsenter, cmd, ...args]];
  return ['nsenter', [...nsenter, 'sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup.path, cmd, ...args]];
}

const UDP_SEND = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
payload = b'x' * int(sys.argv[4])
for _ in range(int(sys.argv[3])):
    s.sendto(payload, (sys.argv[1], int(sys.argv[2])))
`;

const UDP_RECV = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[4]))
print('ready', flush=True)
n = 0
try:
    while n < int(sys.argv[3]):
        s.recv(65536)
        n += 1
except socket.timeout:
    pass
print(n, flush=True)
`;

/** Sends `count` datagrams of `size` payload bytes to addr:port from a process in `ns` (and `cgroup`). */
export async function udpSend(
  ns: Netns,
  cgroup: TestCgroup | undefined,
  addr: string,
  port: number,
  count: number,
  size: number,
): Promise<void> {
  const [cmd, args] = inNetns(ns, cgroup, 'python3', ['-c', UDP_SEND, addr, String(port), String(count), String(size)]);
  await run(cmd, args, { timeout: 60_000 });
}

/**
 * Starts a receiver of up to `count` datagrams on bind:port; resolves `ready`
 * once its socket is bound, `received` with the number it got (it stops at
 * `count` or after `idleSeconds` without a datagram).
 */
export function udpReceive(
  ns: Netns,
  cgroup: TestCgroup | undefined,
  bind: string,
  port: number,
  count: number,
  idleSeconds = 10,
): { ready: Promise<void>; received: Promise<number> } {
  const [cmd, args] = inNetns(ns, cgroup, 'python3', ['-c', UDP_RECV, bind, String(port), String(count), String(idleSeconds)]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const received = new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => {
      const n = /(\d+)\s*$/.exec(out)?.[1];
      if (code === 0 && n !== undefined) resolve(Number(n));
      else reject(new Error(`udp receiver exited ${code}: ${err}${out}`));
    });
  });
  return { ready: Promise.race([ready, received.then(() => undefined)]), received };
}
