/* gencap — writes a large, deterministic benchmark capture for pcap-replay.
 *
 *   gencap TAGS OUT.pcap [PACKETS [SEED]]      (default 1200000 packets, seed 1)
 *
 * Ethernet frames, as a capture on the pool host's NIC would hold them: this
 * host is 10.0.1.4 / fd00:10::4 in the vnet 10.0.0.0/16, fd00:10::/48; remote
 * ends are other vnet hosts, addresses drawn from the REAL service-tag prefixes
 * of TAGS (AzureMachineLearning, BatchNodeManagement, Storage, Storage.EastUS,
 * AzureContainerRegistry.EastUS, AzureCloud) and 203.0.113.0/24 as non-tag
 * internet.  Offline only: these packets are written to a file, never sent.
 *
 * A pool of concurrent flows is interleaved packet by packet: TCP with the
 * three-way handshake, request/response data with consistent sequence numbers
 * and a FIN close; flows the policy denies show only their SYN and its
 * retransmissions; UDP request/response; ICMP/ICMPv6 echo.  About a quarter of
 * the flows are IPv6.  Timestamps advance 1-9 us per packet.  Same seed, same
 * file, byte for byte. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/pcapgen.h"
#include "servicetags.h"
#include "set_lookup.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint32_t rndn(uint32_t n) { return (uint32_t)(rnd() % n); }

/* ---- address pools ---------------------------------------------------------- */

struct pool {
	const char *name;
	const struct pset *v4, *v6;
};

static void addr_in_pset(const struct pset *s, uint8_t *out)
{
	const struct interval *iv = &s->v[rndn((uint32_t)s->n)];
	size_t nb = family_bytes(s->family);
	set_u128 lo = set_key_u128(iv->lo.b, (uint32_t)nb), hi = set_key_u128(iv->hi.b, (uint32_t)nb);
	set_u128 span = hi - lo + 1, r = ((set_u128)rnd() << 64) | rnd(), v;

	v = span ? lo + r % span : r;
	for (size_t i = 0; i < nb; i++)
		out[i] = (uint8_t)(v >> (8 * (nb - 1 - i)));
}

/* ---- flows -------------------------------------------------------------------- */

enum kind {
	K_TCP,		/* full connection */
	K_TCP_DENIED,	/* SYN + 2 retransmissions */
	K_UDP,
	K_ICMP,
};

struct flow {
	bool active;
	enum kind kind;
	bool v6, outbound;	/* outbound: this host opened it */
	uint8_t local[16], remote[16];
	uint16_t lport, rport;
	uint32_t lseq, rseq;	/* next sequence numbers */
	int step, nsteps;
	uint16_t icmp_id;
};

struct spec {
	unsigned weight;
	enum kind kind;
	bool outbound;
	int pool;		/* index into pools; -1 vnet, -2 203.0.113.0/24, -3 platform DNS */
	uint16_t port;		/* remote (outbound) or local (inbound) port */
	bool v6ok;
};

enum { P_AML, P_BNM, P_STORAGE, P_STORAGE_EUS, P_ACR_EUS, P_CLOUD, NPOOLS };
static const char *const pool_names[NPOOLS] = {
	"AzureMachineLearning", "BatchNodeManagement", "Storage", "Storage.EastUS",
	"AzureContainerRegistry.EastUS", "AzureCloud",
};
static const struct service_tag *pools[NPOOLS];

static const struct spec specs[] = {
	{ 12, K_TCP, false, P_AML, 44224, true },		/* allowed inbound */
	{ 6, K_TCP, false, P_BNM, 29876, true },		/* allowed inbound */
	{ 8, K_TCP_DENIED, false, P_STORAGE, 443, true },	/* default deny inbound */
	{ 6, K_TCP_DENIED, false, -2, 22, false },		/* ssh from the internet */
	{ 16, K_TCP, true, P_STORAGE_EUS, 443, true },		/* approved outbound */
	{ 8, K_TCP, true, P_ACR_EUS, 443, true },
	{ 4, K_TCP, true, -2, 443, false },			/* partner 203.0.113.128/25 or not */
	{ 6, K_TCP_DENIED, true, P_CLOUD, 443, true },		/* not approved */
	{ 8, K_TCP, true, -1, 8080, true },			/* vnet */
	{ 6, K_TCP, false, -1, 6006, true },
	{ 8, K_UDP, true, -3, 53, false },			/* platform DNS */
	{ 4, K_UDP, true, P_AML, 5831, true },
	{ 3, K_UDP, true, P_CLOUD, 123, true },
	{ 3, K_ICMP, true, -1, 0, true },
	{ 2, K_ICMP, false, -1, 0, true },
	{ 2, K_ICMP, true, P_CLOUD, 0, false },
};

