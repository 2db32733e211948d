/**
 * Maps, programs and links reached through their bpffs pins: what the kernel
 * says they are (bpf_obj_get_info_by_fd), decoded from its info structs.
 */
import { libbpf } from '../sys/libbpf.js';
import { NetprobeError } from '../errors/index.js';
import { BpfMap } from './bpf-map.js';
import { callError } from './errors.js';
import { possibleCpus } from './bpf-object.js';

/** `enum bpf_link_type`: BPF_LINK_TYPE_TCX. */
export const BPF_LINK_TYPE_TCX = 11;

/** struct bpf_map_info: type, id, key_size, value_size, max_entries (u32 each from offset 0), name at 24. */
const MAP_INFO_SIZE = 96;
/** struct bpf_link_info: type, id, prog_id (u32), then the union at 16 (tcx: ifindex, attach_type). */
const LINK_INFO_SIZE = 64;

/** A map by fd, described by the kernel (the fd is owned by the returned BpfMap's user). */
export function mapFromFd(fd: number): BpfMap | undefined {
  const { ret, info } = libbpf().objInfo(fd, MAP_INFO_SIZE);
  if (ret < 0) return undefined;
  const name = info.toString('utf8', 24, 40).replace(/\0.*$/s, '');
  return new BpfMap(name, fd, info.readUInt32LE(0), info.readUInt32LE(8), info.readUInt32LE(12), info.readUInt32LE(16), possibleCpus());
}

/** A new user-space map (not pinned yet: the caller pins `fd`); its fd is closed again if the kernel cannot describe it. */
export function createMap(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags = 0): BpfMap {
  const lib = libbpf();
  const fd = lib.mapCreate(type, name, keySize, valueSize, maxEntries, flags);
  if (fd < 0) throw callError(`create map ${name}`, -fd);
  const map = mapFromFd(fd);
  if (!map) {
    lib.close(fd);
    throw new NetprobeError('NP_ERR_BPF', `create map ${name}: cannot read its info`);
  }
  return map;
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  /** 0 once the interface is gone (the link is defunct). */
  ifindex: number;
  attachType: number;
}

export function linkInfo(fd: number): LinkInfo | undefined {
  const { ret, info } = libbpf().objInfo(fd, LINK_INFO_SIZE);
  if (ret < 0) return undefined;
  return {
    type: info.readUInt32LE(0),
    id: info.readUInt32LE(4),
    progId: info.readUInt32LE(8),
    ifindex: info.readUInt32LE(16),
    attachType: info.readUInt32LE(20),
  };
}
