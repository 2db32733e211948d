/**
 * What each interface is for, pure: from the links (kind, peer namespace,
 * loopback flag) and the default routes. Node totals are what crosses the
 * uplinks; summing every interface counts a pod's packet on its host veth,
 * again on the bridge and again on the uplink. docs/metrics.md, "Interface roles".
 */
import type { InterfaceFilter } from './interface-filter.js';
import type { LinkInfo } from './link-message.js';
import { RT_TABLE_MAIN, type RouteInfo } from './route-message.js';

export const INTERFACE_ROLES = ['uplink', 'pod', 'bridge', 'tunnel', 'loopback', 'other'] as const;
export type InterfaceRoleName = (typeof INTERFACE_ROLES)[number];

/** The `kind` label of an interface without IFLA_INFO_KIND: a physical NIC, or lo. */
export const DEVICE_KIND = 'device';

/** One interface's role, as exported by `netprobe_interface_info`. */
export interface InterfaceRole {
  ifindex: number;
  name: string;
  /** IFLA_INFO_KIND (veth, bridge, vxlan, ...), or `device` where the kernel gives none. */
  kind: string;
  role: InterfaceRoleName;
}

/** Interface pairs whose far end can live in a pod's network namespace. */
const POD_KINDS: ReadonlySet<string> = new Set(['veth', 'netkit']);
const BRIDGE_KINDS: ReadonlySet<string> = new Set(['bridge', 'openvswitch']);
/** Devices that wrap packets into other packets: their traffic crosses an uplink again, encapsulated. */
const TUNNEL_KINDS: ReadonlySet<string> = new Set([
  'vxlan',
  'geneve',
  'gre',
  'gretap',
  'ip6gre',
  'ip6gretap',
  'erspan',
  'ip6erspan',
  'ipip',
  'sit',
  'ip6tnl',
  'vti',
  'vti6',
  'xfrm',
  'wireguard',
  'tun',
  'bareudp',
]);

export interface RoleRules {
  /**
   * `--collector.uplinks`: when given, exactly the interfaces it matches are
   * uplinks and the default routes are not consulted.
   */
  uplinks?: InterfaceFilter;
}

/**
 * The uplinks the default routes name: the output device of every unicast
 * default route (IPv4 and IPv6, every hop of a multipath route). A route's
 * output device is already the top of its stack — the kernel routes through
 * a bond or bridge, not its ports, and through a VLAN device, not its parent.
 * Outside the main table (policy routing) a default route counts only through
 * a device that can reach the wire (not a veth, netkit, tunnel or lo): cloud
 * CNIs give each secondary NIC a table of its own, while CNIs such as
 * Cilium also route to local proxies through a veth in a table of their own.
 */
export function uplinkIndexes(links: readonly LinkInfo[], defaultRoutes: readonly RouteInfo[]): Set<number> {
  const byIndex = new Map(links.map((l) => [l.ifindex, l]));
  const out = new Set<number>();
  for (const route of defaultRoutes) {
    for (const oif of route.oifs) {
      const link = byIndex.get(oif);
      if (!link) continue;
      if (route.table !== RT_TABLE_MAIN && !reachesTheWire(link)) continue;
      out.add(oif);
    }
  }
  return out;
}

function reachesTheWire(link: LinkInfo): boolean {
  const kind = link.linkKind ?? '';
  return !link.loopback && !POD_KINDS.has(kind) && !TUNNEL_KINDS.has(kind);
}

/**
 * Every interface's role, first rule that applies:
 * - `uplink`: named by `rules.uplinks`, or (without it) the device of a default route (see uplinkIndexes);
 * - `loopback`: IFF_LOOPBACK (lo);
 * - `pod`: a veth or netkit whose peer is in another network namespace (IFLA_LINK_NETNSID): the
 *   host end of a pod's (or any container's) interface — with or without a resolved pod;
 * - `bridge`: kind bridge or openvswitch (cni0, docker0, cbr0);
 * - `tunnel`: an encapsulating kind (vxlan, geneve, gre*, ipip, sit, ip6tnl, wireguard, tun, ...);
 * - `other`: the rest — NICs without a default route, a bond's or bridge's ports, macvlan, vlan,
 *   a veth with both ends in this namespace (cilium_host), dummy.
 */
export function classifyInterfaces(
  links: readonly LinkInfo[],
  defaultRoutes: readonly RouteInfo[],
  rules: RoleRules = {},
): Map<number, InterfaceRole> {
  const routed = rules.uplinks ? undefined : uplinkIndexes(links, defaultRoutes);
  const out = new Map<number, InterfaceRole>();
  for (const link of links) {
    const uplink = rules.uplinks ? rules.uplinks(link.name) : routed!.has(link.ifindex);
    out.set(link.ifindex, {
      ifindex: link.ifindex,
      name: link.name,
      kind: link.linkKind || DEVICE_KIND,
      role: uplink ? 'uplink' : roleOf(link),
    });
  }
  return out;
}

function roleOf(link: LinkInfo): InterfaceRoleName {
  const kind = link.linkKind ?? '';
  if (link.loopback) return 'loopback';
  if (POD_KINDS.has(kind) && link.linkNetnsid !== undefined) return 'pod';
  if (BRIDGE_KINDS.has(kind)) return 'bridge';
  if (TUNNEL_KINDS.has(kind)) return 'tunnel';
  return 'other';
}

/**
 * The role of an exported interface: only while the interface it describes is
 * the one sampled (same ifindex and name), so a departed interface kept by
 * departed retention, or a reused ifindex, never carries another's role.
 */
export function currentRole(
  roles: ReadonlyMap<number, InterfaceRole> | undefined,
  s: { ifindex: number; name: string; departed?: boolean },
): InterfaceRole | undefined {
  const r = roles?.get(s.ifindex);
  return r && r.name === s.name && !s.departed ? r : undefined;
}
