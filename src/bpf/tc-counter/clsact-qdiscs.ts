/**
 * The clsact qdiscs netprobe created, and deleting them once empty. Both
 * attach modes need it: tc mode creates qdiscs, and tcx mode cleans up the
 * ones a predecessor in tc mode left (after SIGKILL, or a mode change).
 */
import type { Logger } from '../../log/logger.js';
import type { LinkInfo } from '../../net/link-message.js';
import type { NetlinkSocket } from '../../net/netlink-socket.js';
import { destroyClsactIfEmpty } from './clsact-attach.js';
import type { ClsactOwnership } from './clsact-state.js';

export class OwnedQdiscs {
  constructor(
    private readonly tcSocket: NetlinkSocket,
    readonly ownership: ClsactOwnership,
    private readonly logger: Logger,
  ) {}

  /** Forgets qdiscs of interfaces that no longer exist (they went with them). */
  prune(links: readonly LinkInfo[]): void {
    this.ownership.prune(links);
  }

  /** Deletes the qdisc netprobe created on `ifindex` if no filter is left on it; problems are logged. */
  dropIfEmpty(ifindex: number, name: string): void {
    try {
      if (destroyClsactIfEmpty(this.tcSocket, ifindex, name)) {
        this.logger.debug({ ifindex, interface: name }, `deleted the clsact qdisc netprobe created on ${name}`);
        this.ownership.forget(ifindex);
      } else {
        // Still ours: remembered, so a later netprobe can delete it once the others are gone.
        this.logger.info({ ifindex, interface: name }, `kept the clsact qdisc of ${name}: other filters are attached to it`);
      }
    } catch (e) {
      this.logger.warn({ ifindex, err: e instanceof Error ? e.message : String(e) }, `deleting the clsact qdisc of ${name} failed`);
    }
  }

  close(): void {
    this.tcSocket.close();
  }
}
