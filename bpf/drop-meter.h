/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI between the drop meter (drop-meter.bpf.c) and user space
 * (src/bpf/drop-meter/abi.ts). Change both together: the loader checks the
 * map key and value sizes of the loaded object against its own layout.
 *
 * dm_slots: the fast path, a per-CPU array of DM_SLOTS struct dm_slot,
 * indexed by dm_slot_index() of the key. A slot counts only the key written
 * into it (compared whole), so collisions stay exact: the colliding key is
 * counted in dm_drops. Only user space changes a slot's owner, on every CPU
 * at once (one update of the per-CPU array): it claims a free slot for a key
 * it read with drops in dm_drops ({0, key}), and frees it ({0, zero key})
 * when it deletes that key's entry, after reading its final count. A key's
 * count is its dm_drops entry + its slot, summed over CPUs: exact and
 * monotonic across the claim (the entry stops growing, the slot starts at 0).
 * A free slot's key is all zero, so the program never takes the slot path for
 * the all-zero key (no reason, device, namespace or cgroup: 2-argument
 * kernels); it counts in dm_drops. User space never claims a slot for the
 * overflow key (src/bpf/owned-slots.ts, as the socket meter's sm_slots).
 *
 * dm_drops: per-CPU hash (BPF_F_NO_PREALLOC: memory only for keys that
 * occurred), key = struct dm_key, value = __u64 packets: the keys without a
 * slot, and every key's drops before its claim. The program creates
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
/* A power of two: enough for the keys of a busy node's drop storms, small
 * enough to read whole every collection (48 bytes per slot and CPU). */
#define DM_SLOTS 512

/* Key of dm_drops. No implicit padding: the program zeroes it whole. */
struct dm_key {
	__u32 netns;   /* inode of the network namespace, 0 when unknown */
	__u32 ifindex; /* validated skb->dev, 0 when none or not trustworthy */
	__u32 reason;  /* the kernel's enum skb_drop_reason value (not ABI: named from BTF) */
	__u32 reserved;
	__u64 cgroup;  /* cgroup v2 id of the socket, only in the node's namespace */
	char ifname[DM_IFNAMSIZ]; /* the device's name in its namespace at drop time */
};

/* Value of dm_slots (per CPU). The count comes first and the key last: a
 * claim copies the value forward, so a program that sees the new key whole
 * also sees the zeroed count. */
struct dm_slot {
	__u64 packets;
	struct dm_key key; /* owner; all zero = free */
};

/* The slot of a key: cheap, and computed identically by user space
 * (src/bpf/drop-meter/abi.ts dropSlotIndex), in u32 arithmetic. */
static inline __u32 dm_slot_index(__u32 netns, __u32 ifindex, __u32 reason)
{
	return ((ifindex * 2654435761u) ^ reason ^ netns) & (DM_SLOTS - 1);
}

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
