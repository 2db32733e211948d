/**
 * Throwaway network namespaces and veth pairs for kernel tests. Names are
 * unique per process and call, so parallel runs never collide; everything is
 * removed by `cleanup()` (registered with the test's `after`), and on process
 * exit as a last resort. Traffic stays between the namespaces made here.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);
const live = new Set<string>();

process.once('exit', () => {
  for (const ns of live) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});

/** A short unique tag: interface names are limited to 15 bytes. */
export function uniqueTag(): string {
  return randomBytes(3).toString('hex');
}

export async function ip(args: string[], timeoutMs = 10_000): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: timeoutMs });
  return stdout;
}

export class Netns {
  private constructor(readonly name: string) {}

  static async create(prefix = 'np'): Promise<Netns> {
    const name = `${prefix}-${process.pid}-${uniqueTag()}`;
    await ip(['netns', 'add', name]);
    live.add(name);
    const ns = new Netns(name);
    await ns.ip(['link', 'set', 'lo', 'up']);
    return ns;
  }

  ip(args: string[], timeoutMs?: number): Promise<string> {
    return ip(['-n', this.name, ...args], timeoutMs);
  }

  /** Runs a command inside the namespace and returns its stdout. */
  async exec(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', this.name, cmd, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout;
  }

  /** Starts a long-running command inside the namespace; the caller ends it by PID. */
  spawn(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  }

  /** The kernel's own counters of an interface in this namespace. */
  async linkStats(ifname: string): Promise<{
    ifindex: number;
    rx: { packets: number; bytes: number; dropped: number };
    tx: { packets: number; bytes: number; dropped: number };
  }> {
    const [link] = JSON.parse(await this.ip(['-j', '-s', 'link', 'show', 'dev', ifname])) as Array<{
      ifindex: number;
      stats64: { rx: { packets: number; bytes: number; dropped: number }; tx: { packets: number; bytes: number; dropped: number } };
    }>;
    if (!link) throw new Error(`no interface ${ifname} in ${this.name}`);
    return { ifindex: link.ifindex, rx: link.stats64.rx, tx: link.stats64.tx };
  }

  async ifindex(ifname: string): Promise<number> {
    return (await this.linkStats(ifname)).ifindex;
  }

  async delete(): Promise<void> {
    if (!live.has(this.name)) return;
    live.delete(this.name);
    await ip(['netns', 'del', this.name]).catch(() => undefined);
  }
}

export interface VethPair {
  /** End in namespace `a`, with address `addrA`. */
  a: string;
  /** End in namespace `b`, with address `addrB`. */
  b: string;
  addrA: string;
  addrB: string;
}

/**
 * Creates a veth pair between two namespaces with addresses from
 * 10.<n>.<m>.1/30 and .2/30 — private, and only ever inside these namespaces.
 */
export async function vethBetween(
  nsA: Netns,
  nsB: Netns,
  opts: { a?: string; b?: string; subnet?: number; /** ifindex of both ends (free in fresh namespaces) */ indexB?: number } = {},
): Promise<VethPair> {
  const tag = uniqueTag();
  const a = opts.a ?? `npa${tag}`;
  const b = opts.b ?? `npb${tag}`;
  const subnet = opts.subnet ?? 1 + (parseInt(tag, 16) % 250);
  const addrA = `10.213.${subnet}.1`;
  const addrB = `10.213.${subnet}.2`;
  // The kernel takes the peer's index only when the first end's is given too: both get it (each namespace numbers its own).
  const index = opts.indexB === undefined ? [] : ['index', String(opts.indexB)];
  await nsA.ip(['link', 'add', a, ...index, 'type', 'veth', 'peer', 'name', b, ...index, 'netns', nsB.name]);
  await nsA.ip(['addr', 'add', `${addrA}/30`, 'dev', a]);
  await nsB.ip(['addr', 'add', `${addrB}/30`, 'dev', b]);
  await nsA.ip(['link', 'set', a, 'up']);
  await nsB.ip(['link', 'set', b, 'up']);
  return { a, b, addrA, addrB };
}

/** Two fresh namespaces joined by one veth pair; `cleanup` removes both. */
export async function twoHosts(prefix = 'np'): Promise<{ left: Netns; right: Netns; link: VethPair; cleanup: () => Promise<void> }> {
  const left = await Netns.create(`${prefix}l`);
  const right = await Netns.create(`${prefix}r`).catch(async (e: unknown) => {
    await left.delete();
    throw e;
  });
  const cleanup = async (): Promise<void> => {
    await left.delete();
    await right.delete();
  };
  try {
    const link = await vethBetween(left, right);
    return { left, right, link, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
