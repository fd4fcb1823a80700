#include "rsdiff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter/nf_tables.h>

#include "fqdn.h"

/* One element as the kernel keys it. */
struct ekey {
	uint8_t key[64];
	uint32_t len;
	uint32_t end;		/* NFT_SET_ELEM_INTERVAL_END */
	struct nftnl_set_elem *e;
};

struct ekeys {
	struct ekey *v;
	size_t n, cap;
	bool oom;
};

static int collect(struct nftnl_set_elem *e, void *data)
{
	struct ekeys *k = data;
	uint32_t len = 0;
	const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 64;
		struct ekey *nv = realloc(k->v, ncap * sizeof(*nv));
		if (!nv) {
			k->oom = true;
			return -1;
		}
		k->v = nv;
		k->cap = ncap;
	}
	struct ekey *x = &k->v[k->n++];
	memset(x->key, 0, sizeof(x->key));
	x->len = len > sizeof(x->key) ? sizeof(x->key) : len;
	if (key)
		memcpy(x->key, key, x->len);
	x->end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ?
		 (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END) : 0;
	x->e = e;
	return 0;
}

static int ekey_cmp(const void *a, const void *b)
{
	const struct ekey *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof(x->key));
	if (c)
		return c;
	return (x->end > y->end) - (x->end < y->end);
}

static int set_keys(struct nftnl_set *s, struct ekeys *k)
{
	memset(k, 0, sizeof(*k));
	nftnl_set_elem_foreach(s, collect, k);
	if (k->oom) {
		free(k->v);
		errno = ENOMEM;
		return -1;
	}
	if (k->n)		/* (qsort of NULL, 0: undefined, UBSan says) */
		qsort(k->v, k->n, sizeof(*k->v), ekey_cmp);
	return 0;
}

static bool same_u32(const struct nftnl_set *a, const struct nftnl_set *b, uint16_t attr)
{
	bool sa = nftnl_set_is_set(a, attr), sb = nftnl_set_is_set(b, attr);
	return sa == sb && (!sa || nftnl_set_get_u32(a, attr) == nftnl_set_get_u32(b, attr));
}

static bool is_anon(const struct nftnl_set *s)
{
	return nftnl_set_is_set(s, NFTNL_SET_FLAGS) &&
	       (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS);
}

static bool same_elements(struct nftnl_set *a, struct nftnl_set *b)
{
	struct ekeys ka, kb;
	bool same;

	if (set_keys(a, &ka) < 0)
		return false;
	if (set_keys(b, &kb) < 0) {
		free(ka.v);
		return false;
	}
	same = ka.n == kb.n;
	for (size_t i = 0; same && i < ka.n; i++)
		same = ekey_cmp(&ka.v[i], &kb.v[i]) == 0;
	free(ka.v);
	free(kb.v);
	return same;
}

/* Whether two sets serve the same FQDN name (or neither serves one): the
 * set comment "fqdn=NAME", which nothing else in a set's definition tells
 * (an apply that changed only the name was taken as unchanged, and the old
 * name's addresses stayed allowed). */
