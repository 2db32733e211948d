/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The counting the comparison programs share with netprobe.bpf.c, so they
 * differ from it only in how they find the counters.
 */
#ifndef NAIVE_COUNT_H
#define NAIVE_COUNT_H

#include "netprobe.h"

static __always_inline int naive_count(struct np_counters *c, struct __sk_buff *skb)
{
	c->packets += 1;
	c->bytes += skb->len;
	c->segments += skb->gso_segs > 1 ? skb->gso_segs : 1;
	return TC_ACT_UNSPEC;
}

#endif /* NAIVE_COUNT_H */