static const uint8_t local4[4] = { 10, 0, 1, 4 };
static const uint8_t local6[16] = { 0xfd, 0, 0, 0x10, [15] = 4 };

static void new_flow(struct flow *f)
{
	unsigned total = 0, pick;
	const struct spec *s = specs;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		total += specs[i].weight;
	pick = rndn(total);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		if (pick < specs[i].weight) {
			s = &specs[i];
			break;
		}
		pick -= specs[i].weight;
	}
	memset(f, 0, sizeof(*f));
	f->active = true;
	f->kind = s->kind;
	f->outbound = s->outbound;
	f->v6 = s->v6ok && rndn(4) == 0;
	if (s->pool >= 0 && f->v6 && !pools[s->pool]->v6.n)
		f->v6 = false;
	memcpy(f->local, f->v6 ? local6 : local4, f->v6 ? 16 : 4);
	switch (s->pool) {
	case -1:
		if (f->v6) {
			memcpy(f->remote, local6, 16);
			f->remote[14] = (uint8_t)rndn(256);
			f->remote[15] = (uint8_t)(5 + rndn(250));
		} else {
			f->remote[0] = 10; f->remote[1] = 0;
			f->remote[2] = (uint8_t)(2 + rndn(250));
			f->remote[3] = (uint8_t)(1 + rndn(254));
		}
		break;
	case -2:
		f->remote[0] = 203; f->remote[1] = 0; f->remote[2] = 113;
		f->remote[3] = (uint8_t)(1 + rndn(254));
		break;
	case -3:
		f->remote[0] = 168; f->remote[1] = 63; f->remote[2] = 129; f->remote[3] = 16;
		break;
	default:
		addr_in_pset(f->v6 ? &pools[s->pool]->v6 : &pools[s->pool]->v4, f->remote);
	}
	f->lport = s->outbound ? (uint16_t)(32768 + rndn(28000)) : s->port;
	f->rport = s->outbound ? s->port : (uint16_t)(1024 + rndn(60000));
	f->lseq = (uint32_t)rnd();
	f->rseq = (uint32_t)rnd();
	f->icmp_id = (uint16_t)rnd();
	switch (f->kind) {
	case K_TCP: f->nsteps = 3 + 2 * (int)(1 + rndn(8)) + 3; break;	/* hs + req/resp + close */
	case K_TCP_DENIED: f->nsteps = 3; break;
	case K_UDP: f->nsteps = 2 * (int)(1 + rndn(3)); break;
	case K_ICMP: f->nsteps = 2 * (int)(1 + rndn(4)); break;
	}
}

static uint8_t payload[1500];

