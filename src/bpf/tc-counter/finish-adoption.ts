/**
 * The end of a start that adopted pins, after the first pass over the
 * interfaces: pins and counter entries of interfaces gone while netprobe was
 * down are removed; after an upgrade, the older object's final counts become
 * offsets and its pins are removed.
 */
import { DIRECTIONS } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import type { LinkInfo } from '../../net/link-message.js';
import { NP_EGRESS, NP_INGRESS } from '../abi.js';
import { removeFilterOf } from './clsact-attach.js';
import type { CountedInterfaces } from './counted-interfaces.js';
import type { OpenedCounters } from './open-counters.js';

/** How long an upgrade waits after swapping programs before reading the older program's final counts. */
const OLD_PROGRAM_DRAIN_MS = 50;

export async function finishAdoption(
  counters: OpenedCounters,
  interfaces: CountedInterfaces,
  links: readonly LinkInfo[],
  logger: Logger,
): Promise<void> {
  const from = counters.adoptFrom;
  if (!from) return;
  // Ours (or the older object's) on interfaces not counted now (filtered out): detached.
  const ids = [from.programIds.ingress, from.programIds.egress];
  for (const link of links) {
    if (interfaces.has(link.ifindex)) continue;
    for (const direction of DIRECTIONS) removeFilterOf(link.ifindex, direction, ids);
  }
  for (const pin of from.store.linkPins()) if (!interfaces.has(pin.ifindex)) from.store.unpinLink(pin.ifindex, pin.direction);
  const older = counters.older;
  if (!older) {
    for (const ifindex of counters.table.entries()) if (!interfaces.has(ifindex)) counters.table.release(ifindex);
    return;
  }
  // Packets already inside the older programs finish within microseconds; then their counts are final.
  await new Promise((resolve) => setTimeout(resolve, OLD_PROGRAM_DRAIN_MS));
  const carried = interfaces.takeTakenOver();
  for (const row of older.table.read(carried)) {
    counters.table.addOffset(row.ifindex, row.direction === 'ingress' ? NP_INGRESS : NP_EGRESS, row);
  }
  counters.table.addUncountedOffset(older.table.uncountedPackets());
  older.close();
  const left = older.store.remove();
  if (left.length > 0)
    logger.warn(
      { code: 'NP_ERR_PIN_UNKNOWN', left },
      `removed the older netprobe pins in ${older.store.dir} except what netprobe does not pin`,
    );
  else
    logger.info(
      { removed: older.store.dir, interfaces: carried.length },
      `took over ${carried.length} interface(s) from ${older.store.dir}`,
    );
}
