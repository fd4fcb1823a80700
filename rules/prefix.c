#include "prefix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

int addr_cmp(int family, const struct addr *a, const struct addr *b)
{
	return memcmp(a->b, b->b, family_bytes(family));
}

/* a + 1; returns true on overflow (a was all-ones). */
static bool addr_inc(int family, struct addr *a)
{
	for (int i = (int)family_bytes(family) - 1; i >= 0; i--)
		if (++a->b[i] != 0)
			return false;
	return true;
}

/* a - 1; returns true on underflow (a was zero). */
static bool addr_dec(int family, struct addr *a)
{
	for (int i = (int)family_bytes(family) - 1; i >= 0; i--)
		if (a->b[i]-- != 0)
			return false;
	return true;
}

static void prefix_bounds(const struct prefix *p, struct addr *lo, struct addr *hi)
{
	size_t nb = family_bytes(p->family);

	memset(lo, 0, sizeof(*lo));
	memset(hi, 0, sizeof(*hi));
	for (size_t i = 0; i < nb; i++) {
		unsigned bits = p->len > i * 8 ? p->len - i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		lo->b[i] = p->a.b[i] & mask;
		hi->b[i] = (uint8_t)(p->a.b[i] | ~mask);
	}
}

int prefix_parse(const char *s, struct prefix *out, bool *host_bits,
		 char *err, size_t errlen)
{
	char buf[64];
	const char *slash;
	size_t alen;
	long plen = -1;

	if (host_bits)
		*host_bits = false;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf)) {
		snprintf(err, errlen, "'%s' is not an IP address or CIDR", s);
		return -1;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->a.b) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->a.b) == 1)
		out->family = AF_INET6;
	else {
		snprintf(err, errlen, "'%s' is not an IP address or CIDR", s);
		return -1;
	}
	unsigned max = out->family == AF_INET ? 32 : 128;
	if (slash) {
		char *end;
		const char *n = slash + 1;
		if (*n < '0' || *n > '9') {
			snprintf(err, errlen, "'%s': prefix length is not a number", s);
			return -1;
		}
		errno = 0;
		plen = strtol(n, &end, 10);
		if (*end && (*end == ',' || *end == ' ' || *end == ';')) {
			/* "10.0.0.0/8, 192.0.2.0/24": a list written as one string */
			snprintf(err, errlen, "'%s' is several addresses in one string; write a "
				 "list: [a, b]", s);
			return -1;
		}
		if (*end || errno || plen < 0 || plen > (long)max) {
			snprintf(err, errlen, "'%s': prefix length must be 0..%u", s, max);
			return -1;
		}
		out->len = (unsigned)plen;
	} else {
		out->len = max;
	}
	struct addr lo, hi;
	prefix_bounds(out, &lo, &hi);
	if (memcmp(&lo, &out->a, sizeof(lo)) != 0 && host_bits)
		*host_bits = true;
	out->a = lo;
	return 0;
}

static char *fmt_u8(char *o, unsigned v)
{
	if (v >= 100)
		*o++ = (char)('0' + v / 100);
	if (v >= 10)
		*o++ = (char)('0' + v / 10 % 10);
	*o++ = (char)('0' + v % 10);
	return o;
}

/* "0".."255" and their lengths, built once: an octet is then one 4-byte copy
 * (the report formats two addresses a flow, a hundred thousand flows) */
static struct { char t[4]; uint8_t n; } octet_text[256];

static void octet_text_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		char t[4] = { 0 };

		octet_text[v].n = (uint8_t)(fmt_u8(t, v) - t);
		memcpy(octet_text[v].t, t, 4);
	}
}

static char *fmt_v4(char *o, const uint8_t *b)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, octet_text_init);
	for (int i = 0; i < 4; i++) {
		/* 4 bytes written, n kept: the buffer holds ADDR_TEXT_MAX */
		memcpy(o, octet_text[b[i]].t, 4);
		o += octet_text[b[i]].n;
		*o++ = '.';
	}
	return o - 1;
}

/* The text inet_ntop(3) gives (glibc's rules: RFC 5952 zero compression of
 * the longest run of two or more zero groups, the first of equal runs;
 * "::a.b.c.d" and "::ffff:a.b.c.d" with the IPv4 part dotted), written
 * without stdio: the per-flow report formats two addresses a flow.  Checked
 * against inet_ntop in test_prefix.c.  Returns the end of the text. */
static char *fmt_v6(char *o, const uint8_t *b)
{
	static const char hex[] = "0123456789abcdef";
	unsigned w[8];
	int best = -1, bestlen = 0;

	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > bestlen) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (bestlen < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*o++ = ':';
			i += bestlen - 1;
			if (i == 7)
				*o++ = ':';
			continue;
		}
		if (i)
			*o++ = ':';
		if (i == 6 && best == 0 && (bestlen == 6 || (bestlen == 5 && w[5] == 0xffff)))
			return fmt_v4(o, b + 12);
		bool lead = true;

		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned d = (w[i] >> sh) & 15;

			if (d || !lead || sh == 0) {
				*o++ = hex[d];
				lead = false;
			}
		}
	}
	return o;
}

