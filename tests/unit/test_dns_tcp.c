/* dns_tcp: DNS messages out of TCP segments (RFC 7766 length prefixes),
 * as filterd's queue handler and pcap-replay feed them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dns_tcp.h"

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04

static const uint8_t SRC[4] = { 10, 0, 1, 53 }, DST[4] = { 10, 0, 1, 4 };

struct got {
	int n;
	bool reject;		/* the callback says "no DNS message" */
	size_t len[16];
	uint8_t first[16];
	uint32_t sum[16];	/* FNV-1a of the message's bytes */
};

static uint32_t fnv(const uint8_t *d, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return h;
}

static bool got_cb(const uint8_t *msg, size_t len, void *arg)
{
	struct got *g = arg;

	if (g->n < 16) {
		g->len[g->n] = len;
		g->first[g->n] = len ? msg[0] : 0;
		g->sum[g->n] = fnv(msg, len);
	}
	g->n++;
	return !g->reject;
}

/* feed one segment from 10.0.1.53:53 to 10.0.1.4:dport */
static int feed(struct dns_tcp *t, uint16_t dport, uint8_t flags, uint32_t seq,
		const uint8_t *data, size_t n, int64_t now, struct got *g)
{
	static uint8_t b[70000];
	struct dns_tcp_seg s = { .family = AF_INET, .src = SRC, .dst = DST, .tcp = b, .len = 20 + n };

	memset(b, 0, 20);
	b[1] = 53;
	b[2] = (uint8_t)(dport >> 8);
	b[3] = (uint8_t)dport;
	b[4] = (uint8_t)(seq >> 24);
	b[5] = (uint8_t)(seq >> 16);
	b[6] = (uint8_t)(seq >> 8);
	b[7] = (uint8_t)seq;
	b[12] = 0x50;
	b[13] = flags;
	if (n)
		memcpy(b + 20, data, n);
	return dns_tcp_feed(t, &s, now, got_cb, g);
}

/* a message of len bytes (tag, tag + 1, ...) with its length prefix */
static size_t msg(uint8_t *out, size_t len, uint8_t tag)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	for (size_t i = 0; i < len; i++)
		out[2 + i] = (uint8_t)(tag + i);
	return len + 2;
}

/* An answer larger than a segment: nothing until its last byte arrives, even
 * when a segment ends inside the length prefix. */
static void test_split(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	uint8_t m[1200];
	size_t n = msg(m, 1000, 0xab);
	uint32_t isn = 1000;

	(void)state;
	assert_int_equal(feed(t, 40000, SYN | ACK, isn, NULL, 0, 0, &g), 0);
	assert_int_equal(feed(t, 40000, ACK, isn + 1, m, 1, 1, &g), 0);	/* half the prefix */
	assert_int_equal(feed(t, 40000, ACK, isn + 2, m + 1, 500, 2, &g), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(feed(t, 40000, ACK, isn + 502, m + 501, n - 501, 3, &g), 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 1000);
	assert_int_equal(g.first[0], 0xab);
	assert_int_equal(g.sum[0], fnv(m + 2, 1000));
	assert_int_equal(dns_tcp_streams(t), 1);
	assert_int_equal(feed(t, 40000, FIN | ACK, isn + 1 + n, NULL, 0, 4, &g), 0);
	assert_int_equal(dns_tcp_streams(t), 0);
	dns_tcp_free(t);
}

/* Retransmitted bytes are skipped: a whole resent segment adds nothing, one
 * that overlaps adds only its new tail (nf_conntrack would have let both
 * through; the message is learned once, right). */
static void test_retransmit(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	uint8_t m[400];
	size_t n = msg(m, 300, 0x11);
	struct dns_tcp_stats st;

	(void)state;
	feed(t, 40001, SYN | ACK, 0, NULL, 0, 0, &g);
	assert_int_equal(feed(t, 40001, ACK, 1, m, 100, 1, &g), 0);
	assert_int_equal(feed(t, 40001, ACK, 1, m, 100, 2, &g), 0);	/* resent */
	assert_int_equal(feed(t, 40001, ACK, 51, m + 50, 150, 3, &g), 0);	/* overlaps */
	assert_int_equal(feed(t, 40001, ACK, 201, m + 200, n - 200, 4, &g), 1);
	assert_int_equal(feed(t, 40001, ACK, 201, m + 200, n - 200, 5, &g), 0);	/* resent last */
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 300);
	assert_int_equal(g.first[0], 0x11);
	assert_int_equal(g.sum[0], fnv(m + 2, 300));	/* the bytes, in order, once */
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.gaps, 0);
	dns_tcp_free(t);
}