/* Next packet of f into frame; returns its length; f->active false after the last. */
static size_t next_packet(struct flow *f, uint8_t *frame)
{
	static uint8_t l4[PG_MAX], ip[PG_MAX];
	char ls[INET6_ADDRSTRLEN], rs[INET6_ADDRSTRLEN];
	bool from_local;	/* this packet leaves this host */
	size_t l4len = 0, iplen, plen = 0;
	uint8_t proto = 0, flags = 0;
	int st = f->step++;

	inet_ntop(f->v6 ? AF_INET6 : AF_INET, f->local, ls, sizeof(ls));
	inet_ntop(f->v6 ? AF_INET6 : AF_INET, f->remote, rs, sizeof(rs));
	/* even steps go from the initiator */
	from_local = f->outbound ? (st % 2 == 0) : (st % 2 == 1);
	switch (f->kind) {
	case K_TCP_DENIED:
		from_local = f->outbound;
		flags = PG_SYN;
		break;
	case K_TCP: {
		int close_at = f->nsteps - 3;

		if (st == 0) {
			flags = PG_SYN;
		} else if (st == 1) {
			flags = PG_SYN | PG_ACK;
		} else if (st == 2) {
			flags = PG_ACK;
			from_local = f->outbound;
		} else if (st < close_at) {
			/* st 3, 5, ...: initiator's request; 4, 6, ...: response */
			from_local = f->outbound ? (st % 2 == 1) : (st % 2 == 0);
			flags = PG_ACK | PG_PSH;
			plen = st % 2 ? 40 + rndn(300) : 100 + rndn(1000);
		} else {
			/* FIN from the initiator, FIN+ACK back, ACK */
			int c = st - close_at;

			from_local = f->outbound ? c != 1 : c == 1;
			flags = c == 2 ? PG_ACK : PG_FIN | PG_ACK;
		}
		break;
	}
	case K_UDP:
		proto = IPPROTO_UDP;
		plen = 30 + rndn(200);
		break;
	case K_ICMP:
		proto = f->v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		plen = 56;
		break;
	}
	if (f->kind == K_TCP || f->kind == K_TCP_DENIED) {
		struct pg_tcpopt o = { .mss = 1460, .wscale = 7, .sack_perm = true };
		uint32_t *seq = from_local ? &f->lseq : &f->rseq;
		uint32_t ack = from_local ? f->rseq : f->lseq;
		bool syn = flags & PG_SYN;

		proto = IPPROTO_TCP;
		if (f->kind == K_TCP_DENIED) {
			l4len = pg_tcp(l4, from_local ? f->lport : f->rport,
				       from_local ? f->rport : f->lport, *seq, 0, flags, 64240,
				       &o, NULL, 0);
		} else {
			l4len = pg_tcp(l4, from_local ? f->lport : f->rport,
				       from_local ? f->rport : f->lport, *seq,
				       st == 0 ? 0 : ack, flags, syn ? 64240 : 502, syn ? &o : NULL,
				       payload, plen);
			*seq += (uint32_t)plen + (syn || (flags & PG_FIN) ? 1 : 0);
		}
	} else if (proto == IPPROTO_UDP) {
		l4len = pg_udp(l4, from_local ? f->lport : f->rport, from_local ? f->rport : f->lport,
			       payload, plen);
	} else {
		bool req = (st % 2 == 0);
		uint8_t type = f->v6 ? (req ? 128 : 129) : (req ? 8 : 0);

		l4len = pg_icmp(l4, type, 0, (uint32_t)f->icmp_id << 16 | (uint32_t)(st / 2), payload,
				plen);
	}
	if (f->v6)
		iplen = pg_ip6(ip, from_local ? ls : rs, from_local ? rs : ls, proto, l4, l4len, NULL);
	else {
		struct pg_ipopt o = { .id = (uint16_t)rnd(), .df = true,
				      .ttl = from_local ? 64 : 52 };

		iplen = pg_ip4(ip, from_local ? ls : rs, from_local ? rs : ls, proto, l4, l4len, &o);
	}
	if (f->step >= f->nsteps)
		f->active = false;
	return pg_eth(frame, ip, iplen);
}

int main(int argc, char **argv)
{
	static uint8_t frame[PG_MAX];
	enum { ACTIVE = 512 };
	static struct flow fl[ACTIVE];
	struct pg_writer w;
	struct tagdb *db;
	char err[512];
	unsigned long long n = 1200000, seed = 1, flows = 0;
	long sec = 1713139200, usec = 0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: gencap TAGS.json OUT.pcap [PACKETS [SEED]]\n");
		return 2;
	}
	if (argc > 3)
		n = strtoull(argv[3], NULL, 10);
	if (argc > 4)
		seed = strtoull(argv[4], NULL, 10);
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	db = tagdb_load(argv[1], err, sizeof(err));
	if (!db) {
		fprintf(stderr, "gencap: %s\n", err);
		return 2;
	}
	for (int i = 0; i < NPOOLS; i++) {
		pools[i] = tagdb_find(db, pool_names[i]);
		if (!pools[i] || !pools[i]->v4.n) {
			fprintf(stderr, "gencap: %s: no tag %s with IPv4 prefixes\n", argv[1],
				pool_names[i]);
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)rnd();
	if (pg_open(&w, argv[2], DLT_EN10MB) < 0) {
		fprintf(stderr, "gencap: %s: cannot write: %s\n", argv[2], strerror(errno));
		return 2;
	}
	for (unsigned long long i = 0; i < n; i++) {
		struct flow *f = &fl[rndn(ACTIVE)];
		size_t len;

		if (!f->active) {
			new_flow(f);
			flows++;
		}
		len = next_packet(f, frame);
		usec += 1 + (long)rndn(9);
		if (usec >= 1000000) {
			sec++;
			usec -= 1000000;
		}
		pg_write(&w, sec, usec, frame, len);
	}
	pg_close(&w);
	tagdb_free(db);
	fprintf(stderr, "gencap: %s: %llu packets, %llu flows started, seed %llu\n", argv[2], n,
		flows, seed);
	return 0;
}
