/* dns_tcp — DNS messages out of a resolver's TCP streams, for FQDN learning.
 *
 * Over TCP (RFC 7766 / RFC 1035 4.2.2) every DNS message is prefixed by its
 * two-byte length; an answer larger than a segment spans several, and one
 * segment may end one message and begin the next.  filterd (the segments its
 * NFQUEUE rule hands it) and pcap-replay (the segments the bytecode queued)
 * feed each segment from a configured resolver here, in the order the host
 * received them; every message completed is passed to a callback while the
 * segment that completed it is still held, so the addresses are in the sets
 * before the application reads the answer (as for UDP).
 *
 * Streams are keyed by both ends; the resolver's SYN/ACK gives the first
 * sequence number.  A stream whose SYN/ACK was not seen (open when filterd
 * started or the capture began, or one whose slot gave way to newer ones)
 * has no known message boundary and is given up as for a gap: a boundary
 * guessed at a segment's start could be made to fall inside record data a
 * client's own zone served.  Retransmitted bytes are skipped.  A gap (a segment beyond the next expected
 * byte: reordered or lost before the hook) ends learning on that stream: its
 * later messages pass unlearned, counted, never guessed at.  FIN and RST end a
 * stream.  Bounded: DNS_TCP_MAX_STREAMS streams (the least recently used one
 * gives way, counted), idle ones expire after DNS_TCP_IDLE_US, at most
 * DNS_TCP_MAX_BUFFER bytes held per stream. */
#ifndef FILTERD_DNS_TCP_H
#define FILTERD_DNS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_TCP_MAX_STREAMS 64
#define DNS_TCP_IDLE_US (30 * 1000000LL)
#define DNS_TCP_MAX_BUFFER (2u + 65535u + 65535u)

struct dns_tcp;

struct dns_tcp_stats {
	uint64_t segments;	/* fed */
	uint64_t messages;	/* completed and passed on */
	uint64_t streams;	/* begun */
	uint64_t gaps;		/* streams given up: at a gap, or begun unseen */
	uint64_t unseen;	/* of them, streams whose SYN/ACK was not seen */
	uint64_t evicted;	/* streams that gave way to a newer one */
	uint64_t expired;	/* streams idle for DNS_TCP_IDLE_US */
};

/* A segment as fqdn_dns_packet (fqdn.h) finds it: the TCP header on. */
struct dns_tcp_seg {
	int family;		/* AF_INET / AF_INET6 */
	const uint8_t *src, *dst;	/* 4 or 16 bytes */
	const uint8_t *tcp;
	size_t len;		/* TCP header and payload */
};

/* Called for each message; returns false when it is no DNS message (does not
 * parse). */
typedef bool (*dns_tcp_msg_fn)(const uint8_t *msg, size_t len, void *arg);

struct dns_tcp *dns_tcp_new(void);
void dns_tcp_free(struct dns_tcp *t);
/* Feeds one segment received at now_us (any monotonic microsecond clock):
 * fn is called for each message it completes, in stream order.  Returns the
 * number of messages, 0 for a segment that completes none (or is no valid TCP
 * header); -1 only when memory ran out (the stream is dropped). */
int dns_tcp_feed(struct dns_tcp *t, const struct dns_tcp_seg *seg, int64_t now_us,
		 dns_tcp_msg_fn fn, void *arg);
void dns_tcp_get_stats(const struct dns_tcp *t, struct dns_tcp_stats *st);
/* Streams held now. */
size_t dns_tcp_streams(const struct dns_tcp *t);

#endif
