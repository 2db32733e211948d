/**
 * `--ebpf.cleanup` for the TC counters: every pin directory of theirs (any
 * version) under the pin path is removed: the clsact filters running its
 * programs come off (they hold their program without a pin), the qdiscs
 * netprobe created go once empty, then its pins are unpinned. A directory
 * netprobe cannot vouch for is left alone and reported.
 */
import { DIRECTIONS } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import type { LinkInfo } from '../../net/link-message.js';
import type { NetlinkSocket } from '../../net/netlink-socket.js';
import { listPinPath, removeKnown } from '../pin-store.js';
import { destroyClsactIfEmpty, removeFilterOf } from './clsact-attach.js';
import type { ClsactOwnership } from './clsact-state.js';
import { openPins } from './pinned-counters.js';

export interface RemoveTcCounterPinsOptions {
  pinPath: string;
  /** For deleting empty clsact qdiscs. */
  sock: NetlinkSocket;
  netnsCookie: bigint | undefined;
  /** The clsact qdiscs netprobe created in this network namespace. */
  ownership: ClsactOwnership;
  /** The interfaces now. */
  links: readonly LinkInfo[];
  /** Entries of the pin path that belong to another unit (left to it, not logged). */
  otherUnit: (path: string) => boolean;
  logger: Logger;
}

export function removeTcCounterPins(opts: RemoveTcCounterPinsOptions): { removed: string[]; left: string[] } {
  const { logger, netnsCookie: cookie, links, ownership, sock } = opts;
  const removed: string[] = [];
  const left: string[] = [];
  for (const entry of listPinPath(opts.pinPath)) {
    if (opts.otherUnit(entry.path)) continue;
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
      logger.error({ code: 'NP_ERR_PIN_UNKNOWN', kept }, `removed netprobe's pins in ${entry.path}; left what netprobe does not pin there`);
      left.push(...kept);
    } else removed.push(entry.path);
  }
  return { removed, left };
}