/* Pipelined answers: two whole messages and the head of a third in one
 * segment; the next completes the third and begins a fourth, the last
 * completes that. */
static void test_pipelined(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	uint8_t b[1000];
	size_t n = 0, third, fourth;
	uint32_t s0 = 8;

	(void)state;
	n += msg(b + n, 40, 1);
	n += msg(b + n, 60, 2);
	third = n;
	n += msg(b + n, 80, 3);
	fourth = n;
	n += msg(b + n, 90, 4);
	feed(t, 40002, SYN | ACK, s0 - 1, NULL, 0, 0, &g);
	assert_int_equal(feed(t, 40002, ACK, s0, b, third + 30, 1, &g), 2);
	assert_int_equal(feed(t, 40002, ACK, s0 + (uint32_t)third + 30, b + third + 30,
			      fourth + 20 - third - 30, 2, &g), 1);
	assert_int_equal(feed(t, 40002, ACK, s0 + (uint32_t)fourth + 20, b + fourth + 20,
			      n - fourth - 20, 3, &g), 1);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.len[0], 40);
	assert_int_equal(g.len[1], 60);
	assert_int_equal(g.len[2], 80);
	assert_int_equal(g.len[3], 90);
	assert_int_equal(g.sum[0], fnv(b + 2, 40));
	assert_int_equal(g.sum[2], fnv(b + third + 2, 80));
	assert_int_equal(g.sum[3], fnv(b + fourth + 2, 90));
	dns_tcp_free(t);
}

/* A gap (a segment lost or reordered before the hook): the boundaries after
 * it are unknown, so nothing more is learned on that stream; a new stream
 * (new SYN/ACK) is learned from again. */
static void test_gap(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	uint8_t m[400];
	size_t n = msg(m, 300, 0x22);
	struct dns_tcp_stats st;

	(void)state;
	feed(t, 40003, SYN | ACK, 100, NULL, 0, 0, &g);
	assert_int_equal(feed(t, 40003, ACK, 101, m, 100, 1, &g), 0);
	assert_int_equal(feed(t, 40003, ACK, 301, m + 200, n - 200, 2, &g), 0);	/* gap */
	assert_int_equal(feed(t, 40003, ACK, 201, m + 100, 100, 3, &g), 0);	/* too late */
	assert_int_equal(g.n, 0);
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.gaps, 1);
	/* the same ports reused by a new connection */
	feed(t, 40003, SYN | ACK, 5000, NULL, 0, 4, &g);
	assert_int_equal(feed(t, 40003, ACK, 5001, m, n, 5, &g), 1);
	dns_tcp_free(t);
}

/* A stream already open when filterd started (or before the capture began):
 * no boundary is known, so nothing on it is passed on -- not even a segment
 * that happens to begin with a whole message -- until a new connection. */
static void test_midstream(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	struct dns_tcp_stats st;
	uint8_t m[100];
	size_t n = msg(m, 50, 0x33);

	(void)state;
	assert_int_equal(feed(t, 40004, ACK, 123456, NULL, 0, 0, &g), 0);	/* pure ACK */
	assert_int_equal(dns_tcp_streams(t), 0);
	assert_int_equal(feed(t, 40004, ACK, 123456, m, n, 1, &g), 0);
	assert_int_equal(feed(t, 40004, ACK, 123456 + (uint32_t)n, m, n, 2, &g), 0);
	assert_int_equal(g.n, 0);
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(feed(t, 40004, RST, 123456 + 2 * (uint32_t)n, NULL, 0, 3, &g), 0);
	assert_int_equal(dns_tcp_streams(t), 0);
	/* the ports reused by a connection whose SYN/ACK is seen: learned */
	feed(t, 40004, SYN | ACK, 7000, NULL, 0, 4, &g);
	assert_int_equal(feed(t, 40004, ACK, 7001, m, n, 5, &g), 1);
	assert_int_equal(g.len[0], 50);
	dns_tcp_free(t);
}

/* A stream whose SYN/ACK was seen keeps going after a message that does not
 * parse (its framing is known). */
