/**
 * A BPF object file opened and loaded through libbpf: ELF → kernel programs
 * and maps. Finds programs and maps by name. `close()` unloads everything
 * (programs stay alive only while something — a link, a tc filter — holds them).
 *
 * @example
 * const obj = BpfObject.open('bpf/netprobe.bpf.o');
 * obj.load();
 * const fd = obj.programFd('netprobe_tc_in');
 * const slots = obj.map('np_slots');
 * obj.close();
 */
import type { Logger } from '../log/logger.js';
import { BpfCallError, callError, privilegeError, ProgramLoadError, StateError } from './errors.js';
import { isPermissionErrno } from '../sys/errno.js';
import { BpfMap } from './bpf-map.js';
import { LIBBPF_DEBUG, LIBBPF_INFO, libbpf } from '../sys/libbpf.js';
import { effectiveCapabilities, hasBpfPrivileges } from './privileges.js';
import { constants as os } from 'node:os';

const { EPERM } = os.errno;

export interface BpfObjectOptions {
  /** Receives libbpf's messages (the verifier log included) at debug level. */
  logger?: Logger;
}

export class BpfObject {
  private obj: bigint;
  private loaded = false;
  private readonly maps = new Map<string, BpfMap>();

  private constructor(
    readonly path: string,
    obj: bigint,
    private readonly logger: Logger | undefined,
  ) {
    this.obj = obj;
  }

  /** Opens (parses) the object file. Throws BpfCallError naming the path. */
  static open(path: string, opts: BpfObjectOptions = {}): BpfObject {
    const lib = libbpf();
    routeLibbpfLog(opts.logger);
    const obj = lib.objectOpenFile(path);
    if (obj === 0n) throw callError(`open BPF object ${path}`, lib.errno(), 'check the path; the shipped object is bpf/netprobe.bpf.o');
    return new BpfObject(path, obj, opts.logger);
  }

  /** Resizes a map before `load()` (e.g. a smaller overflow hash). */
  setMaxEntries(mapName: string, maxEntries: number): void {
    if (this.loaded || this.obj === 0n) throw new StateError(`resize map ${mapName} of ${this.path}: only before load()`);
    const lib = libbpf();
    const m = lib.findMap(this.obj, mapName);
    if (m === 0n) throw new BpfCallError(`find map ${mapName} in ${this.path}`, 2, { code: 'NP_ERR_ABI_MISMATCH' });
    const ret = lib.mapSetMaxEntries(m, maxEntries);
    if (ret < 0) throw callError(`resize map ${mapName} to ${maxEntries} entries`, -ret);
  }

  /** Whether `load()` loads a program (default: every program). Before load only. */
  setAutoload(programName: string, autoload: boolean): void {
    if (this.loaded || this.obj === 0n) throw new StateError(`choose program ${programName} of ${this.path}: only before load()`);
    const lib = libbpf();
    const prog = lib.findProgram(this.obj, programName);
    if (prog === 0n) throw new BpfCallError(`find program ${programName} in ${this.path}`, 2, { code: 'NP_ERR_ABI_MISMATCH' });
    const ret = lib.programSetAutoload(prog, autoload);
    if (ret < 0) throw callError(`choose program ${programName} of ${this.path}`, -ret);
  }

  /** Loads every program (through the verifier) and creates the maps. */
  load(): void {
    if (this.obj === 0n) throw new StateError(`load BPF object ${this.path}: already closed`);
    if (this.loaded) throw new StateError(`load BPF object ${this.path}: already loaded`);
    routeLibbpfLog(this.logger);
    const ret = libbpf().objectLoad(this.obj);
    if (ret < 0) {
      const errno = -ret;
      // libbpf blames RLIMIT_MEMLOCK on any EPERM; the real cause is missing capabilities.
      // EACCES is also how the verifier rejects an invalid access: the capabilities decide.
      if (errno === EPERM || (isPermissionErrno(errno) && !hasBpfPrivileges(effectiveCapabilities())))
        throw privilegeError(`load BPF object ${this.path}`, errno);
      throw new ProgramLoadError(this.path, errno);
    }
    this.loaded = true;
  }

  /** The fd of a loaded program (owned by this object: do not close it). */
  programFd(name: string): number {
    this.requireLoaded(`program ${name}`);
    const lib = libbpf();
    const prog = lib.findProgram(this.obj, name);
    if (prog === 0n) throw new BpfCallError(`find program ${name} in ${this.path}`, 2, { code: 'NP_ERR_ABI_MISMATCH' });
    return lib.programFd(prog);
  }

  /** A loaded map by name (cached). */
  map(name: string): BpfMap {
    this.requireLoaded(`map ${name}`);
    const cached = this.maps.get(name);
    if (cached) return cached;
    const lib = libbpf();
    const m = lib.findMap(this.obj, name);
    if (m === 0n) throw new BpfCallError(`find map ${name} in ${this.path}`, 2, { code: 'NP_ERR_ABI_MISMATCH' });
    const map = new BpfMap(
      name,
      lib.mapFd(m),
      lib.mapType(m),
      lib.mapKeySize(m),
      lib.mapValueSize(m),
      lib.mapMaxEntries(m),
      possibleCpus(),
    );
    this.maps.set(name, map);
    return map;
  }

  /** Unloads programs and maps held only by this object. Idempotent. */
  close(): void {
    if (this.obj === 0n) return;
    libbpf().objectClose(this.obj);
    this.obj = 0n;
    this.maps.clear();
  }

  private requireLoaded(what: string): void {
    if (!this.loaded || this.obj === 0n) throw new StateError(`${what} of ${this.path}: the object is not loaded`);
  }
}

let cpus: number | undefined;

/** The number of possible CPUs: the count of values in every per-CPU map element. */
export function possibleCpus(): number {
  if (cpus === undefined) {
    const n = libbpf().numPossibleCpus();
    if (n <= 0) throw callError('count possible CPUs (/sys/devices/system/cpu/possible)', -n);
    cpus = n;
  }
  return cpus;
}

/** libbpf's messages go to the given logger at debug level (the verifier log is long and only useful there). */
export function routeLibbpfLog(logger: Logger | undefined): void {
  if (!logger) return;
  libbpf().setPrint((level, message) => {
    if (level <= LIBBPF_INFO) logger.debug({ libbpf: level === LIBBPF_DEBUG ? 'debug' : level === LIBBPF_INFO ? 'info' : 'warn' }, message);
    else logger.trace({ libbpf: 'debug' }, message);
  });
}
