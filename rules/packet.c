/* packet — pcap link types to the kernel's view of an skb at an inet hook.
 *
 * Every read goes through rd8/rd16/rd32 after an explicit bounds check against
 * caplen; the decoder never trusts a length field before checking it. */
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <pcap/dlt.h>

#include "packet.h"

#define MAX_VLAN_TAGS	8	/* more stacked tags than this: treat as malformed */
#define ARPHRD_LOOPBACK_ 772	/* include/uapi/linux/if_arp.h ARPHRD_LOOPBACK */
#define ETH_P_QINQ_OLD	0x9100

/* IPv6 next-header values the walk knows (include/net/ipv6.h NEXTHDR_*) */
enum {
	NH_HOP = 0, NH_ROUTING = 43, NH_FRAGMENT = 44, NH_ESP = 50, NH_AUTH = 51,
	NH_NONE = 59, NH_DEST = 60,
};

static inline uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int classify(struct pkt *p, enum pkt_class cls, const char *why)
{
	p->cls = cls;
	p->why = why;
	return -1;
}

/* Soft classification: the hooks still see the packet. Keeps the first reason. */
static void mark(struct pkt *p, enum pkt_class cls, const char *why)
{
	if (p->cls == PKT_OK) {
		p->cls = cls;
		p->why = why;
	}
}

/* ipv6_ext_hdr() in net/ipv6/exthdrs_core.c */
static bool ipv6_ext(uint8_t nh)
{
	return nh == NH_HOP || nh == NH_ROUTING || nh == NH_FRAGMENT ||
	       nh == NH_AUTH || nh == NH_NONE || nh == NH_DEST;
}

static inline uint32_t ld32(const uint8_t *b)
{
	uint32_t w;

	memcpy(&w, b, 4);
	return w;
}

/* ip_fast_csum() == 0: the one's complement sum of the header's 16-bit words
 * is 0xffff.  Summed as 32-bit words in host order: 2^16 == 1 (mod 0xffff), so
 * the end-around-carry fold of that sum is 0xffff exactly when the sum is a
 * non-zero multiple of 0xffff, whatever the byte order (a byte swap multiplies
 * it by 256 modulo 0xffff, and 256 is coprime with 0xffff).  n is the IHL in
 * bytes: a multiple of 4, 20 for nearly every packet (no options: unrolled). */
static bool ip_csum_ok(const uint8_t *b, size_t n)
{
	uint64_t sum = (uint64_t)ld32(b) + ld32(b + 4) + ld32(b + 8) + ld32(b + 12) +
		       ld32(b + 16);

	for (size_t i = 20; i < n; i += 4)
		sum += ld32(b + i);
	return sum != 0 && sum % 0xffff == 0;
}

/* IPv4 option types (include/uapi/linux/ip.h IPOPT_*) */
enum {
	OPT_END = 0, OPT_NOOP = 1, OPT_RR = 7, OPT_TIMESTAMP = 68, OPT_LSRR = 131,
	OPT_CIPSO = 134, OPT_SSRR = 137, OPT_RA = 148,
};

const char *pkt_opt_drop_text(uint8_t opt_drop)
{
	switch (opt_drop) {
	case PKT_OPT_MALFORMED:
		return "the kernel: malformed IPv4 options (ip_options_compile)";
	case PKT_OPT_SRR:
		return "the kernel: IPv4 source route option (accept_source_route is 0)";
	case PKT_OPT_CIPSO:
		return "the kernel: IPv4 CIPSO option (no CIPSO DOI configured)";
	default:
		return "";
	}
}

/* ip_options_compile() on a received packet (net/ipv4/ip_options.c), then
 * ip_rcv_options() (net/ipv4/ip_input.c): the checks that make the kernel
 * drop it after prerouting.  o: the n option bytes after the 20-byte header.
 * The defaults of a pool host are assumed: accept_source_route 0 (net.ipv4.
 * conf.all's 0 ANDed with the device's), no CIPSO DOI. */
