// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * netprobe drop meter: packets the kernel drops, per network namespace,
 * device, reason and (in the node's namespace) socket cgroup, counted at the
 * skb:kfree_skb tracepoint (tp_btf: no tracefs needed, a pinnable link).
 *
 * The tracepoint's arguments changed: (skb, location) before 5.17, + reason
 * since, + rx_sk since 6.11. CO-RE cannot bridge an argument count, so there
 * is one program per shape; the loader keeps the one whose count matches
 * btf_trace_kfree_skb in the running kernel's BTF and loads only that.
 *
 * The kernel types below are the few fields read, relocated against the
 * running kernel's BTF by libbpf (CO-RE): no multi-megabyte vmlinux.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "drop-meter.h"

#define AF_UNIX 1
#define AF_NETLINK 16

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct list_head {
	struct list_head *next;
	struct list_head *prev;
};
struct ns_common {
	unsigned int inum;
};
struct net {
	struct ns_common ns;
};
typedef struct {
	struct net *net;
} possible_net_t;
struct net_device {
	char name[DM_IFNAMSIZ];
	int ifindex;
	struct list_head dev_list;
	possible_net_t nd_net;
};
struct kernfs_node {
	__u64 id;
};
struct cgroup {
	struct kernfs_node *kn;
};
struct sock_cgroup_data {
	struct cgroup *cgroup;
};
struct sock_common {
	unsigned short skc_family;
	possible_net_t skc_net;
};
struct sock {
	struct sock_common __sk_common;
	struct sock_cgroup_data sk_cgrp_data;
};
struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	__u16 protocol;
};
#pragma clang attribute pop

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, DM_DROPS_MAX);
	__type(key, struct dm_key);
	__type(value, __u64);
} dm_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DM_SLOTS);
	__type(key, __u32);
	__type(value, struct dm_slot);
} dm_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DM_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} dm_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dm_config);
} dm_config SEC(".maps");

/*
 * skb->dev shares its word with dev_scratch (UDP receive queues) and with an
 * rbtree node (TCP out-of-order queues, defrag, fq), so at drop time it can be
 * anything. Trust it only when it points at a net_device linked into its
 * namespace's device list (its list node's successor points back at it).
 *
 * The tracepoint's arguments are BTF-typed (tp_btf), so fields are read with
 * plain loads (CO-RE relocated), not bpf_probe_read_kernel calls: the verifier
 * makes every load through a pointer it walked to a PROBE_MEM load, which reads
 * 0 where the address faults, as a probe read would. A garbage pointer is
 * harmless, and a load costs a load instead of a helper call.
 */
static __always_inline struct net_device *valid_dev(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;

	if (!dev)
		return NULL;
	struct list_head *next = dev->dev_list.next;

	if (!next || next->prev != &dev->dev_list)
		return NULL;
	return dev;
}

/* The key's slot counter, when user space gave it the slot: an array lookup
 * (inlined by the verifier) and five word compares instead of a hash lookup
 * (a jhash over 40 bytes). */
static __always_inline __u64 *slot_of(struct dm_key *key)
{
	__u32 idx = dm_slot_index(key->netns, key->ifindex, key->reason);
	struct dm_slot *slot = bpf_map_lookup_elem(&dm_slots, &idx);

	if (!slot)
		return NULL;
	const __u64 *a = (const __u64 *)&slot->key;
	const __u64 *b = (const __u64 *)key;

	/* The all-zero key must not match a free slot's zero owner. */
	if (!(b[0] | b[1] | b[2] | b[3] | b[4]))
		return NULL;
	if ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]))
		return NULL;
	return &slot->packets;
}

static __always_inline __u64 *entry_of(struct dm_key *key)
{
	__u64 *v = slot_of(key);

	if (v)
		return v;
	v = bpf_map_lookup_elem(&dm_drops, key);

	if (v)
		return v;
	/* First drop of this key. EEXIST (another CPU was first) is fine: the
	 * lookup below finds its entry. */
	__u64 zero = 0;

	bpf_map_update_elem(&dm_drops, key, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&dm_drops, key);
	if (v)
		return v;

	/* Full: count under the overflow key, and say so. */
	__u32 stat = DM_STAT_MAP_FULL;
	__u64 *full = bpf_map_lookup_elem(&dm_stats, &stat);

	if (full)
		*full += 1;
	__builtin_memset(key, 0, sizeof(*key));
	key->reason = DM_OVERFLOW_REASON;
	return bpf_map_lookup_elem(&dm_drops, key);
}

static __always_inline int count_drop(struct sk_buff *skb, __u32 reason, struct sock *rx_sk)
{
	/* Network packets only: AF_UNIX and netlink messages have no protocol. */
	if (skb->protocol == 0)
		return 0;
	struct sock *sk = rx_sk ? rx_sk : skb->sk;

	if (sk) {
		__u16 family = sk->__sk_common.skc_family;

		if (family == AF_UNIX || family == AF_NETLINK)
			return 0;
	}

	struct dm_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.reason = reason;
	struct net_device *dev = valid_dev(skb);

	if (dev) {
		key.ifindex = dev->ifindex;
		/* The name as two 8-byte loads (within the array, as the verifier requires). */
		__u64 *name = (__u64 *)key.ifname;

		name[0] = *(__u64 *)&dev->name[0];
		name[1] = *(__u64 *)&dev->name[8];
		key.netns = dev->nd_net.net->ns.inum;
	} else if (sk) {
		key.netns = sk->__sk_common.skc_net.net->ns.inum;
	}

	/* A socket in the node's namespace may be a hostNetwork pod's: its cgroup says whose. */
	if (sk && key.netns != 0 && bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		__u32 zero = 0;
		struct dm_config *cfg = bpf_map_lookup_elem(&dm_config, &zero);

		if (cfg && cfg->host_netns == key.netns)
			key.cgroup = sk->sk_cgrp_data.cgroup->kn->id;
	}

	__u64 *v = entry_of(&key);

	/* Per-CPU values: plain adds, no atomics needed. */
	if (v)
		*v += 1;
	return 0;
}

/* Before 5.17: kfree_skb(skb, location), no reason. */
SEC("tp_btf/kfree_skb")
int netprobe_drop2(__u64 *ctx)
{
	return count_drop((struct sk_buff *)ctx[0], 0, NULL);
}

/* 5.17 to 6.10: kfree_skb(skb, location, reason). */
SEC("tp_btf/kfree_skb")
int netprobe_drop3(__u64 *ctx)
{
	return count_drop((struct sk_buff *)ctx[0], (__u32)ctx[2], NULL);
}

/* 6.11 and later: kfree_skb(skb, location, reason, rx_sk). */
SEC("tp_btf/kfree_skb")
int netprobe_drop4(__u64 *ctx)
{
	return count_drop((struct sk_buff *)ctx[0], (__u32)ctx[2], (struct sock *)ctx[3]);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
