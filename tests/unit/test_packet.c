/* test_packet — pkt_decode() against hand-built frames and against every frame
 * of tcpdump's regression captures (run this binary under ASan/valgrind). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <cmocka.h>

#include "packet.h"
#include "pcapgen.h"

static uint8_t l4[PG_MAX], ip[PG_MAX], fr[PG_MAX], dg[PG_MAX];

static size_t tcp4(const char *s, const char *d, const struct pg_ipopt *o)
{
	size_t n = pg_tcp(l4, 40000, 443, 1, 0, PG_SYN, 64240, NULL, NULL, 0);

	return pg_ip4(ip, s, d, 6, l4, n, o);
}

static size_t tcp6(const struct pg_ipopt *o)
{
	size_t n = pg_tcp(l4, 40000, 443, 1, 0, PG_SYN, 64240, NULL, NULL, 0);

	return pg_ip6(ip, "fd00::1", "2001:db8::2", 6, l4, n, o);
}

/* nft_set_pktinfo_ipv4: tprot = protocol, thoff = ihl*4, fragoff = 0 */
static void test_eth_ipv4_tcp(void **state)
{
	struct pkt p;
	size_t n = pg_eth(fr, ip, tcp4("10.0.0.1", "192.0.2.1", NULL));

	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, n, n), 0);
	assert_int_equal(p.cls, PKT_OK);
	assert_int_equal(p.nfproto, NFPROTO_IPV4);
	assert_int_equal(p.l3proto, ETH_P_IP);
	assert_int_equal(p.nh_off, 14);
	assert_int_equal(p.len, 40);
	assert_int_equal(p.avail, 40);
	assert_true(p.tprot_set);
	assert_int_equal(p.l4proto, 6);
	assert_int_equal(p.th_off, 34);
	assert_int_equal(p.fragoff, 0);
	assert_false(p.is_frag);
	assert_true(p.has_ll);
	assert_int_equal(p.pkttype, PACKET_HOST);
}

/* IPv4 options are skipped by IHL (ip_hdrlen) */
static void test_ipv4_options(void **state)
{
	struct pg_ipopt o = { .ip4_optlen = 8 };
	struct pkt p;
	size_t n = pg_eth(fr, ip, tcp4("10.0.0.1", "192.0.2.1", &o));

	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, n, n), 0);
	assert_int_equal(p.th_off, 14 + 28);
	assert_int_equal(p.len, 48);
}

static uint16_t rfc1071_sum(const uint8_t *b, size_t n);

/* A TCP SYN to this host whose IPv4 options are opt (n bytes, a multiple of
 * 4), header checksum right; returns what the decoder made of the options. */
static int opts4(struct pkt *p, const uint8_t *opt, size_t n)
{
	struct pg_ipopt o = { .ip4_optlen = n };
	size_t len = tcp4("192.0.2.5", "10.0.1.4", &o);

	memcpy(ip + 20, opt, n);
	ip[10] = ip[11] = 0;
	pg_w16(ip + 10, (uint16_t)~rfc1071_sum(ip, 20 + n));
	assert_int_equal(pkt_decode(p, DLT_RAW, ip, len, len), 0);	/* hooked: prerouting */
	return p->opt_drop;
}

#define OPTS4(p, ...) ({ static const uint8_t o_[] = { __VA_ARGS__ }; \
			 opts4(p, o_, sizeof(o_)); })

/* ip_rcv_finish_core() -> ip_rcv_options(): ip_options_compile() on a
 * received packet (net/ipv4/ip_options.c), then the source route refused
 * (accept_source_route 0): dropped after prerouting, before input.  The
 * kernel check case tests/data/agree/ipv4-options.pcap plays them. */
