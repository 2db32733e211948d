// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * netprobe: per-interface packet and byte counters at the TC hooks.
 *
 * Both programs always return TC_ACT_UNSPEC (-1, which tcx calls TCX_NEXT):
 * a counter must never decide a packet's fate, and any other verdict would
 * stop the programs after ours (Cilium, Calico) from running.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "netprobe.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_SLOTS * 2);
	__type(key, __u32);
	__type(value, struct np_slot);
} np_slots SEC(".maps");

/* Entries are created and deleted by the loader only, never here: a packet
 * still in flight after an interface is gone must not resurrect its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NP_OVERFLOW_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct np_key);
	__type(value, struct np_counters);
} np_overflow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} np_stats SEC(".maps");

static __always_inline int count(struct __sk_buff *skb, __u32 direction)
{
	__u32 ifindex = skb->ifindex;
	__u32 idx = ((ifindex & (NP_SLOTS - 1)) << 1) | direction;
	struct np_counters *c;
	struct np_slot *slot;

	slot = bpf_map_lookup_elem(&np_slots, &idx);
	if (slot && slot->ifindex == ifindex) {
		c = &slot->c;
	} else {
		struct np_key key = { .ifindex = ifindex, .direction = direction };

		c = bpf_map_lookup_elem(&np_overflow, &key);
		if (!c) {
			__u32 stat = NP_STAT_UNCOUNTED;
			__u64 *uncounted = bpf_map_lookup_elem(&np_stats, &stat);

			if (uncounted)
				*uncounted += 1;
			return TC_ACT_UNSPEC;
		}
	}

	/* Per-CPU values: plain adds, no atomics needed. */
	c->packets += 1;
	c->bytes += skb->len;
	c->segments += skb->gso_segs > 1 ? skb->gso_segs : 1;
	return TC_ACT_UNSPEC;
}

SEC("tc")
int netprobe_tc_in(struct __sk_buff *skb)
{
	return count(skb, NP_INGRESS);
}

SEC("tc")
int netprobe_tc_eg(struct __sk_buff *skb)
{
	return count(skb, NP_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
