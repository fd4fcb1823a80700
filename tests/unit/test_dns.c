/* rules/dns.c: answers, CNAME chains, compression, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dns.h"
#include "dns_asked.h"

/* A response: header, question "name" type A, then raw answer bytes. */
static size_t build(uint8_t *b, const char *name, uint16_t ancount, const uint8_t *an, size_t anlen)
{
	size_t o = 12;
	memset(b, 0, 12);
	b[0] = 0x12; b[1] = 0x34; b[2] = 0x81; b[3] = 0x80;
	b[5] = 1; b[7] = (uint8_t)ancount;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	b[o++] = 0;
	b[o++] = 0; b[o++] = 1; b[o++] = 0; b[o++] = 1;
	memcpy(b + o, an, anlen);
	return o + anlen;
}

struct got { char addr[8][64]; char first[8][128]; uint32_t ttl[8]; size_t n; };
static void cb(const char *const *chain, size_t n, int family, const uint8_t *a, uint32_t ttl, void *arg)
{
	struct got *g = arg;
	if (g->n >= 8)
		return;
	inet_ntop(family, a, g->addr[g->n], 64);
	snprintf(g->first[g->n], 128, "%s>%s", chain[0], chain[n - 1]);
	g->ttl[g->n++] = ttl;
}

static void test_a_answer(void **st)
{
	uint8_t b[512], an[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 5 };
	size_t n = build(b, "Pypi.ORG", 1, an, sizeof(an));
	struct dns_msg m;
	struct got g = {0};
	(void)st;
	assert_int_equal(dns_msg_parse(&m, b, n, NULL, 0), 0);
	assert_string_equal(m.qname, "pypi.org");
	assert_int_equal(dns_msg_walk(&m, cb, &g), 1);
	assert_string_equal(g.addr[0], "203.0.113.5");
	assert_int_equal(g.ttl[0], 60);
	dns_msg_free(&m);
}

static void test_cname_chain(void **st)
{
	/* q: a.example -> CNAME b.example (ttl 30) -> A 198.51.100.7 (ttl 300), plus an
	 * unrelated A record that must not be reported */
	uint8_t an[] = {
		0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 4, 1, 'b', 0xc0, 14,
		0xc0, 39, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 198, 51, 100, 7,
		1, 'z', 0, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 192, 0, 2, 1,
	};
	uint8_t b[512];
	size_t n = build(b, "a.example", 3, an, sizeof(an));
	struct dns_msg m;
	struct got g = {0};
	(void)st;
	assert_int_equal(dns_msg_parse(&m, b, n, NULL, 0), 0);
	assert_int_equal(m.nan, 3);
	assert_string_equal(m.an[0].target, "b.example");
	assert_int_equal(dns_msg_walk(&m, cb, &g), 1);
	assert_string_equal(g.addr[0], "198.51.100.7");
	assert_string_equal(g.first[0], "a.example>b.example");
	assert_int_equal(g.ttl[0], 30);
	dns_msg_free(&m);
}

static void test_cname_loop(void **st)
{
	/* a -> b, b -> a: the walk stops, nothing reported */
	uint8_t an[] = {
		0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 4, 1, 'b', 0xc0, 14,
		0xc0, 39, 0, 5, 0, 1, 0, 0, 0, 30, 0, 2, 0xc0, 12,
	};
	uint8_t b[512];
	size_t n = build(b, "a.example", 2, an, sizeof(an));
	struct dns_msg m;
	(void)st;
	assert_int_equal(dns_msg_parse(&m, b, n, NULL, 0), 0);
	assert_int_equal(dns_msg_walk(&m, cb, &(struct got){0}), 0);
	dns_msg_free(&m);
}

static void test_pointer_loop_and_forward(void **st)
{
	char err[256];
	struct dns_msg m;
	uint8_t self[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4 };
	uint8_t b[512];
	size_t n = build(b, "x", 1, self, sizeof(self));
	(void)st;
	/* answer owner pointing at itself (offset of the answer) */
	b[n - sizeof(self) + 1] = (uint8_t)(n - sizeof(self));
	assert_int_equal(dns_msg_parse(&m, b, n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "backwards"));
	/* forward pointer */
	b[n - sizeof(self) + 1] = 200;
	assert_int_equal(dns_msg_parse(&m, b, n, err, sizeof(err)), -1);
}