static void test_ipv4_option_checks(void **state)
{
	struct pkt p;

	(void)state;
	assert_int_equal(OPTS4(&p, 1, 1, 1, 1), PKT_OPT_OK);
	assert_int_equal(OPTS4(&p, 7, 7, 4, 0, 0, 0, 0, 0), PKT_OPT_OK);		/* RR */
	assert_int_equal(OPTS4(&p, 131, 7, 4, 10, 0, 1, 10, 0), PKT_OPT_SRR);	/* LSRR */
	assert_int_equal(OPTS4(&p, 137, 7, 4, 10, 0, 1, 10, 0), PKT_OPT_SRR);	/* SSRR */
	assert_string_equal(pkt_opt_drop_text(PKT_OPT_SRR),
			    "the kernel: IPv4 source route option (accept_source_route is 0)");
	/* "if (optlen < 2 || optlen > l)" */
	assert_int_equal(OPTS4(&p, 7, 1, 0, 0), PKT_OPT_MALFORMED);
	assert_int_equal(OPTS4(&p, 7, 12, 4, 0, 0, 0, 0, 0), PKT_OPT_MALFORMED);
	/* "if (unlikely(l < 2))": a lone option byte at the end */
	assert_int_equal(OPTS4(&p, 1, 1, 1, 7), PKT_OPT_MALFORMED);
	/* RR: pointer < 4; the pointer's slot past the option; twice */
	assert_int_equal(OPTS4(&p, 7, 7, 3, 0, 0, 0, 0, 0), PKT_OPT_MALFORMED);
	assert_int_equal(OPTS4(&p, 7, 6, 4, 0, 0, 0, 0, 0), PKT_OPT_MALFORMED);
	assert_int_equal(OPTS4(&p, 7, 7, 8, 0, 0, 0, 0, 0), PKT_OPT_OK);		/* full */
	assert_int_equal(OPTS4(&p, 7, 3, 4, 7, 3, 4, 0, 0), PKT_OPT_MALFORMED);
	/* timestamp: fine; pointer < 5; full with the overflow count at 15;
	 * TSANDADDR without room for address and time; unknown flag: fine */
	assert_int_equal(OPTS4(&p, 68, 8, 5, 0, 0, 0, 0, 0), PKT_OPT_OK);
	assert_int_equal(OPTS4(&p, 68, 8, 4, 0, 0, 0, 0, 0), PKT_OPT_MALFORMED);
	assert_int_equal(OPTS4(&p, 68, 8, 9, 0xf0, 0, 0, 0, 0), PKT_OPT_MALFORMED);
	assert_int_equal(OPTS4(&p, 68, 8, 9, 0xe0, 0, 0, 0, 0), PKT_OPT_OK);
	assert_int_equal(OPTS4(&p, 68, 8, 5, 1, 0, 0, 0, 0), PKT_OPT_MALFORMED);
	assert_int_equal(OPTS4(&p, 68, 8, 5, 2, 0, 0, 0, 0), PKT_OPT_OK);
	/* router alert: at least 4 bytes */
	assert_int_equal(OPTS4(&p, 148, 4, 0, 0), PKT_OPT_OK);
	assert_int_equal(OPTS4(&p, 148, 3, 0, 1), PKT_OPT_MALFORMED);
	/* CIPSO: cipso_v4_validate() finds no DOI */
	assert_int_equal(OPTS4(&p, 134, 8, 0, 0, 0, 1, 0, 0), PKT_OPT_CIPSO);
	/* two source routes */
	assert_int_equal(OPTS4(&p, 131, 3, 4, 137, 3, 4, 0, 0), PKT_OPT_MALFORMED);
	/* unknown options pass on receive; END ends the list (what follows
	 * is not read) */
	assert_int_equal(OPTS4(&p, 0x99, 4, 0, 0), PKT_OPT_OK);
	assert_int_equal(OPTS4(&p, 0, 7, 1, 0), PKT_OPT_OK);
}

/* The header checksum test (ip_fast_csum() != 0 drops, ip_rcv_core) against
 * RFC 1071's 16-bit one's complement sum, on random headers with options:
 * valid ones, ones off by a bit, and sums that fold to 0x0000/0xffff. */
