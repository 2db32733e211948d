/**
 * The socket meter's pins under `--ebpf.pin-path`, a directory of its own
 * beside the TC counters' (`netprobe-bpf-<hash>`), so either can be adopted
 * or removed without touching the other:
 *
 *   <pin-path>/netprobe-socket-meter-<hash>/   hash of bpf/socket-meter.bpf.o
 *     manifest -> {...}                   JSON as a symlink's target
 *     maps/sm_cgroups maps/sm_stats maps/np_carry
 *     progs/netprobe_sk_in progs/netprobe_sk_eg
 *     links/ingress links/egress          the cgroup links at the cgroup2 root
 *
 * Built under `tmp-netprobe-socket-meter-<hash>-<pid>` and renamed into place
 * once complete; a temporary directory found at start is an interrupted start
 * and is removed (unpinning its links detaches them).
 */
import { mkdirSync, readdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { libbpf } from '../../sys/libbpf.js';
import { callError } from '../errors.js';
import { PinCorruptError, removeKnown } from '../pin-store.js';

export const METER_DIR_PREFIX = 'netprobe-socket-meter-';
export const METER_TEMP_PREFIX = 'tmp-netprobe-socket-meter-';
const MANIFEST = 'manifest';

export type MeterLinkName = 'ingress' | 'egress';

export interface MeterManifest {
  netprobe: 1;
  component: 'socket-meter';
  /** Hash of bpf/socket-meter.bpf.o. */
  object: string;
  maps: Record<string, { keySize: number; valueSize: number }>;
}

const KNOWN: Record<string, RegExp> = {
  maps: /^(sm_[a-z_]+|np_carry)$/,
  progs: /^netprobe_sk_(in|eg)$/,
  links: /^(ingress|egress)$/,
};

export function meterDirFor(pinPath: string, hash: string): string {
  return join(pinPath, METER_DIR_PREFIX + hash);
}

/** Socket meter directories (any version) and temporary ones under a pin path. */
export function listMeterDirs(pinPath: string): Array<{ path: string; temp: boolean }> {
  let names: string[];
  try {
    names = readdirSync(pinPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .sort()
    .filter((n) => n.startsWith(METER_DIR_PREFIX) || n.startsWith(METER_TEMP_PREFIX))
    .map((n) => ({ path: join(pinPath, n), temp: n.startsWith(METER_TEMP_PREFIX) }));
}

function pin(fd: number, path: string): void {
  const ret = libbpf().objPin(fd, path);
  if (ret < 0) throw callError(`pin ${path}`, -ret);
}

/** One socket meter pin directory; every fd it hands out is the caller's to close. */
export class MeterPins {
  private constructor(
    readonly dir: string,
    readonly manifest: MeterManifest,
  ) {}

  /**
   * Pins maps, programs and links in a new directory, built under a temporary
   * name and renamed into place. `makeLinks` creates the links and returns
   * their fds (called after the maps are pinned, so a link never counts into
   * an unpinned map).
   */
  static create(
    pinPath: string,
    manifest: MeterManifest,
    maps: ReadonlyArray<{ name: string; fd: number }>,
    programs: ReadonlyArray<{ name: string; fd: number }>,
    links: ReadonlyArray<{ name: MeterLinkName; fd: number }>,
  ): MeterPins {
    const dir = meterDirFor(pinPath, manifest.object);
    const temp = join(pinPath, `${METER_TEMP_PREFIX}${manifest.object}-${process.pid}`);
    // One level at a time: a recursive mkdir can spin where mkdir answers ENOENT (make-directories.ts); the pin path was checked to be a bpffs.
    mkdirSync(temp, { mode: 0o700 });
    try {
      for (const sub of ['maps', 'progs', 'links']) mkdirSync(join(temp, sub), { mode: 0o700 });
      for (const m of maps) pin(m.fd, join(temp, 'maps', m.name));
      for (const p of programs) pin(p.fd, join(temp, 'progs', p.name));
      for (const l of links) pin(l.fd, join(temp, 'links', l.name));
      symlinkSync(JSON.stringify(manifest), join(temp, MANIFEST));
      renameSync(temp, dir);
    } catch (e) {
      // A link pinned in the half-made directory would keep the programs attached: remove it all.
      removeMeterDir(temp);
      throw e;
    }
    return new MeterPins(dir, manifest);
  }

  /** Opens an existing directory after checking its manifest. */
  static open(dir: string): MeterPins {
    let text: string;
    try {
      text = readlinkSync(join(dir, MANIFEST));
    } catch (e) {
      throw new PinCorruptError(dir, `no readable ${MANIFEST} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    let m: Partial<MeterManifest>;
    try {
      m = JSON.parse(text) as Partial<MeterManifest>;
    } catch {
      throw new PinCorruptError(dir, `${MANIFEST} is not JSON`);
    }
    if (m.netprobe !== 1 || m.component !== 'socket-meter' || typeof m.object !== 'string' || typeof m.maps !== 'object')
      throw new PinCorruptError(dir, `${MANIFEST} is not a socket meter manifest`);
    return new MeterPins(dir, m as MeterManifest);
  }

  /** An fd of a pinned map or program; throws PinCorruptError when missing. */
  get(kind: 'maps' | 'progs', name: string): number {
    const fd = libbpf().objGet(join(this.dir, kind, name));
    if (fd < 0) throw new PinCorruptError(this.dir, `${kind}/${name} cannot be opened (errno ${-fd})`);
    return fd;
  }

  /** An fd of a pinned link, or undefined when there is none. */
  openLink(name: MeterLinkName): number | undefined {
    const fd = libbpf().objGet(join(this.dir, 'links', name));
    return fd < 0 ? undefined : fd;
  }

  /** Pins a link, replacing a stale pin of that name. */
  pinLink(fd: number, name: MeterLinkName): void {
    const path = join(this.dir, 'links', name);
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    pin(fd, path);
  }
}

/**
 * Unpins what the socket meter pins in `dir` and removes the directory
 * (unpinning a link nothing else holds detaches it). Names it does not know
 * stay and are returned; the directory then stays too.
 */
export function removeMeterDir(dir: string): string[] {
  return removeKnown(dir, KNOWN);
}
