/* test_replay_captures — the golden captures of pcap-replay (tests/data/replay/)
 * and the generator that writes them.
 *
 * Each capture is built here from tests/unit/pcapgen.h; the test writes it to
 * a scratch directory and compares it byte for byte with the committed file,
 * so the .pcap files can never drift from their description below.  After a
 * deliberate change:  PCAPGEN_UPDATE=1 build/tests/test_replay_captures
 * (run from the project root) rewrites the .pcap files in tests/data/replay.
 *
 * The host is 10.0.1.4 / fd00:10::4 inside examples/policy.yaml's address
 * space; peers use only documentation ranges and examples/servicetags.json:
 *   AzureMachineLearning 192.0.2.0/28, 2001:db8:1::/48
 *   BatchNodeManagement  192.0.2.16/28
 *   Storage.EastUS       198.51.100.0/26, 2001:db8:3::/56
 *   partner-api          203.0.113.128/25
 * tests/data/replay/expect.txt states what the example policy must do with
 * every flow; tests/live/t_replay.sh checks it through pcap-replay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pcapgen.h"

#define DATA_DIR "tests/data/replay"

#define HOST4 "10.0.1.4"
#define HOST6 "fd00:10::4"

enum link { LINK_ETH, LINK_VLAN, LINK_SLL };

struct gen {
	struct pg_writer w;
	enum link link;
	long usec;		/* running timestamp */
	uint8_t l4[PG_MAX], ip[PG_MAX], fr[PG_MAX];
};

static void gen_open(struct gen *g, const char *dir, const char *name, enum link link)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	g->link = link;
	g->usec = 0;
	assert_int_equal(pg_open(&g->w, path, link == LINK_SLL ? DLT_LINUX_SLL : DLT_EN10MB), 0);
}

/* Writes one IP packet; out says whether the host sent it (SLL packet type). */
static void put_ip(struct gen *g, const uint8_t *ip, size_t len, bool out)
{
	static const uint16_t tpid[1] = { 0x8100 }, tci[1] = { 100 };
	size_t n;

	switch (g->link) {
	case LINK_VLAN:
		n = pg_eth_vlan(g->fr, ip, len, tpid, tci, 1);
		break;
	case LINK_SLL:
		n = pg_sll(g->fr, out ? 4 : 0, ip, len);
		break;
	default:
		n = pg_eth(g->fr, ip, len);
	}
	g->usec += 1000;
	pg_write(&g->w, 1700000000 + g->usec / 1000000, g->usec % 1000000, g->fr, n);
}

static size_t mk_ip(struct gen *g, const char *src, const char *dst, uint8_t proto,
		    size_t l4len, const struct pg_ipopt *o)
{
	if (pg_family(src) == AF_INET6)
		return pg_ip6(g->ip, src, dst, proto, g->l4, l4len, o);
	return pg_ip4(g->ip, src, dst, proto, g->l4, l4len, o);
}

static void tcp(struct gen *g, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		uint32_t seq, uint32_t ack, uint8_t flags, size_t plen, bool out)
{
	static const struct pg_tcpopt syn_opt = { .mss = 1460, .wscale = 7, .sack_perm = true };
	static const char payload[64] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
	size_t n = pg_tcp(g->l4, sp, dp, seq, ack, flags, 64240,
			  (flags & PG_SYN) ? &syn_opt : NULL, payload, plen);

	n = mk_ip(g, src, dst, 6, n, NULL);
	put_ip(g, g->ip, n, out);
}

/* A whole TCP connection: handshake, one request, FIN both ways.  Without a
 * reply (refused by the policy), the SYN is sent twice. */
