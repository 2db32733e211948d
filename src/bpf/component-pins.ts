/**
 * The pins of a meter that lives beside the TC counters under
 * `--ebpf.pin-path` (the socket meter, the drop meter): a directory of its own
 * per component and object version, so each can be adopted or removed
 * without touching the others:
 *
 *   <pin-path>/<dirPrefix><hash>/      hash of the component's BPF object
 *     manifest -> {...}               JSON as a symlink's target
 *     maps/<name>...  progs/<name>...  links/<name>...
 *
 * Built under `<tempPrefix><hash>-<pid>` and renamed into place once
 * complete; a temporary directory found at start is an interrupted start and
 * is removed (unpinning its links detaches them).
 */
import { mkdirSync, readdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { libbpf } from '../sys/libbpf.js';
import { callError } from './errors.js';
import { PinCorruptError, removeKnown } from './pin-store.js';

const MANIFEST = 'manifest';

/** Where and under which names one component pins. */
export interface PinLayout {
  /** The manifest's `component`. */
  component: string;
  dirPrefix: string;
  tempPrefix: string;
  /** The names it pins, per subdirectory (maps, progs, links): removal unpins only these. */
  known: Readonly<Record<string, RegExp>>;
}

export interface ComponentManifest {
  netprobe: 1;
  component: string;
  /** Hash of the component's BPF object. */
  object: string;
  maps: Record<string, { keySize: number; valueSize: number }>;
}

export function componentDirFor(layout: PinLayout, pinPath: string, hash: string): string {
  return join(pinPath, layout.dirPrefix + hash);
}

/** The component's directories (any version) and temporary ones under a pin path. */
export function listComponentDirs(layout: PinLayout, pinPath: string): Array<{ path: string; temp: boolean }> {
  let names: string[];
  try {
    names = readdirSync(pinPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .sort()
    .filter((n) => n.startsWith(layout.dirPrefix) || n.startsWith(layout.tempPrefix))
    .map((n) => ({ path: join(pinPath, n), temp: n.startsWith(layout.tempPrefix) }));
}

/**
 * Unpins what the component pins in `dir` and removes the directory
 * (unpinning a link nothing else holds detaches it). Names it does not know
 * stay and are returned; the directory then stays too.
 */
export function removeComponentDir(layout: PinLayout, dir: string): string[] {
  return removeKnown(dir, layout.known);
}

function pin(fd: number, path: string): void {
  const ret = libbpf().objPin(fd, path);
  if (ret < 0) throw callError(`pin ${path}`, -ret);
}

/** One component pin directory; every fd it hands out is the caller's to close. */
export class ComponentPins {
  private constructor(
    readonly layout: PinLayout,
    readonly dir: string,
    readonly manifest: ComponentManifest,
  ) {}

  /** Pins maps, programs and links (in that order) in a new directory, built under a temporary name and renamed into place. */
  static create(
    layout: PinLayout,
    pinPath: string,
    manifest: ComponentManifest,
    maps: ReadonlyArray<{ name: string; fd: number }>,
    programs: ReadonlyArray<{ name: string; fd: number }>,
    links: ReadonlyArray<{ name: string; fd: number }>,
  ): ComponentPins {
    const dir = componentDirFor(layout, pinPath, manifest.object);
    const temp = join(pinPath, `${layout.tempPrefix}${manifest.object}-${process.pid}`);
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
      removeComponentDir(layout, temp);
      throw e;
    }
    return new ComponentPins(layout, dir, manifest);
  }

  /** Opens an existing directory after checking its manifest. */
  static open(layout: PinLayout, dir: string): ComponentPins {
    let text: string;
    try {
      text = readlinkSync(join(dir, MANIFEST));
    } catch (e) {
      throw new PinCorruptError(dir, `no readable ${MANIFEST} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    let m: Partial<ComponentManifest>;
    try {
      m = JSON.parse(text) as Partial<ComponentManifest>;
    } catch {
      throw new PinCorruptError(dir, `${MANIFEST} is not JSON`);
    }
    if (m.netprobe !== 1 || m.component !== layout.component || typeof m.object !== 'string' || typeof m.maps !== 'object')
      throw new PinCorruptError(dir, `${MANIFEST} is not a ${layout.component} manifest`);
    return new ComponentPins(layout, dir, m as ComponentManifest);
  }

  /** An fd of a pinned map or program; throws PinCorruptError when missing. */
  get(kind: 'maps' | 'progs', name: string): number {
    const fd = libbpf().objGet(join(this.dir, kind, name));
    if (fd < 0) throw new PinCorruptError(this.dir, `${kind}/${name} cannot be opened (errno ${-fd})`);
    return fd;
  }

  /** Names pinned under progs/ (the drop meter pins the one variant it loaded). */
  programNames(): string[] {
    try {
      return readdirSync(join(this.dir, 'progs')).sort();
    } catch {
      return [];
    }
  }

  /** An fd of a pinned link, or undefined when there is none. */
  openLink(name: string): number | undefined {
    const fd = libbpf().objGet(join(this.dir, 'links', name));
    return fd < 0 ? undefined : fd;
  }

  /** Pins a link, replacing a stale pin of that name. */
  pinLink(fd: number, name: string): void {
    const path = join(this.dir, 'links', name);
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    pin(fd, path);
  }
}
