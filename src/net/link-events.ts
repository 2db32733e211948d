/**
 * Follows interfaces as they come and go: a NETLINK_ROUTE socket joined to
 * RTMGRP_LINK, watched from the event loop (no polling, no thread). When the
 * kernel reports that events were dropped (ENOBUFS), the watcher re-reads
 * the whole link list and hands it over as a resync.
 */
import { constants as os } from 'node:os';
import { readLinks } from './link-dump.js';
import { linkEvents, RTMGRP_LINK, type LinkInfo, type LinkMessage } from './link-message.js';
import { MalformedNetlinkError } from './netlink-message.js';
import { NetlinkError, NetlinkSocket } from './netlink-socket.js';

/** 4 MiB of queued events: a burst of thousands of veth creations fits. */
const EVENT_BUFFER_BYTES = 4 << 20;
const DUMP_TIMEOUT_MS = 5_000;

export interface LinkWatcherHandlers {
  /** A link was created or changed (RTM_NEWLINK) or deleted (RTM_DELLINK). */
  onLink(link: LinkMessage): void;
  /** Events were missed: this is the complete current list; reconcile against it. */
  onResync(links: LinkInfo[]): void;
  /** Netlink failed in a way the watcher could not repair by itself. */
  onError(err: Error): void;
}

export class LinkWatcher {
  private events: NetlinkSocket | undefined;
  private readonly requests: NetlinkSocket;

  private constructor(private readonly handlers: LinkWatcherHandlers) {
    this.requests = NetlinkSocket.open({ receiveTimeoutMs: DUMP_TIMEOUT_MS });
  }

  /**
   * Subscribes to link events, then returns the current list. Subscribing
   * first means no interface created in between can be missed (it may be
   * reported twice; handlers must be idempotent).
   */
  static start(handlers: LinkWatcherHandlers): { watcher: LinkWatcher; links: LinkInfo[] } {
    const watcher = new LinkWatcher(handlers);
    try {
      watcher.events = NetlinkSocket.open({ groups: RTMGRP_LINK, nonBlocking: true, kernelBufferBytes: EVENT_BUFFER_BYTES });
      const links = readLinks(watcher.requests);
      watcher.events.onReadable(() => watcher.drain());
      return { watcher, links };
    } catch (e) {
      watcher.close();
      throw e;
    }
  }

  /** Reads every queued event; on overflow, resyncs from a fresh dump. */
  drain(): void {
    const events = this.events;
    if (!events) return;
    try {
      for (let datagram = events.receive(); datagram; datagram = this.events?.receive()) {
        for (const link of linkEvents(datagram)) this.handlers.onLink(link);
      }
    } catch (e) {
      if ((e instanceof NetlinkError && e.errno === os.errno.ENOBUFS) || e instanceof MalformedNetlinkError) {
        this.resync();
      } else {
        this.handlers.onError(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  /** Re-reads the link list and reports it (also used after ENOBUFS). */
  resync(): void {
    try {
      this.handlers.onResync(readLinks(this.requests));
    } catch (e) {
      this.handlers.onError(e instanceof Error ? e : new Error(String(e)));
    }
  }

  close(): void {
    this.events?.close();
    this.events = undefined;
    this.requests.close();
  }
}