static void tcp_conn(struct gen *g, const char *cli, uint16_t cp, const char *srv, uint16_t sp,
		     bool reply, bool host_is_client)
{
	const uint32_t c = 1000, s = 5000;
	bool o = host_is_client;

	tcp(g, cli, cp, srv, sp, c, 0, PG_SYN, 0, o);
	if (!reply) {
		tcp(g, cli, cp, srv, sp, c, 0, PG_SYN, 0, o);	/* retransmission */
		return;
	}
	tcp(g, srv, sp, cli, cp, s, c + 1, PG_SYN | PG_ACK, 0, !o);
	tcp(g, cli, cp, srv, sp, c + 1, s + 1, PG_ACK, 0, o);
	tcp(g, cli, cp, srv, sp, c + 1, s + 1, PG_PSH | PG_ACK, 10, o);
	tcp(g, srv, sp, cli, cp, s + 1, c + 11, PG_ACK, 0, !o);
	tcp(g, cli, cp, srv, sp, c + 11, s + 1, PG_FIN | PG_ACK, 0, o);
	tcp(g, srv, sp, cli, cp, s + 1, c + 12, PG_FIN | PG_ACK, 0, !o);
	tcp(g, cli, cp, srv, sp, c + 12, s + 2, PG_ACK, 0, o);
}

