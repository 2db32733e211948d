/**
 * Asks the kernel which id this network namespace gives the namespace of a
 * process (RTM_GETNSID with NETNSA_PID). No capability is needed and no
 * /proc/<pid>/ns link is opened (that would need ptrace rights over the
 * process); only the pid must be visible, i.e. the host's PID namespace.
 */
import { errorCode, NLMSG_ERROR, splitMessages } from './netlink-message.js';
import { buildNetnsIdByPidRequest, NSID_NOT_ASSIGNED, parseNetnsIdReply, RTM_NEWNSID } from './netns-id-message.js';
import { NetlinkError, NetlinkSocket } from './netlink-socket.js';

export { NSID_NOT_ASSIGNED } from './netns-id-message.js';

const REQUEST_TIMEOUT_MS = 2_000;

/** A reusable socket for namespace-id look-ups. */
export class NetnsIdLookup {
  private readonly sock = NetlinkSocket.open({ receiveTimeoutMs: REQUEST_TIMEOUT_MS });

  /**
   * The id of process `pid`'s network namespace as seen from here;
   * NSID_NOT_ASSIGNED when that namespace has none (it is this namespace,
   * or nothing here links to it); undefined when the process is gone.
   * Throws NetlinkError on other failures.
   */
  ofPid(pid: number): number | undefined {
    const seq = this.sock.nextSeq();
    this.sock.send(buildNetnsIdByPidRequest(seq, pid));
    for (;;) {
      const datagram = this.sock.receive();
      if (!datagram) throw new NetlinkError('look up a network namespace id (RTM_GETNSID): no reply', 11);
      for (const msg of splitMessages(datagram)) {
        if (msg.seq !== seq) continue;
        if (msg.type === NLMSG_ERROR) {
          const err = -errorCode(msg);
          if (err === 3 /* ESRCH */ || err === 22 /* EINVAL: no such pid */) return undefined;
          if (err !== 0) throw new NetlinkError(`look up the network namespace id of pid ${pid} (RTM_GETNSID)`, err);
          continue;
        }
        if (msg.type === RTM_NEWNSID) {
          const id = parseNetnsIdReply(msg);
          return id < 0 ? NSID_NOT_ASSIGNED : id;
        }
      }
    }
  }

  close(): void {
    this.sock.close();
  }
}