static uint16_t rfc1071_sum(const uint8_t *b, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void test_ipv4_checksum(void **state)
{
	uint64_t x = 88172645463325252ull;
	unsigned valid = 0, invalid = 0;

	(void)state;
	for (int it = 0; it < 20000; it++) {
		uint8_t h[60];
		size_t ihl;
		struct pkt p;
		uint16_t c;
		int want;

		for (size_t i = 0; i < sizeof(h); i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			h[i] = (uint8_t)x;
		}
		ihl = 20 + 4 * (size_t)(x % 11);
		h[0] = (uint8_t)(0x40 | ihl / 4);
		h[2] = 0;
		h[3] = (uint8_t)ihl;		/* total length: the header alone */
		h[6] = h[7] = 0;		/* no fragment */
		if (it % 3 != 2) {		/* make it valid */
			h[10] = h[11] = 0;
			c = (uint16_t)~rfc1071_sum(h, ihl);
			h[10] = (uint8_t)(c >> 8);
			h[11] = (uint8_t)c;
			if (it % 3 == 1)	/* then flip one bit outside the version/IHL */
				h[2 + (x >> 8) % (ihl - 2)] ^= (uint8_t)(1u << ((x >> 16) % 8));
		}
		want = rfc1071_sum(h, ihl) == 0xffff ? 0 : -1;
		assert_int_equal(pkt_decode(&p, DLT_RAW, h, ihl, ihl), want);
		if (want < 0) {
			assert_int_equal(p.cls, PKT_MALFORMED);
			invalid++;
		} else {
			valid++;
		}
	}
	/* both kinds really occurred */
	assert_true(valid > 5000 && invalid > 5000);

	/* words that sum to exactly 0xffffffff: the fold goes through 0x1fffe */
	{
		uint8_t h[20] = { 0x45, 0, 0, 20, 0x12, 0x34, 0, 0, 64, 6 };
		uint32_t w[5];
		uint64_t sum = 0;
		struct pkt p;

		memcpy(w, h, sizeof(h));
		for (int i = 0; i < 4; i++)
			sum += w[i];
		assert_true(sum < 0xffffffffu);
		w[4] = (uint32_t)(0xffffffffu - sum);
		memcpy(h, w, sizeof(h));
		assert_int_equal(rfc1071_sum(h, 20), 0xffff);
		assert_int_equal(pkt_decode(&p, DLT_RAW, h, 20, 20), 0);
	}
}

/* ip_rcv_core drops: ihl < 5, version != 4, tot_len < ihl, tot_len > skb->len,
 * bad header checksum: the hooks never see these. */
static void test_ipv4_malformed(void **state)
{
	struct pkt p;
	size_t n = tcp4("10.0.0.1", "192.0.2.1", NULL);

	memcpy(dg, ip, n);
	dg[0] = 0x44;		/* ihl 4 */
	assert_int_equal(pkt_decode(&p, DLT_RAW, dg, n, n), -1);
	assert_int_equal(p.cls, PKT_MALFORMED);
	assert_non_null(p.why);

	memcpy(dg, ip, n);
	dg[10] ^= 1;		/* checksum */
	assert_int_equal(pkt_decode(&p, DLT_RAW, dg, n, n), -1);
	assert_int_equal(p.cls, PKT_MALFORMED);

	memcpy(dg, ip, n);	/* tot_len beyond the frame */
	assert_int_equal(pkt_decode(&p, DLT_RAW, dg, n - 1, n - 1), -1);
	assert_int_equal(p.cls, PKT_MALFORMED);

	memcpy(dg, ip, n);	/* short capture of a complete frame: kept */
	assert_int_equal(pkt_decode(&p, DLT_RAW, dg, 30, n), 0);
	assert_int_equal(p.cls, PKT_TRUNCATED);
	assert_int_equal(p.len, 40);
	assert_int_equal(p.avail, 30);
	assert_true(p.tprot_set);

	assert_int_equal(pkt_decode(&p, DLT_RAW, dg, 19, n), -1);
	assert_int_equal(p.cls, PKT_TRUNCATED);

	/* link padding beyond tot_len is trimmed (pskb_trim_rcsum) */
	memset(dg + n, 0, 10);
	assert_int_equal(pkt_decode(&p, DLT_RAW, dg, n + 10, n + 10), 0);
	assert_int_equal(p.len, 40);
	assert_int_equal(p.avail, 40);
}

/* Non-first IPv4 fragment: the kernel still sets NFT_PKTINFO_L4PROTO and tprot;
 * pkt->fragoff (bytes) is what makes transport loads break. */
static void test_ipv4_fragments(void **state)
{
	uint8_t pay[100] = { 0 };
	struct pg_ipopt o = { .id = 0x1234 };
	size_t l = pg_udp(l4, 5000, 53, pay, sizeof(pay));
	size_t d = pg_ip4(dg, "10.0.0.1", "192.0.2.1", 17, l4, l, &o);
	struct pkt p;
	size_t n;

	n = pg_ip4_frag(fr, dg, 0, 64, true);
	assert_int_equal(pkt_decode(&p, DLT_RAW, fr, n, n), 0);
	assert_true(p.is_frag);
	assert_true(p.frag_mf);
	assert_int_equal(p.fragoff, 0);
	assert_true(p.tprot_set);
	assert_int_equal(p.frag_id, 0x1234);

	n = pg_ip4_frag(fr, dg, 64, d - 20 - 64, false);
	assert_int_equal(pkt_decode(&p, DLT_RAW, fr, n, n), 0);
	assert_true(p.is_frag);
	assert_false(p.frag_mf);
	assert_int_equal(p.fragoff, 64);
	assert_int_equal(p.frag_offset, 64);
	assert_true(p.tprot_set);
	assert_int_equal(p.l4proto, 17);
	assert_int_equal(p.frag_data_off, 20);
}

/* nft_set_pktinfo_ipv6 → ipv6_find_hdr(…, -1, …, IP6_FH_F_AUTH): hop-by-hop,
 * destination options and routing headers are skipped. */
static void test_ipv6_exthdrs(void **state)
{
	struct pg_ipopt o = { .hbh = true, .dstopt = true, .routing = true };
	struct pkt p;
	size_t n = pg_eth(fr, ip, tcp6(&o));

	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, n, n), 0);
	assert_int_equal(p.cls, PKT_OK);
	assert_int_equal(p.nfproto, NFPROTO_IPV6);
	assert_true(p.tprot_set);
	assert_int_equal(p.l4proto, 6);
	assert_int_equal(p.th_off, 14 + 40 + 24);
	assert_int_equal(p.len, 40 + 24 + 20);
}

