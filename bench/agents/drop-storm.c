// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The drop storm's sender (bench/parts/drop-cost.ts): COUNT UDP datagrams of
 * 64 bytes to ADDR:PORT, where no socket listens, in sendmmsg batches, so
 * nearly all of the sender's time is the kernel's: the send path and, for a
 * veth peer, the receiving side, which runs in this thread's softirq (the
 * backlog is processed when the send re-enables bottom halves). Prints one
 * JSON line: datagrams sent, this thread's CPU time and the wall time of the
 * loop, in nanoseconds. A kernel without CONFIG_IRQ_TIME_ACCOUNTING charges
 * that softirq time to the thread's CPU time; one with it does not (the part
 * adds the CPU's softirq time then).
 *
 * Usage: drop-storm ADDR PORT COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64

static long long now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s ADDR PORT COUNT\n", argv[0]);
		return 2;
	}
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "drop-storm: bad address %s\n", argv[1]);
		return 2;
	}
	long long count = atoll(argv[3]);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("drop-storm: socket");
		return 1;
	}
	static char payload[64];
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	long long sent = 0, failed = 0;
	long long cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID), wall0 = now_ns(CLOCK_MONOTONIC);
	while (sent < count) {
		unsigned int n = count - sent < BATCH ? (unsigned int)(count - sent) : BATCH;
		int r = sendmmsg(fd, msgs, n, 0);
		if (r > 0) {
			sent += r;
		} else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
			failed++;
		} else {
			perror("drop-storm: sendmmsg");
			return 1;
		}
	}
	long long cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0, wall = now_ns(CLOCK_MONOTONIC) - wall0;
	printf("{\"sent\":%lld,\"cpuNs\":%lld,\"wallNs\":%lld,\"retries\":%lld}\n", sent, cpu, wall, failed);
	return 0;
}
