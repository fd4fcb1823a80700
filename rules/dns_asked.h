/* dns_asked — the host's outstanding DNS queries, so that an answer is
 * learned from only when it answers one of them.
 *
 * filterd queues the host's queries to the configured resolvers, over UDP
 * and TCP (the chain FQDN_QUERY_CHAIN, after the output chain; dns_tcp
 * reassembles the host's TCP streams as it does the resolvers'), as well as
 * their answers;
 * pcap-replay sees the same packets in a capture.  A query is recorded with
 * its endpoints (protocol, client address and port, resolver address and port), its DNS
 * ID and its question (name, type, class).  An answer counts only when a
 * recorded query has the same endpoints reversed, the same ID and the same
 * question (the name compared without regard to case, as resolvers echo
 * it), and was asked at most DNS_ASKED_TIMEOUT_US before; that query is then
 * forgotten, so one query teaches at most one answer.  Before this, any
 * answer from a resolver's address to an established DNS connection of the
 * host was learned from: someone able to send from the resolver's address
 * (and to hit the host's port) could open a listed name to any address
 * without knowing the query.
 *
 * Bounded: at most DNS_ASKED_MAX queries are held; a new one past that makes
 * the oldest forgotten (counted: its answer, if it comes, is not learned
 * from).  Shared by filterd (monotonic clock) and pcap-replay (capture
 * time); pure C, no I/O. */
#ifndef FILTERD_DNS_ASKED_H
#define FILTERD_DNS_ASKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"

#define DNS_ASKED_MAX 4096
/* conntrack's timeout of an unreplied UDP entry (nf_conntrack_udp_timeout):
 * an answer later than that would not be ct state established, not queued */
#define DNS_ASKED_TIMEOUT_US (30 * 1000000LL)

/* The two ends of a UDP datagram or TCP segment as the host sent it (query)
 * or received it (answer): family AF_INET or AF_INET6, addresses of 4 or 16
 * bytes, proto IPPROTO_UDP or IPPROTO_TCP (an answer matches only a query
 * asked over the same protocol). */
struct dns_ends {
	int family;
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	uint8_t proto;
};

struct dns_asked_stats {
	uint64_t queries;	/* recorded */
	uint64_t matched;	/* answers that matched a query */
	uint64_t unasked;	/* answers no recorded query asked */
	uint64_t evicted;	/* queries forgotten to make room */
	size_t pending;		/* held now (expired ones included until pruned) */
};

struct dns_asked;

struct dns_asked *dns_asked_new(void);
void dns_asked_free(struct dns_asked *a);
/* A query the host sent (m parsed from it).  Returns 1 when recorded, 0 when
 * m is no query (QR set, not opcode QUERY, not exactly one question), -1 with
 * errno ENOMEM. */
int dns_asked_query(struct dns_asked *a, const struct dns_ends *e, const struct dns_msg *m,
		    int64_t now_us);
/* An answer the host received (m parsed from it): true when it answers a
 * recorded query (see above), which is then forgotten; false otherwise
 * (counted as unasked). */
bool dns_asked_answer(struct dns_asked *a, const struct dns_ends *e, const struct dns_msg *m,
		      int64_t now_us);
void dns_asked_get_stats(const struct dns_asked *a, struct dns_asked_stats *st);

#endif