/* ipv6_find_hdr: a non-first fragment reports the fragment header's next
 * header (fragoff set); the first fragment is walked through. */
static void test_ipv6_fragments(void **state)
{
	uint8_t pay[100] = { 0 };
	size_t l = pg_udp(l4, 5000, 53, pay, sizeof(pay));
	size_t d = pg_ip6(dg, "fd00::1", "2001:db8::2", 17, l4, l, NULL);
	struct pkt p;
	size_t n;

	n = pg_ip6_frag(fr, dg, 0, 56, true, 77);
	assert_int_equal(pkt_decode(&p, DLT_RAW, fr, n, n), 0);
	assert_true(p.is_frag);
	assert_true(p.tprot_set);
	assert_int_equal(p.l4proto, 17);
	assert_int_equal(p.th_off, 48);
	assert_int_equal(p.fragoff, 0);
	assert_int_equal(p.frag_id, 77);
	assert_int_equal(p.frag_hdr_off, 40);

	n = pg_ip6_frag(fr, dg, 56, d - 40 - 56, false, 77);
	assert_int_equal(pkt_decode(&p, DLT_RAW, fr, n, n), 0);
	assert_true(p.tprot_set);
	assert_int_equal(p.l4proto, 17);
	assert_int_equal(p.fragoff, 56);
	assert_int_equal(p.frag_offset, 56);

	/* non-first fragment whose next header is an extension header: -ENOENT */
	fr[40] = 60;
	assert_int_equal(pkt_decode(&p, DLT_RAW, fr, n, n), 0);
	assert_false(p.tprot_set);
}

/* IP6_FH_F_AUTH: the walk stops at AH and reports it; ESP and NONE are "last
 * headers" reported as the protocol. */
static void test_ipv6_ah_esp_none(void **state)
{
	uint8_t ah[24] = { 6, 4 };	/* next TCP, (4+2)*4 = 24 bytes */
	struct pkt p;
	size_t n;

	n = pg_ip6(ip, "fd00::1", "fd00::2", 51, ah, sizeof(ah), NULL);
	assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), 0);
	assert_true(p.tprot_set);
	assert_int_equal(p.l4proto, 51);
	assert_int_equal(p.th_off, 40);

	n = pg_ip6(ip, "fd00::1", "fd00::2", 50, ah, 16, NULL);
	assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), 0);
	assert_int_equal(p.l4proto, 50);

	n = pg_ip6(ip, "fd00::1", "fd00::2", 59, NULL, 0, NULL);
	assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), 0);
	assert_true(p.tprot_set);
	assert_int_equal(p.l4proto, 59);
	assert_int_equal(p.th_off, 40);
}

/* An extension header running past skb->len: -EBADMSG, L4PROTO unset, but the
 * packet still goes through the hooks (a destination options header: one
 * the kernel parses only after the input hook).  A hop-by-hop header is
 * parsed in ip6_rcv_core() before prerouting: past the packet, it is
 * dropped there (test_ipv6_hop_by_hop). */
static void test_ipv6_bad_chain(void **state)
{
	struct pkt p;
	size_t n = pg_ip6(ip, "fd00::1", "fd00::2", 60, NULL, 0, NULL);

	assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), 0);
	assert_false(p.tprot_set);
	assert_int_equal(p.cls, PKT_MALFORMED);

	ip[6] = 0;
	assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), -1);
	assert_string_equal(p.why, "IPv6 hop-by-hop header beyond the packet");
	ip[6] = 60;

	/* IPv6 payload length beyond the frame: ipv6_rcv drops it */
	ip[5] = 200;
	assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), -1);
	assert_int_equal(p.cls, PKT_MALFORMED);
}