static uint8_t ip4_options(const uint8_t *o, size_t n)
{
	bool srr = false, rr = false, ts = false, cipso = false;
	size_t l = n;

	while (l > 0) {
		size_t optlen;

		if (o[0] == OPT_END)
			break;
		if (o[0] == OPT_NOOP) {
			o++;
			l--;
			continue;
		}
		if (l < 2)
			return PKT_OPT_MALFORMED;
		optlen = o[1];
		if (optlen < 2 || optlen > l)
			return PKT_OPT_MALFORMED;
		switch (o[0]) {
		case OPT_SSRR:
		case OPT_LSRR:
			if (optlen < 3 || o[2] < 4 || srr)
				return PKT_OPT_MALFORMED;
			srr = true;
			break;
		case OPT_RR:
			if (rr || optlen < 3 || o[2] < 4)
				return PKT_OPT_MALFORMED;
			if (o[2] <= optlen && o[2] + 3u > optlen)
				return PKT_OPT_MALFORMED;
			rr = true;
			break;
		case OPT_TIMESTAMP:
			if (ts || optlen < 4 || o[2] < 5)
				return PKT_OPT_MALFORMED;
			if (o[2] <= optlen) {
				if (o[2] + 3u > optlen)
					return PKT_OPT_MALFORMED;
				/* with an address: TSANDADDR (1), PRESPEC (3) */
				if (((o[3] & 0xf) == 1 || (o[3] & 0xf) == 3) &&
				    o[2] + 7u > optlen)
					return PKT_OPT_MALFORMED;
			} else if (o[3] >> 4 == 15) {
				return PKT_OPT_MALFORMED;	/* overflow counter full */
			}
			ts = true;
			break;
		case OPT_RA:
			if (optlen < 4)
				return PKT_OPT_MALFORMED;
			break;
		case OPT_CIPSO:
			if (cipso)
				return PKT_OPT_MALFORMED;
			cipso = true;
			break;
		default:	/* IPOPT_SEC, IPOPT_SID, unknown: accepted on receive */
			break;
		}
		l -= optlen;
		o += optlen;
	}
	if (cipso)
		return PKT_OPT_CIPSO;
	return srr ? PKT_OPT_SRR : PKT_OPT_OK;
}

/* ip_rcv_core() checks (version, IHL, checksum, lengths) and then
 * nft_set_pktinfo_ipv4(): tprot/thoff/fragoff set for every valid header.
 * The header is read into locals before p is written: a store to p could
 * alias the packet bytes and would make every later read a reload. */
static int decode_ipv4(struct pkt *p)
{
	size_t nh = p->nh_off;
	const uint8_t *ip = p->data + nh;
	size_t cap = p->caplen - nh;
	size_t wire = p->wirelen > nh ? p->wirelen - nh : 0;
	size_t ihl, tot, avail;
	uint16_t fo, fragoff;
	uint8_t proto;
	bool mf;

	if (cap < 20)
		return classify(p, PKT_TRUNCATED, "truncated IPv4 header");
	if (ip[0] >> 4 != 4)
		return classify(p, PKT_MALFORMED, "IPv4 version field is not 4");
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < 20)
		return classify(p, PKT_MALFORMED, "IPv4 header length below 20");
	if (cap < ihl)
		return classify(p, PKT_TRUNCATED, "truncated IPv4 options");
	if (!ip_csum_ok(ip, ihl))
		return classify(p, PKT_MALFORMED, "bad IPv4 header checksum");
	tot = rd16(ip + 2);
	if (tot < ihl)
		return classify(p, PKT_MALFORMED, "IPv4 total length below header length");
	/* The kernel had wirelen bytes: a total length beyond them is dropped in
	 * ip_rcv_core (IPSTATS_MIB_INTRUNCATEDPKTS); the hooks never see it. */
	if (tot > wire)
		return classify(p, PKT_MALFORMED, "IPv4 total length exceeds the frame");
	fo = rd16(ip + 6);
	proto = ip[9];
	fragoff = (uint16_t)((fo & 0x1fff) * 8);
	mf = (fo & 0x2000) != 0;
	avail = cap < tot ? cap : tot;

	p->nfproto = NFPROTO_IPV4;
	p->l3proto = ETH_P_IP;
	p->len = tot;		/* pskb_trim_rcsum() drops the link padding */
	p->avail = avail;
	if (avail < tot)
		mark(p, PKT_TRUNCATED, "capture shorter than the IPv4 packet");

	if (ihl > 20)
		p->opt_drop = ip4_options(ip + 20, ihl - 20);
	p->tprot_set = true;
	p->l4proto = proto;
	p->th_off = nh + ihl;
	p->fragoff = fragoff;
	p->frag_mf = mf;
	p->is_frag = mf || fragoff;
	if (mf || fragoff) {
		p->frag_id = rd16(ip + 4);
		p->frag_offset = fragoff;
		p->frag_data_off = nh + ihl;
	}
	return 0;
}

