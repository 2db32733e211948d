/**
 * Persistent state under `--ebpf.pin-path` (a bpffs directory): the counter
 * maps, the two programs and every tcx link, pinned so they outlive the
 * process. One subdirectory per BPF object, named by the hash of the object
 * file (`netprobe-bpf-<hash>`), so two versions never share maps:
 *
 *   <pin-path>/netprobe-bpf-<hash>/
 *     manifest -> {...}               JSON kept as a symlink's target (bpffs
 *                                     holds no regular files, nor dotted names)
 *     maps/np_slots maps/np_overflow maps/np_stats maps/np_offsets
 *     maps/np_carry                   the exporter's carry-over record
 *     progs/netprobe_tc_in progs/netprobe_tc_eg
 *     links/<ifindex>-<direction>     tcx mode only; clsact filters hold
 *                                     their program by themselves
 *
 * A directory is created under a temporary name and renamed into place once
 * complete, so a SIGKILL never leaves a half-made one under the real name.
 * Nothing here deletes what it does not recognise: removal unlinks the names
 * netprobe pins and reports anything else it finds.
 */
import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statfsSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { constants as os } from 'node:os';
import type { AttachMode, Direction } from '../source/counter-source.js';
import { NetprobeError } from '../errors/index.js';
import { libbpf } from '../sys/libbpf.js';
import { callError } from './errors.js';
import { BPF_FS_MAGIC, filesystemName } from './filesystem-names.js';
import { makeDirectories, nearestExisting } from './make-directories.js';

export const PIN_DIR_PREFIX = 'netprobe-bpf-';
/** bpffs refuses names with a dot: none of ours has one. */
const TEMP_PREFIX = 'tmp-netprobe-bpf-';
const MANIFEST = 'manifest';
const { EEXIST } = os.errno;

/** What a netprobe pin directory says about itself. */
export interface PinManifest {
  netprobe: 1;
  /** Hash of the BPF object file that created the directory. */
  object: string;
  attachMode: AttachMode;
  /** The network namespace whose interfaces the pins belong to (ifindexes are per namespace). */
  netnsCookie: string | null;
  /** Key and value sizes of every pinned map, so a later version can tell whether it can read them. */
  maps: Record<string, { keySize: number; valueSize: number }>;
}

/** Pinned state that claims to be netprobe's but is not what netprobe pins. */
export class PinCorruptError extends NetprobeError {
  constructor(dir: string, what: string) {
    super('NP_ERR_PIN_CORRUPT', `pinned state ${dir}: ${what}; not trusted, left as it is`);
    this.name = 'PinCorruptError';
  }
}

/** The first 16 hex digits of the SHA-256 of the object file: names its pin directory. */
export function objectHash(objectPath: string): string {
  return createHash('sha256').update(readFileSync(objectPath)).digest('hex').slice(0, 16);
}

/**
 * Throws NP_ERR_PIN_PATH unless `pinPath` is (or can be made) a directory on
 * bpffs. The filesystem is checked on the nearest existing ancestor BEFORE
 * anything is made, so a wrong path creates nothing (and a plain sysfs
 * /sys/fs/bpf, where a recursive mkdir would spin, is refused at once).
 */
export function ensurePinPath(pinPath: string): void {
  const fail = (what: string, cause?: unknown): never => {
    throw new NetprobeError('NP_ERR_PIN_PATH', `--ebpf.pin-path ${pinPath}: ${what}`, cause === undefined ? undefined : { cause });
  };
  let existing = '';
  try {
    existing = nearestExisting(pinPath);
  } catch (e) {
    fail(`cannot look it up: ${(e as Error).message}`, e);
  }
  let type = 0;
  try {
    type = statfsSync(existing).type >>> 0;
  } catch (e) {
    fail(`cannot read the filesystem of ${existing}: ${(e as Error).message}`, e);
  }
  if (type !== BPF_FS_MAGIC) {
    const where = existing === resolve(pinPath) ? 'it is' : `its nearest existing parent ${existing} is`;
    // The catalogue's hint says how to fix it (mount a bpffs, or the DaemonSet's hostPath volume).
    fail(`${where} on ${filesystemName(type)}, not on a bpffs mount; nothing was created`);
  }
  try {
    makeDirectories(pinPath, 0o700);
  } catch (e) {
    fail(`cannot create it: ${(e as Error).message}`, e);
  }
}