static void test_midstream_misaligned(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	struct dns_tcp_stats st;
	uint8_t m[200], junk[12] = { 0, 4, 'j', 'u', 'n', 'k' };
	size_t n = msg(m, 100, 0x77);

	(void)state;
	g.reject = true;
	assert_int_equal(feed(t, 40010, ACK, 9000, junk, 6, 0, &g), 0);	/* unseen start */
	g.reject = false;
	assert_int_equal(feed(t, 40010, ACK, 9006, m, n, 1, &g), 0);
	assert_int_equal(g.n, 0);
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.gaps, 1);
	g.n = 1;	/* (the slots below as they were) */
	/* the same on a stream whose start was seen: framing holds, go on */
	feed(t, 40011, SYN | ACK, 500, NULL, 0, 2, &g);
	g.reject = true;
	assert_int_equal(feed(t, 40011, ACK, 501, junk, 6, 3, &g), 1);
	g.reject = false;
	assert_int_equal(feed(t, 40011, ACK, 507, m, n, 4, &g), 1);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.sum[2], fnv(m + 2, 100));
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.gaps, 1);
	dns_tcp_free(t);
}

/* Sequence numbers wrap at 2^32. */
static void test_wrap(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	uint8_t m[200];
	size_t n = msg(m, 150, 0x44);
	uint32_t isn = 0xffffffc0u;

	(void)state;
	feed(t, 40005, SYN | ACK, isn, NULL, 0, 0, &g);
	assert_int_equal(feed(t, 40005, ACK, isn + 1, m, 100, 1, &g), 0);
	assert_int_equal(feed(t, 40005, ACK, isn + 101, m + 100, n - 100, 2, &g), 1);
	assert_int_equal(g.len[0], 150);
	assert_int_equal(g.sum[0], fnv(m + 2, 150));
	dns_tcp_free(t);
}

/* Bounded: at most DNS_TCP_MAX_STREAMS streams, the least recently used gives
 * way; idle streams expire; a half-received 64 KiB message is held, no more. */
static void test_bounds(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	struct dns_tcp_stats st;
	uint8_t big[2] = { 0xff, 0xff };
	uint8_t m[100];
	size_t n = msg(m, 50, 0x55);

	(void)state;
	for (unsigned i = 0; i <= DNS_TCP_MAX_STREAMS; i++)
		feed(t, (uint16_t)(41000 + i), SYN | ACK, 1, NULL, 0, (int64_t)i, &g);
	assert_int_equal(dns_tcp_streams(t), DNS_TCP_MAX_STREAMS);
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.streams, DNS_TCP_MAX_STREAMS + 1);
	/* the first one gave way: its data is on a stream begun unseen now, so
	 * nothing of it is passed on (a client that evicts its own stream cannot
	 * have its data framed where it likes) */
	assert_int_equal(feed(t, 41000, ACK, 2, m, n, 100, &g), 0);
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.evicted, 2);
	assert_int_equal(st.unseen, 1);
	g.n = 1;	/* as if it had been passed on: the counts below as they were */
	/* 31 s later every other one has expired */
	feed(t, 42000, SYN | ACK, 1, NULL, 0, 100 + DNS_TCP_IDLE_US + 1, &g);
	dns_tcp_get_stats(t, &st);
	assert_int_equal(st.expired, DNS_TCP_MAX_STREAMS);
	assert_int_equal(dns_tcp_streams(t), 1);
	/* a 65535-byte message announced, 30,000 bytes of it sent */
	{
		static uint8_t part[30000];

		memset(part, 0x66, sizeof(part));
		assert_int_equal(feed(t, 42000, ACK, 2, big, 2, 200 + DNS_TCP_IDLE_US, &g), 0);
		assert_int_equal(feed(t, 42000, ACK, 4, part, sizeof(part), 201 + DNS_TCP_IDLE_US, &g), 0);
		assert_int_equal(feed(t, 42000, ACK, 4 + sizeof(part), part, sizeof(part),
				      202 + DNS_TCP_IDLE_US, &g), 0);
	}
	assert_int_equal(g.n, 1);
	dns_tcp_free(t);
}

/* Not a TCP header: ignored. */
static void test_garbage(void **state)
{
	struct dns_tcp *t = dns_tcp_new();
	struct got g = { 0 };
	uint8_t b[40] = { 0 };
	struct dns_tcp_seg s = { .family = AF_INET, .src = SRC, .dst = DST, .tcp = b, .len = 19 };

	(void)state;
	assert_int_equal(dns_tcp_feed(t, &s, 0, got_cb, &g), 0);
	s.len = 40;
	b[12] = 0xf0;		/* data offset 60 > 40 */
	assert_int_equal(dns_tcp_feed(t, &s, 0, got_cb, &g), 0);
	b[12] = 0x40;		/* data offset 16 < 20 */
	assert_int_equal(dns_tcp_feed(t, &s, 0, got_cb, &g), 0);
	assert_int_equal(dns_tcp_streams(t), 0);
	assert_int_equal(g.n, 0);
	dns_tcp_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_retransmit),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_midstream_misaligned),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