/* nft_set_pktinfo_ipv6(): ipv6_find_hdr(skb, &thoff, -1, &frag_off,
 * IP6_FH_F_AUTH).  The walk stops at the first non-extension header, at
 * NEXTHDR_NONE, and at AH (IP6_FH_F_AUTH with target < 0: AH is reported as
 * the protocol, thoff at the AH header).  A non-first fragment reports the
 * fragment header's next header when that is not an extension header, and
 * fails otherwise.  Reads bounded by skb->len fail with -EBADMSG: the kernel
 * then leaves NFT_PKTINFO_L4PROTO unset. */
static void ipv6_walk(struct pkt *p)
{
	size_t end_kernel = p->nh_off + p->len;		/* skb->len */
	size_t end_cap = p->nh_off + p->avail;		/* what we can read */
	size_t start = p->nh_off + 40;
	uint8_t nh = p->data[p->nh_off + 6];

	for (;;) {
		size_t hdrlen;

		if (!ipv6_ext(nh) || nh == NH_NONE)
			break;
		if (start + 2 > end_kernel) {
			mark(p, PKT_MALFORMED, "IPv6 extension header beyond the packet");
			return;
		}
		if (start + 2 > end_cap) {
			mark(p, PKT_TRUNCATED, "IPv6 extension header beyond the capture");
			return;
		}
		if (nh == NH_FRAGMENT) {
			uint16_t off;

			if (start + 8 > end_kernel) {
				mark(p, PKT_MALFORMED, "IPv6 fragment header beyond the packet");
				return;
			}
			if (start + 8 > end_cap) {
				mark(p, PKT_TRUNCATED, "IPv6 fragment header beyond the capture");
				return;
			}
			off = rd16(p->data + start + 2);
			if (!p->is_frag) {	/* nf_defrag looks at the first one */
				p->is_frag = true;
				p->frag_mf = off & 1;
				p->frag_offset = off & ~7u;
				p->frag_id = rd32(p->data + start + 4);
				p->frag_hdr_off = start;
				p->frag_nexthdr = p->data[start];
				p->frag_data_off = start + 8;
			}
			if (off & ~7u) {
				uint8_t next = p->data[start];

				if (!ipv6_ext(next) || next == NH_NONE) {
					p->tprot_set = true;
					p->l4proto = next;
					p->fragoff = (uint16_t)(off & ~7u);
					p->th_off = start;	/* meaningless, as in the kernel */
				}
				return;
			}
			hdrlen = 8;
		} else if (nh == NH_AUTH) {
			break;
		} else {
			/* the routing header is read as struct ipv6_rt_hdr (4 bytes) */
			if (nh == NH_ROUTING && start + 4 > end_kernel) {
				mark(p, PKT_MALFORMED, "IPv6 routing header beyond the packet");
				return;
			}
			if (nh == NH_ROUTING && start + 4 > end_cap) {
				mark(p, PKT_TRUNCATED, "IPv6 routing header beyond the capture");
				return;
			}
			hdrlen = ((size_t)p->data[start + 1] + 1) * 8;	/* ipv6_optlen */
		}
		nh = p->data[start];
		start += hdrlen;
	}
	p->tprot_set = true;
	p->l4proto = nh;
	p->th_off = start;
}

