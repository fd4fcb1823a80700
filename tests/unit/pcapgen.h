/* pcapgen — build test frames with correct lengths and checksums, and write them
 * to pcap files (for unit tests and golden captures).
 *
 * Header-only (static inline) because each tests/unit/test_*.c is built as one
 * translation unit.  Layers compose from the inside out:
 *
 *   l4 = pg_tcp()/pg_udp()/pg_icmp()/pg_icmp6()       transport header + payload
 *   ip = pg_ip4()/pg_ip6()                             IP header(s); fills the L4
 *                                                      checksum over the whole l4
 *   fragments = pg_ip4_frag()/pg_ip6_frag()            cut a built datagram
 *   frame = pg_eth()/pg_sll()/pg_sll2()/pg_null()      link header
 *
 * Every builder writes into a caller buffer of at least PG_MAX bytes and returns
 * the number of bytes written.  Addresses are text ("10.0.0.1", "fd00::1"). */
#ifndef FILTERD_PCAPGEN_H
#define FILTERD_PCAPGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <pcap/pcap.h>

#define PG_MAX 66000

enum { PG_FIN = 0x01, PG_SYN = 0x02, PG_RST = 0x04, PG_PSH = 0x08, PG_ACK = 0x10,
       PG_URG = 0x20, PG_ECE = 0x40, PG_CWR = 0x80 };

static inline void pg_w16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static inline void pg_w32(uint8_t *b, uint32_t v)
{
	pg_w16(b, (uint16_t)(v >> 16));
	pg_w16(b + 2, (uint16_t)v);
}