/** The entries of a pin path: netprobe directories (any version), temporary ones, and the rest. */
export function listPinPath(pinPath: string): Array<{ name: string; path: string; kind: 'netprobe' | 'temp' | 'other' }> {
  let names: string[];
  try {
    names = readdirSync(pinPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.sort().map((name) => ({
    name,
    path: join(pinPath, name),
    kind: name.startsWith(PIN_DIR_PREFIX) ? 'netprobe' : name.startsWith(TEMP_PREFIX) ? 'temp' : 'other',
  }));
}

export function pinDirFor(pinPath: string, hash: string): string {
  return join(pinPath, PIN_DIR_PREFIX + hash);
}

/** Reads a directory's manifest; throws PinCorruptError when there is none or it is not netprobe's. */
export function readManifest(dir: string): PinManifest {
  let text: string;
  try {
    text = readlinkSync(join(dir, MANIFEST));
  } catch (e) {
    throw new PinCorruptError(dir, `no readable ${MANIFEST} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new PinCorruptError(dir, `${MANIFEST} is not JSON`);
  }
  const r = m as Partial<PinManifest>;
  if (
    typeof m !== 'object' ||
    m === null ||
    r.netprobe !== 1 ||
    typeof r.object !== 'string' ||
    (r.attachMode !== 'tcx' && r.attachMode !== 'tc') ||
    typeof r.maps !== 'object' ||
    r.maps === null
  )
    throw new PinCorruptError(dir, `${MANIFEST} is not a netprobe manifest`);
  return r as PinManifest;
}

/** One netprobe pin directory. Every fd it hands out is the caller's to close. */
export class PinStore {
  private constructor(
    readonly dir: string,
    readonly manifest: PinManifest,
  ) {}

  /**
   * Pins the given maps and programs in a new directory (built under a
   * temporary name, renamed into place when complete).
   */
  static create(
    pinPath: string,
    manifest: PinManifest,
    maps: ReadonlyArray<{ name: string; fd: number }>,
    programs: ReadonlyArray<{ name: string; fd: number }>,
  ): PinStore {
    const dir = pinDirFor(pinPath, manifest.object);
    const temp = join(pinPath, `${TEMP_PREFIX}${manifest.object}-${process.pid}`);
    const lib = libbpf();
    // Level by level (never a recursive mkdir: see make-directories.ts).
    mkdirSync(temp, { mode: 0o700 });
    mkdirSync(join(temp, 'maps'), { mode: 0o700 });
    mkdirSync(join(temp, 'progs'), { mode: 0o700 });
    mkdirSync(join(temp, 'links'), { mode: 0o700 });
    const pin = (fd: number, path: string): void => {
      const ret = lib.objPin(fd, path);
      if (ret < 0) throw callError(`pin ${path}`, -ret);
    };
    for (const m of maps) pin(m.fd, join(temp, 'maps', m.name));
    for (const p of programs) pin(p.fd, join(temp, 'progs', p.name));
    symlinkSync(JSON.stringify(manifest), join(temp, MANIFEST));
    renameSync(temp, dir);
    return new PinStore(dir, manifest);
  }

  /** Opens an existing directory after checking its manifest. */
  static open(dir: string): PinStore {
    return new PinStore(dir, readManifest(dir));
  }

  /** An fd of a pinned map or program (`maps/<name>`, `progs/<name>`); throws PinCorruptError when missing. */
  get(kind: 'maps' | 'progs', name: string): number {
    const fd = libbpf().objGet(join(this.dir, kind, name));
    if (fd < 0) throw new PinCorruptError(this.dir, `${kind}/${name} cannot be opened (errno ${-fd})`);
    return fd;
  }

  /** An fd of a pinned map, or undefined when this directory has no map of that name (made by an earlier version). */
  getOptionalMap(name: string): number | undefined {
    const fd = libbpf().objGet(join(this.dir, 'maps', name));
    return fd < 0 ? undefined : fd;
  }

  /** Pins a map that an earlier version did not pin here. */
  pinMap(fd: number, name: string): void {
    const path = join(this.dir, 'maps', name);
    const ret = libbpf().objPin(fd, path);
    if (ret < 0) throw callError(`pin ${path}`, -ret);
  }

  /** Pins a tcx link of `ifindex`/`direction`, replacing a stale pin of that name. */
  pinLink(fd: number, ifindex: number, direction: Direction): void {
    const path = this.linkPath(ifindex, direction);
    let ret = libbpf().objPin(fd, path);
    if (ret === -EEXIST) {
      unlinkSync(path);
      ret = libbpf().objPin(fd, path);
    }
    if (ret < 0) throw callError(`pin ${path}`, -ret);
  }

  /** An fd of the pinned link, or undefined when there is none. */
  openLink(ifindex: number, direction: Direction): number | undefined {
    const fd = libbpf().objGet(this.linkPath(ifindex, direction));
    return fd < 0 ? undefined : fd;
  }

  /** Removes a link's pin (the link is detached once no fd holds it). */
  unpinLink(ifindex: number, direction: Direction): void {
    try {
      unlinkSync(this.linkPath(ifindex, direction));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Moves a link pin of another directory here (an upgrade keeps the link and swaps its program). */
  adoptLinkPin(from: PinStore, ifindex: number, direction: Direction): void {
    renameSync(from.linkPath(ifindex, direction), this.linkPath(ifindex, direction));
  }

  /** The (ifindex, direction) of every pinned link. */
  linkPins(): Array<{ ifindex: number; direction: Direction }> {
    const out: Array<{ ifindex: number; direction: Direction }> = [];
    for (const name of safeReaddir(join(this.dir, 'links'))) {
      const m = /^(\d+)-(ingress|egress)$/.exec(name);
      if (m) out.push({ ifindex: Number(m[1]), direction: m[2] as Direction });
    }
    return out;
  }

  /**
   * Unpins everything netprobe pins here and removes the directory. Names it
   * does not know stay, and are returned (the directory then stays too).
   */
  remove(): string[] {
    return removeKnown(this.dir);
  }

  private linkPath(ifindex: number, direction: Direction): string {
    return join(this.dir, 'links', `${ifindex}-${direction}`);
  }
}

const KNOWN: Readonly<Record<string, RegExp>> = {
  maps: /^np_[a-z_]+$/,
  progs: /^netprobe_tc_(in|eg)$/,
  links: /^\d+-(ingress|egress)$/,
};

/**
 * Removes netprobe's pins in `dir` (a netprobe or temporary directory); returns what it left.
 * `known`: subdirectory → the pin names netprobe puts there (another unit's layout, e.g. the socket meter's).
 */
export function removeKnown(dir: string, known: Readonly<Record<string, RegExp>> = KNOWN): string[] {
  const left: string[] = [];
  for (const name of safeReaddir(dir)) {
    const path = join(dir, name);
    if (name === MANIFEST) continue;
    const pattern = Object.hasOwn(known, name) ? known[name] : undefined;
    if (!pattern || !lstatSync(path).isDirectory()) {
      left.push(path);
      continue;
    }
    for (const entry of safeReaddir(path)) {
      if (pattern.test(entry)) unlinkSync(join(path, entry));
      else left.push(join(path, entry));
    }
    if (!left.some((p) => p.startsWith(path + '/'))) rmdirSync(path);
  }
  if (left.length > 0) return left;
  try {
    unlinkSync(join(dir, MANIFEST));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  rmdirSync(dir);
  return [];
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
}
