/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the socket meter (socket-meter.bpf.c) and user space
 * (src/bpf/socket-meter/abi.ts). Change both together: the loader checks the
 * map key and value sizes of the loaded object against its own layout.
 *
 * Fast path: sm_slots, a per-CPU array of SM_SLOTS slots indexed by
 * cgroup_id & (SM_SLOTS - 1). A slot counts only for the cgroup id user space
 * wrote into it (its owner); only user space claims (owner = id, counters 0)
 * and releases (all 0) slots, because an update writes every CPU's copy. It
 * claims the slot of a cgroup it found in sm_cgroups when that slot is free,
 * and releases it when the cgroup is gone. A cgroup's counts are its
 * sm_cgroups entry plus its slot: what was counted before the claim stays in
 * the hash. Free slots have owner 0, which the program never matches.
 *
 * sm_cgroups: per-CPU hash (BPF_F_NO_PREALLOC: entries allocated as cgroups
 * appear), key = the socket's cgroup v2 id (__u64, the inode number of the
 * cgroup's directory), value = struct sm_counters. It counts every packet
 * whose cgroup does not own its slot (not yet claimed, or the slot is
 * another cgroup's).
 * The program creates entries; user space deletes those of cgroups that are
 * gone. When the hash is full the packet is counted under key
 * SM_OVERFLOW_CGROUP (0, created by user space at load) and in
 * sm_stats[SM_STAT_MAP_FULL], so nothing is lost.
 */
#ifndef NETPROBE_SOCKET_METER_H
#define NETPROBE_SOCKET_METER_H

/* 16,384 cgroups: a node at the kubelet's max-pods (110) with a few
 * containers each plus the system slices uses a few hundred. */
#define SM_CGROUPS_MAX 16384
/* A power of two: the slot index is the id's low bits. */
#define SM_SLOT_BITS 10
#define SM_SLOTS (1u << SM_SLOT_BITS)
#define SM_OVERFLOW_CGROUP 0
/* lo is ifindex 1 in every network namespace. */
#define SM_LOOPBACK_IFINDEX 1

struct sm_dir {
	__u64 packets; /* wire packets: sum of max(gso_segs, 1) */
	__u64 bytes;   /* sum of skb->len: L3 at the cgroup hooks */
};

/* Value of sm_cgroups (per CPU). */
struct sm_counters {
	struct sm_dir ingress; /* received by sockets of the cgroup */
	struct sm_dir egress;  /* sent by sockets of the cgroup */
};

/* Value of sm_slots (per CPU). The owner comes LAST: a claim copies the
 * value forward, so a CPU's counters are zero before its owner is set. */
struct sm_slot {
	struct sm_counters c;
	__u64 cgroup; /* owner: a cgroup id; 0 = free */
};

/* Indexes of the sm_stats per-CPU array (value: __u64). */
enum sm_stat {
	SM_STAT_MAP_FULL = 0, /* packets counted under SM_OVERFLOW_CGROUP because sm_cgroups was full */
	SM_STAT_MAX = 1,
};

#endif /* NETPROBE_SOCKET_METER_H */
