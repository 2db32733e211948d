/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the kernel side (netprobe.bpf.c) and user space
 * (src/bpf/abi.ts). Change both together: the loader checks the map key and
 * value sizes of the loaded object against its own layout at start.
 */
#ifndef NETPROBE_H
#define NETPROBE_H

/*
 * Fast path: a per-CPU array of slots indexed by
 * ((ifindex & (NP_SLOTS - 1)) << 1) | direction. A slot counts only for the
 * ifindex the loader wrote into it, so ifindexes of any size stay correct:
 * the loader claims the slot when it attaches and clears it when the
 * interface goes away. An ifindex whose slot is taken by another interface
 * gets its counters in the overflow hash instead.
 */
#define NP_SLOT_BITS 10
#define NP_SLOTS (1u << NP_SLOT_BITS)
#define NP_OVERFLOW_MAX 16384

enum np_direction {
	NP_INGRESS = 0,
	NP_EGRESS = 1,
};

struct np_counters {
	__u64 packets;  /* skbs seen by the hook */
	__u64 bytes;    /* sum of skb->len */
	__u64 segments; /* sum of max(gso_segs, 1): packets on the wire */
};

/* Value of the np_slots array (per CPU). */
struct np_slot {
	__u32 ifindex; /* owner of this slot; 0 = free */
	__u32 reserved;
	struct np_counters c;
};

/* Key of the np_overflow hash (value: struct np_counters, per CPU). */
struct np_key {
	__u32 ifindex;
	__u32 direction;
};

/* Indexes of the np_stats per-CPU array (value: __u64). */
enum np_stat {
	NP_STAT_UNCOUNTED = 0, /* packets on an attached hook with no counter entry */
	NP_STAT_MAX = 1,
};

#endif /* NETPROBE_H */
