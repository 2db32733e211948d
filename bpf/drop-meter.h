/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the drop meter (drop-meter.bpf.c) and user space
 * (src/bpf/drop-meter/abi.ts). Change both together: the loader checks the
 * map key and value sizes of the loaded object against its own layout.
 *
 * dm_drops: per-CPU hash (BPF_F_NO_PREALLOC: memory only for keys that
 * occurred), key = struct dm_key, value = __u64 packets. The program creates
 * entries; user space deletes those of namespaces that are gone. When the
 * hash is full the drop is counted under the overflow key (every field 0
 * except reason = DM_OVERFLOW_REASON, created by user space at load) and in
 * dm_stats[DM_STAT_MAP_FULL], so nothing is lost.
 *
 * dm_config[0]: what user space tells the program (the node's netns inode).
 */
#ifndef NETPROBE_DROP_METER_H
#define NETPROBE_DROP_METER_H

/* 16,384 keys: a node at the kubelet's max-pods (110) with a dozen reasons
 * and two devices each uses a few thousand at most. */
#define DM_DROPS_MAX 16384
/* No kernel reason is this large (subsystem reasons are < 2^32 but their
 * subsystem ids are small): it marks the overflow key. */
#define DM_OVERFLOW_REASON 0xffffffff
#define DM_IFNAMSIZ 16

/* Key of dm_drops. No implicit padding: the program zeroes it whole. */
struct dm_key {
	__u32 netns;   /* inode of the network namespace, 0 when unknown */
	__u32 ifindex; /* validated skb->dev, 0 when none or not trustworthy */
	__u32 reason;  /* the kernel's enum skb_drop_reason value (not ABI: named from BTF) */
	__u32 reserved;
	__u64 cgroup;  /* cgroup v2 id of the socket, only in the node's namespace */
	char ifname[DM_IFNAMSIZ]; /* the device's name in its namespace at drop time */
};

/* Value of dm_config (an array of one). */
struct dm_config {
	__u32 host_netns; /* inode of the node's network namespace */
	__u32 reserved;
};

/* Indexes of the dm_stats per-CPU array (value: __u64). */
enum dm_stat {
	DM_STAT_MAP_FULL = 0, /* drops counted under the overflow key because dm_drops was full */
	DM_STAT_MAX = 1,
};

#endif /* NETPROBE_DROP_METER_H */