/* Hop-by-hop options (include/uapi/linux/in6.h IPV6_TLV_*) */
enum {
	TLV_PAD1 = 0, TLV_PADN = 1, TLV_ROUTERALERT = 5, TLV_CALIPSO = 7, TLV_IOAM = 49,
	TLV_JUMBO = 194,
};
#define MAX_HBH_OPTS	8	/* net.ipv6.max_hbh_opts_number's default */

/* ip6_rcv_core() parses a hop-by-hop header before the prerouting hook
 * (ipv6_parse_hopopts(), ip6_parse_tlv() in net/ipv6/exthdrs.c) and drops
 * the packet when a check fails, so no filter hook sees it: the header must
 * lie within the packet; Pad1/PadN padding runs at most 7 bytes and PadN
 * holds zeros; at most 8 other options; a router alert is 2 bytes long; an
 * IOAM option is 4n-aligned (else ignored: ioam6_enabled is 0 by default); a
 * CALIPSO option is dropped (calipso_validate() finds no DOI: none is
 * configured on a pool host); a jumbo payload option (RFC 2675) is 4 bytes at
 * 4n+2, in a packet whose payload length is 0, announcing more than 65,535
 * bytes and no more than the frame holds, and then sets the packet's length;
 * any other option is skipped or drops the packet as its two high bits say.
 * *tot is skb->len and may change (jumbogram).  Returns -1 when the kernel
 * drops the packet; a header the capture cuts leaves the outcome open:
 * hbh_cut, and the verdict is undecidable. */
static int hop_by_hop(struct pkt *p, const uint8_t *ip, size_t cap, size_t *tot)
{
	size_t end, off = 42;
	unsigned padlen = 0, count = 0;

	if (*tot < 48)
		return classify(p, PKT_MALFORMED, "IPv6 hop-by-hop header beyond the packet");
	if (cap < 48)
		goto cut;
	end = 40 + ((size_t)ip[41] + 1) * 8;
	if (end > *tot)
		return classify(p, PKT_MALFORMED, "IPv6 hop-by-hop header beyond the packet");
	if (cap < end)
		goto cut;
	while (off < end) {
		uint8_t type = ip[off];
		size_t optlen;

		if (type == TLV_PAD1) {
			if (++padlen > 7)
				return classify(p, PKT_MALFORMED, "hop-by-hop padding over 7 bytes");
			off++;
			continue;
		}
		if (end - off < 2 || (optlen = (size_t)ip[off + 1] + 2) > end - off)
			return classify(p, PKT_MALFORMED, "hop-by-hop option beyond its header");
		if (type == TLV_PADN) {
			padlen += (unsigned)optlen;
			if (padlen > 7)
				return classify(p, PKT_MALFORMED, "hop-by-hop padding over 7 bytes");
			for (size_t i = 2; i < optlen; i++)
				if (ip[off + i])
					return classify(p, PKT_MALFORMED,
							"hop-by-hop PadN option not all zeros");
			off += optlen;
			continue;
		}
		if (++count > MAX_HBH_OPTS)
			return classify(p, PKT_MALFORMED,
					"more than 8 hop-by-hop options (net.ipv6.max_hbh_opts_number)");
		switch (type) {
		case TLV_ROUTERALERT:
			if (optlen != 4)
				return classify(p, PKT_MALFORMED,
						"hop-by-hop router alert not 2 bytes long");
			break;
		case TLV_IOAM:
			if (off & 3)
				return classify(p, PKT_MALFORMED, "hop-by-hop IOAM option misaligned");
			break;
		case TLV_CALIPSO:
			return classify(p, PKT_MALFORMED,
					"hop-by-hop CALIPSO option (no CALIPSO DOI configured)");
		case TLV_JUMBO: {
			uint32_t jlen;

			if (optlen != 6 || (off & 3) != 2)
				return classify(p, PKT_MALFORMED,
						"jumbo payload option of wrong length or alignment");
			jlen = rd32(ip + off + 2);
			if (jlen <= 65535)
				return classify(p, PKT_MALFORMED,
						"jumbo payload length of 65,535 bytes or less");
			if (rd16(ip + 4))
				return classify(p, PKT_MALFORMED,
						"jumbo payload option with a non-zero payload length");
			if (jlen > *tot - 40)
				return classify(p, PKT_MALFORMED,
						"jumbo payload length exceeds the frame");
			*tot = 40 + (size_t)jlen;
			break;
		}
		default:
			/* ip6_tlvopt_unknown(): 00 skip, 01 drop, 10 drop (and
			 * ICMP), 11 drop (ICMP unless to a multicast address) */
			if (type >> 6)
				return classify(p, PKT_MALFORMED,
						"unknown hop-by-hop option whose type says discard");
			break;
		}
		padlen = 0;
		off += optlen;
	}
	return 0;
cut:
	p->hbh_cut = true;
	mark(p, PKT_TRUNCATED, "hop-by-hop header beyond the capture");
	return 0;
}

