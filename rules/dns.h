/* dns — DNS messages (RFC 1035) as far as FQDN rules need them: the question,
 * and the A, AAAA and CNAME records of the answer section.  Shared by filterd
 * (answers queued from the configured resolvers) and pcap-replay (answers in a
 * capture).
 *
 * The parser trusts nothing: every read is bounds-checked, compression pointers
 * must point strictly backwards (so a name cannot loop) and are limited in
 * number, names are limited to 255 wire bytes, and bytes that are not letters,
 * digits, '-' or '_' are written as \DDD so that no crafted label can read as a
 * dot or a wildcard.  Names are lower-case, without the trailing dot ("" is the
 * root).
 *
 * Error convention: functions returning int return 0, or -1 with a reason in
 * err (when err is not NULL); they never print. */
#ifndef FILTERD_DNS_H
#define FILTERD_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAMEBUF 1024	/* 255 wire bytes, escaped as \DDD at worst */
#define DNS_MAX_CHAIN 16	/* CNAME hops followed from the question */

enum { DNS_T_A = 1, DNS_T_CNAME = 5, DNS_T_AAAA = 28, DNS_C_IN = 1 };

struct dns_rr {
	char owner[DNS_NAMEBUF];
	uint16_t type, rclass;
	uint32_t ttl;
	uint8_t addr[16];		/* A: 4 bytes, AAAA: 16 */
	char target[DNS_NAMEBUF];	/* CNAME */
};

struct dns_msg {
	uint16_t id;
	bool qr, tc;
	uint8_t opcode, rcode;
	uint16_t qdcount, ancount;
	char qname[DNS_NAMEBUF];	/* first question; "" when none */
	uint16_t qtype, qclass;
	struct dns_rr *an;		/* A, AAAA and CNAME records of class IN */
	size_t nan;
};

/* Parses one message (UDP payload, or a TCP message without its length
 * prefix).  On success m holds the question and the answer records that
 * matter (caller frees with dns_msg_free); other record types are skipped,
 * the authority and additional sections are not read.  Returns 0, or -1
 * (malformed, truncated, looping names, out of memory) with m left empty. */
int dns_msg_parse(struct dns_msg *m, const uint8_t *buf, size_t len, char *err,
		  size_t errlen);
void dns_msg_free(struct dns_msg *m);

/* Called once per address reached from the question: chain[0] is the
 * question name, chain[n-1] the owner of the address record, the names in
 * between the CNAMEs followed; ttl is the smallest TTL along the way.
 * family is AF_INET or AF_INET6. */
typedef void (*dns_addr_fn)(const char *const *chain, size_t n, int family,
			    const uint8_t *addr, uint32_t ttl, void *arg);

/* Walks the answer of a successful response (QR set, opcode QUERY, rcode
 * NOERROR, one question of class IN): follows CNAMEs from the question name
 * (at most DNS_MAX_CHAIN hops, loops cut) and reports every A/AAAA record
 * whose owner is on that chain.  Records not reachable from the question are
 * ignored.  Returns the number of addresses reported. */
size_t dns_msg_walk(const struct dns_msg *m, dns_addr_fn fn, void *arg);

/* Does name match an FQDN rule's pattern?  "pypi.org" matches only itself;
 * "*.blob.core.windows.net" matches names below blob.core.windows.net (one or
 * more labels), not blob.core.windows.net itself.  Case-insensitive; a
 * trailing dot on either side is ignored. */
bool dns_name_match(const char *pattern, const char *name);

/* Nameserver addresses of a resolv.conf ("nameserver X" lines, scope ids
 * dropped).  Fills up to max entries of fam/addr (16 bytes each).  Returns the
 * number found, or -1 with errno when the file cannot be read. */
int dns_resolv_conf(const char *path, int *fam, uint8_t (*addr)[16], size_t max);

#endif
