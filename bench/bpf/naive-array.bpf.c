// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fastest obvious design, for comparison: a per-CPU array indexed by
 * ifindex * 2 + direction. Cheap, but wrong for the ifindexes that busy
 * Kubernetes nodes reach (anything past the array is not counted), which is
 * why netprobe checks slot ownership instead.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "naive-count.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_SLOTS * 2);
	__type(key, __u32);
	__type(value, struct np_counters);
} naive_array SEC(".maps");

SEC("tc")
int naive_array_tc(struct __sk_buff *skb)
{
	__u32 idx = (skb->ifindex << 1) | NP_INGRESS;
	struct np_counters *c = bpf_map_lookup_elem(&naive_array, &idx);

	if (!c)
		return TC_ACT_UNSPEC;
	return naive_count(c, skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
