/* prefix — CIDR parsing and address-set normalisation, IPv4 and IPv6.
 *
 * An address is kept in network byte order in 16 bytes (IPv4 uses the first 4).
 * A struct pset is a set of addresses of ONE family kept as sorted, disjoint,
 * non-adjacent closed intervals [lo, hi]: after pset_normalize() it is the minimum
 * number of intervals that covers the same addresses, which is what an nftables
 * interval set needs.  All functions return 0 on success, -1 with errno set
 * (ENOMEM, EINVAL) on failure. */
#ifndef FILTERD_PREFIX_H
#define FILTERD_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct addr {
	uint8_t b[16];
};

struct prefix {
	int family;		/* AF_INET or AF_INET6 */
	unsigned len;		/* 0..32 or 0..128 */
	struct addr a;		/* host bits cleared after parsing */
};

struct interval {
	struct addr lo, hi;	/* inclusive */
};

struct pset {
	int family;
	struct interval *v;
	size_t n, cap;
};

static inline size_t family_bytes(int family) { return family == AF_INET ? 4 : 16; }

/* Parses "a.b.c.d", "a.b.c.d/n", "x::y", "x::y/n".  With host bits set, returns 0
 * but sets *host_bits (when non-NULL) so the caller can warn; the stored prefix is
 * the network.  On a syntax error returns -1 and writes a reason into err. */
int prefix_parse(const char *s, struct prefix *out, bool *host_bits,
		 char *err, size_t errlen);
/* "10.0.0.0/8"; a full-length prefix prints as a bare address. */
void prefix_format(const struct prefix *p, char *buf, size_t len);
void addr_format(int family, const struct addr *a, char *buf, size_t len);
/* inet_ntop's text into out (ADDR_TEXT_MAX bytes), without stdio; returns
 * its length.  family: AF_INET or AF_INET6. */
#define ADDR_TEXT_MAX 46
size_t addr_format_fast(int family, const struct addr *a, char *out);
int addr_cmp(int family, const struct addr *a, const struct addr *b);
bool prefix_contains(const struct prefix *p, const struct addr *a);

void pset_init(struct pset *s, int family);
void pset_free(struct pset *s);
int pset_add_prefix(struct pset *s, const struct prefix *p);
int pset_add_interval(struct pset *s, const struct addr *lo, const struct addr *hi);
/* Sorts and merges overlapping and adjacent intervals. */
void pset_normalize(struct pset *s);
int pset_copy(struct pset *dst, const struct pset *src);
/* dst := dst ∪ src; both normalised on return. */
int pset_union(struct pset *dst, const struct pset *src);
/* dst := dst \ src; src must be normalised. */
int pset_subtract(struct pset *dst, const struct pset *src);
bool pset_contains(const struct pset *s, const struct addr *a);
/* true when s holds a loopback address (127.0.0.0/8; ::1). */
bool pset_has_loopback(const struct pset *s);
/* true when every address of a is in b (both normalised). */
bool pset_is_subset(const struct pset *a, const struct pset *b);
/* The pseudo-tag Internet (DESIGN.md) for an address space (either pset may be
 * NULL): IPv4 unicast outside the private, loopback, link-local, CGNAT,
 * multicast and reserved ranges (documentation ranges count) and other than
 * 168.63.129.16 (pset_add_host_vip); IPv6 global
 * unicast (2000::/3) and the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052:
 * it embeds public IPv4 addresses only); both minus the address space.  The
 * compiler, the hbi check and pcap-replay's expectations share it.  0, or -1
 * (ENOMEM); out4/out6 are initialised here and freed on failure. */
int pset_internet(const struct pset *vnet4, const struct pset *vnet6,
		  struct pset *out4, struct pset *out6);
/* Adds 168.63.129.16/32, the host's virtual IP: Azure's VirtualNetwork tag
 * includes it ("the virtual IP address of the host"), so the pseudo-tag
 * VirtualNetwork is the address space and this address, wherever it is
 * built (compiler, hbi check, pcap-replay's expectations); Internet never
 * holds it.  Not normalised; 0 or -1 (ENOMEM). */
int pset_add_host_vip(struct pset *v4);
/* Number of addresses-prefixes needed to print the set as CIDRs. */
size_t pset_count_prefixes(const struct pset *s);
/* Prints one interval as nft would accept it: "10.0.0.0/8" when it is one prefix,
 * else "10.0.0.0-10.0.1.127". */
void interval_format(int family, const struct interval *iv, char *buf, size_t len);
/* If the interval is exactly one prefix, sets *len and returns true. */
bool interval_is_prefix(int family, const struct interval *iv, unsigned *len);

#endif
