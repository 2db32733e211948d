// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of the drop meter's cost: a tp_btf/kfree_skb program that returns
 * at once. Its run time per run is the kernel's own cost of calling a program
 * at that hook.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tp_btf/kfree_skb")
int drop_floor(__u64 *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
