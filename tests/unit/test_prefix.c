/* Unit tests for rules/prefix.c: CIDR parsing and printing, and the interval
 * sets (struct pset) that become nftables interval sets.
 *
 * Besides example-based tests, the set operations are checked as PROPERTIES
 * against a naive reference: random prefix and interval lists inside a small
 * universe of 4096 addresses (an IPv4 /20 or an IPv6 /116) are mirrored in a
 * bitmap, and after normalize/union/subtract the set must hold exactly the
 * bitmap's addresses as the bitmap's runs (sorted, disjoint, non-adjacent).
 * The seed is fixed (override with PREFIX_SEED=N) and printed on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefix.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

static struct prefix P(const char *s)
{
	struct prefix p;
	char err[128] = "";

	if (prefix_parse(s, &p, NULL, err, sizeof(err)) != 0)
		print_error("'%s': %s\n", s, err);
	assert_int_equal(prefix_parse(s, &p, NULL, err, sizeof(err)), 0);
	return p;
}

static struct addr A(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.b) != 1)
		assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return a;
}

/* Builds a set from a list of CIDRs (all of one family), not normalised. */
static void pset_from(struct pset *s, int family, const char *const *v, size_t n)
{
	pset_init(s, family);
	for (size_t i = 0; i < n; i++) {
		struct prefix p = P(v[i]);
		assert_int_equal(p.family, family);
		assert_int_equal(pset_add_prefix(s, &p), 0);
	}
}

/* "a, b, c" with every interval printed by interval_format. */
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- prefix_parse ------------------------------------------------------ */

struct parse_case {
	const char *in;
	int family;
	unsigned len;
	const char *net;	/* network as printed by prefix_format */
	bool host_bits;
};

static void test_parse_good(void **state)
{
	static const struct parse_case cases[] = {
		{ "10.0.0.0/8", AF_INET, 8, "10.0.0.0/8", false },
		{ "10.1.2.3/8", AF_INET, 8, "10.0.0.0/8", true },
		{ "192.0.2.1", AF_INET, 32, "192.0.2.1", false },
		{ "192.0.2.1/32", AF_INET, 32, "192.0.2.1", false },
		{ "0.0.0.0/0", AF_INET, 0, "0.0.0.0/0", false },
		{ "255.255.255.255/0", AF_INET, 0, "0.0.0.0/0", true },
		{ "255.255.255.255", AF_INET, 32, "255.255.255.255", false },
		{ "172.16.0.0/12", AF_INET, 12, "172.16.0.0/12", false },
		{ "172.31.255.255/12", AF_INET, 12, "172.16.0.0/12", true },
		{ "203.0.113.129/25", AF_INET, 25, "203.0.113.128/25", true },
		{ "203.0.113.128/25", AF_INET, 25, "203.0.113.128/25", false },
		{ "10.0.0.0/08", AF_INET, 8, "10.0.0.0/8", false },
		{ "2001:db8::/32", AF_INET6, 32, "2001:db8::/32", false },
		{ "2001:db8::1/32", AF_INET6, 32, "2001:db8::/32", true },
		{ "2001:db8::1", AF_INET6, 128, "2001:db8::1", false },
		{ "2001:DB8::1/128", AF_INET6, 128, "2001:db8::1", false },
		{ "::/0", AF_INET6, 0, "::/0", false },
		{ "::", AF_INET6, 128, "::", false },
		{ "::1", AF_INET6, 128, "::1", false },
		{ "fd00:10::/48", AF_INET6, 48, "fd00:10::/48", false },
		{ "fd00:10:0:1::/48", AF_INET6, 48, "fd00:10::/48", true },
		{ "2001:db8:ffff:ffff::/63", AF_INET6, 63, "2001:db8:ffff:fffe::/63", true },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/1", AF_INET6, 1, "8000::/1", true },
		{ "::ffff:192.0.2.1", AF_INET6, 128, "::ffff:192.0.2.1", false },
		{ "2001:db8::/127", AF_INET6, 127, "2001:db8::/127", false },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct prefix p;
		bool hb = !cases[i].host_bits;
		char err[128] = "", buf[INET6_ADDRSTRLEN + 8];
		int rc = prefix_parse(cases[i].in, &p, &hb, err, sizeof(err));

		if (rc != 0)
			print_error("'%s': %s\n", cases[i].in, err);
		assert_int_equal(rc, 0);
		assert_int_equal(p.family, cases[i].family);
		assert_int_equal(p.len, cases[i].len);
		if (hb != cases[i].host_bits)
			print_error("'%s': host_bits %d\n", cases[i].in, hb);
		assert_int_equal(hb, cases[i].host_bits);
		prefix_format(&p, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].net);
		/* host bits are cleared, IPv4 keeps bytes 4..15 zero */
		for (size_t k = family_bytes(p.family); k < 16; k++)
			assert_int_equal(p.a.b[k], 0);
		/* host_bits may be NULL */
		assert_int_equal(prefix_parse(cases[i].in, &p, NULL, err, sizeof(err)), 0);
	}
}

struct bad_case {
	const char *in;
	const char *err;
};