/* IPv6 fd00::1 > fd00::2, a hop-by-hop header (body: its bytes after the
 * next-header byte, hdrlen first) and a TCP SYN; plen0: payload length 0. */
static size_t hbh6(const uint8_t *body, size_t blen, bool plen0)
{
	size_t l = pg_tcp(l4, 40000, 443, 1, 0, PG_SYN, 64240, NULL, NULL, 0);
	size_t n = pg_ip6(ip, "fd00::1", "fd00::2", 6, NULL, 0, NULL);

	ip[6] = 0;
	ip[40] = 6;
	memcpy(ip + 41, body, blen);
	memcpy(ip + 41 + blen, l4, l);
	n += 1 + blen + l;
	pg_w16(ip + 4, plen0 ? 0 : (uint16_t)(n - 40));
	return n;
}

static int hbh_decode(struct pkt *p, const uint8_t *body, size_t blen, bool plen0)
{
	size_t n = hbh6(body, blen, plen0);

	return pkt_decode(p, DLT_RAW, ip, n, n);
}

#define HBH(p, ...) ({ static const uint8_t b_[] = { __VA_ARGS__ }; \
		       hbh_decode(p, b_, sizeof(b_), false); })

/* ip6_rcv_core() parses the hop-by-hop header before NF_INET_PRE_ROUTING
 * (ipv6_parse_hopopts(), ip6_parse_tlv(), net/ipv6/exthdrs.c) and drops the
 * packet on a failed check: no filter hook sees it (-1).  The kernel check
 * case tests/data/agree/ipv6-hop-by-hop.pcap plays the same against a kernel. */