static size_t udp_ip(struct gen *g, const char *src, uint16_t sp, const char *dst,
		     uint16_t dp, size_t plen, const struct pg_ipopt *o)
{
	uint8_t payload[2048];
	size_t n;

	for (size_t i = 0; i < plen && i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	n = pg_udp(g->l4, sp, dp, payload, plen);
	return mk_ip(g, src, dst, 17, n, o);
}

static void udp(struct gen *g, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		size_t plen, bool out)
{
	size_t n = udp_ip(g, src, sp, dst, dp, plen, NULL);

	put_ip(g, g->ip, n, out);
}

/* ---- the captures ---------------------------------------------------------- */

/* TCP connections in and out, IPv4 and IPv6, allowed and refused. */
static void gen_tcp(const char *dir)
{
	struct gen g;

	gen_open(&g, dir, "tcp.pcap", LINK_ETH);
	/* inbound */
	tcp_conn(&g, "192.0.2.5", 40001, HOST4, 44224, true, false);	/* AzureML: allow */
	tcp_conn(&g, "192.0.2.20", 40002, HOST4, 29876, true, false);	/* Batch: allow */
	tcp_conn(&g, "203.0.113.7", 40003, HOST4, 22, false, false);	/* ssh from Internet: deny */
	tcp_conn(&g, "203.0.113.8", 40004, HOST4, 8080, false, false);	/* DenyAllInBound */
	tcp_conn(&g, "10.0.3.9", 40005, HOST4, 8080, true, false);	/* vnet: allow */
	tcp_conn(&g, "2001:db8:1::5", 40006, HOST6, 44224, true, false);	/* AzureML v6 */
	/* outbound */
	tcp_conn(&g, HOST4, 50001, "198.51.100.10", 443, true, true);	/* Storage.EastUS */
	tcp_conn(&g, HOST4, 50002, "203.0.113.200", 443, true, true);	/* partner-api */
	tcp_conn(&g, HOST4, 50003, "203.0.113.9", 445, false, true);	/* SMB to Internet: deny */
	tcp_conn(&g, HOST4, 50004, "198.51.100.200", 80, false, true);	/* not approved: deny */
	tcp_conn(&g, HOST4, 50005, "10.0.2.5", 443, true, true);	/* private endpoint */
	tcp_conn(&g, HOST6, 50006, "2001:db8:3::10", 443, true, true);	/* Storage.EastUS v6 */
	/* a closed port in the vnet: SYN, RST|ACK (the RST kills the entry,
	 * nf_conntrack_proto_tcp "only reply was a RST"; it is one flow) */
	tcp(&g, HOST4, 50007, "10.0.3.9", 9999, 1000, 0, PG_SYN, 0, true);
	tcp(&g, "10.0.3.9", 9999, HOST4, 50007, 0, 1001, PG_RST | PG_ACK, 0, false);
	pg_close(&g.w);
}

/* Connections already running when the capture started (no SYN seen). */
static void gen_midstream(const char *dir)
{
	struct gen g;

	gen_open(&g, dir, "midstream.pcap", LINK_ETH);
	tcp(&g, HOST4, 50010, "198.51.100.11", 443, 7000, 9000, PG_PSH | PG_ACK, 20, true);
	tcp(&g, "198.51.100.11", 443, HOST4, 50010, 9000, 7020, PG_ACK, 0, false);
	tcp(&g, HOST4, 50010, "198.51.100.11", 443, 7020, 9000, PG_PSH | PG_ACK, 20, true);
	tcp(&g, "203.0.113.50", 5555, HOST4, 22, 100, 200, PG_PSH | PG_ACK, 10, false);
	tcp(&g, "203.0.113.50", 5555, HOST4, 22, 110, 200, PG_PSH | PG_ACK, 10, false);
	pg_close(&g.w);
}

/* UDP request/response, allowed and refused. */
static void gen_udp(const char *dir)
{
	struct gen g;

	gen_open(&g, dir, "udp.pcap", LINK_ETH);
	udp(&g, HOST4, 40100, "192.0.2.5", 5831, 32, true);	/* AzureML udp 5831 */
	udp(&g, "192.0.2.5", 5831, HOST4, 40100, 64, false);
	udp(&g, HOST4, 40100, "192.0.2.5", 5831, 32, true);
	udp(&g, HOST4, 40101, "198.51.100.20", 53, 40, true);	/* DNS to the Internet: deny */
	udp(&g, "203.0.113.60", 40102, HOST4, 5000, 16, false);	/* inbound: deny */
	udp(&g, "2001:db8:1::7", 40103, HOST6, 5000, 16, false);	/* inbound v6: deny */
	pg_close(&g.w);
}

/* DHCP answers: from Azure's DHCP service (168.63.129.16, offline only: not a
 * test address for live traffic) accepted by platform:in:dhcp; the same from
 * an Internet address with source port 67 dropped (a first compile accepted
 * it: any source with port 67). */
static void gen_dhcp(const char *dir)
{
	struct gen g;

	gen_open(&g, dir, "dhcp.pcap", LINK_ETH);
	udp(&g, "168.63.129.16", 67, HOST4, 68, 300, false);
	udp(&g, "203.0.113.61", 67, HOST4, 68, 300, false);
	pg_close(&g.w);
}

/* ICMP: echo in the vnet, an error quoting a live flow (related), an error
 * quoting nothing (invalid), an inbound ICMPv6 echo. */
static void gen_icmp(const char *dir)
{
	struct gen g;
	uint8_t orig[128];
	size_t n, on;

	gen_open(&g, dir, "icmp.pcap", LINK_ETH);
	n = pg_icmp(g.l4, 8, 0, 0x12340001, "ping", 4);
	n = pg_ip4(g.ip, HOST4, "10.0.3.9", 1, g.l4, n, NULL);
	put_ip(&g, g.ip, n, true);
	n = pg_icmp(g.l4, 0, 0, 0x12340001, "ping", 4);
	n = pg_ip4(g.ip, "10.0.3.9", HOST4, 1, g.l4, n, NULL);
	put_ip(&g, g.ip, n, false);

	/* a UDP flow out, then the peer's port unreachable quoting it */
	udp(&g, HOST4, 40200, "192.0.2.5", 5831, 32, true);
	on = udp_ip(&g, HOST4, 40200, "192.0.2.5", 5831, 32, NULL);
	memcpy(orig, g.ip, 28);
	(void)on;
	n = pg_icmp(g.l4, 3, 3, 0, orig, 28);
	n = pg_ip4(g.ip, "192.0.2.5", HOST4, 1, g.l4, n, NULL);
	put_ip(&g, g.ip, n, false);

	/* an error quoting a flow that never existed */
	on = udp_ip(&g, HOST4, 40201, "203.0.113.70", 9999, 8, NULL);
	memcpy(orig, g.ip, 28);
	n = pg_icmp(g.l4, 3, 1, 0, orig, 28);
	n = pg_ip4(g.ip, "203.0.113.1", HOST4, 1, g.l4, n, NULL);
	put_ip(&g, g.ip, n, false);

	/* ICMPv6 echo request from the Internet */
	n = pg_icmp(g.l4, 128, 0, 0x43210001, "ping", 4);
	n = pg_ip6(g.ip, "2001:db8::99", HOST6, 58, g.l4, n, NULL);
	put_ip(&g, g.ip, n, false);
	pg_close(&g.w);
}

/* IPv4 fragments: an allowed datagram in order, a refused one out of order. */
static void gen_frag4(const char *dir)
{
	struct gen g;
	uint8_t dg[PG_MAX];
	struct pg_ipopt o = { .id = 0x4242 };
	size_t n, len;

	gen_open(&g, dir, "frag4.pcap", LINK_ETH);
	len = udp_ip(&g, HOST4, 40300, "192.0.2.5", 5831, 1200, &o);	/* 8 + 1200 */
	memcpy(dg, g.ip, len);
	n = pg_ip4_frag(g.ip, dg, 0, 512, true);
	put_ip(&g, g.ip, n, true);
	n = pg_ip4_frag(g.ip, dg, 512, 512, true);
	put_ip(&g, g.ip, n, true);
	n = pg_ip4_frag(g.ip, dg, 1024, 1208 - 1024, false);
	put_ip(&g, g.ip, n, true);

	o.id = 0x4343;
	len = udp_ip(&g, "203.0.113.80", 40301, HOST4, 9999, 1000, &o);	/* 8 + 1000 */
	memcpy(dg, g.ip, len);
	n = pg_ip4_frag(g.ip, dg, 504, 1008 - 504, false);		/* last first */
	put_ip(&g, g.ip, n, false);
	n = pg_ip4_frag(g.ip, dg, 0, 504, true);
	put_ip(&g, g.ip, n, false);
	pg_close(&g.w);
}

/* IPv6 extension headers: hop-by-hop before TCP, and fragment headers. */
static void gen_ipv6_ext(const char *dir)
{
	struct gen g;
	uint8_t dg[PG_MAX];
	struct pg_ipopt hbh = { .hbh = true };
	size_t n, len;

	gen_open(&g, dir, "ipv6-ext.pcap", LINK_ETH);
	/* hop-by-hop: SYN from AzureML to 44224, reply without */
	n = pg_tcp(g.l4, 40400, 44224, 1000, 0, PG_SYN, 64240, NULL, NULL, 0);
	n = pg_ip6(g.ip, "2001:db8:1::5", HOST6, 6, g.l4, n, &hbh);
	put_ip(&g, g.ip, n, false);
	tcp(&g, HOST6, 44224, "2001:db8:1::5", 40400, 5000, 1001, PG_SYN | PG_ACK, 0, true);

	/* fragmented UDP out to Storage (udp is not approved: deny) */
	len = udp_ip(&g, HOST6, 40401, "2001:db8:3::10", 443, 1400, NULL);
	memcpy(dg, g.ip, len);
	n = pg_ip6_frag(g.ip, dg, 0, 1000, true, 0x5151);
	put_ip(&g, g.ip, n, true);
	n = pg_ip6_frag(g.ip, dg, 1000, 1408 - 1000, false, 0x5151);
	put_ip(&g, g.ip, n, true);

	/* a TCP SYN (with 20 bytes of data) to ssh in two fragments, from the
	 * Internet; the first holds the whole TCP header (RFC 7112) */
	n = pg_tcp(g.l4, 40402, 22, 1000, 0, PG_SYN, 64240, NULL, "01234567890123456789", 20);
	len = pg_ip6(dg, "2001:db8::66", HOST6, 6, g.l4, n, NULL);
	n = pg_ip6_frag(g.ip, dg, 0, 24, true, 0x5252);
	put_ip(&g, g.ip, n, false);
	n = pg_ip6_frag(g.ip, dg, 24, len - 40 - 24, false, 0x5252);
	put_ip(&g, g.ip, n, false);
	pg_close(&g.w);
}

/* 802.1Q-tagged frames. */
static void gen_vlan(const char *dir)
{
	struct gen g;

	gen_open(&g, dir, "vlan.pcap", LINK_VLAN);
	tcp_conn(&g, "192.0.2.6", 40500, HOST4, 44224, true, false);
	tcp_conn(&g, "203.0.113.9", 40501, HOST4, 22, false, false);
	pg_close(&g.w);
}

/* Linux cooked capture: the packet type gives the direction, even for a peer
 * that --local / inference would not recognise. */
static void gen_sll(const char *dir)
{
	struct gen g;

	gen_open(&g, dir, "sll.pcap", LINK_SLL);
	tcp_conn(&g, "10.0.1.77", 50600, "198.51.100.12", 443, true, true);
	tcp_conn(&g, "203.0.113.10", 40601, "10.0.1.77", 22, false, false);
	pg_close(&g.w);
}

/* Frames cut short by the snap length and a broken IPv4 header. */
static void gen_damaged(const char *dir)
{
	struct gen g;
	struct pcap_pkthdr h = { 0 };
	size_t n;

	gen_open(&g, dir, "damaged.pcap", LINK_ETH);
	tcp_conn(&g, "192.0.2.5", 40700, HOST4, 44224, true, false);

	/* frame 9: a SYN captured with 38 of 74 bytes: cut inside the TCP header */
	n = pg_tcp(g.l4, 40701, 22, 1, 0, PG_SYN, 1024, NULL, NULL, 0);
	n = pg_ip4(g.ip, "203.0.113.7", HOST4, 6, g.l4, n, NULL);
	n = pg_eth(g.fr, g.ip, n);
	h.ts.tv_sec = 1700000001;
	h.caplen = 38;
	h.len = (bpf_u_int32)n;
	pcap_dump((u_char *)g.w.d, &h, g.fr);

	/* frame 10: IPv4 with IHL 4 */
	n = pg_udp(g.l4, 1, 2, "x", 1);
	n = pg_ip4(g.ip, "203.0.113.7", HOST4, 17, g.l4, n, NULL);
	g.ip[0] = 0x44;
	put_ip(&g, g.ip, n, false);

	/* frame 11: IPv4 total length past the frame */
	n = pg_udp(g.l4, 1, 2, "x", 1);
	n = pg_ip4(g.ip, "203.0.113.7", HOST4, 17, g.l4, n, NULL);
	g.ip[2] = 0x05;
	pg_w16(g.ip + 10, 0);
	pg_w16(g.ip + 10, pg_fold(pg_sum(0, g.ip, 20)));
	put_ip(&g, g.ip, n, false);
	pg_close(&g.w);
}

static void (*const generators[])(const char *) = {
	gen_tcp, gen_midstream, gen_udp, gen_icmp, gen_frag4, gen_ipv6_ext, gen_vlan,
	gen_sll, gen_damaged, gen_dhcp,
};
static const char *const names[] = {
	"tcp.pcap", "midstream.pcap", "udp.pcap", "icmp.pcap", "frag4.pcap", "ipv6-ext.pcap",
	"vlan.pcap", "sll.pcap", "damaged.pcap", "dhcp.pcap",
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_golden_captures(void **state)
{
	char tmpl[] = "/tmp/replay-gen.XXXXXX";
	const char *dir;

	(void)state;
	if (getenv("PCAPGEN_UPDATE")) {
		for (size_t i = 0; i < sizeof(generators) / sizeof(*generators); i++)
			generators[i](DATA_DIR);
		print_message("rewrote %s/*.pcap\n", DATA_DIR);
		return;
	}
	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	for (size_t i = 0; i < sizeof(generators) / sizeof(*generators); i++) {
		char fresh[512], golden[512];
		size_t l1 = 0, l2 = 0;
		char *a, *b;

		generators[i](dir);
		snprintf(fresh, sizeof(fresh), "%s/%s", dir, names[i]);
		snprintf(golden, sizeof(golden), "%s/%s", DATA_DIR, names[i]);
		a = slurp(fresh, &l1);
		b = slurp(golden, &l2);
		unlink(fresh);
		assert_non_null(a);
		if (!b)
			print_error("%s missing: PCAPGEN_UPDATE=1 %s\n", golden, "build/tests/test_replay_captures");
		assert_non_null(b);
		if (l1 != l2 || memcmp(a, b, l1) != 0)
			print_error("%s differs from what the generator builds; after a deliberate "
				    "change run PCAPGEN_UPDATE=1 build/tests/test_replay_captures\n",
				    golden);
		assert_int_equal(l1, l2);
		assert_memory_equal(a, b, l1);
		free(a);
		free(b);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_captures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
