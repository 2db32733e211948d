/**
 * Pods without a cluster: what a runtime makes for a pod, made from real
 * parts. A "node" is a test network namespace; a pod is a named namespace
 * `cni-<uuid>` under /run/netns, networked by Debian's CNI plugins called as
 * containerd calls them (CNI_COMMAND=ADD, the network config on stdin, run
 * inside the node namespace), a sleeping process inside it placed in a
 * kubepods cgroup (systemd or cgroupfs driver shape), and a pod log
 * directory `<namespace>_<name>_<uid>` under the node's own logs dir.
 *
 * Isolation: the plugins run inside the node namespace; host-local keeps its
 * state under the node's temp dir (`dataDir`); libcni's result cache is not
 * involved (the plugins are called directly). Cgroups live under a
 * per-node prefix (`np-<pid>-<tag>/`, below this process's own v1 memory
 * cgroup), so nothing outside is touched. `remove()` of a pod and
 * `cleanup()` of the node undo everything, leaf first, also after a failure.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Netns, uniqueTag } from './netns.js';

const run = promisify(execFile);

/** Last resort when the test process ends without cleaning up: every pod namespace, sleeper and cgroup left. */
const leftovers = new Set<{ netns: string; pid: number; cgroups: string[] }>();
process.once('exit', () => {
  for (const l of leftovers) {
    try {
      if (l.pid) process.kill(l.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    try {
      if (l.netns) execFileSync('ip', ['netns', 'del', l.netns], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
  // The cgroups empty out once the sleepers are reaped: a moment later.
  for (const l of leftovers) for (const dir of [...l.cgroups].reverse()) rmdirQuiet(dir);
});
const CNI_PATH = '/usr/lib/cni';
/** The cgroup2 mount the pods' (systemd driver) cgroups are made under. */
export const UNIFIED = '/sys/fs/cgroup/unified';
const MEMORY = '/sys/fs/cgroup/memory';

export type CniShape = 'bridge' | 'ptp';
export type CgroupDriver = 'systemd' | 'cgroupfs';

export interface PodSpec {
  namespace: string;
  name: string;
  /** Default bridge. */
  shape?: CniShape;
  /** Default systemd (the cgroup v2 line); cgroupfs uses the v1 memory controller. */
  driver?: CgroupDriver;
  /** Make the pod log directory (default true). */
  logDir?: boolean;
  /** A hostNetwork pod: the process stays in the node namespace and no CNI runs. */
  hostNetwork?: boolean;
  /** Called right before CNI ADD creates the veth (benchmarks time from here). */
  beforeNetwork?: () => void;
}

export interface Pod {
  spec: Required<Omit<PodSpec, 'beforeNetwork'>>;
  uid: string;
  /** `cni-<uuid>`; '' for a hostNetwork pod. */
  netns: string;
  /** The host-side veth in the node namespace; '' for a hostNetwork pod. */
  hostVeth: string;
  ifindex: number;
  /** The pod's address (no prefix); '' for a hostNetwork pod. */
  ip: string;
  /** The node-side address the pod reaches the node by (bridge address or ptp host end). */
  gateway: string;
  /** On a node made with `ipv6`: the pod's IPv6 address and the node-side IPv6 gateway; '' otherwise. */
  ip6: string;
  gateway6: string;
  pid: number;
  /** Runs a command inside the pod's network namespace. */
  exec(cmd: string, args: string[]): Promise<string>;
  /** CNI DEL, kill the process, delete the namespace, cgroups and log dir. Idempotent. */
  remove(): Promise<void>;
}

interface CniResult {
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
}

/** MAC addresses from the CNI result: the pod's eth0 and the node-side device it talks to. */
const macs = new WeakMap<Pod, { pod: string; node: string }>();

export class PodNode {
  readonly logsDir: string;
  /** The node's kubelet --cgroup-root: pass it as `--kubernetes.cgroup-root` (pods' cgroups are below it). */
  readonly cgroupRoot: string;
  private readonly dataDir: string;
  private readonly cgroupPrefix: string;
  private readonly memoryBase: string;
  private readonly pods = new Set<Pod>();
  private readonly tag = uniqueTag();
  private readonly subnetSeed = 20 + Math.floor(Math.random() * 200);
  /** The bridge of the bridge network (one per node, like a flannel/kindnet node). */
  private get bridge(): string {
    return `npbr${this.tag}`;
  }

  private constructor(
    readonly ns: Netns,
    readonly dir: string,
    /** Dual-stack pods (host-local hands out an IPv6 address beside the IPv4 one). */
    readonly ipv6: boolean,
  ) {
    this.logsDir = join(dir, 'pods');
    this.dataDir = join(dir, 'cni-ipam');
    mkdirSync(this.logsDir);
    mkdirSync(this.dataDir);
    this.cgroupPrefix = `np-${process.pid}-${this.tag}`;
    this.cgroupRoot = `/${this.cgroupPrefix}`;
    // Below this process's own v1 memory cgroup, so its accounting stays where it was.
    const own = /^\d+:memory:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
    this.memoryBase = join(MEMORY, own);
  }

  /** `ipv6`: dual-stack pods; IPv6 stays on in the node and its pods, without DAD (addresses usable at once). */
  static async create(opts: { ipv6?: boolean } = {}): Promise<PodNode> {
    const ns = await Netns.create('npnode');
    await ns.exec('sysctl', ['-q', '-w', ...ipv6Sysctls(opts.ipv6 === true)]);
    return new PodNode(ns, mkdtempSync(join(tmpdir(), 'np-node-')), opts.ipv6 === true);
  }

  /** The bridge network name and device of this node (one per node, like a flannel/kindnet node). */
  private config(shape: CniShape): string {
    const v4 = `10.${this.subnetSeed + (shape === 'ptp' ? 1 : 0)}.0.0/16`;
    const v6 = `fd00:${this.subnetSeed.toString(16)}:${shape === 'ptp' ? 1 : 0}::/64`;
    const ipam = this.ipv6
      ? { type: 'host-local', ranges: [[{ subnet: v4 }], [{ subnet: v6 }]], dataDir: this.dataDir }
      : { type: 'host-local', subnet: v4, dataDir: this.dataDir };
    const conf =
      shape === 'bridge'
        ? { cniVersion: '0.4.0', name: `npbr${this.tag}`, type: 'bridge', bridge: `npbr${this.tag}`, isGateway: true, ipMasq: false, ipam }
        : { cniVersion: '0.4.0', name: `npptp${this.tag}`, type: 'ptp', ipMasq: false, ipam };
    return JSON.stringify(conf);
  }

  private async cni(command: 'ADD' | 'DEL', shape: CniShape, containerId: string, netns: string): Promise<string> {
    const child = spawn('ip', ['netns', 'exec', this.ns.name, join(CNI_PATH, shape)], {
      env: {
        PATH: process.env.PATH,
        CNI_COMMAND: command,
        CNI_CONTAINERID: containerId,
        CNI_NETNS: `/run/netns/${netns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.stdin.end(this.config(shape));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve)); // 'close': stdout fully read
    clearTimeout(timer);
    if (code !== 0) throw new Error(`CNI ${command} (${shape}) failed (${code}): ${out}`);
    return out;
  }

  /** Makes one pod; the node removes it at cleanup if the test does not. */
  async addPod(spec: PodSpec): Promise<Pod> {
    const { beforeNetwork, ...rest } = spec;
    const full: Pod['spec'] = { shape: 'bridge', driver: 'systemd', logDir: true, hostNetwork: false, ...rest };
    const uid = randomUUID();
    const containerId = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
    const netns = full.hostNetwork ? '' : `cni-${randomUUID()}`;
    const cgroups: string[] = [];
    let sleeper: ChildProcess | undefined;
    let cniAdded = false;
    let removed = false;
    const leftover = { netns, pid: 0, cgroups };
    leftovers.add(leftover);
    const pod: Pod = {
      spec: full,
      uid,
      netns,
      hostVeth: '',
      ifindex: 0,
      ip: '',
      gateway: '',
      ip6: '',
      gateway6: '',
      pid: 0,
      exec: async (cmd, args) =>
        (await run('ip', ['netns', 'exec', netns || this.ns.name, cmd, ...args], { timeout: 60_000, maxBuffer: 16 << 20 })).stdout,
      remove: async () => {
        if (removed) return;
        removed = true;
        this.pods.delete(pod);
        leftovers.delete(leftover);
        if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null) {
          const exited = new Promise((r) => sleeper!.once('exit', r));
          sleeper.kill('SIGKILL');
          await exited;
        }
        if (cniAdded) await this.cni('DEL', full.shape, containerId, netns).catch(() => undefined);
        if (netns) await run('ip', ['netns', 'del', netns]).catch(() => undefined);
        for (const dir of cgroups.reverse()) rmdirQuiet(dir);
        rmSync(join(this.logsDir, `${full.namespace}_${full.name}_${uid}`), { recursive: true, force: true });
      },
    };
    this.pods.add(pod);
    try {
      if (netns) {
        await run('ip', ['netns', 'add', netns]);
        await pod.exec('sh', ['-c', `sysctl -q -w ${ipv6Sysctls(this.ipv6).join(' ')} && ip link set lo up`]);
      }
      // The pod's first process (the pause container), in its cgroup, before the network exists: as containerd does it.
      sleeper = spawn('ip', ['netns', 'exec', netns || this.ns.name, 'sleep', '3600'], { stdio: 'ignore' });
      pod.pid = sleeper.pid!;
      leftover.pid = pod.pid;
      const leaf = this.cgroupPath(full.driver, uid, containerId);
      const root = full.driver === 'systemd' ? UNIFIED : this.memoryBase;
      let at = root;
      for (const part of leaf.split('/')) {
        at = join(at, part);
        if (!existsSync(at)) {
          mkdirSync(at);
          cgroups.push(at);
        }
      }
      writeFileSync(join(at, 'cgroup.procs'), String(pod.pid));
      if (full.logDir) mkdirSync(join(this.logsDir, `${full.namespace}_${full.name}_${uid}`));
      if (netns) {
        beforeNetwork?.();
        const result = JSON.parse(await this.cni('ADD', full.shape, containerId, netns)) as CniResult;
        cniAdded = true;
        const host = result.interfaces?.find((i) => !i.sandbox && i.name.startsWith('veth'));
        if (!host) throw new Error(`CNI ADD named no host veth: ${JSON.stringify(result)}`);
        pod.hostVeth = host.name;
        pod.ifindex = await this.ns.ifindex(host.name);
        const v4 = result.ips!.find((i) => !i.address.includes(':'))!;
        const v6 = result.ips!.find((i) => i.address.includes(':'));
        pod.ip = v4.address.split('/')[0]!;
        pod.gateway = v4.gateway ?? '';
        pod.ip6 = v6?.address.split('/')[0] ?? '';
        pod.gateway6 = v6?.gateway ?? '';
        macs.set(pod, {
          pod: result.interfaces?.find((i) => i.sandbox)?.mac ?? '',
          node: result.interfaces?.find((i) => (full.shape === 'bridge' ? i.name === this.bridge : i.name === host.name))?.mac ?? '',
        });
      }
    } catch (e) {
      await pod.remove();
      throw e;
    }
    return pod;
  }

  /** The kubelet's cgroup of a container, below this node's prefix. */
  private cgroupPath(driver: CgroupDriver, uid: string, containerId: string): string {
    return driver === 'systemd'
      ? `${this.cgroupPrefix}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-${containerId}.scope`
      : `${this.cgroupPrefix}/kubepods/besteffort/pod${uid}/${containerId}`;
  }

  /**
   * Permanent neighbour entries both ways between a pod and the node, so no
   * ARP probe ever crosses the veth in the middle of an exact comparison.
   */
  async quietNeighbours(pod: Pod): Promise<void> {
    const gw = pod.gateway;
    const nodeDev = pod.spec.shape === 'bridge' ? this.bridge : pod.hostVeth;
    const known = macs.get(pod);
    const podMac =
      known?.pod || (JSON.parse(await pod.exec('ip', ['-j', 'link', 'show', 'eth0'])) as Array<{ address: string }>)[0]!.address;
    const nodeMac =
      known?.node || (JSON.parse(await this.ns.ip(['-j', 'link', 'show', nodeDev])) as Array<{ address: string }>)[0]!.address;
    await Promise.all([
      pod.exec('ip', ['neigh', 'replace', gw, 'lladdr', nodeMac, 'dev', 'eth0', 'nud', 'permanent']),
      this.ns.ip(['neigh', 'replace', pod.ip, 'lladdr', podMac, 'dev', nodeDev, 'nud', 'permanent']),
    ]);
  }

  /** Removes every pod left, the node namespace (with its bridge) and the temp dir. */
  async cleanup(): Promise<void> {
    for (const pod of [...this.pods]) await pod.remove().catch(() => undefined);
    await this.ns.delete();
    for (const base of [UNIFIED, this.memoryBase]) {
      const top = join(base, this.cgroupPrefix);
      if (existsSync(top)) await run('find', [top, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** IPv6 off (no chatter on the veths), or on without duplicate address detection (no tentative addresses). */
function ipv6Sysctls(on: boolean): string[] {
  return on
    ? ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']
    : ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
}

function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* busy or gone: the node's cleanup retries */
  }
}
