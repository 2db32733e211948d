/**
 * `--ebpf.cleanup`: the uninstall step of a run with a pin path. Detaches and
 * unpins what netprobe pinned (every version's directory in this network
 * namespace), removes its clsact filters and the qdiscs it created once
 * empty. Anything that is not netprobe's, or a netprobe directory it cannot
 * vouch for, is left alone and reported. Each unit removes its own
 * directories (the socket meter's, then the TC counters'); this composes them.
 */
import { rmdirSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { dumpLinks } from '../net/link-dump.js';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { ClsactOwnership } from './tc-counter/clsact-state.js';
import { removeTcCounterPins } from './tc-counter/remove-tc-counter-pins.js';
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
    const tc = removeTcCounterPins({
      pinPath,
      sock,
      netnsCookie: cookie,
      ownership,
      links,
      otherUnit: (path) => meterDirs.some((d) => d.path === path),
      logger,
    });
    removed.push(...tc.removed);
    left.push(...tc.left);
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