static void test_ipv6_hop_by_hop(void **state)
{
	struct pkt p;

	/* PadN(4): judged; the transport after the 8-byte header */
	assert_int_equal(HBH(&p, 0, 1, 4, 0, 0, 0, 0), 0);
	assert_int_equal(p.cls, PKT_OK);
	assert_int_equal(p.l4proto, 6);
	assert_int_equal(p.th_off, 48);
	/* "RFC 4942 recommends receiving hosts to actively check PadN payload
	 * to contain only zeroes" */
	assert_int_equal(HBH(&p, 0, 1, 4, 0, 0, 7, 0), -1);
	assert_string_equal(p.why, "hop-by-hop PadN option not all zeros");
	/* padlen > 7: 14 Pad1 in a 16-byte header */
	assert_int_equal(HBH(&p, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), -1);
	assert_string_equal(p.why, "hop-by-hop padding over 7 bytes");
	/* 6 Pad1: padlen 6, fine */
	assert_int_equal(HBH(&p, 0, 0, 0, 0, 0, 0, 0), 0);
	/* an option running past its header */
	assert_int_equal(HBH(&p, 0, 0x1e, 9, 0, 0, 0, 0), -1);
	assert_string_equal(p.why, "hop-by-hop option beyond its header");
	/* ipv6_hop_ra(): nh[optoff + 1] == 2, else dropped */
	assert_int_equal(HBH(&p, 0, 5, 2, 0, 0, 1, 0), 0);
	assert_int_equal(HBH(&p, 0, 5, 3, 0, 0, 0, 0), -1);
	assert_string_equal(p.why, "hop-by-hop router alert not 2 bytes long");
	/* ip6_tlvopt_unknown(): the type's two high bits */
	assert_int_equal(HBH(&p, 0, 0x1e, 0, 1, 2, 0, 0), 0);
	assert_int_equal(HBH(&p, 0, 0x5e, 0, 1, 2, 0, 0), -1);
	assert_int_equal(HBH(&p, 0, 0x9e, 0, 1, 2, 0, 0), -1);
	assert_int_equal(HBH(&p, 0, 0xde, 0, 1, 2, 0, 0), -1);
	assert_string_equal(p.why, "unknown hop-by-hop option whose type says discard");
	/* tlv_count > max_hbh_opts_cnt (8): 8 options fine, 9 not */
	assert_int_equal(HBH(&p, 2, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0,
			     0x1e, 0, 1, 4, 0, 0, 0, 0), 0);
	assert_int_equal(HBH(&p, 2, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0,
			     0x1e, 0, 0x1e, 0, 1, 2, 0, 0), -1);
	assert_string_equal(p.why, "more than 8 hop-by-hop options (net.ipv6.max_hbh_opts_number)");
	/* ipv6_hop_ioam(): "Bad alignment (must be 4n-aligned)" first; then
	 * ignored while ioam6_enabled is 0 */
	assert_int_equal(HBH(&p, 0, 0, 0, 49, 2, 0, 0), 0);
	assert_int_equal(HBH(&p, 0, 49, 2, 0, 0, 1, 0), -1);
	assert_string_equal(p.why, "hop-by-hop IOAM option misaligned");
	/* ipv6_hop_calipso(): calipso_validate() finds no DOI */
	assert_int_equal(HBH(&p, 1, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0), -1);
	/* ipv6_hop_jumbo(): length 4 at 4n+2, payload length 0, > 65535 */
	assert_int_equal(HBH(&p, 0, 194, 4, 0, 1, 0, 0), -1);
	assert_string_equal(p.why, "jumbo payload option with a non-zero payload length");
	assert_int_equal(HBH(&p, 1, 0, 194, 4, 0, 1, 0, 0, 1, 5, 0, 0, 0, 0, 0), -1);	/* at 43 */
	assert_string_equal(p.why, "jumbo payload option of wrong length or alignment");
	assert_int_equal(HBH(&p, 0, 194, 3, 0, 1, 0, 0), -1);		/* 3 bytes */
	assert_string_equal(p.why, "jumbo payload option of wrong length or alignment");
	{
		static const uint8_t small[] = { 0, 194, 4, 0, 0, 1, 0 };
		static const uint8_t big[] = { 0, 194, 4, 0, 1, 0, 0 };
		static const uint8_t none[] = { 0, 1, 4, 0, 0, 0, 0 };
		static uint8_t jumbo[70000 + 40];
		size_t n;

		assert_int_equal(hbh_decode(&p, small, sizeof(small), true), -1);
		assert_string_equal(p.why, "jumbo payload length of 65,535 bytes or less");
		/* 65,536 announced, the frame shorter: INTRUNCATEDPKTS */
		assert_int_equal(hbh_decode(&p, big, sizeof(big), true), -1);
		assert_string_equal(p.why, "jumbo payload length exceeds the frame");
		/* a whole jumbogram: skb->len from the option, then trimmed to it
		 * (the frame is 64 bytes longer: padding) */
		n = hbh6(big, sizeof(big), true);
		memcpy(jumbo, ip, n);
		assert_int_equal(pkt_decode(&p, DLT_RAW, jumbo, 40 + 65536 + 64, 40 + 65536 + 64), 0);
		assert_int_equal(p.len, 40 + 65536);
		assert_int_equal(p.l4proto, 6);
		/* payload length 0 without a jumbo option: not trimmed, the
		 * whole frame is the packet */
		n = hbh6(none, sizeof(none), true);
		assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n + 10, n + 10), 0);
		assert_int_equal(p.len, n + 10);
	}
	/* the capture cuts the header: judged, the outcome open */
	{
		size_t n = hbh6((const uint8_t[]){ 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
				15, false);

		assert_int_equal(pkt_decode(&p, DLT_RAW, ip, 50, n), 0);
		assert_true(p.hbh_cut);
		assert_int_equal(p.cls, PKT_TRUNCATED);
	}
	/* RFC 4291 2.7 in ip6_rcv_core(): a multicast source; a multicast
	 * destination of scope 0 */
	{
		size_t n = hbh6((const uint8_t[]){ 0, 1, 4, 0, 0, 0, 0 }, 7, false);

		ip[8] = 0xff;
		assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), -1);
		assert_string_equal(p.why, "IPv6 multicast source address");
		ip[8] = 0xfd;
		ip[24] = 0xff;
		ip[25] = 0x00;
		assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), -1);
		assert_string_equal(p.why, "IPv6 multicast destination of scope 0");
		ip[25] = 0x02;
		assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), 0);
	}
}

/* ip6_rcv_core(): "A packet received on an interface with a destination
 * address of loopback must be dropped" (RFC 4291 2.5.3), the loopback source
 * too, and interface-local multicast "received from another node" (Errata
 * 3480) -- unless the device is lo, which the link layer shows: all-zero
 * Ethernet addresses, a cooked header's ARPHRD_LOOPBACK. */
