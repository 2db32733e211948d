/**
 * The drop meter's pins under `--ebpf.pin-path` (component-pins.ts), a
 * directory of its own beside the TC counters' and the socket meter's:
 *
 *   <pin-path>/netprobe-drop-meter-<hash>/   hash of bpf/drop-meter.bpf.o
 *     manifest -> {...}                 JSON as a symlink's target
 *     maps/dm_drops maps/dm_slots maps/dm_stats maps/dm_config maps/np_carry
 *     progs/netprobe_drop<N>            the one variant this kernel loaded
 *     links/kfree_skb                   the tracing link at skb:kfree_skb
 */
import { componentDirFor, listComponentDirs, removeComponentDir, type PinLayout } from '../component-pins.js';

export const DROP_METER_PINS: PinLayout = {
  component: 'drop-meter',
  dirPrefix: 'netprobe-drop-meter-',
  tempPrefix: 'tmp-netprobe-drop-meter-',
  known: {
    maps: /^(dm_[a-z_]+|np_carry)$/,
    progs: /^netprobe_drop[234]$/,
    links: /^kfree_skb$/,
  },
};

export const DROP_LINK = 'kfree_skb';

export function dropMeterDirFor(pinPath: string, hash: string): string {
  return componentDirFor(DROP_METER_PINS, pinPath, hash);
}

/** Drop meter directories (any version) and temporary ones under a pin path. */
export function listDropMeterDirs(pinPath: string): Array<{ path: string; temp: boolean }> {
  return listComponentDirs(DROP_METER_PINS, pinPath);
}

/** Unpins what the drop meter pins in `dir` (its link too: that detaches it) and removes it; unknown names are returned and stay. */
export function removeDropMeterDir(dir: string): string[] {
  return removeComponentDir(DROP_METER_PINS, dir);
}
