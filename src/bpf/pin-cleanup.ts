/**
 * `--ebpf.cleanup`: the uninstall step of a run with a pin path. Detaches and
 * unpins what netprobe pinned (every version's directory in this network
 * namespace), removes its clsact filters and the qdiscs it created once
 * empty. Anything that is not netprobe's, or a netprobe directory it cannot
 * vouch for, is left alone and reported.
 */
import { rmdirSync } from 'node:fs';
import { DIRECTIONS } from '../source/counter-source.js';
import type { Logger } from '../log/logger.js';
import { dumpLinks } from '../net/link-dump.js';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { destroyClsactIfEmpty, removeFilterOf } from './clsact-attach.js';
import { ClsactOwnership } from './clsact-state.js';
import { listPinPath, removeKnown } from './pin-store.js';
import { openPins } from './pinned-counters.js';
import { listMeterDirs, removeMeterDir } from './socket-meter/socket-meter-pins.js';
import { listDropMeterDirs, removeDropMeterDir } from './drop-meter/drop-meter-pins.js';

export function removePinnedState(opts: {
  pinPath: string;
  stateDir: string;
  logger: Logger;
}): Promise<{ removed: string[]; left: string[] }> {
  const { pinPath, logger } = opts;
  const removed: string[] = [];
  const left: string[] = [];
  const sock = NetlinkSocket.open({ receiveTimeoutMs: 5_000 });
  try {
    const cookie = sock.netnsCookie();
    const ownership = ClsactOwnership.forCurrentNetns(logger, cookie, opts.stateDir);
    const links = dumpLinks();
    // The meters' directories: unpinning their links (cgroup, tracing) detaches them.
    const meters = [
      { what: 'socket meter', dirs: listMeterDirs(pinPath), remove: removeMeterDir },
      { what: 'drop meter', dirs: listDropMeterDirs(pinPath), remove: removeDropMeterDir },
    ];
    const meterDirs = meters.flatMap((m) => m.dirs);
    for (const meter of meters)
      for (const dir of meter.dirs) {
        const kept = meter.remove(dir.path);
        if (kept.length > 0) {
          logger.error(
            { code: 'NP_ERR_PIN_UNKNOWN', kept },
            `removed the ${meter.what}'s pins in ${dir.path}; left what netprobe does not pin there`,
          );
          left.push(...kept);
        } else removed.push(dir.path);
      }
    for (const entry of listPinPath(pinPath)) {
      if (meterDirs.some((d) => d.path === entry.path)) continue;
      if (entry.kind === 'other') {
        logger.debug({ path: entry.path }, 'not netprobe pinned state: left alone');
        continue;
      }
      if (entry.kind === 'netprobe') {
        let programIds: number[];
        try {
          const opened = openPins(entry.path, cookie === undefined ? null : String(cookie));
          programIds = [opened.programs.ingress.id, opened.programs.egress.id];
          opened.close();
        } catch (e) {
          logger.error(
            { code: 'NP_ERR_PIN_CORRUPT', path: entry.path, err: e instanceof Error ? e.message : String(e) },
            `left ${entry.path} alone: ${e instanceof Error ? e.message : String(e)}`,
          );
          left.push(entry.path);
          continue;
        }
        // clsact filters hold their program without a pin: remove those running this directory's programs.
        for (const link of links) {
          let any = false;
          for (const direction of DIRECTIONS) any = removeFilterOf(link.ifindex, direction, programIds) || any;
          if (any && ownership.owns(link.ifindex, link.name) && destroyClsactIfEmpty(sock, link.ifindex, link.name))
            ownership.forget(link.ifindex);
        }
      }
      // Unpinning a tcx link nothing else holds detaches it.
      const kept = removeKnown(entry.path);
      if (kept.length > 0) {
        logger.error(
          { code: 'NP_ERR_PIN_UNKNOWN', kept },
          `removed netprobe's pins in ${entry.path}; left what netprobe does not pin there`,
        );
        left.push(...kept);
      } else removed.push(entry.path);
    }
  } finally {
    sock.close();
  }
  try {
    rmdirSync(pinPath);
  } catch {
    // Not empty (something else lives there) or already gone: left as it is.
  }
  logger.info({ removed, left }, `cleanup: removed ${removed.length} netprobe pin director${removed.length === 1 ? 'y' : 'ies'}`);
  return Promise.resolve({ removed, left });
}