static void test_ipv6_loopback_wire(void **state)
{
	struct pkt p;
	size_t l = pg_udp(l4, 5000, 53, NULL, 0), n, f;

	(void)state;
	n = pg_ip6(ip, "::1", "fd00::2", 17, l4, l, NULL);
	f = pg_eth(fr, ip, n);
	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, f, f), -1);
	assert_string_equal(p.why, "IPv6 loopback address on a device other than lo");
	memset(fr, 0, 12);				/* lo's header */
	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, f, f), 0);
	f = pg_sll(fr, 0, ip, n);			/* ARPHRD_ETHER */
	assert_int_equal(pkt_decode(&p, DLT_LINUX_SLL, fr, f, f), -1);
	pg_w16(fr + 2, 772);				/* ARPHRD_LOOPBACK */
	assert_int_equal(pkt_decode(&p, DLT_LINUX_SLL, fr, f, f), 0);
	assert_int_equal(pkt_decode(&p, DLT_RAW, ip, n, n), 0);	/* no link layer: unknown */

	n = pg_ip6(ip, "fd00::1", "::1", 17, l4, l, NULL);
	f = pg_eth(fr, ip, n);
	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, f, f), -1);
	n = pg_ip6(ip, "fd00::1", "ff01::1", 17, l4, l, NULL);
	f = pg_eth(fr, ip, n);
	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, f, f), -1);
	assert_string_equal(p.why, "interface-local IPv6 multicast on a device other than lo");
	n = pg_ip6(ip, "fd00::1", "ff02::1", 17, l4, l, NULL);
	f = pg_eth(fr, ip, n);
	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, f, f), 0);
}

/* 802.1Q and 802.1ad/QinQ tags before the network header */
static void test_vlan(void **state)
{
	static const uint16_t tp[] = { 0x88a8, 0x8100 }, tci[] = { 100, 200 };
	struct pkt p;
	size_t ipn = tcp4("10.0.0.1", "10.0.0.2", NULL);
	size_t n = pg_eth_vlan(fr, ip, ipn, tp, tci, 2);

	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, n, n), 0);
	assert_int_equal(p.nh_off, 22);
	assert_int_equal(p.vlan_depth, 2);
	assert_int_equal(p.vlan_tci, 100);
	assert_int_equal(p.l4proto, 6);

	assert_int_equal(pkt_decode(&p, DLT_EN10MB, fr, 16, n), -1);
	assert_int_equal(p.cls, PKT_TRUNCATED);
}

/* SLL / SLL2 packet types are the kernel's PACKET_* values */
static void test_sll(void **state)
{
	struct pkt p;
	size_t ipn = tcp6(NULL);
	size_t n = pg_sll(fr, PACKET_OUTGOING, ip, ipn);

	assert_int_equal(pkt_decode(&p, DLT_LINUX_SLL, fr, n, n), 0);
	assert_int_equal(p.nh_off, 16);
	assert_int_equal(p.pcap_dir, 2);
	assert_int_equal(p.nfproto, NFPROTO_IPV6);
	assert_false(p.has_ll);

	n = pg_sll2(fr, PACKET_BROADCAST, 3, ip, ipn);
	assert_int_equal(pkt_decode(&p, DLT_LINUX_SLL2, fr, n, n), 0);
	assert_int_equal(p.nh_off, 20);
	assert_int_equal(p.pcap_dir, 1);
	assert_int_equal(p.pkttype, PACKET_BROADCAST);
	assert_int_equal(p.l4proto, 6);
}

/* DLT_NULL (host order) and DLT_LOOP (network order); AF_INET6 24/28/30/10 */
static void test_null_loop(void **state)
{
	static const uint32_t afs6[] = { 10, 24, 28, 30 };
	struct pkt p;
	size_t ipn = tcp4("127.0.0.1", "127.0.0.1", NULL);
	size_t n = pg_null(fr, 2, false, ip, ipn);

	assert_int_equal(pkt_decode(&p, DLT_NULL, fr, n, n), 0);
	assert_int_equal(p.nfproto, NFPROTO_IPV4);
	n = pg_null(fr, 2, true, ip, ipn);
	assert_int_equal(pkt_decode(&p, DLT_LOOP, fr, n, n), 0);
	assert_int_equal(p.nfproto, NFPROTO_IPV4);

	ipn = tcp6(NULL);
	for (size_t i = 0; i < 4; i++) {
		n = pg_null(fr, afs6[i], i & 1, ip, ipn);
		assert_int_equal(pkt_decode(&p, DLT_NULL, fr, n, n), 0);
		assert_int_equal(p.nfproto, NFPROTO_IPV6);
	}
	n = pg_null(fr, 7, false, ip, ipn);
	assert_int_equal(pkt_decode(&p, DLT_NULL, fr, n, n), -1);
	assert_int_equal(p.cls, PKT_NOT_IP);
}