static void test_truncated(void **st)
{
	uint8_t b[512], an[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 5 };
	size_t n = build(b, "pypi.org", 1, an, sizeof(an));
	struct dns_msg m;
	(void)st;
	for (size_t k = 0; k < n; k++)
		assert_int_equal(dns_msg_parse(&m, b, k, NULL, 0), -1);
	/* A record with 5 bytes of rdata */
	b[n - 5] = 5;
	assert_int_equal(dns_msg_parse(&m, b, n, NULL, 0), -1);
}

static void test_odd_labels_escaped(void **st)
{
	/* a label "a.b" must not read as two labels */
	uint8_t b[64] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
			  3, 'a', '.', 'b', 0, 0, 1, 0, 1 };
	struct dns_msg m;
	(void)st;
	assert_int_equal(dns_msg_parse(&m, b, 21, NULL, 0), 0);
	assert_string_equal(m.qname, "a\\046b");
	dns_msg_free(&m);
}

static void test_match(void **st)
{
	(void)st;
	assert_true(dns_name_match("pypi.org", "PYPI.org."));
	assert_false(dns_name_match("pypi.org", "x.pypi.org"));
	assert_true(dns_name_match("*.blob.core.windows.net", "a.b.blob.core.windows.net"));
	assert_false(dns_name_match("*.blob.core.windows.net", "blob.core.windows.net"));
	assert_false(dns_name_match("*.blob.core.windows.net", "evilblob.core.windows.net"));
}

static void test_error_rcode_not_walked(void **st)
{
	uint8_t b[512], an[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 5 };
	size_t n = build(b, "pypi.org", 1, an, sizeof(an));
	struct dns_msg m;
	(void)st;
	b[3] = 0x83;	/* NXDOMAIN */
	assert_int_equal(dns_msg_parse(&m, b, n, NULL, 0), 0);
	assert_int_equal(dns_msg_walk(&m, cb, &(struct got){0}), 0);
	dns_msg_free(&m);
	b[3] = 0x80;
	b[2] = 0x01;	/* a query, not a response */
	assert_int_equal(dns_msg_parse(&m, b, n, NULL, 0), 0);
	assert_int_equal(dns_msg_walk(&m, cb, &(struct got){0}), 0);
	dns_msg_free(&m);
}

/* ---- dns_asked: answers are learned from only when they answer a query --- */

/* A query (qr 0) or its answer (qr 1, one A record) for name, type A, with
 * DNS ID id, parsed into m. */
static void asked_msg(struct dns_msg *m, const char *name, uint16_t id, bool answer)
{
	uint8_t b[512], an[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 66 };
	size_t n = build(b, name, answer ? 1 : 0, an, answer ? sizeof(an) : 0);

	b[0] = (uint8_t)(id >> 8);
	b[1] = (uint8_t)id;
	b[2] = answer ? 0x81 : 0x01;
	b[3] = answer ? 0x80 : 0x00;
	assert_int_equal(dns_msg_parse(m, b, n, NULL, 0), 0);
}

static const uint8_t host4[4] = { 10, 0, 1, 4 }, res4[4] = { 10, 0, 1, 53 },
		     other4[4] = { 10, 0, 1, 55 };

static struct dns_ends q_ends(uint16_t cport)
{
	return (struct dns_ends){ .family = AF_INET, .src = host4, .dst = res4, .sport = cport,
				  .dport = 53, .proto = IPPROTO_UDP };
}

static struct dns_ends a_ends(const uint8_t *from, uint16_t sport, uint16_t cport)
{
	return (struct dns_ends){ .family = AF_INET, .src = from, .dst = host4, .sport = sport,
				  .dport = cport, .proto = IPPROTO_UDP };
}

static bool answered(struct dns_asked *a, const char *name, uint16_t id, struct dns_ends e,
		     int64_t now)
{
	struct dns_msg m;
	bool ok;

	asked_msg(&m, name, id, true);
	ok = dns_asked_answer(a, &e, &m, now);
	dns_msg_free(&m);
	return ok;
}

static void ask(struct dns_asked *a, const char *name, uint16_t id, uint16_t cport, int64_t now)
{
	struct dns_msg m;
	struct dns_ends e = q_ends(cport);

	asked_msg(&m, name, id, false);
	assert_int_equal(dns_asked_query(a, &e, &m, now), 1);
	dns_msg_free(&m);
}

