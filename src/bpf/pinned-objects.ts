/**
 * Maps, programs and links reached through their bpffs pins: what the kernel
 * says they are (bpf_obj_get_info_by_fd), decoded from its info structs.
 */
import { libbpf } from '../sys/libbpf.js';
import { BpfMap } from './bpf-map.js';
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
