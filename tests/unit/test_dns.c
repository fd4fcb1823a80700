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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