static void test_asked_match(void **st)
{
	struct dns_asked *a = dns_asked_new();
	struct dns_asked_stats s;
	struct dns_msg m;
	struct dns_ends e = q_ends(40000);

	(void)st;
	assert_non_null(a);
	/* nothing asked yet: nothing answers */
	assert_false(answered(a, "app.test.example", 0x4242, a_ends(res4, 53, 40000), 0));
	ask(a, "app.test.example", 0x4242, 40000, 1000);
	/* another ID, another question, another type of question, another
	 * client port, another resolver, another source port: not the answer */
	assert_false(answered(a, "app.test.example", 0x4243, a_ends(res4, 53, 40000), 2000));
	assert_false(answered(a, "evil.test.example", 0x4242, a_ends(res4, 53, 40000), 2000));
	assert_false(answered(a, "app.test.example", 0x4242, a_ends(res4, 53, 40001), 2000));
	assert_false(answered(a, "app.test.example", 0x4242, a_ends(other4, 53, 40000), 2000));
	assert_false(answered(a, "app.test.example", 0x4242, a_ends(res4, 5353, 40000), 2000));
	/* the same ends over TCP: not the answer to a query over UDP */
	e = a_ends(res4, 53, 40000);
	e.proto = IPPROTO_TCP;
	assert_false(answered(a, "app.test.example", 0x4242, e, 2000));
	e = q_ends(40000);
	/* the answer (the name's case as a resolver may echo it: 0x20) */
	assert_true(answered(a, "App.Test.EXAMPLE", 0x4242, a_ends(res4, 53, 40000), 3000));
	/* one query teaches one answer: a second copy is not learned from */
	assert_false(answered(a, "app.test.example", 0x4242, a_ends(res4, 53, 40000), 4000));
	/* a query is not an answer, an answer is not a query */
	asked_msg(&m, "app.test.example", 7, true);
	assert_int_equal(dns_asked_query(a, &e, &m, 5000), 0);
	dns_msg_free(&m);
	ask(a, "app.test.example", 7, 40000, 5000);
	asked_msg(&m, "app.test.example", 7, false);
	e = a_ends(res4, 53, 40000);
	assert_false(dns_asked_answer(a, &e, &m, 6000));
	dns_msg_free(&m);
	assert_true(answered(a, "app.test.example", 7, a_ends(res4, 53, 40000), 7000));
	dns_asked_get_stats(a, &s);
	assert_int_equal(s.queries, 2);
	assert_int_equal(s.matched, 2);
	assert_int_equal(s.unasked, 9);
	assert_int_equal(s.pending, 0);
	dns_asked_free(a);
}

/* A query is held for conntrack's unreplied UDP timeout (30 s), then
 * forgotten; past DNS_ASKED_MAX the oldest goes to make room. */
static void test_asked_expiry_and_bound(void **st)
{
	struct dns_asked *a = dns_asked_new();
	struct dns_asked_stats s;

	(void)st;
	ask(a, "app.test.example", 1, 40000, 0);
	ask(a, "app.test.example", 2, 40000, 0);
	assert_true(answered(a, "app.test.example", 1, a_ends(res4, 53, 40000),
			     DNS_ASKED_TIMEOUT_US));
	assert_false(answered(a, "app.test.example", 2, a_ends(res4, 53, 40000),
			      DNS_ASKED_TIMEOUT_US + 1));
	for (unsigned i = 0; i < DNS_ASKED_MAX + 10; i++)
		ask(a, "app.test.example", (uint16_t)i, (uint16_t)(1024 + i), 1000000 + i);
	dns_asked_get_stats(a, &s);
	assert_int_equal(s.evicted, 10);
	assert_int_equal(s.pending, DNS_ASKED_MAX);
	/* the ten oldest are gone, the next one and the newest are held */
	assert_false(answered(a, "app.test.example", 9, a_ends(res4, 53, 1024 + 9), 2000000));
	assert_true(answered(a, "app.test.example", 10, a_ends(res4, 53, 1024 + 10), 2000000));
	assert_true(answered(a, "app.test.example", DNS_ASKED_MAX + 9,
			     a_ends(res4, 53, (uint16_t)(1024 + DNS_ASKED_MAX + 9)), 2000000));
	dns_asked_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_answer),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_cname_loop),
		cmocka_unit_test(test_pointer_loop_and_forward),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_odd_labels_escaped),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_error_rcode_not_walked),
		cmocka_unit_test(test_asked_match),
		cmocka_unit_test(test_asked_expiry_and_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