static bool same_fqdn(const struct nftnl_set *a, const struct nftnl_set *b)
{
	char fa[300], fb[300];
	const char *x = fqdn_of_set(a, fa, sizeof(fa)), *y = fqdn_of_set(b, fb, sizeof(fb));

	return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

const char *ruleset_shape_diff(const struct ruleset *a, const struct ruleset *b,
			       char *buf, size_t len)
{
	char ra[8192], rb[8192];

	if (strcmp(a->table, b->table) || a->family != b->family)
		return "a different table";
	/* chains */
	{
		struct nftnl_chain_list_iter *ia = nftnl_chain_list_iter_create(a->chains);
		struct nftnl_chain_list_iter *ib = nftnl_chain_list_iter_create(b->chains);
		struct nftnl_chain *ca, *cb;
		const char *why = NULL;
		while (!why) {
			ca = ia ? nftnl_chain_list_iter_next(ia) : NULL;
			cb = ib ? nftnl_chain_list_iter_next(ib) : NULL;
			if (!ca && !cb)
				break;
			if (!ca || !cb) {
				why = "a different number of chains";
				break;
			}
			nftnl_chain_snprintf(ra, sizeof(ra), ca, NFTNL_OUTPUT_DEFAULT, 0);
			nftnl_chain_snprintf(rb, sizeof(rb), cb, NFTNL_OUTPUT_DEFAULT, 0);
			if (strcmp(ra, rb)) {
				snprintf(buf, len, "chain %s differs", nftnl_chain_get_str(cb, NFTNL_CHAIN_NAME));
				why = buf;
			}
		}
		if (ia)
			nftnl_chain_list_iter_destroy(ia);
		if (ib)
			nftnl_chain_list_iter_destroy(ib);
		if (why)
			return why;
	}
	/* sets: same names, definitions; anonymous ones with the same elements */
	{
		struct nftnl_set_list_iter *ia = nftnl_set_list_iter_create(a->sets);
		struct nftnl_set_list_iter *ib = nftnl_set_list_iter_create(b->sets);
		struct nftnl_set *sa, *sb;
		const char *why = NULL;
		while (!why) {
			sa = ia ? nftnl_set_list_iter_next(ia) : NULL;
			sb = ib ? nftnl_set_list_iter_next(ib) : NULL;
			if (!sa && !sb)
				break;
			if (!sa || !sb) {
				why = "a different number of sets";
				break;
			}
			const char *na = nftnl_set_get_str(sa, NFTNL_SET_NAME);
			const char *nb = nftnl_set_get_str(sb, NFTNL_SET_NAME);
			if (strcmp(na, nb) || !same_u32(sa, sb, NFTNL_SET_FLAGS) ||
			    !same_u32(sa, sb, NFTNL_SET_KEY_TYPE) || !same_u32(sa, sb, NFTNL_SET_KEY_LEN) ||
			    !same_u32(sa, sb, NFTNL_SET_DATA_TYPE)) {
				snprintf(buf, len, "set %s differs in its definition", nb);
				why = buf;
			} else if (is_anon(sb) && !same_elements(sa, sb)) {
				snprintf(buf, len, "constant set %s differs", nb);
				why = buf;
			} else if (!same_fqdn(sa, sb)) {
				/* the rule kept its name, its destination changed:
				 * the set's learned addresses are the old name's */
				snprintf(buf, len, "set %s serves another name", nb);
				why = buf;
			}
		}
		if (ia)
			nftnl_set_list_iter_destroy(ia);
		if (ib)
			nftnl_set_list_iter_destroy(ib);
		if (why)
			return why;
	}
	/* rules: same chain, same bytecode, same comment */
	{
		struct nftnl_rule_list_iter *ia = nftnl_rule_list_iter_create(a->rules);
		struct nftnl_rule_list_iter *ib = nftnl_rule_list_iter_create(b->rules);
		struct nftnl_rule *x, *y;
		const char *why = NULL;
		size_t i = 0;
		while (!why) {
			x = ia ? nftnl_rule_list_iter_next(ia) : NULL;
			y = ib ? nftnl_rule_list_iter_next(ib) : NULL;
			if (!x && !y)
				break;
			i++;
			if (!x || !y) {
				why = "a different number of rules";
				break;
			}
			nftnl_rule_snprintf(ra, sizeof(ra), x, NFTNL_OUTPUT_DEFAULT, 0);
			nftnl_rule_snprintf(rb, sizeof(rb), y, NFTNL_OUTPUT_DEFAULT, 0);
			if (strcmp(ra, rb)) {
				char c[256];
				rule_comment(y, c, sizeof(c));
				snprintf(buf, len, "rule %zu (%s) differs", i, c);
				why = buf;
			}
		}
		if (ia)
			nftnl_rule_list_iter_destroy(ia);
		if (ib)
			nftnl_rule_list_iter_destroy(ib);
		if (why)
			return why;
	}
	return NULL;
}

static struct nftnl_set *header_copy(const struct nftnl_set *s)
{
	struct nftnl_set *c = nftnl_set_alloc();

	if (!c)
		return NULL;
	nftnl_set_set_str(c, NFTNL_SET_TABLE, nftnl_set_get_str(s, NFTNL_SET_TABLE));
	nftnl_set_set_str(c, NFTNL_SET_NAME, nftnl_set_get_str(s, NFTNL_SET_NAME));
	nftnl_set_set_u32(c, NFTNL_SET_FAMILY, nftnl_set_get_u32(s, NFTNL_SET_FAMILY));
	return c;
}

static int push(struct nftnl_set **dst, const struct nftnl_set *hdr, const struct ekey *k)
{
	struct nftnl_set_elem *e;

	if (!*dst && !(*dst = header_copy(hdr)))
		return -1;
	e = nftnl_set_elem_alloc();
	if (!e)
		return -1;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->key, k->len);
	if (k->end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(*dst, e);
	return 0;
}

/* A unit of change: an interval (start and, unless it reaches the top of the
 * key space, its end marker) for interval sets, one element otherwise.  The
 * kernel's rbtree set only deletes intervals whole — a lone end marker is not
 * found (ENOENT) — so intervals are what is compared, as nft does. */
struct unit {
	const struct ekey *a, *b;	/* b: the end marker, or NULL */
};

static int unit_cmp(const void *x, const void *y)
{
	const struct unit *u = x, *v = y;
	int c = ekey_cmp(u->a, v->a);
	if (c)
		return c;
	if (!u->b || !v->b)
		return (u->b != NULL) - (v->b != NULL);
	return ekey_cmp(u->b, v->b);
}

static struct unit *units_of(const struct ekeys *k, bool interval, size_t *n)
{
	struct unit *u = calloc(k->n + 1, sizeof(*u));
	size_t m = 0;

	if (!u)
		return NULL;
	for (size_t i = 0; i < k->n; i++) {
		if (interval && !k->v[i].end && i + 1 < k->n && k->v[i + 1].end) {
			u[m++] = (struct unit){ &k->v[i], &k->v[i + 1] };
			i++;
		} else {
			/* a start reaching the top, a loose end marker (the leading
			 * zero), or an element of a non-interval set */
			u[m++] = (struct unit){ &k->v[i], NULL };
		}
	}
	if (m)
		qsort(u, m, sizeof(*u), unit_cmp);
	*n = m;
	return u;
}

static int push_unit(struct nftnl_set **dst, const struct nftnl_set *hdr, const struct unit *u,
		     size_t *count)
{
	if (push(dst, hdr, u->a) < 0)
		return -1;
	(*count)++;
	if (u->b) {
		if (push(dst, hdr, u->b) < 0)
			return -1;
		(*count)++;
	}
	return 0;
}

int ruleset_delta(const struct ruleset *old, const struct ruleset *new_rs, struct rs_delta *d)
{
	char why[256];
	struct nftnl_set_list_iter *ia = NULL, *ib = NULL;
	struct nftnl_set *sa, *sb;
	size_t nsets = ruleset_count_sets(new_rs) + 1;

	memset(d, 0, sizeof(*d));
	if (ruleset_shape_diff(old, new_rs, why, sizeof(why))) {
		errno = EINVAL;
		return -1;
	}
	d->v = calloc(nsets, sizeof(*d->v));
	ia = nftnl_set_list_iter_create(old->sets);
	ib = nftnl_set_list_iter_create(new_rs->sets);
	if (!d->v || !ia || !ib)
		goto oom;
	while ((sa = nftnl_set_list_iter_next(ia)) && (sb = nftnl_set_list_iter_next(ib))) {
		struct ekeys ka = {0}, kb = {0};
		struct unit *ua = NULL, *ub = NULL;
		size_t na = 0, nb = 0, i = 0, j = 0;
		struct rs_set_delta sd = { .name = nftnl_set_get_str(sb, NFTNL_SET_NAME) };
		uint32_t flags = nftnl_set_get_u32(sb, NFTNL_SET_FLAGS);
		bool interval = (flags & NFT_SET_INTERVAL) && !(flags & NFT_SET_CONCAT);
		int r = 0;

		if (is_anon(sb))
			continue;
		if (set_keys(sa, &ka) < 0)
			goto oom;
		if (set_keys(sb, &kb) < 0) {
			free(ka.v);
			goto oom;
		}
		ua = units_of(&ka, interval, &na);
		ub = units_of(&kb, interval, &nb);
		if (!ua || !ub)
			r = -1;
		while (r == 0 && (i < na || j < nb)) {
			int c = i == na ? 1 : j == nb ? -1 : unit_cmp(&ua[i], &ub[j]);
			if (c < 0)
				r = push_unit(&sd.del, sb, &ua[i++], &sd.ndel);
			else if (c > 0)
				r = push_unit(&sd.add, sb, &ub[j++], &sd.nadd);
			else {
				i++;
				j++;
			}
		}
		free(ua);
		free(ub);
		free(ka.v);
		free(kb.v);
		if (r < 0) {
			if (sd.add)
				nftnl_set_free(sd.add);
			if (sd.del)
				nftnl_set_free(sd.del);
			goto oom;
		}
		if (sd.nadd || sd.ndel) {
			d->v[d->n++] = sd;
			d->nadd += sd.nadd;
			d->ndel += sd.ndel;
		}
	}
	nftnl_set_list_iter_destroy(ia);
	nftnl_set_list_iter_destroy(ib);
	return 0;
oom:
	if (ia)
		nftnl_set_list_iter_destroy(ia);
	if (ib)
		nftnl_set_list_iter_destroy(ib);
	rs_delta_free(d);
	errno = ENOMEM;
	return -1;
}

void rs_delta_free(struct rs_delta *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].add)
			nftnl_set_free(d->v[i].add);
		if (d->v[i].del)
			nftnl_set_free(d->v[i].del);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