static void test_raw_and_misc(void **state)
{
	static const uint8_t arp[42] = { [12] = 0x08, [13] = 0x06 };
	struct pkt p;
	size_t ipn = tcp6(NULL);

	assert_int_equal(pkt_decode(&p, DLT_IPV6, ip, ipn, ipn), 0);
	assert_int_equal(pkt_decode(&p, DLT_IPV4, ip, ipn, ipn), -1);
	assert_int_equal(p.cls, PKT_MALFORMED);
	assert_int_equal(pkt_decode(&p, DLT_EN10MB, arp, sizeof(arp), sizeof(arp)), -1);
	assert_int_equal(p.cls, PKT_NOT_IP);
	assert_int_equal(pkt_decode(&p, 147, arp, sizeof(arp), sizeof(arp)), -1);
	assert_int_equal(p.cls, PKT_UNSUPPORTED_LINK);
	assert_int_equal(pkt_decode(&p, DLT_RAW, NULL, 0, 0), -1);
	assert_int_equal(pkt_decode(&p, DLT_EN10MB, arp, 0, 60), -1);
	assert_int_equal(p.cls, PKT_TRUNCATED);
}

/* Decode every prefix length of a frame: exercises each bounds check. */
static void check_all_prefixes(int dlt, const uint8_t *f, size_t n)
{
	struct pkt p;

	for (size_t c = 0; c <= n; c++) {
		uint8_t *copy = malloc(c ? c : 1);

		assert_non_null(copy);
		memcpy(copy, f, c);
		pkt_decode(&p, dlt, copy, c, n);
		assert_true(p.cls == PKT_OK || p.why != NULL);
		if (p.cls == PKT_OK || p.cls == PKT_TRUNCATED)
			assert_true(p.avail <= c);
		free(copy);
	}
}

static void test_prefixes(void **state)
{
	struct pg_ipopt o = { .hbh = true, .dstopt = true, .routing = true };
	static const uint16_t tp[] = { 0x8100 }, tci[] = { 5 };
	size_t n = tcp6(&o);

	n = pg_eth_vlan(fr, ip, n, tp, tci, 1);
	check_all_prefixes(DLT_EN10MB, fr, n);
	n = tcp4("10.1.1.1", "10.2.2.2", NULL);
	n = pg_sll2(fr, 0, 1, ip, n);
	check_all_prefixes(DLT_LINUX_SLL2, fr, n);
}

/* Every packet of every capture of tcpdump's regression suite: no read beyond
 * caplen (ASan/valgrind tell), a class and a reason for each. */
static void test_tcpdump_corpus(void **state)
{
	const char *dir = "../shared/data/pcaps/tcpdump";
	unsigned long files = 0, frames = 0, decoded = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		d = opendir("/work/shared/data/pcaps/tcpdump");
		dir = "/work/shared/data/pcaps/tcpdump";
	}
	if (!d) {
		print_message("SKIP: %s not found (no shared data in this checkout)\n", dir);
		skip();
	}
	while ((de = readdir(d))) {
		char path[4096], err[PCAP_ERRBUF_SIZE];
		struct pcap_pkthdr *h;
		const u_char *data;
		pcap_t *pc;
		int dlt, r;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		pc = pcap_open_offline(path, err);
		if (!pc)
			continue;	/* file-level error: the caller reports it */
		files++;
		dlt = pcap_datalink(pc);
		while ((r = pcap_next_ex(pc, &h, &data)) >= 0) {
			struct pkt p;
			uint8_t *copy;

			if (r == 0)
				continue;
			frames++;
			/* an exact-size heap copy so that ASan sees any overread */
			copy = malloc(h->caplen ? h->caplen : 1);
			assert_non_null(copy);
			memcpy(copy, data, h->caplen);
			if (pkt_decode(&p, dlt, copy, h->caplen, h->len) == 0) {
				decoded++;
				assert_true(p.avail <= h->caplen - p.nh_off);
				assert_true(!p.tprot_set || p.th_off >= p.nh_off);
			}
			assert_true(p.cls == PKT_OK || p.why != NULL);
			free(copy);
		}
		pcap_close(pc);
	}
	closedir(d);
	print_message("tcpdump corpus: %lu files, %lu frames, %lu reach the hooks\n",
		      files, frames, decoded);
	assert_true(files > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_ipv4_tcp),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_option_checks),
		cmocka_unit_test(test_ipv4_malformed),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv6_exthdrs),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_ipv6_ah_esp_none),
		cmocka_unit_test(test_ipv6_bad_chain),
		cmocka_unit_test(test_ipv6_hop_by_hop),
		cmocka_unit_test(test_ipv6_loopback_wire),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_sll),
		cmocka_unit_test(test_null_loop),
		cmocka_unit_test(test_ipv4_checksum),
		cmocka_unit_test(test_raw_and_misc),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_tcpdump_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