static inline uint32_t pg_sum(uint32_t sum, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

static inline uint16_t pg_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- transport ---------------------------------------------------------- */

struct pg_tcpopt {
	uint16_t mss;		/* 0: none */
	int wscale;		/* -1: none */
	bool sack_perm;
};

/* TCP header (+ options) + payload; checksum filled by pg_ip4/pg_ip6. */
static inline size_t pg_tcp(uint8_t *out, uint16_t sport, uint16_t dport, uint32_t seq,
			    uint32_t ack, uint8_t flags, uint16_t win,
			    const struct pg_tcpopt *o, const void *payload, size_t plen)
{
	size_t h = 20;

	memset(out, 0, 20);
	if (o) {
		if (o->mss) {
			out[h] = 2; out[h + 1] = 4; pg_w16(out + h + 2, o->mss); h += 4;
		}
		if (o->sack_perm) {
			out[h] = 1; out[h + 1] = 1; out[h + 2] = 4; out[h + 3] = 2; h += 4;
		}
		if (o->wscale >= 0) {
			out[h] = 1; out[h + 1] = 3; out[h + 2] = 3; out[h + 3] = (uint8_t)o->wscale;
			h += 4;
		}
	}
	pg_w16(out, sport);
	pg_w16(out + 2, dport);
	pg_w32(out + 4, seq);
	pg_w32(out + 8, ack);
	out[12] = (uint8_t)((h / 4) << 4);
	out[13] = flags;
	pg_w16(out + 14, win);
	if (plen)
		memcpy(out + h, payload, plen);
	return h + plen;
}

static inline size_t pg_udp(uint8_t *out, uint16_t sport, uint16_t dport,
			    const void *payload, size_t plen)
{
	pg_w16(out, sport);
	pg_w16(out + 2, dport);
	pg_w16(out + 4, (uint16_t)(8 + plen));
	pg_w16(out + 6, 0);
	if (plen)
		memcpy(out + 8, payload, plen);
	return 8 + plen;
}

/* ICMP or ICMPv6 (same layout): rest is the 4 bytes after the checksum
 * (id << 16 | seq for echo, MTU for packet-too-big, 0 for most errors). */
static inline size_t pg_icmp(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest,
			     const void *payload, size_t plen)
{
	out[0] = type;
	out[1] = code;
	pg_w16(out + 2, 0);
	pg_w32(out + 4, rest);
	if (plen)
		memcpy(out + 8, payload, plen);
	return 8 + plen;
}

/* ---- network ------------------------------------------------------------ */

struct pg_ipopt {
	uint16_t id;		/* IPv4 id / IPv6 fragment id when frag */
	uint8_t ttl;		/* 0: 64 */
	bool df;
	size_t ip4_optlen;	/* IPv4: that many bytes of NOP options (multiple of 4) */
	bool hbh;		/* IPv6: an 8-byte hop-by-hop header (PadN) first */
	bool dstopt;		/* IPv6: an 8-byte destination options header */
	bool routing;		/* IPv6: an 8-byte type-0-like routing header, segleft 0 */
	bool bad_csum;		/* corrupt the L4 checksum */
};

static inline int pg_family(const char *a) { return strchr(a, ':') ? AF_INET6 : AF_INET; }

static inline void pg_fill_l4_csum(uint8_t *l4, size_t l4len, uint8_t proto,
				   const uint8_t *src, const uint8_t *dst, size_t alen,
				   bool bad)
{
	size_t off;
	uint32_t sum = 0;
	uint8_t ph[4];

	switch (proto) {
	case 6: off = 16; break;
	case 17: off = 6; break;
	case 1: case 58: off = 2; break;
	default: return;
	}
	if (l4len < off + 2)
		return;
	pg_w16(l4 + off, 0);
	if (proto != 1) {	/* pseudo header; ICMPv4 has none */
		sum = pg_sum(sum, src, alen);
		sum = pg_sum(sum, dst, alen);
		pg_w32(ph, (uint32_t)l4len);
		sum = pg_sum(sum, ph, 4);
		sum += proto;
	}
	sum = pg_sum(sum, l4, l4len);
	uint16_t c = pg_fold(sum);
	if (proto == 17 && c == 0)
		c = 0xffff;
	if (bad)
		c ^= 0x5a5a;
	pg_w16(l4 + off, c);
}

static inline size_t pg_ip4(uint8_t *out, const char *src, const char *dst, uint8_t proto,
			    const uint8_t *l4, size_t l4len, const struct pg_ipopt *o)
{
	struct pg_ipopt none = { 0 };
	size_t ihl;

	if (!o)
		o = &none;
	ihl = 20 + o->ip4_optlen;
	memset(out, 0, ihl);
	out[0] = (uint8_t)(0x40 | ihl / 4);
	pg_w16(out + 2, (uint16_t)(ihl + l4len));
	pg_w16(out + 4, o->id);
	pg_w16(out + 6, o->df ? 0x4000 : 0);
	out[8] = o->ttl ? o->ttl : 64;
	out[9] = proto;
	inet_pton(AF_INET, src, out + 12);
	inet_pton(AF_INET, dst, out + 16);
	for (size_t i = 20; i < ihl; i++)
		out[i] = 1;	/* NOP */
	if (l4len)
		memmove(out + ihl, l4, l4len);
	pg_fill_l4_csum(out + ihl, l4len, proto, out + 12, out + 16, 4, o->bad_csum);
	pg_w16(out + 10, pg_fold(pg_sum(0, out, ihl)));
	return ihl + l4len;
}

static inline size_t pg_ip6(uint8_t *out, const char *src, const char *dst, uint8_t proto,
			    const uint8_t *l4, size_t l4len, const struct pg_ipopt *o)
{
	struct pg_ipopt none = { 0 };
	uint8_t *nh = out + 6;
	size_t h = 40;

	if (!o)
		o = &none;
	memset(out, 0, 40);
	out[0] = 0x60;
	out[7] = o->ttl ? o->ttl : 64;
	inet_pton(AF_INET6, src, out + 8);
	inet_pton(AF_INET6, dst, out + 24);
	if (o->hbh) {		/* next, len 0, PadN(4) */
		*nh = 0;
		memset(out + h, 0, 8);
		out[h + 2] = 1; out[h + 3] = 4;
		nh = out + h;
		h += 8;
	}
	if (o->dstopt) {
		*nh = 60;
		memset(out + h, 0, 8);
		out[h + 2] = 1; out[h + 3] = 4;
		nh = out + h;
		h += 8;
	}
	if (o->routing) {
		*nh = 43;
		memset(out + h, 0, 8);
		nh = out + h;
		h += 8;
	}
	*nh = proto;
	if (l4len)
		memmove(out + h, l4, l4len);
	pg_w16(out + 4, (uint16_t)(h - 40 + l4len));
	pg_fill_l4_csum(out + h, l4len, proto, out + 8, out + 24, 16, o->bad_csum);
	return h + l4len;
}

/* Cut [off, off+len) of the payload of an IPv4 datagram built by pg_ip4 into a
 * fragment; off must be a multiple of 8 unless it is the last fragment. */
static inline size_t pg_ip4_frag(uint8_t *out, const uint8_t *dg, size_t off, size_t len,
				 bool mf)
{
	size_t ihl = (size_t)(dg[0] & 15) * 4;

	memcpy(out, dg, ihl);
	memcpy(out + ihl, dg + ihl + off, len);
	pg_w16(out + 2, (uint16_t)(ihl + len));
	pg_w16(out + 6, (uint16_t)((dg[6] & 0x40) << 8 | (mf ? 0x2000 : 0) | (off / 8)));
	pg_w16(out + 10, 0);
	pg_w16(out + 10, pg_fold(pg_sum(0, out, ihl)));
	return ihl + len;
}

/* Same for an IPv6 datagram built by pg_ip6 WITHOUT extension headers: the
 * fragment header goes right after the base header. */
static inline size_t pg_ip6_frag(uint8_t *out, const uint8_t *dg, size_t off, size_t len,
				 bool mf, uint32_t id)
{
	memcpy(out, dg, 40);
	out[6] = 44;
	out[40] = dg[6];
	out[41] = 0;
	pg_w16(out + 42, (uint16_t)(off | (mf ? 1 : 0)));
	pg_w32(out + 44, id);
	memcpy(out + 48, dg + 40 + off, len);
	pg_w16(out + 4, (uint16_t)(8 + len));
	return 48 + len;
}

/* ---- link --------------------------------------------------------------- */

static const uint8_t pg_mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t pg_mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

static inline uint16_t pg_ethertype(const uint8_t *ip)
{
	return (ip[0] >> 4) == 6 ? 0x86dd : 0x0800;
}

/* Ethernet II with nvlan tags (tpids[i], tcis[i]), outermost first. */
static inline size_t pg_eth_vlan(uint8_t *out, const uint8_t *ip, size_t iplen,
				 const uint16_t *tpids, const uint16_t *tcis, size_t nvlan)
{
	size_t h = 12;

	memcpy(out, pg_mac_b, 6);
	memcpy(out + 6, pg_mac_a, 6);
	for (size_t i = 0; i < nvlan; i++) {
		pg_w16(out + h, tpids[i]);
		pg_w16(out + h + 2, tcis[i]);
		h += 4;
	}
	pg_w16(out + h, pg_ethertype(ip));
	h += 2;
	memmove(out + h, ip, iplen);
	return h + iplen;
}

static inline size_t pg_eth(uint8_t *out, const uint8_t *ip, size_t iplen)
{
	return pg_eth_vlan(out, ip, iplen, NULL, NULL, 0);
}

/* Linux cooked capture v1; pkttype as PACKET_HOST(0) .. PACKET_OUTGOING(4). */
static inline size_t pg_sll(uint8_t *out, uint16_t pkttype, const uint8_t *ip, size_t iplen)
{
	memset(out, 0, 16);
	pg_w16(out, pkttype);
	pg_w16(out + 2, 1);		/* ARPHRD_ETHER */
	pg_w16(out + 4, 6);
	memcpy(out + 6, pg_mac_a, 6);
	pg_w16(out + 14, pg_ethertype(ip));
	memmove(out + 16, ip, iplen);
	return 16 + iplen;
}

static inline size_t pg_sll2(uint8_t *out, uint8_t pkttype, uint32_t ifindex,
			     const uint8_t *ip, size_t iplen)
{
	memset(out, 0, 20);
	pg_w16(out, pg_ethertype(ip));
	pg_w32(out + 4, ifindex);
	pg_w16(out + 8, 1);
	out[10] = pkttype;
	out[11] = 6;
	memcpy(out + 12, pg_mac_a, 6);
	memmove(out + 20, ip, iplen);
	return 20 + iplen;
}

/* DLT_NULL / DLT_LOOP: af written big-endian when be, else little-endian. */
static inline size_t pg_null(uint8_t *out, uint32_t af, bool be, const uint8_t *ip,
			     size_t iplen)
{
	if (be) {
		pg_w32(out, af);
	} else {
		out[0] = (uint8_t)af; out[1] = (uint8_t)(af >> 8);
		out[2] = (uint8_t)(af >> 16); out[3] = (uint8_t)(af >> 24);
	}
	memmove(out + 4, ip, iplen);
	return 4 + iplen;
}

/* ---- pcap files ----------------------------------------------------------- */

struct pg_writer {
	pcap_t *pd;
	pcap_dumper_t *d;
};

/* Returns 0, or -1 (pcap error text is lost: tests only). */
static inline int pg_open(struct pg_writer *w, const char *path, int dlt)
{
	w->pd = pcap_open_dead(dlt, 262144);
	if (!w->pd)
		return -1;
	w->d = pcap_dump_open(w->pd, path);
	if (!w->d) {
		pcap_close(w->pd);
		return -1;
	}
	return 0;
}

static inline void pg_write(struct pg_writer *w, long sec, long usec, const uint8_t *frame,
			    size_t len)
{
	struct pcap_pkthdr h = { .caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len };

	h.ts.tv_sec = sec;
	h.ts.tv_usec = usec;
	pcap_dump((u_char *)w->d, &h, frame);
}

static inline void pg_close(struct pg_writer *w)
{
	if (w->d)
		pcap_dump_close(w->d);
	if (w->pd)
		pcap_close(w->pd);
	w->d = NULL;
	w->pd = NULL;
}

#endif
