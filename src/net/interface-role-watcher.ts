/**
 * Keeps every interface's role current: one socket joined to link and route
 * events (IPv4 and IPv6) only marks the roles stale; the next `roles()` call
 * (once per collection) re-reads links and default routes with one dump each.
 * A quiet node pays nothing per collection; a changing one pays one link dump
 * and two route dumps per collection at most.
 */
import { classifyInterfaces, type InterfaceRole, type RoleRules } from './interface-role.js';
import { readLinks } from './link-dump.js';
import { RTMGRP_LINK } from './link-message.js';
import { NetlinkSocket } from './netlink-socket.js';
import { readDefaultRoutes } from './route-dump.js';
import { isDefaultRoute, routeEvents, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE } from './route-message.js';

const DUMP_TIMEOUT_MS = 5_000;

export interface InterfaceRoleWatcherOptions extends RoleRules {
  /** Called when a default route appears, changes or goes (roles may have moved). */
  onDefaultRouteChange?: () => void;
}

export class InterfaceRoleWatcher {
  private events: NetlinkSocket | undefined;
  private readonly requests: NetlinkSocket;
  private stale = true;
  private current: ReadonlyMap<number, InterfaceRole> = new Map();

  private constructor(private readonly opts: InterfaceRoleWatcherOptions) {
    this.requests = NetlinkSocket.open({ receiveTimeoutMs: DUMP_TIMEOUT_MS });
  }

  /** Subscribes, then reads the roles once. Throws NetlinkError when netlink cannot be used. */
  static start(opts: InterfaceRoleWatcherOptions = {}): InterfaceRoleWatcher {
    const watcher = new InterfaceRoleWatcher(opts);
    try {
      watcher.events = NetlinkSocket.open({
        groups: RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
        nonBlocking: true,
      });
      watcher.events.onReadable(() => watcher.drain());
    } catch (e) {
      watcher.close();
      throw e;
    }
    try {
      watcher.roles();
    } catch {
      // A first dump that timed out on a loaded node: the roles stay stale, and the next
      // collection's read tries again (and reports it if it fails too).
    }
    return watcher;
  }

  /**
   * Every interface's role by ifindex, re-read when a link or route changed
   * since the last call. Throws NetlinkError when the re-read fails (the
   * roles stay stale, so the next call tries again).
   */
  roles(): ReadonlyMap<number, InterfaceRole> {
    this.drain(); // events not yet delivered to the event loop count too
    if (!this.stale) return this.current;
    // Stale is cleared first: a change during the dumps marks it again.
    this.stale = false;
    try {
      const links = readLinks(this.requests);
      this.current = classifyInterfaces(links, readDefaultRoutes(this.requests), this.opts);
    } catch (e) {
      this.stale = true;
      throw e;
    }
    return this.current;
  }

  private drain(): void {
    const events = this.events;
    if (!events) return;
    let routeChanged = false;
    try {
      for (let datagram = events.receive(); datagram; datagram = this.events?.receive()) {
        this.stale = true;
        if (routeEvents(datagram).some(isDefaultRoute)) routeChanged = true;
      }
    } catch {
      // Missed events (ENOBUFS), one we cannot read, or a failed receive: re-read everything next time.
      this.stale = true;
      routeChanged = true;
    }
    if (routeChanged) this.opts.onDefaultRouteChange?.();
  }

  close(): void {
    this.events?.close();
    this.events = undefined;
    this.requests.close();
  }
}
