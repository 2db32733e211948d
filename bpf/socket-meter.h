/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the socket meter (socket-meter.bpf.c) and user space
 * (src/bpf/socket-meter/abi.ts). Change both together: the loader checks the
 * map key and value sizes of the loaded object against its own layout.
 *
 * sm_cgroups: per-CPU hash (BPF_F_NO_PREALLOC: entries allocated as cgroups
 * appear), key = the socket's cgroup v2 id (__u64, the inode number of the
 * cgroup's directory), value = struct sm_counters.
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

/* Indexes of the sm_stats per-CPU array (value: __u64). */
enum sm_stat {
	SM_STAT_MAP_FULL = 0, /* packets counted under SM_OVERFLOW_CGROUP because sm_cgroups was full */
	SM_STAT_MAX = 1,
};

#endif /* NETPROBE_SOCKET_METER_H */