/* ip6_rcv_core(): version, the RFC 4291 address checks (the loopback
 * address and interface-local multicast on a device other than lo, when the
 * link layer tells; a multicast source; a multicast destination of the
 * reserved scope 0),
 * the payload length against the frame (none when the payload length is 0
 * and a hop-by-hop header follows: a jumbogram's length comes from its
 * option), the hop-by-hop header; then the walk. */
static int decode_ipv6(struct pkt *p)
{
	const uint8_t *ip = p->data + p->nh_off;
	size_t cap = p->caplen - p->nh_off;
	size_t wire = p->wirelen > p->nh_off ? p->wirelen - p->nh_off : 0;
	size_t tot;

	if (cap < 40)
		return classify(p, PKT_TRUNCATED, "truncated IPv6 header");
	if (ip[0] >> 4 != 6)
		return classify(p, PKT_MALFORMED, "IPv6 version field is not 6");
	/* RFC 4291 2.5.3 and Errata 3480, on a device other than lo (known
	 * from the link layer only) */
	if (p->nonlo) {
		static const uint8_t lo6[16] = { [15] = 1 };

		if (memcmp(ip + 8, lo6, 16) == 0 || memcmp(ip + 24, lo6, 16) == 0)
			return classify(p, PKT_MALFORMED,
					"IPv6 loopback address on a device other than lo");
		if (ip[24] == 0xff && (ip[25] & 0x0f) == 1)
			return classify(p, PKT_MALFORMED,
					"interface-local IPv6 multicast on a device other than lo");
	}
	if (ip[8] == 0xff)
		return classify(p, PKT_MALFORMED, "IPv6 multicast source address");
	if (ip[24] == 0xff && (ip[25] & 0x0f) == 0)
		return classify(p, PKT_MALFORMED, "IPv6 multicast destination of scope 0");
	if (rd16(ip + 4) || ip[6] != NH_HOP) {
		tot = 40 + (size_t)rd16(ip + 4);
		if (tot > wire)
			return classify(p, PKT_MALFORMED, "IPv6 payload length exceeds the frame");
	} else {
		tot = wire;	/* not trimmed: the link's padding stays */
	}
	if (ip[6] == NH_HOP && hop_by_hop(p, ip, cap, &tot) < 0)
		return -1;

	p->nfproto = NFPROTO_IPV6;
	p->l3proto = ETH_P_IPV6;
	p->len = tot;
	p->avail = cap < tot ? cap : tot;
	if (p->avail < tot)
		mark(p, PKT_TRUNCATED, "capture shorter than the IPv6 packet");
	ipv6_walk(p);
	return 0;
}

