// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The obvious design, for comparison: a per-CPU hash keyed by
 * {ifindex, direction}, correct for any ifindex but a hash lookup per packet.
 * Counts the same fields as netprobe.bpf.c.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "naive-count.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NP_OVERFLOW_MAX);
	__type(key, struct np_key);
	__type(value, struct np_counters);
} naive_hash SEC(".maps");

SEC("tc")
int naive_hash_tc(struct __sk_buff *skb)
{
	struct np_key key = { .ifindex = skb->ifindex, .direction = NP_INGRESS };
	struct np_counters *c = bpf_map_lookup_elem(&naive_hash, &key);

	if (!c) {
		struct np_counters zero = {};

		bpf_map_update_elem(&naive_hash, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&naive_hash, &key);
		if (!c)
			return TC_ACT_UNSPEC;
	}
	return naive_count(c, skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