size_t addr_format_fast(int family, const struct addr *a, char *out)
{
	char *e = family == AF_INET ? fmt_v4(out, a->b) : fmt_v6(out, a->b);

	*e = '\0';
	return (size_t)(e - out);
}

void addr_format(int family, const struct addr *a, char *buf, size_t len)
{
	char t[ADDR_TEXT_MAX];

	if (!len)
		return;
	if (family != AF_INET && family != AF_INET6) {
		buf[0] = '\0';
		return;
	}
	addr_format_fast(family, a, t);
	snprintf(buf, len, "%s", t);
}

void prefix_format(const struct prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	addr_format(p->family, &p->a, a, sizeof(a));
	if (p->len == (p->family == AF_INET ? 32u : 128u))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->len);
}

bool prefix_contains(const struct prefix *p, const struct addr *a)
{
	struct addr lo, hi;

	prefix_bounds(p, &lo, &hi);
	return addr_cmp(p->family, a, &lo) >= 0 && addr_cmp(p->family, a, &hi) <= 0;
}

void pset_init(struct pset *s, int family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
}

void pset_free(struct pset *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

int pset_add_interval(struct pset *s, const struct addr *lo, const struct addr *hi)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 8;
		struct interval *nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv)
			return -1;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n].lo = *lo;
	s->v[s->n].hi = *hi;
	s->n++;
	return 0;
}

int pset_add_prefix(struct pset *s, const struct prefix *p)
{
	struct addr lo, hi;

	if (p->family != s->family) {
		errno = EINVAL;
		return -1;
	}
	prefix_bounds(p, &lo, &hi);
	return pset_add_interval(s, &lo, &hi);
}


static int interval_cmp(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;
	int c = memcmp(x->lo.b, y->lo.b, 16);
	return c ? c : memcmp(x->hi.b, y->hi.b, 16);
}

void pset_normalize(struct pset *s)
{
	size_t out = 0;

	if (s->n < 2)
		return;
	/* IPv4 addresses keep bytes 4..15 zero, so a 16-byte compare orders both. */
	qsort(s->v, s->n, sizeof(*s->v), interval_cmp);
	for (size_t i = 1; i < s->n; i++) {
		struct interval *cur = &s->v[out];
		struct addr next = cur->hi;
		bool ovf = addr_inc(s->family, &next);
		/* overlapping or adjacent: lo[i] <= hi[cur] + 1 */
		if (ovf || addr_cmp(s->family, &s->v[i].lo, &next) <= 0) {
			if (addr_cmp(s->family, &s->v[i].hi, &cur->hi) > 0)
				cur->hi = s->v[i].hi;
		} else {
			s->v[++out] = s->v[i];
		}
	}
	s->n = out + 1;
}

int pset_copy(struct pset *dst, const struct pset *src)
{
	pset_init(dst, src->family);
	if (!src->n)
		return 0;
	dst->v = malloc(src->n * sizeof(*dst->v));
	if (!dst->v)
		return -1;
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = dst->cap = src->n;
	return 0;
}

int pset_union(struct pset *dst, const struct pset *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (pset_add_interval(dst, &src->v[i].lo, &src->v[i].hi) < 0)
			return -1;
	pset_normalize(dst);
	return 0;
}

int pset_subtract(struct pset *dst, const struct pset *src)
{
	struct pset out;
	size_t j = 0;
	int fam = dst->family;

	pset_normalize(dst);
	pset_init(&out, fam);
	for (size_t i = 0; i < dst->n; i++) {
		struct addr lo = dst->v[i].lo, hi = dst->v[i].hi;
		bool empty = false;

		while (j < src->n && addr_cmp(fam, &src->v[j].hi, &lo) < 0)
			j++;
		for (size_t k = j; k < src->n && !empty; k++) {
			const struct interval *cut = &src->v[k];
			if (addr_cmp(fam, &cut->lo, &hi) > 0)
				break;
			if (addr_cmp(fam, &cut->lo, &lo) > 0) {
				struct addr end = cut->lo;
				addr_dec(fam, &end);
				if (pset_add_interval(&out, &lo, &end) < 0)
					goto fail;
			}
			if (addr_cmp(fam, &cut->hi, &hi) >= 0) {
				empty = true;
			} else {
				lo = cut->hi;
				addr_inc(fam, &lo);
			}
		}
		if (!empty && pset_add_interval(&out, &lo, &hi) < 0)
			goto fail;
	}
	pset_free(dst);
	*dst = out;
	return 0;
fail:
	pset_free(&out);
	return -1;
}

bool pset_contains(const struct pset *s, const struct addr *a)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr_cmp(s->family, a, &s->v[mid].lo) < 0)
			hi = mid;
		else if (addr_cmp(s->family, a, &s->v[mid].hi) > 0)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool pset_has_loopback(const struct pset *s)
{
	struct addr lo = {0}, hi = {0};

	if (s->family == AF_INET) {
		lo.b[0] = hi.b[0] = 127;
		memset(&hi.b[1], 0xff, 3);
	} else {
		lo.b[15] = hi.b[15] = 1;
	}
	for (size_t i = 0; i < s->n; i++)
		if (addr_cmp(s->family, &s->v[i].lo, &hi) <= 0 && addr_cmp(s->family, &lo, &s->v[i].hi) <= 0)
			return true;
	return false;
}

