/**
 * A private podman for tests: its own image store, run directory and
 * containers.conf in one temporary directory, so nothing reaches the
 * machine's global storage or configuration, and `remove()` takes every
 * container, image and mount it made with it (also on failure).
 *
 * Settings this machine needs (docs: /work/shared notes, "Containers without
 * Docker"): runc (crun refuses the hybrid cgroup mounts), the cgroupfs
 * manager, and `default_ulimits = []` (raising RLIMIT_NOFILE is refused).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CONTAINERS_CONF = `# netprobe tests: per-run settings, never the machine's global ones
[containers]
default_ulimits = []
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "none"
`;

export class Podman {
  private constructor(readonly dir: string) {}

  /** A fresh store under a unique temporary directory. */
  static async create(prefix = 'np-podman-'): Promise<Podman> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    await writeFile(join(dir, 'containers.conf'), CONTAINERS_CONF);
    return new Podman(dir);
  }

  /** The global flags that keep this podman inside its directory. */
  private globalFlags(): string[] {
    return [
      '--root',
      join(this.dir, 'root'),
      '--runroot',
      join(this.dir, 'runroot'),
      '--tmpdir',
      join(this.dir, 'tmp'),
      '--storage-driver',
      'overlay',
      '--runtime',
      'runc',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'none',
      '--network-config-dir',
      join(this.dir, 'cni'),
    ];
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, CONTAINERS_CONF: join(this.dir, 'containers.conf') };
  }

  /** Runs `podman <args>`; a non-zero exit is returned, not thrown. */
  run(args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<PodmanResult> {
    return new Promise((resolve) => {
      const child = execFile(
        'podman',
        [...this.globalFlags(), ...args],
        { env: this.env(), timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 << 20, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr: error && code === -1 ? `${stderr}\n${error.message}` : stderr });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  }

  /** Runs `podman <args>` and returns stdout; throws with podman's own message on failure. */
  async ok(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`podman ${args.slice(0, 3).join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-4000)}`);
    return r.stdout;
  }

  /** Like `ok`, streaming podman's output to a log callback (for long builds). */
  stream(args: string[], log: (line: string) => void, opts: { timeoutMs?: number } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('podman', [...this.globalFlags(), ...args], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
      const tail: string[] = [];
      const onData = (chunk: Buffer): void => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          log(line);
          tail.push(line);
          if (tail.length > 40) tail.shift();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`podman ${args.slice(0, 2).join(' ')} ended with ${code ?? signal}:\n${tail.join('\n')}`));
      });
    });
  }

  /** Removes every container (force), image and mount of this store, then the directory. */
  async remove(): Promise<void> {
    await this.run(['rm', '--all', '--force', '--time', '0'], { timeoutMs: 60_000 });
    await this.run(['image', 'unmount', '--all', '--force'], { timeoutMs: 30_000 });
    await this.run(['rmi', '--all', '--force'], { timeoutMs: 60_000 });
    // The overlay driver keeps its home mounted (private bind): unmount whatever is left under the directory.
    await unmountUnder(this.dir);
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Unmounts every mount point at or below `dir`, deepest first (lazily, so a busy one cannot hang the cleanup). */
export async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const points = mountinfo
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of new Set(points)) await promisify(execFile)('umount', ['-l', point]).catch(() => undefined);
}
