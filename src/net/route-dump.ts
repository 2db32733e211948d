/**
 * The default routes of the current network namespace (IPv4 and IPv6), read
 * with one RTM_GETROUTE dump per family. Parsing is in route-message.ts.
 */
import {
  AF_INET,
  AF_INET6,
  buildRouteDumpRequest,
  isDefaultRoute,
  isRouteMessage,
  parseRouteMessage,
  type RouteInfo,
} from './route-message.js';
import type { NetlinkSocket } from './netlink-socket.js';

export type { RouteInfo } from './route-message.js';

/** Every default route (both families, every table but local). Throws NetlinkError when netlink fails. */
export function readDefaultRoutes(sock: NetlinkSocket): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const family of [AF_INET, AF_INET6]) {
    const what = `dump the ${family === AF_INET ? 'IPv4' : 'IPv6'} routes (RTM_GETROUTE)`;
    for (const msg of sock.dump((seq) => buildRouteDumpRequest(family, seq), what)) {
      if (!isRouteMessage(msg)) continue;
      const route = parseRouteMessage(msg);
      if (isDefaultRoute(route)) routes.push(route);
    }
  }
  return routes;
}