bool pset_is_subset(const struct pset *a, const struct pset *b)
{
	size_t j = 0;

	for (size_t i = 0; i < a->n; i++) {
		while (j < b->n && addr_cmp(a->family, &b->v[j].hi, &a->v[i].lo) < 0)
			j++;
		if (j == b->n || addr_cmp(a->family, &b->v[j].lo, &a->v[i].lo) > 0 ||
		    addr_cmp(a->family, &b->v[j].hi, &a->v[i].hi) < 0)
			return false;
	}
	return true;
}

/* Largest prefix starting at lo that does not pass hi: the block size 2^k is
 * bounded by lo's alignment (its trailing zero bits) and by hi. */
static unsigned largest_block(int family, const struct addr *lo, const struct addr *hi)
{
	unsigned max = family == AF_INET ? 32 : 128;
	unsigned tz = 0;
	int nb = (int)family_bytes(family);

	for (int i = nb - 1; i >= 0; i--) {
		if (lo->b[i] == 0) {
			tz += 8;
			continue;
		}
		tz += (unsigned)__builtin_ctz(lo->b[i]);
		break;
	}
	for (unsigned k = tz > max ? max : tz;; k--) {
		/* top = lo | (2^k - 1) */
		struct addr top = *lo;
		for (unsigned bit = 0; bit < k; bit += 8) {
			unsigned bits = k - bit >= 8 ? 8 : k - bit;
			top.b[nb - 1 - (int)(bit / 8)] |= (uint8_t)((1u << bits) - 1);
		}
		if (addr_cmp(family, &top, hi) <= 0)
			return max - k;
		if (k == 0)
			return max;
	}
}

bool interval_is_prefix(int family, const struct interval *iv, unsigned *len)
{
	unsigned l = largest_block(family, &iv->lo, &iv->hi);
	struct prefix p = { .family = family, .len = l, .a = iv->lo };
	struct addr plo, phi;

	prefix_bounds(&p, &plo, &phi);
	if (addr_cmp(family, &phi, &iv->hi) != 0)
		return false;
	if (len)
		*len = l;
	return true;
}

static int add_cidr(struct pset *s, const char *cidr)
{
	struct prefix pf;
	char err[64];

	if (prefix_parse(cidr, &pf, NULL, err, sizeof(err)) < 0) {
		errno = EINVAL;
		return -1;
	}
	return pset_add_prefix(s, &pf);
}

int pset_add_host_vip(struct pset *v4)
{
	return add_cidr(v4, "168.63.129.16/32");
}

int pset_internet(const struct pset *vnet4, const struct pset *vnet6,
		  struct pset *out4, struct pset *out6)
{
	/* 168.63.129.16, the host's virtual IP, is VirtualNetwork in Azure,
	 * never Internet: a deny of Internet must not stop the load
	 * balancer's health probes and the platform's services */
	static const char *const not4[] = {
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
		"168.63.129.16/32",
	};
	struct pset cut;
	int rc = -1;

	pset_init(out4, AF_INET);
	pset_init(out6, AF_INET6);
	pset_init(&cut, AF_INET);
	if (add_cidr(out4, "0.0.0.0/0") < 0 || add_cidr(out6, "2000::/3") < 0 ||
	    add_cidr(out6, "64:ff9b::/96") < 0)
		goto out;
	for (size_t i = 0; i < sizeof(not4) / sizeof(*not4); i++)
		if (add_cidr(&cut, not4[i]) < 0)
			goto out;
	pset_normalize(&cut);
	pset_normalize(out4);
	pset_normalize(out6);
	if (vnet4 && pset_union(&cut, vnet4) < 0)
		goto out;
	if (pset_subtract(out4, &cut) < 0)
		goto out;
	if (vnet6 && pset_subtract(out6, vnet6) < 0)
		goto out;
	rc = 0;
out:
	pset_free(&cut);
	if (rc < 0) {
		pset_free(out4);
		pset_free(out6);
	}
	return rc;
}

size_t pset_count_prefixes(const struct pset *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct addr lo = s->v[i].lo;
		for (;;) {
			unsigned l = largest_block(s->family, &lo, &s->v[i].hi);
			struct prefix p = { .family = s->family, .len = l, .a = lo };
			struct addr plo, phi;
			prefix_bounds(&p, &plo, &phi);
			n++;
			if (addr_cmp(s->family, &phi, &s->v[i].hi) >= 0)
				break;
			lo = phi;
			addr_inc(s->family, &lo);
		}
	}
	return n;
}

void interval_format(int family, const struct interval *iv, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	unsigned plen;

	if (interval_is_prefix(family, iv, &plen)) {
		struct prefix p = { .family = family, .len = plen, .a = iv->lo };
		prefix_format(&p, buf, len);
		return;
	}
	addr_format(family, &iv->lo, a, sizeof(a));
	addr_format(family, &iv->hi, b, sizeof(b));
	snprintf(buf, len, "%s-%s", a, b);
}