static int decode_l3(struct pkt *p, uint16_t ethertype)
{
	p->l3proto = ethertype;
	if (ethertype == ETH_P_IP)
		return decode_ipv4(p);
	if (ethertype == ETH_P_IPV6)
		return decode_ipv6(p);
	return classify(p, PKT_NOT_IP, "not an IP packet");
}

static inline bool is_vlan(uint16_t type)
{
	return type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ_OLD;
}

/* Stacked 802.1Q / 802.1ad tags starting at off, where *type was read. */
static int skip_vlans(struct pkt *p, size_t *off, uint16_t *type)
{
	while (is_vlan(*type)) {
		if (p->vlan_depth == MAX_VLAN_TAGS)
			return classify(p, PKT_MALFORMED, "too many stacked VLAN tags");
		if (p->caplen < *off + 4)
			return classify(p, PKT_TRUNCATED, "truncated VLAN tag");
		if (p->vlan_depth == 0)
			p->vlan_tci = rd16(p->data + *off);
		p->vlan_depth++;
		*type = rd16(p->data + *off + 2);
		*off += 4;
	}
	return 0;
}

static int decode_ether(struct pkt *p)
{
	size_t off = 14;
	uint16_t type;

	if (p->caplen < 14)
		return classify(p, PKT_TRUNCATED, "truncated Ethernet header");
	p->has_ll = true;
	p->ll_off = 0;
	/* eth_type_trans(): pkt_type from the destination address; a frame for
	 * another unicast MAC would be PACKET_OTHERHOST, which needs the host's
	 * own address and is left to the caller.  Unicast (the group bit clear)
	 * first: the broadcast address has it set. */
	if (!(p->data[0] & 1))
		p->pkttype = PACKET_HOST;
	else if (memcmp(p->data, "\xff\xff\xff\xff\xff\xff", 6) == 0)
		p->pkttype = PACKET_BROADCAST;
	else
		p->pkttype = PACKET_MULTICAST;
	/* lo's Ethernet header carries all-zero addresses */
	p->nonlo = ld32(p->data) | ld32(p->data + 4) | ld32(p->data + 8);
	type = rd16(p->data + 12);
	if (is_vlan(type) && skip_vlans(p, &off, &type) < 0)
		return -1;
	if (type < ETH_P_802_3_MIN)
		return classify(p, PKT_NOT_IP, "802.3 frame (LLC), not IP");
	p->nh_off = off;
	return decode_l3(p, type);
}

/* SLL and SLL2 carry the kernel's own pkt_type; PACKET_OUTGOING means the
 * capture saw it leave (LOCAL_OUT / POSTROUTING side). */
static void set_sll_pkttype(struct pkt *p, unsigned pkttype)
{
	if (pkttype == PACKET_OUTGOING) {
		p->pcap_dir = 2;
		p->pkttype = PACKET_HOST;	/* locally generated skbs */
	} else {
		p->pcap_dir = 1;
		p->pkttype = (uint8_t)(pkttype <= PACKET_OTHERHOST ? pkttype : PACKET_HOST);
	}
}

static int decode_sll(struct pkt *p)
{
	size_t off = 16;
	uint16_t type;

	if (p->caplen < 16)
		return classify(p, PKT_TRUNCATED, "truncated Linux cooked header");
	set_sll_pkttype(p, rd16(p->data));
	p->nonlo = rd16(p->data + 2) != ARPHRD_LOOPBACK_;
	type = rd16(p->data + 14);
	if (skip_vlans(p, &off, &type) < 0)
		return -1;
	p->nh_off = off;
	return decode_l3(p, type);
}

