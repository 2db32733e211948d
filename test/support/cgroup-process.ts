/**
 * A UDP peer process placed in a cgroup v2 directory BEFORE it opens a
 * socket (the shell writes its own PID into `cgroup.procs`, then execs
 * node), inside a network namespace entered with `nsenter --net` (which,
 * unlike `ip netns exec`, keeps /sys and so the cgroup2 mount). It binds a
 * UDP port, reports what it received, and sends datagrams on request.
 * Ended by PID in `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

export const CGROUP2 = '/sys/fs/cgroup/unified';

const SCRIPT = `
const dgram = require('node:dgram');
const [family, port] = [process.argv[1], Number(process.argv[2])];
const s = dgram.createSocket({ type: family, recvBufferSize: 4 << 20 });
let received = 0, bytes = 0;
s.on('message', (m) => { received++; bytes += m.length; });
s.on('error', (e) => { console.log('error ' + e.message); });
s.bind(port, () => console.log('ready'));
let buf = '';
process.stdin.on('data', (c) => {
  buf += c;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i).split(' '); buf = buf.slice(i + 1);
    if (line[0] === 'count') console.log('count ' + received + ' ' + bytes);
    if (line[0] === 'send') {
      const [addr, p, n, size] = [line[1], Number(line[2]), Number(line[3]), Number(line[4])];
      const data = Buffer.alloc(size, 120);
      let left = n;
      const next = () => { if (left-- <= 0) return console.log('sent'); s.send(data, p, addr, () => setTimeout(next, 0)); };
      next();
    }
  }
});`;

export class UdpPeer {
  private out = '';
  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => (this.out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.out += c.toString()));
  }

  /** Starts the peer in `netns` (a /run/netns name; '' = the test's own) and cgroup dir `cgroupDir` (absolute). */
  static async start(opts: { netns: string; cgroupDir: string; port: number; family?: 'udp4' | 'udp6' }): Promise<UdpPeer> {
    const inner = `echo $$ > ${opts.cgroupDir}/cgroup.procs && exec ${process.execPath} -e "$0" ${opts.family ?? 'udp4'} ${opts.port}`;
    const args = opts.netns ? [`--net=/run/netns/${opts.netns}`, 'sh', '-c', inner, SCRIPT] : ['sh', '-c', inner, SCRIPT];
    const child = spawn(opts.netns ? 'nsenter' : args[0]!, opts.netns ? args : args.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new UdpPeer(child);
    await peer.waitFor(/ready/, 20_000);
    return peer;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async send(addr: string, port: number, count: number, size: number): Promise<void> {
    const before = (this.out.match(/sent/g) ?? []).length;
    this.child.stdin!.write(`send ${addr} ${port} ${count} ${size}\n`);
    await this.waitFor(() => (this.out.match(/sent/g) ?? []).length > before, 60_000);
  }

  /** Datagrams and payload bytes received so far. */
  async received(): Promise<{ packets: number; bytes: number }> {
    const marker = this.out.length;
    this.child.stdin!.write('count\n');
    await this.waitFor(() => /count \d+ \d+\n/.test(this.out.slice(marker)), 20_000);
    const m = /count (\d+) (\d+)\n/.exec(this.out.slice(marker))!;
    return { packets: Number(m[1]), bytes: Number(m[2]) };
  }

  /** Waits until it has received `packets` datagrams (bounded). */
  async receivedAtLeast(packets: number): Promise<{ packets: number; bytes: number }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await this.received();
      if (r.packets >= packets || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  output(): string {
    return this.out;
  }

  private async waitFor(cond: RegExp | (() => boolean), timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ok = typeof cond === 'function' ? cond : () => cond.test(this.out);
    while (!ok()) {
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`udp peer: waited in vain; output: ${this.out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The cgroup v2 directory (absolute) a process lives in. */
export function cgroupDirOf(pid: number): string {
  const path = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
  if (path === undefined) throw new Error(`process ${pid} has no cgroup v2 line`);
  return join(CGROUP2, path);
}

/** Makes a container cgroup `cri-containerd-<id>.scope` beside (under the pod directory of) `podProcessPid`'s cgroup. */
export function makeContainerCgroup(podProcessPid: number, containerId: string): string {
  const podDir = join(cgroupDirOf(podProcessPid), '..');
  const dir = join(podDir, `cri-containerd-${containerId}.scope`);
  if (!existsSync(dir)) mkdirSync(dir);
  return dir;
}

export function removeCgroup(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* busy or gone: the node's cleanup removes the whole prefix */
  }
}

/** rmdir of a cgroup once the kernel no longer counts its exited processes (bounded); gone already is fine. */
export async function removeWhenEmpty(dir: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
