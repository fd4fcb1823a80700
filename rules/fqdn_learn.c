/* fqdn_learn — what filterd and pcap-replay share to learn FQDN addresses from
 * DNS answers: which names serve which FQDN set (fqdn_match_chain,
 * fqdn_match_name) and where the DNS message sits in a queued IP packet
 * (fqdn_dns_payload).  See fqdn.h. */
#include "fqdn.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"

bool fqdn_match_chain(const char *pattern, const char *const *chain, size_t n)
{
	/* the question alone: a CNAME target or an address record's owner is
	 * what some zone's server said, and a forwarding resolver passes on
	 * records for names outside that zone (a review's evil.example answered
	 * "cname.evil.example CNAME app.test.example" with an address for
	 * app.test.example, and a listed app.test.example was opened to it) */
	return n > 0 && chain[0] && dns_name_match(pattern, chain[0]);
}

static bool is_wild(const char *s)
{
	return s[0] == '*' && s[1] == '.' && s[2];
}

bool fqdn_match_name(const char *pattern, const char *name)
{
	char probe[DNS_NAMEBUF + 4];

	if (!is_wild(name))
		return dns_name_match(pattern, name);
	if (!is_wild(pattern))
		return dns_name_match(name, pattern);	/* "*.x" stands for pattern */
	/* two wildcards: some name lies below both when one domain is (below)
	 * the other */
	snprintf(probe, sizeof(probe), "x.%s", name + 2);
	if (dns_name_match(pattern, probe))
		return true;
	snprintf(probe, sizeof(probe), "x.%s", pattern + 2);
	return dns_name_match(name, probe);
}

/* The IP header: family, addresses, transport protocol and offset, and the
 * packet's length as its header says.  false: not an IPv4/IPv6 packet this
 * reads (fragments were reassembled by conntrack before the queue; IPv6
 * extension headers are not walked: not learned from). */
static bool ip_hdr(const uint8_t *p, size_t *len, int *family, const uint8_t **src,
		   const uint8_t **dst, uint8_t *proto, size_t *off)
{
	if (*len < 20)
		return false;
	if ((p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		size_t tot = (size_t)(p[2] << 8 | p[3]);
		if (ihl < 20 || tot < ihl || tot > *len || (p[6] & 0x3f) || p[7])
			return false;
		*len = tot;
		*proto = p[9];
		*family = AF_INET;
		*src = p + 12;
		*dst = p + 16;
		*off = ihl;
		return true;
	}
	if ((p[0] >> 4) == 6 && *len >= 40) {
		size_t pl = (size_t)(p[4] << 8 | p[5]);
		if (40 + pl > *len)
			return false;
		*len = 40 + pl;
		*proto = p[6];
		*family = AF_INET6;
		*src = p + 8;
		*dst = p + 24;
		*off = 40;
		return true;
	}
	return false;
}

int fqdn_packet_ends(const uint8_t *p, size_t len, struct dns_ends *e, struct dns_tcp_seg *out)
{
	size_t off;
	uint8_t proto;

	memset(e, 0, sizeof(*e));
	memset(out, 0, sizeof(*out));
	if (!ip_hdr(p, &len, &e->family, &e->src, &e->dst, &proto, &off) ||
	    (proto != IPPROTO_UDP && proto != IPPROTO_TCP) ||
	    off + (proto == IPPROTO_UDP ? 8 : 20) > len)
		return FQDN_NOT_DNS;
	e->proto = proto;
	e->sport = (uint16_t)(p[off] << 8 | p[off + 1]);
	e->dport = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
	out->family = e->family;
	out->src = e->src;
	out->dst = e->dst;
	if (proto == IPPROTO_UDP) {
		out->tcp = p + off + 8;
		out->len = len - off - 8;
		return FQDN_UDP;
	}
	out->tcp = p + off;
	out->len = len - off;
	return FQDN_TCP;
}

int fqdn_dns_packet(const uint8_t *p, size_t len, struct dns_tcp_seg *out, struct dns_ends *e)
{
	struct dns_ends own;
	int kind = fqdn_packet_ends(p, len, e ? e : &own, out);

	if (kind != FQDN_NOT_DNS && (e ? e : &own)->sport != 53) {
		memset(out, 0, sizeof(*out));
		return FQDN_NOT_DNS;
	}
	return kind;
}