static void test_parse_bad(void **state)
{
	static const struct bad_case cases[] = {
		{ "", "'' is not an IP address or CIDR" },
		{ "/", "'/' is not an IP address or CIDR" },
		{ "/8", "'/8' is not an IP address or CIDR" },
		{ ":::", "':::' is not an IP address or CIDR" },
		{ "1.2.3", "'1.2.3' is not an IP address or CIDR" },
		{ "1.2.3.4.5", "'1.2.3.4.5' is not an IP address or CIDR" },
		{ "256.0.0.0", "'256.0.0.0' is not an IP address or CIDR" },
		{ "01.2.3.4", "'01.2.3.4' is not an IP address or CIDR" },
		{ " 1.2.3.4", "' 1.2.3.4' is not an IP address or CIDR" },
		{ "1.2.3.4 ", "'1.2.3.4 ' is not an IP address or CIDR" },
		{ "example.com", "'example.com' is not an IP address or CIDR" },
		{ "AzureCloud", "'AzureCloud' is not an IP address or CIDR" },
		{ "2001:db8::g", "'2001:db8::g' is not an IP address or CIDR" },
		{ "1:2:3:4:5:6:7:8:9", "'1:2:3:4:5:6:7:8:9' is not an IP address or CIDR" },
		{ "fe80::1%eth0", "'fe80::1%eth0' is not an IP address or CIDR" },
		{ "1.2.3.4/33", "'1.2.3.4/33': prefix length must be 0..32" },
		{ "1.2.3.4/128", "'1.2.3.4/128': prefix length must be 0..32" },
		{ "::/129", "'::/129': prefix length must be 0..128" },
		{ "1.2.3.4/8x", "'1.2.3.4/8x': prefix length must be 0..32" },
		{ "1.2.3.4/8/8", "'1.2.3.4/8/8': prefix length must be 0..32" },
		{ "1.2.3.4/99999999999999999999",
		  "'1.2.3.4/99999999999999999999': prefix length must be 0..32" },
		{ "1.2.3.4/", "'1.2.3.4/': prefix length is not a number" },
		{ "1.2.3.4/-1", "'1.2.3.4/-1': prefix length is not a number" },
		{ "1.2.3.4/+8", "'1.2.3.4/+8': prefix length is not a number" },
		{ "1.2.3.4/ 8", "'1.2.3.4/ 8': prefix length is not a number" },
		{ "::/x", "'::/x': prefix length is not a number" },
	};
	char longs[200];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct prefix p;
		bool hb = true;
		char err[128] = "";
		int rc = prefix_parse(cases[i].in, &p, &hb, err, sizeof(err));

		if (rc != -1)
			print_error("'%s' was accepted\n", cases[i].in);
		assert_int_equal(rc, -1);
		assert_string_equal(err, cases[i].err);
		assert_false(hb);
	}
	/* longer than any address: refused without overflowing anything */
	memset(longs, '1', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	{
		struct prefix p;
		char err[512];
		assert_int_equal(prefix_parse(longs, &p, NULL, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "is not an IP address or CIDR"));
	}
	/* a short error buffer truncates, it is never overrun */
	{
		struct prefix p;
		char err[8];
		memset(err, 'x', sizeof(err));
		assert_int_equal(prefix_parse("nonsense", &p, NULL, err, sizeof(err)), -1);
		assert_int_equal(strlen(err), sizeof(err) - 1);
	}
}

