/**
 * The socket meter's pins under `--ebpf.pin-path` (component-pins.ts), a
 * directory of its own beside the TC counters' (`netprobe-bpf-<hash>`):
 *
 *   <pin-path>/netprobe-socket-meter-<hash>/   hash of bpf/socket-meter.bpf.o
 *     manifest -> {...}                   JSON as a symlink's target
 *     maps/sm_cgroups maps/sm_slots maps/sm_stats maps/np_carry
 *     progs/netprobe_sk_in progs/netprobe_sk_eg
 *     links/ingress links/egress          the cgroup links at the cgroup2 root
 */
import { componentDirFor, listComponentDirs, removeComponentDir, type ComponentManifest, type PinLayout } from '../component-pins.js';

export const SOCKET_METER_PINS: PinLayout = {
  component: 'socket-meter',
  dirPrefix: 'netprobe-socket-meter-',
  tempPrefix: 'tmp-netprobe-socket-meter-',
  known: {
    maps: /^(sm_[a-z_]+|np_carry)$/,
    progs: /^netprobe_sk_(in|eg)$/,
    links: /^(ingress|egress)$/,
  },
};

export type MeterLinkName = 'ingress' | 'egress';

export interface MeterManifest extends ComponentManifest {
  component: 'socket-meter';
}

export function meterDirFor(pinPath: string, hash: string): string {
  return componentDirFor(SOCKET_METER_PINS, pinPath, hash);
}

/** Socket meter directories (any version) and temporary ones under a pin path. */
export function listMeterDirs(pinPath: string): Array<{ path: string; temp: boolean }> {
  return listComponentDirs(SOCKET_METER_PINS, pinPath);
}

/** Unpins what the socket meter pins in `dir` and removes it; names it does not know are returned and stay. */
export function removeMeterDir(dir: string): string[] {
  return removeComponentDir(SOCKET_METER_PINS, dir);
}
