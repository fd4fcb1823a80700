/* fqdn — what a ruleset says about its FQDN rules, read from the objects alone
 * (compiled, dumped from a kernel, or loaded from a saved dump), so filterd and
 * pcap-replay agree on it:
 *   - every set whose comment is "fqdn=<name>" serves that name (sets
 *     fqdn_<rule>_v4 and _v6, key ipv4_addr / ipv6_addr, flags timeout);
 *   - the resolvers whose answers are learned from are the elements of
 *     dns_resolvers_v4/_v6 (the sets the input chain's queue rule reads).
 * See compile.h for the rules around them. */
#ifndef FILTERD_FQDN_H
#define FILTERD_FQDN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_asked.h"
#include "dns_tcp.h"
#include "ruleset.h"

#define FQDN_MAX_RESOLVERS 16

struct fqdn_set {
	char *set;		/* "fqdn_pypi_v4" */
	char *fqdn;		/* "pypi.org" or "*.blob.core.windows.net" */
	int family;		/* AF_INET or AF_INET6 */
};

struct fqdn_info {
	struct fqdn_set *v;
	size_t n;
	int res_family[FQDN_MAX_RESOLVERS];
	uint8_t res_addr[FQDN_MAX_RESOLVERS][16];
	size_t nres;
	/* the ruleset queues the host's queries to the resolvers (a base chain
	 * FQDN_QUERY_CHAIN at output): answers are learned from only when they
	 * answer one (dns_asked.h).  A ruleset without it (saved by a filterd
	 * before queries were queued) learns from every answer, as then. */
	bool queries_queued;
};

/* Fills info from rs.  Returns 0, or -1 with errno ENOMEM. */
int fqdn_info_from_ruleset(const struct ruleset *rs, struct fqdn_info *info);
void fqdn_info_free(struct fqdn_info *info);
bool fqdn_is_resolver(const struct fqdn_info *info, int family, const uint8_t *addr);
/* Adds a resolver (duplicates ignored); -1 when the list is full. */
int fqdn_add_resolver(struct fqdn_info *info, int family, const uint8_t *addr);
/* The longest FQDN name a rule may have: its sets' comment "fqdn=NAME" holds
 * 128 characters (nftables' limit for a comment). */
#define FQDN_NAME_MAX 123
/* The set's FQDN from its comment, into buf; NULL when it is no FQDN set. */
const char *fqdn_of_set(const struct nftnl_set *s, char *buf, size_t len);

/* fqdn_learn.c — shared by filterd and pcap-replay.
 * Does an answer serve the FQDN set of pattern?  chain is what dns_msg_walk
 * reports for one address (question name, CNAMEs, owner): true when the
 * question, chain[0], matches (dns_name_match: exact, or "*.x" for names
 * below x).  The CNAMEs and the owner do not count: they are the answering
 * zone's word about other names. */
bool fqdn_match_chain(const char *pattern, const char *const *chain, size_t n);
/* Like dns_name_match, but name may itself be a wildcard ("*.x": every name
 * below x, as in pcap-replay --fqdn-map): true when some name matches both. */
bool fqdn_match_name(const char *pattern, const char *name);
/* What an IP packet (starting at its IP header, len bytes) from port 53
 * carries: FQDN_UDP with the DNS message at out->tcp (out->len bytes; the
 * field names are dns_tcp's), FQDN_TCP with the TCP segment (header on) to
 * feed to dns_tcp (dns_tcp.h), or FQDN_NOT_DNS (not UDP/TCP from port 53, an
 * IP fragment, an IPv6 extension header).  out->family, src and dst are set
 * for the first two, and so is *e (the packet's ends) when e is not NULL. */
enum { FQDN_NOT_DNS, FQDN_UDP, FQDN_TCP };
int fqdn_dns_packet(const uint8_t *ip, size_t len, struct dns_tcp_seg *out, struct dns_ends *e);
/* The same for any UDP or TCP packet, whatever its ports (the host's queries):
 * its ends (e, proto set), and the UDP payload or the TCP segment (out).
 * FQDN_UDP, FQDN_TCP, or FQDN_NOT_DNS when it is neither (or an IP header
 * this does not read). */
int fqdn_packet_ends(const uint8_t *ip, size_t len, struct dns_ends *e, struct dns_tcp_seg *out);

#endif
