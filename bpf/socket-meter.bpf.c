// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * netprobe socket meter: packets and bytes per socket cgroup, at the cgroup
 * v2 skb hooks (attached once at the cgroup2 root). Ingress runs for packets
 * delivered to a socket, egress for packets a socket sends, whatever path the
 * packet took outside (routed, bridged, redirected past the host veth).
 *
 * Both programs always return 1 (allow): a meter never decides a packet's fate.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "socket-meter.h"

/* Claimed and released by user space only (see socket-meter.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SM_SLOTS);
	__type(key, __u32);
	__type(value, struct sm_slot);
} sm_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SM_CGROUPS_MAX);
	/* Entries are allocated as cgroups appear: preallocated, the map would
	 * charge max_entries x 32 B per possible CPU (512 KiB each, 64 MiB at
	 * 128 CPUs) to the pod whether a node runs 10 cgroups or 10,000. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sm_counters);
} sm_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SM_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sm_stats SEC(".maps");

static __always_inline struct sm_counters *entry_of(__u64 cgroup)
{
	struct sm_counters *c = bpf_map_lookup_elem(&sm_cgroups, &cgroup);

	if (c)
		return c;
	/* First packet of this cgroup. EEXIST (another CPU was first) is fine:
	 * the lookup below finds its entry. */
	struct sm_counters zero = {};

	bpf_map_update_elem(&sm_cgroups, &cgroup, &zero, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&sm_cgroups, &cgroup);
	if (c)
		return c;

	/* Full: count under the overflow key, and say so. */
	__u32 stat = SM_STAT_MAP_FULL;
	__u64 *full = bpf_map_lookup_elem(&sm_stats, &stat);

	if (full)
		*full += 1;
	cgroup = SM_OVERFLOW_CGROUP;
	return bpf_map_lookup_elem(&sm_cgroups, &cgroup);
}

static __always_inline int meter(struct __sk_buff *skb, int egress)
{
	if (skb->ifindex == SM_LOOPBACK_IFINDEX)
		return 1;

	__u64 cgroup = bpf_skb_cgroup_id(skb);
	__u32 idx = cgroup & (SM_SLOTS - 1);
	struct sm_slot *slot = bpf_map_lookup_elem(&sm_slots, &idx);
	struct sm_counters *c;

	/* Id 0 (no full socket) must not match a free slot's owner 0. */
	if (slot && slot->cgroup == cgroup && cgroup)
		c = &slot->c;
	else
		c = entry_of(cgroup);
	if (!c)
		return 1;
	struct sm_dir *d = egress ? &c->egress : &c->ingress;

	/* Per-CPU values: plain adds, no atomics needed. */
	d->packets += skb->gso_segs > 1 ? skb->gso_segs : 1;
	d->bytes += skb->len;
	return 1;
}

SEC("cgroup_skb/ingress")
int netprobe_sk_in(struct __sk_buff *skb)
{
	return meter(skb, 0);
}

SEC("cgroup_skb/egress")
int netprobe_sk_eg(struct __sk_buff *skb)
{
	return meter(skb, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