static int decode_sll2(struct pkt *p)
{
	size_t off = 20;
	uint16_t type;

	if (p->caplen < 20)
		return classify(p, PKT_TRUNCATED, "truncated Linux cooked v2 header");
	set_sll_pkttype(p, p->data[10]);
	p->nonlo = rd16(p->data + 8) != ARPHRD_LOOPBACK_;
	type = rd16(p->data);
	if (skip_vlans(p, &off, &type) < 0)
		return -1;
	p->nh_off = off;
	return decode_l3(p, type);
}

/* Raw IP: the version nibble chooses the family. */
static int decode_raw(struct pkt *p, int want)
{
	unsigned v;

	p->nh_off = 0;
	if (p->caplen < 1)
		return classify(p, PKT_TRUNCATED, "empty raw IP frame");
	v = p->data[0] >> 4;
	if (want)
		v = (unsigned)want;
	if (v == 4)
		return decode_l3(p, ETH_P_IP);
	if (v == 6)
		return decode_l3(p, ETH_P_IPV6);
	return classify(p, PKT_MALFORMED, "raw frame with IP version neither 4 nor 6");
}

/* DLT_NULL carries the AF in the capturing host's byte order, DLT_LOOP in
 * network order; accept both orders for both.  AF_INET6 differs per OS:
 * 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin. */
static int decode_null(struct pkt *p)
{
	uint32_t be, le;

	if (p->caplen < 4)
		return classify(p, PKT_TRUNCATED, "truncated loopback header");
	be = rd32(p->data);
	le = (uint32_t)p->data[3] << 24 | (uint32_t)p->data[2] << 16 |
	     (uint32_t)p->data[1] << 8 | p->data[0];
	p->nh_off = 4;
	if (be == 2 || le == 2)
		return decode_l3(p, ETH_P_IP);
	for (int i = 0; i < 4; i++) {
		static const uint32_t inet6[] = { 10, 24, 28, 30 };

		if (be == inet6[i] || le == inet6[i])
			return decode_l3(p, ETH_P_IPV6);
	}
	return classify(p, PKT_NOT_IP, "loopback frame of a non-IP family");
}

int pkt_decode(struct pkt *p, int linktype, const uint8_t *data, size_t caplen,
	       size_t wirelen)
{
	/* struct pkt's offsets and lengths are 32-bit (libpcap's snapshot is at
	 * most 256 KiB): anything larger is read as its first 4 GiB - 1, and a
	 * link type beyond 16 bits is one the switch below does not know */
	size_t cap = data ? (caplen < UINT32_MAX ? caplen : UINT32_MAX) : 0;

	memset(p, 0, sizeof(*p));
	p->data = data;
	p->caplen = (uint32_t)cap;
	p->wirelen = (uint32_t)(wirelen < cap ? cap : wirelen < UINT32_MAX ? wirelen : UINT32_MAX);
	p->linktype = (uint16_t)linktype;
	p->cls = PKT_OK;
	/* Ethernet first: the DLT_* values are far apart, the switch is a
	 * chain of compares */
	if (linktype == DLT_EN10MB)
		return decode_ether(p);
	switch (linktype) {
	case DLT_LINUX_SLL:
		return decode_sll(p);
	case DLT_LINUX_SLL2:
		return decode_sll2(p);
	case DLT_RAW:
	case 101:		/* LINKTYPE_RAW, if handed over unmapped */
#if DLT_RAW != 14
	case 14:		/* DLT_RAW on BSD/OS */
#endif
		return decode_raw(p, 0);
	case DLT_IPV4:
		return decode_raw(p, 4);
	case DLT_IPV6:
		return decode_raw(p, 6);
	case DLT_NULL:
	case DLT_LOOP:
		return decode_null(p);
	default:
		return classify(p, PKT_UNSUPPORTED_LINK, "unsupported link type");
	}
}