static void test_format_and_contains(void **state)
{
	struct prefix p;
	char buf[INET6_ADDRSTRLEN + 8];
	struct addr a;

	(void)state;
	p = P("10.0.0.0/8");
	prefix_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/8");
	a = A("10.255.255.255");
	assert_true(prefix_contains(&p, &a));
	a = A("11.0.0.0");
	assert_false(prefix_contains(&p, &a));
	a = A("9.255.255.255");
	assert_false(prefix_contains(&p, &a));

	p = P("2001:db8::/32");
	a = A("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_true(prefix_contains(&p, &a));
	a = A("2001:db9::");
	assert_false(prefix_contains(&p, &a));

	p = P("::/0");
	a = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_true(prefix_contains(&p, &a));

	/* a truncated buffer stays a string */
	p = P("2001:db8::/32");
	prefix_format(&p, buf, 6);
	assert_string_equal(buf, "2001:");

	addr_format(AF_INET, &(struct addr){ { 192, 0, 2, 1 } }, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1");
	a = A("2001:db8::1");
	addr_format(AF_INET6, &a, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");

	struct addr x = A("10.0.0.1"), y = A("10.0.0.2");
	assert_true(addr_cmp(AF_INET, &x, &y) < 0);
	assert_true(addr_cmp(AF_INET, &y, &x) > 0);
	assert_int_equal(addr_cmp(AF_INET, &x, &x), 0);
}

/* ---- intervals ----------------------------------------------------------- */

struct ivcase {
	int family;
	const char *lo, *hi;
	const char *text;
	int plen;		/* -1: not one prefix */
};

static void test_interval_format(void **state)
{
	static const struct ivcase cases[] = {
		{ AF_INET, "10.0.0.0", "10.255.255.255", "10.0.0.0/8", 8 },
		{ AF_INET, "10.0.0.1", "10.0.0.1", "10.0.0.1", 32 },
		{ AF_INET, "0.0.0.0", "255.255.255.255", "0.0.0.0/0", 0 },
		{ AF_INET, "255.255.255.255", "255.255.255.255", "255.255.255.255", 32 },
		{ AF_INET, "128.0.0.0", "255.255.255.255", "128.0.0.0/1", 1 },
		{ AF_INET, "10.0.0.0", "10.0.1.127", "10.0.0.0-10.0.1.127", -1 },
		{ AF_INET, "10.0.0.1", "10.0.0.2", "10.0.0.1-10.0.0.2", -1 },
		/* size is a power of two but not aligned */
		{ AF_INET, "10.0.0.2", "10.0.0.5", "10.0.0.2-10.0.0.5", -1 },
		{ AF_INET, "0.0.0.0", "255.255.255.254", "0.0.0.0-255.255.255.254", -1 },
		{ AF_INET, "0.0.0.1", "255.255.255.255", "0.0.0.1-255.255.255.255", -1 },
		{ AF_INET6, "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32", 32 },
		{ AF_INET6, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", 0 },
		{ AF_INET6, "2001:db8::1", "2001:db8::1", "2001:db8::1", 128 },
		{ AF_INET6, "2001:db8::", "2001:db8::2", "2001:db8::-2001:db8::2", -1 },
		{ AF_INET6, "fd00::", "fd00::2:ffff", "fd00::-fd00::2:ffff", -1 },
		{ AF_INET6, "fd00::", "fd00::1:ffff", "fd00::/111", 111 },
		{ AF_INET6, "fd00::", "fd00::ffff", "fd00::/112", 112 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct interval iv = { .lo = A(cases[i].lo), .hi = A(cases[i].hi) };
		char buf[2 * INET6_ADDRSTRLEN + 2];
		unsigned len = 999;
		bool isp = interval_is_prefix(cases[i].family, &iv, &len);

		interval_format(cases[i].family, &iv, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
		assert_int_equal(isp, cases[i].plen >= 0);
		if (isp)
			assert_int_equal(len, (unsigned)cases[i].plen);
		else
			assert_int_equal(len, 999);	/* untouched */
		/* len may be NULL */
		assert_int_equal(interval_is_prefix(cases[i].family, &iv, NULL), isp);
	}
}

/* ---- pset by example --------------------------------------------------- */

static void test_normalize_v4(void **state)
{
	struct pset s;

	(void)state;
	/* overlap, containment, adjacency, duplicates, out of order */
	static const char *const in[] = {
		"10.0.1.0/24", "10.0.0.0/24",		/* adjacent → 10.0.0.0/23 */
		"10.0.0.128/25",			/* contained */
		"10.0.2.0/25", "10.0.2.64/26",		/* contained, not adjacent to /23? adjacent! */
		"192.0.2.0/24", "192.0.2.0/24",		/* duplicate */
		"198.51.100.0/26", "198.51.100.32/27",	/* overlapping */
		"203.0.113.1", "203.0.113.3",		/* not adjacent */
	};
	pset_from(&s, AF_INET, in, N(in));
	pset_normalize(&s);
	assert_pset_text(&s, "10.0.0.0-10.0.2.127, 192.0.2.0/24, 198.51.100.0/26, "
			     "203.0.113.1, 203.0.113.3");
	assert_int_equal(s.n, 5);
	/* idempotent */
	pset_normalize(&s);
	assert_int_equal(s.n, 5);
	assert_int_equal(pset_count_prefixes(&s), 6);	/* /23 + /25 + 3 */
	pset_free(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	pset_free(&s);		/* twice is harmless */

	/* a big one swallowing many small ones, in both orders */
	static const char *const in2[] = {
		"10.1.0.0/24", "10.2.0.0/24", "10.0.0.0/8", "10.255.255.255", "9.255.255.255",
		"11.0.0.0",
	};
	pset_from(&s, AF_INET, in2, N(in2));
	pset_normalize(&s);
	assert_pset_text(&s, "9.255.255.255-11.0.0.0");
	assert_int_equal(pset_count_prefixes(&s), 3);
	pset_free(&s);

	/* empty and single sets */
	pset_init(&s, AF_INET);
	pset_normalize(&s);
	assert_int_equal(s.n, 0);
	assert_int_equal(pset_count_prefixes(&s), 0);
	assert_false(pset_contains(&s, &(struct addr){ { 10, 0, 0, 1 } }));
	pset_free(&s);
}

static void test_normalize_edges(void **state)
{
	struct pset s;

	(void)state;
	/* the all-ones top address: hi + 1 overflows, must still merge */
	static const char *const top[] = {
		"255.255.255.255", "255.255.255.254", "255.255.255.0/24", "255.255.254.0/24",
	};
	pset_from(&s, AF_INET, top, N(top));
	pset_normalize(&s);
	assert_pset_text(&s, "255.255.254.0/23");
	pset_free(&s);

	static const char *const top2[] = { "255.255.255.255", "255.255.255.253" };
	pset_from(&s, AF_INET, top2, N(top2));
	pset_normalize(&s);
	assert_pset_text(&s, "255.255.255.253, 255.255.255.255");
	pset_free(&s);

	/* after an interval reaching the top, nothing can be separate */
	static const char *const top3[] = { "128.0.0.0/1", "200.0.0.0/8", "255.255.255.255" };
	pset_from(&s, AF_INET, top3, N(top3));
	pset_normalize(&s);
	assert_pset_text(&s, "128.0.0.0/1");
	pset_free(&s);

	/* everything */
	static const char *const all[] = { "10.0.0.0/8", "0.0.0.0/0", "1.2.3.4" };
	pset_from(&s, AF_INET, all, N(all));
	pset_normalize(&s);
	assert_pset_text(&s, "0.0.0.0/0");
	assert_int_equal(pset_count_prefixes(&s), 1);
	assert_true(pset_contains(&s, &(struct addr){ { 0, 0, 0, 0 } }));
	assert_true(pset_contains(&s, &(struct addr){ { 255, 255, 255, 255 } }));
	pset_free(&s);

	/* the two halves join to everything */
	static const char *const halves[] = { "128.0.0.0/1", "0.0.0.0/1" };
	pset_from(&s, AF_INET, halves, N(halves));
	pset_normalize(&s);
	assert_pset_text(&s, "0.0.0.0/0");
	pset_free(&s);

	/* IPv6: adjacency across a byte carry, the all-ones top, ::/0 */
	static const char *const v6[] = {
		"2001:db8::/48", "2001:db8:1::/48", "2001:db8:3::/48",
		"2001:db8:0:ffff::/64",		/* contained */
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127",
		"fd00::1", "fd00::2",
		"2001:db8:4::/48",		/* adjacent to 3 */
	};
	pset_from(&s, AF_INET6, v6, N(v6));
	pset_normalize(&s);
	assert_pset_text(&s, "2001:db8::/47, 2001:db8:3::-2001:db8:4:ffff:ffff:ffff:ffff:ffff, "
			     "fd00::1-fd00::2, ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
	assert_int_equal(pset_count_prefixes(&s), 1 + 2 + 2 + 1);
	pset_free(&s);

	static const char *const v6all[] = { "::/0", "2001:db8::/32", "::" };
	pset_from(&s, AF_INET6, v6all, N(v6all));
	pset_normalize(&s);
	assert_pset_text(&s, "::/0");
	pset_free(&s);

	/* a wrong family is refused */
	struct prefix p6 = P("2001:db8::/32");
	pset_init(&s, AF_INET);
	assert_int_equal(pset_add_prefix(&s, &p6), -1);
	assert_int_equal(s.n, 0);
	pset_free(&s);
}

static void test_union_subtract(void **state)
{
	struct pset a, b, c;

	(void)state;
	static const char *const av[] = { "10.0.0.0/24", "10.0.2.0/24" };
	static const char *const bv[] = { "10.0.1.0/24", "10.0.4.0/24" };
	pset_from(&a, AF_INET, av, N(av));
	pset_from(&b, AF_INET, bv, N(bv));
	pset_normalize(&b);
	assert_int_equal(pset_union(&a, &b), 0);
	assert_pset_text(&a, "10.0.0.0-10.0.2.255, 10.0.4.0/24");
	/* b unchanged */
	assert_pset_text(&b, "10.0.1.0/24, 10.0.4.0/24");

	/* subtract: hole in the middle, cut at both ends, whole interval gone */
	static const char *const cv[] = { "10.0.1.0/25", "10.0.0.0/30", "10.0.2.252/30",
					  "10.0.4.0/24" };
	pset_from(&c, AF_INET, cv, N(cv));
	pset_normalize(&c);
	assert_int_equal(pset_subtract(&a, &c), 0);
	assert_pset_text(&a, "10.0.0.4-10.0.0.255, 10.0.1.128-10.0.2.251");
	pset_free(&c);

	/* subtracting everything leaves nothing; from nothing, nothing */
	pset_init(&c, AF_INET);
	struct prefix all = P("0.0.0.0/0");
	assert_int_equal(pset_add_prefix(&c, &all), 0);
	assert_int_equal(pset_subtract(&a, &c), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(pset_subtract(&a, &c), 0);
	assert_int_equal(a.n, 0);
	/* everything minus the edges: both ends at the limits of the space */
	static const char *const edges[] = { "0.0.0.0", "255.255.255.255" };
	pset_from(&a, AF_INET, edges, N(edges));
	pset_normalize(&a);
	assert_int_equal(pset_subtract(&c, &a), 0);
	assert_pset_text(&c, "0.0.0.1-255.255.255.254");
	pset_free(&a);
	/* subtracting the empty set changes nothing; a union with it neither */
	pset_init(&a, AF_INET);
	assert_int_equal(pset_subtract(&c, &a), 0);
	assert_pset_text(&c, "0.0.0.1-255.255.255.254");
	assert_int_equal(pset_union(&c, &a), 0);
	assert_pset_text(&c, "0.0.0.1-255.255.255.254");
	/* union into the empty set */
	assert_int_equal(pset_union(&a, &c), 0);
	assert_pset_text(&a, "0.0.0.1-255.255.255.254");
	pset_free(&a);
	pset_free(&b);
	pset_free(&c);

	/* IPv6: the "Internet" computation of the compiler: 2000::/3 minus a vnet */
	static const char *const g[] = { "2000::/3" };
	static const char *const v[] = { "2001:db8::/32", "3fff:ffff:ffff:ffff::/64" };
	pset_from(&a, AF_INET6, g, N(g));
	pset_from(&b, AF_INET6, v, N(v));
	pset_normalize(&b);
	assert_int_equal(pset_subtract(&a, &b), 0);
	assert_pset_text(&a, "2000::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff, "
			     "2001:db9::-3fff:ffff:ffff:fffe:ffff:ffff:ffff:ffff");
	pset_free(&a);
	pset_free(&b);

	/* pset_copy is deep */
	static const char *const cp[] = { "192.0.2.0/24" };
	pset_from(&a, AF_INET, cp, N(cp));
	assert_int_equal(pset_copy(&b, &a), 0);
	pset_free(&a);
	assert_pset_text(&b, "192.0.2.0/24");
	pset_free(&b);
	pset_init(&a, AF_INET6);
	assert_int_equal(pset_copy(&b, &a), 0);
	assert_int_equal(b.family, AF_INET6);
	assert_int_equal(b.n, 0);
	pset_free(&a);
	pset_free(&b);
}

static void test_subset_contains(void **state)
{
	struct pset a, b;

	(void)state;
	static const char *const bv[] = { "10.0.0.0/16", "192.0.2.0/24" };
	static const char *const av[] = { "10.0.5.0/24", "192.0.2.128/25", "10.0.255.255" };
	pset_from(&a, AF_INET, av, N(av));
	pset_from(&b, AF_INET, bv, N(bv));
	pset_normalize(&a);
	pset_normalize(&b);
	assert_true(pset_is_subset(&a, &b));
	assert_false(pset_is_subset(&b, &a));
	assert_true(pset_is_subset(&a, &a));
	pset_free(&a);

	/* straddles the end of a member interval */
	static const char *const a2[] = { "10.0.255.0/24", "10.1.0.0" };
	pset_from(&a, AF_INET, a2, N(a2));
	pset_normalize(&a);
	assert_int_equal(a.n, 1);
	assert_false(pset_is_subset(&a, &b));
	pset_free(&a);

	/* spans the gap between two member intervals */
	pset_init(&a, AF_INET);
	struct addr lo = A("10.0.0.0"), hi = A("192.0.2.0");
	assert_int_equal(pset_add_interval(&a, &lo, &hi), 0);
	assert_false(pset_is_subset(&a, &b));
	pset_free(&a);

	/* the empty set is a subset of everything, including the empty set */
	pset_init(&a, AF_INET);
	assert_true(pset_is_subset(&a, &b));
	assert_true(pset_is_subset(&a, &a));
	assert_false(pset_is_subset(&b, &a));
	pset_free(&a);

	/* contains: boundaries */
	assert_true(pset_contains(&b, &(struct addr){ { 10, 0, 0, 0 } }));
	assert_true(pset_contains(&b, &(struct addr){ { 10, 0, 255, 255 } }));
	assert_false(pset_contains(&b, &(struct addr){ { 10, 1, 0, 0 } }));
	assert_false(pset_contains(&b, &(struct addr){ { 9, 255, 255, 255 } }));
	assert_true(pset_contains(&b, &(struct addr){ { 192, 0, 2, 255 } }));
	assert_false(pset_contains(&b, &(struct addr){ { 192, 0, 3, 0 } }));
	assert_false(pset_contains(&b, &(struct addr){ { 255, 255, 255, 255 } }));
	assert_false(pset_contains(&b, &(struct addr){ { 0, 0, 0, 0 } }));
	pset_free(&b);
}

static void test_count_prefixes(void **state)
{
	struct pset s;
	struct addr lo, hi;

	(void)state;
	/* the non-Internet IPv4 complement used by the compiler */
	static const char *const cut[] = {
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
	};
	struct pset all;
	struct prefix z = P("0.0.0.0/0");
	pset_init(&all, AF_INET);
	assert_int_equal(pset_add_prefix(&all, &z), 0);
	pset_from(&s, AF_INET, cut, N(cut));
	pset_normalize(&s);
	assert_int_equal(s.n, 8);	/* 224/4 and 240/4 join */
	assert_int_equal(pset_count_prefixes(&s), 8);	/* 224.0.0.0/3 */
	assert_int_equal(pset_subtract(&all, &s), 0);
	assert_pset_text(&all, "1.0.0.0-9.255.255.255, 11.0.0.0-100.63.255.255, "
			       "100.128.0.0-126.255.255.255, 128.0.0.0-169.253.255.255, "
			       "169.255.0.0-172.15.255.255, 172.32.0.0-192.167.255.255, "
			       "192.169.0.0-223.255.255.255");
	/* what `ipaddress.collapse_addresses` gives for the same ranges */
	assert_int_equal(pset_count_prefixes(&all), 51);
	pset_free(&all);
	pset_free(&s);

	/* the worst case of one interval: 1 .. 2^32-2 needs 62 prefixes */
	pset_init(&s, AF_INET);
	lo = A("0.0.0.1");
	hi = A("255.255.255.254");
	assert_int_equal(pset_add_interval(&s, &lo, &hi), 0);
	assert_int_equal(pset_count_prefixes(&s), 62);
	pset_free(&s);
	/* and for IPv6, 254 */
	pset_init(&s, AF_INET6);
	lo = A("::1");
	hi = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	assert_int_equal(pset_add_interval(&s, &lo, &hi), 0);
	assert_int_equal(pset_count_prefixes(&s), 254);
	pset_free(&s);
}

/* ---- property tests against a bitmap ------------------------------------ */

#define USIZE 4096u	/* universe: 2^12 addresses */

struct universe {
	int family;
	const char *base;	/* aligned to 4096 addresses */
	struct addr a;		/* parsed base */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: good enough, and the same everywhere */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

/* The address at offset off (0..4095) of the universe. */
static struct addr uaddr(const struct universe *u, unsigned off)
{
	struct addr a = u->a;
	size_t nb = family_bytes(u->family);

	a.b[nb - 1] = (uint8_t)(off & 0xff);
	a.b[nb - 2] = (uint8_t)((a.b[nb - 2] & 0xf0) | ((off >> 8) & 0x0f));
	return a;
}

/* Offset of a within the universe, or -1 when outside. */
static int uoff(const struct universe *u, const struct addr *a)
{
	size_t nb = family_bytes(u->family);

	if (memcmp(a->b, u->a.b, nb - 2) != 0 || (a->b[nb - 2] & 0xf0) != (u->a.b[nb - 2] & 0xf0))
		return -1;
	for (size_t k = nb; k < 16; k++)
		if (a->b[k])
			return -1;
	return ((a->b[nb - 2] & 0x0f) << 8) | a->b[nb - 1];
}

/* a + 1 or a - 1 into *out; true when that leaves the address space. */
static bool addr_step(int family, struct addr a, int dir, struct addr *out)
{
	for (int i = (int)family_bytes(family) - 1; i >= 0; i--) {
		uint8_t old = a.b[i];
		a.b[i] = (uint8_t)(old + dir);
		if ((dir > 0 && a.b[i] != 0) || (dir < 0 && old != 0)) {
			*out = a;
			return false;
		}
	}
	return true;
}

struct ref {
	uint8_t m[USIZE];
};

static uint64_t cur_seed;
static unsigned cur_iter;
static const char *cur_universe;

#define PROP_FAIL(...) do {							\
		print_error("property failed: seed=%llu iteration=%u universe=%s: ", \
			    (unsigned long long)cur_seed, cur_iter, cur_universe); \
		print_error(__VA_ARGS__);					\
		print_error("\n(rerun with PREFIX_SEED=%llu)\n",		\
			    (unsigned long long)cur_seed);			\
		fail();								\
	} while (0)

/* Random list: prefixes of length 20..max (biased long) and raw intervals. */
static void gen(const struct universe *u, struct pset *s, struct ref *r)
{
	unsigned max = u->family == AF_INET ? 32 : 128;
	unsigned n = rndn(12);

	pset_init(s, u->family);
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < n; i++) {
		if (rndn(4) == 0) {
			unsigned a = rndn(USIZE), b = rndn(USIZE);
			if (a > b) {
				unsigned t = a;
				a = b;
				b = t;
			}
			if (rndn(3) == 0 && b - a > 64)
				b = a + rndn(64);	/* short ones meet more often */
			struct addr lo = uaddr(u, a), hi = uaddr(u, b);
			assert_int_equal(pset_add_interval(s, &lo, &hi), 0);
			memset(r->m + a, 1, b - a + 1);
		} else {
			/* host bits: 0..12, mostly small blocks */
			unsigned hb = rndn(5) == 0 ? rndn(13) : rndn(6);
			unsigned off = rndn(USIZE);
			struct prefix p = { .family = u->family, .len = max - hb };
			unsigned size = 1u << hb;
			/* leave host bits set: pset_add_prefix must mask them */
			p.a = uaddr(u, off);
			assert_int_equal(pset_add_prefix(s, &p), 0);
			memset(r->m + (off & ~(size - 1)), 1, size);
		}
	}
}

/* Runs of the bitmap: the only correct minimal representation. */
static size_t runs(const struct ref *r, unsigned *lo, unsigned *hi)
{
	size_t n = 0;

	for (unsigned i = 0; i < USIZE; i++) {
		if (!r->m[i])
			continue;
		unsigned j = i;
		while (j + 1 < USIZE && r->m[j + 1])
			j++;
		lo[n] = i;
		hi[n] = j;
		n++;
		i = j;
	}
	return n;
}

/* Naive CIDR count of [a, b] (offsets; the universe base is 4096-aligned). */
static size_t naive_prefixes(unsigned a, unsigned b)
{
	size_t n = 0;

	while (a <= b) {
		unsigned size = 1;
		while (size < USIZE && (a % (size * 2)) == 0 && a + size * 2 - 1 <= b)
			size *= 2;
		n++;
		a += size;
	}
	return n;
}

static void check_against(const struct universe *u, const struct pset *s, const struct ref *r,
			  const char *what)
{
	unsigned lo[USIZE / 2 + 1], hi[USIZE / 2 + 1];
	size_t nr = runs(r, lo, hi), want_prefixes = 0;

	if (s->family != u->family)
		PROP_FAIL("%s: family changed", what);
	if (s->n != nr)
		PROP_FAIL("%s: %zu intervals, bitmap has %zu runs", what, s->n, nr);
	for (size_t i = 0; i < s->n; i++) {
		int a = uoff(u, &s->v[i].lo), b = uoff(u, &s->v[i].hi);
		if (a < 0 || b < 0)
			PROP_FAIL("%s: interval %zu leaves the universe", what, i);
		if ((unsigned)a != lo[i] || (unsigned)b != hi[i])
			PROP_FAIL("%s: interval %zu is [%d, %d], run is [%u, %u]", what, i, a, b,
				  lo[i], hi[i]);
		/* sorted, disjoint and non-adjacent, checked on the addresses too */
		if (i && addr_cmp(u->family, &s->v[i - 1].hi, &s->v[i].lo) >= 0)
			PROP_FAIL("%s: intervals %zu and %zu overlap or are unsorted", what, i - 1, i);
		want_prefixes += naive_prefixes(lo[i], hi[i]);
		unsigned plen;
		bool isp = interval_is_prefix(u->family, &s->v[i], &plen);
		if (isp != (naive_prefixes(lo[i], hi[i]) == 1))
			PROP_FAIL("%s: interval_is_prefix wrong for [%u, %u]", what, lo[i], hi[i]);
		if (isp && (1u << ((u->family == AF_INET ? 32 : 128) - plen)) != hi[i] - lo[i] + 1)
			PROP_FAIL("%s: prefix length %u wrong for [%u, %u]", what, plen, lo[i], hi[i]);
	}
	for (size_t i = 1; i < nr; i++)
		if (lo[i] <= hi[i - 1] + 1)
			PROP_FAIL("%s: reference runs adjacent (test bug)", what);
	if (pset_count_prefixes(s) != want_prefixes)
		PROP_FAIL("%s: count_prefixes %zu, naive %zu", what, pset_count_prefixes(s),
			  want_prefixes);
	for (unsigned off = 0; off < USIZE; off++) {
		struct addr a = uaddr(u, off);
		if (pset_contains(s, &a) != (r->m[off] != 0))
			PROP_FAIL("%s: contains(offset %u) = %d, bitmap %d", what, off,
				  pset_contains(s, &a), r->m[off]);
	}
}

static const struct universe universes[] = {
	{ AF_INET, "10.0.0.0", { { 0 } } },
	{ AF_INET, "0.0.0.0", { { 0 } } },
	{ AF_INET, "255.255.240.0", { { 0 } } },
	{ AF_INET6, "2001:db8::", { { 0 } } },
	{ AF_INET6, "2001:db8:ffff:ffff:ffff:ffff:ffff:f000", { { 0 } } },
	{ AF_INET6, "::", { { 0 } } },
	{ AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:f000", { { 0 } } },
};

#define ITERATIONS 300

static void test_properties(void **state)
{
	const char *env = getenv("PREFIX_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20240415;

	(void)state;
	for (size_t ui = 0; ui < N(universes); ui++) {
		struct universe u = universes[ui];
		u.a = A(u.base);
		cur_universe = u.base;
		cur_seed = seed + ui;
		rng_state = cur_seed;
		for (cur_iter = 0; cur_iter < ITERATIONS; cur_iter++) {
			struct pset a, b, c;
			static struct ref ra, rb, rc, rx;

			gen(&u, &a, &ra);
			gen(&u, &b, &rb);
			pset_normalize(&a);
			check_against(&u, &a, &ra, "normalize(a)");
			pset_normalize(&b);
			check_against(&u, &b, &rb, "normalize(b)");

			/* just outside the universe nothing is contained */
			struct addr out;
			if (!addr_step(u.family, uaddr(&u, 0), -1, &out) && pset_contains(&a, &out))
				PROP_FAIL("address below the universe contained");
			if (!addr_step(u.family, uaddr(&u, USIZE - 1), 1, &out) && pset_contains(&a, &out))
				PROP_FAIL("address above the universe contained");

			/* is_subset both ways */
			bool sub = true;
			for (unsigned i = 0; i < USIZE; i++)
				if (ra.m[i] && !rb.m[i])
					sub = false;
			if (pset_is_subset(&a, &b) != sub)
				PROP_FAIL("is_subset(a, b) = %d, bitmap %d", !sub, sub);

			/* union (of an un-normalised copy, in random order) */
			assert_int_equal(pset_copy(&c, &a), 0);
			for (unsigned i = 0; i < USIZE; i++)
				rx.m[i] = ra.m[i] | rb.m[i];
			assert_int_equal(pset_union(&c, &b), 0);
			check_against(&u, &c, &rx, "union");
			if (!pset_is_subset(&a, &c) || !pset_is_subset(&b, &c))
				PROP_FAIL("operands not subsets of their union");
			pset_free(&c);

			/* subtract */
			assert_int_equal(pset_copy(&c, &a), 0);
			for (unsigned i = 0; i < USIZE; i++)
				rx.m[i] = ra.m[i] & !rb.m[i];
			assert_int_equal(pset_subtract(&c, &b), 0);
			check_against(&u, &c, &rx, "subtract");
			/* a \ b ⊆ a, and a \ b ⊆ b only when it is empty */
			if (!pset_is_subset(&c, &a))
				PROP_FAIL("a \\ b not a subset of a");
			if (pset_is_subset(&c, &b) != (c.n == 0))
				PROP_FAIL("a \\ b subset of b but not empty");
			/* (a \ b) ∪ (a ∩ b) = a, with a ∩ b = a \ (a \ b) */
			struct pset d;
			assert_int_equal(pset_copy(&d, &a), 0);
			assert_int_equal(pset_subtract(&d, &c), 0);
			for (unsigned i = 0; i < USIZE; i++)
				rc.m[i] = ra.m[i] & rb.m[i];
			check_against(&u, &d, &rc, "intersection");
			if (!pset_is_subset(&d, &b))
				PROP_FAIL("a ∩ b not a subset of b");
			assert_int_equal(pset_union(&d, &c), 0);
			check_against(&u, &d, &ra, "(a\\b) ∪ (a∩b)");
			pset_free(&d);
			pset_free(&c);

			/* subtract from an UN-normalised minuend (normalised inside) */
			struct ref r2;
			gen(&u, &c, &r2);
			for (unsigned i = 0; i < USIZE; i++)
				rx.m[i] = r2.m[i] & !rb.m[i];
			assert_int_equal(pset_subtract(&c, &b), 0);
			check_against(&u, &c, &rx, "subtract(raw)");
			pset_free(&c);

			/* the printed intervals parse back to their bounds */
			for (size_t i = 0; i < a.n; i++) {
				char buf[2 * INET6_ADDRSTRLEN + 2];
				interval_format(u.family, &a.v[i], buf, sizeof(buf));
				char *dash = strchr(buf, '-');
				if (dash) {
					*dash = '\0';
					struct addr x = A(buf), y = A(dash + 1);
					if (memcmp(&x, &a.v[i].lo, sizeof(x)) || memcmp(&y, &a.v[i].hi, sizeof(y)))
						PROP_FAIL("interval_format range '%s' wrong", buf);
				} else {
					struct pset one;
					struct prefix p = P(buf);
					pset_init(&one, u.family);
					assert_int_equal(pset_add_prefix(&one, &p), 0);
					if (memcmp(&one.v[0], &a.v[i], sizeof(one.v[0])))
						PROP_FAIL("interval_format prefix '%s' wrong", buf);
					pset_free(&one);
				}
			}
			pset_free(&a);
			pset_free(&b);
			(void)rc;
		}
	}
}

/* addr_format writes without stdio what inet_ntop(3) writes: every IPv4
 * octet width, and IPv6 addresses built from zero/non-zero group patterns
 * (all 256 zero masks, so every run position and tie), the embedded IPv4
 * forms, and random addresses. */
static void test_addr_format_ntop(void **state)
{
	uint64_t x = 88172645463325252ull;
	char want[INET6_ADDRSTRLEN], got[ADDR_TEXT_MAX];
	struct addr a;
	(void)state;

	for (unsigned i = 0; i < 256 * 8; i++) {
		memset(&a, 0, sizeof(a));
		for (int j = 0; j < 4; j++)
			a.b[j] = (uint8_t)((unsigned)j == i % 4 ? i / 8 : (i * 37 + (unsigned)j) & 0xff);
		assert_non_null(inet_ntop(AF_INET, a.b, want, sizeof(want)));
		assert_int_equal(addr_format_fast(AF_INET, &a, got), strlen(want));
		assert_string_equal(got, want);
	}
	for (unsigned mask = 0; mask < 256; mask++) {
		for (unsigned v = 0; v < 6; v++) {
			static const uint16_t vals[6] = { 1, 0xffff, 0x10, 0xabc, 0x1234, 0xf00 };

			memset(&a, 0, sizeof(a));
			for (int g = 0; g < 8; g++) {
				uint16_t w = (mask >> g) & 1 ? vals[(v + (unsigned)g) % 6] : 0;

				a.b[2 * g] = (uint8_t)(w >> 8);
				a.b[2 * g + 1] = (uint8_t)w;
			}
			assert_non_null(inet_ntop(AF_INET6, a.b, want, sizeof(want)));
			addr_format_fast(AF_INET6, &a, got);
			assert_string_equal(got, want);
		}
	}
	for (unsigned i = 0; i < 20000; i++) {
		memset(&a, 0, sizeof(a));
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		memcpy(a.b, &x, 8);
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		memcpy(a.b + 8, &x, 8);
		/* zero some groups, and sometimes make an embedded IPv4 form */
		for (int g = 0; g < 8; g++)
			if ((x >> (g + 20)) & 1)
				a.b[2 * g] = a.b[2 * g + 1] = 0;
		if (i % 5 == 0) {
			memset(a.b, 0, 10);
			a.b[10] = a.b[11] = (i % 10 == 0) ? 0xff : 0;
		}
		assert_non_null(inet_ntop(AF_INET6, a.b, want, sizeof(want)));
		addr_format_fast(AF_INET6, &a, got);
		assert_string_equal(got, want);
		addr_format(AF_INET6, &a, got, sizeof(got));
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_format_and_contains),
		cmocka_unit_test(test_addr_format_ntop),
		cmocka_unit_test(test_interval_format),
		cmocka_unit_test(test_normalize_v4),
		cmocka_unit_test(test_normalize_edges),
		cmocka_unit_test(test_union_subtract),
		cmocka_unit_test(test_subset_contains),
		cmocka_unit_test(test_count_prefixes),
		cmocka_unit_test(test_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
