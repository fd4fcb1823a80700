#include "verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "fqdn.h"
#include "ruleinfo.h"

#define LCS_MAX_CELLS (16u << 20)	/* beyond: align rules by position */

void rs_diffs_add(struct rs_diffs *d, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (d->oom)
		return;
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 16;
		char **nv = realloc(d->v, nc * sizeof(*nv));
		if (!nv) {
			d->oom = true;
			return;
		}
		d->v = nv;
		d->cap = nc;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		d->oom = true;
		return;
	}
	d->v[d->n++] = s;
}

void rs_diffs_free(struct rs_diffs *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* ---- chains ------------------------------------------------------------- */

static const char *hook_name(uint32_t h)
{
	static const char *const n[] = { "prerouting", "input", "forward", "output", "postrouting" };
	return h < 5 ? n[h] : "?";
}

static void chain_desc(const struct nftnl_chain *c, char *buf, size_t len)
{
	if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		snprintf(buf, len, "regular chain");
		return;
	}
	snprintf(buf, len, "type %s hook %s priority %d policy %s",
		 nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "filter",
		 hook_name(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM)),
		 nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
		 !nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ? "accept" :
		 nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP ? "drop" : "accept");
}

/* ---- rules -------------------------------------------------------------- */

struct rline {
	char *text;		/* comment + bytecode: what is compared */
	char comment[256];
	uint64_t handle;
};

static int chain_rules(const struct ruleset *rs, const char *chain, struct rline **out, size_t *n)
{
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(rs->rules);
	struct nftnl_rule *r;
	struct rline *v = NULL;
	size_t m = 0, cap = 0;
	char code[16384];

	*out = NULL;
	*n = 0;
	if (!it)
		return -1;
	while ((r = nftnl_rule_list_iter_next(it))) {
		const char *c = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		if (!c || strcmp(c, chain) != 0)
			continue;
		if (m == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct rline *nv = realloc(v, nc * sizeof(*nv));
			if (!nv)
				goto oom;
			v = nv;
			cap = nc;
		}
		struct rline *l = &v[m];
		rule_comment(r, l->comment, sizeof(l->comment));
		rule_bytecode_line(r, code, sizeof(code));
		l->handle = nftnl_rule_is_set(r, NFTNL_RULE_HANDLE) ? nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE) : 0;
		if (asprintf(&l->text, "%s|%s", l->comment, code) < 0)
			goto oom;
		m++;
	}
	nftnl_rule_list_iter_destroy(it);
	*out = v;
	*n = m;
	return 0;
oom:
	nftnl_rule_list_iter_destroy(it);
	for (size_t i = 0; i < m; i++)
		free(v[i].text);
	free(v);
	return -1;
}

static void rlines_free(struct rline *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

static const char *code_of(const struct rline *l)
{
	const char *p = strchr(l->text, '|');
	return p ? p + 1 : l->text;
}

static void missing_rule(struct rs_diffs *d, const char *chain, size_t pos, const struct rline *l)
{
	rs_diffs_add(d, "chain %s: missing rule %zu (%s): %s", chain, pos + 1,
		     l->comment[0] ? l->comment : "no comment", code_of(l));
}

static void extra_rule(struct rs_diffs *d, const char *chain, size_t pos, const struct rline *l)
{
	rs_diffs_add(d, "chain %s: unexpected rule at position %zu (handle %llu, %s): %s", chain,
		     pos + 1, (unsigned long long)l->handle,
		     l->comment[0] ? l->comment : "no comment", code_of(l));
}

/* Aligns the two rule sequences (LCS) and reports what is not common; a
 * missing rule and an unexpected one with the same comment at the same spot
 * read as one changed rule. */
static long diff_rules(struct rs_diffs *d, const char *chain, struct rline *a, size_t na,
		       struct rline *b, size_t nb)
{
	long found = 0;

	if ((na + 1) * (nb + 1) > LCS_MAX_CELLS) {
		size_t i;
		for (i = 0; i < na && i < nb; i++)
			if (strcmp(a[i].text, b[i].text) != 0) {
				rs_diffs_add(d, "chain %s: rule %zu (%s) differs: expected %s, found %s", chain,
					     i + 1, a[i].comment, code_of(&a[i]), code_of(&b[i]));
				found++;
			}
		for (; i < na; i++, found++)
			missing_rule(d, chain, i, &a[i]);
		for (; i < nb; i++, found++)
			extra_rule(d, chain, i, &b[i]);
		return found;
	}
	uint32_t *L = calloc((na + 1) * (nb + 1), sizeof(*L));
	if (!L)
		return -1;
#define CELL(i, j) L[(size_t)(i) * (nb + 1) + (j)]
	for (size_t i = na; i-- > 0;)
		for (size_t j = nb; j-- > 0;)
			CELL(i, j) = strcmp(a[i].text, b[j].text) == 0 ? CELL(i + 1, j + 1) + 1 :
				     (CELL(i + 1, j) > CELL(i, j + 1) ? CELL(i + 1, j) : CELL(i, j + 1));
	size_t i = 0, j = 0;
	while (i < na || j < nb) {
		if (i < na && j < nb && strcmp(a[i].text, b[j].text) == 0) {
			i++;
			j++;
		} else if (i < na && j < nb && strcmp(a[i].comment, b[j].comment) == 0 &&
			   CELL(i + 1, j + 1) == CELL(i, j)) {
			rs_diffs_add(d, "chain %s: rule %zu (%s) differs: expected %s, found %s (handle %llu)",
				     chain, i + 1, a[i].comment[0] ? a[i].comment : "no comment",
				     code_of(&a[i]), code_of(&b[j]), (unsigned long long)b[j].handle);
			found++;
			i++;
			j++;
		} else if (j == nb || (i < na && CELL(i + 1, j) >= CELL(i, j + 1))) {
			missing_rule(d, chain, i, &a[i]);
			found++;
			i++;
		} else {
			extra_rule(d, chain, j, &b[j]);
			found++;
			j++;
		}
	}
#undef CELL
	free(L);
	return found;
}

/* ---- set elements ------------------------------------------------------- */

struct elem {
	uint8_t key[64], kend[64];
	uint32_t klen, kelen;
	bool end;		/* NFT_SET_ELEM_INTERVAL_END */
};

struct elems {
	struct elem *v;
	size_t n, cap;
	bool oom;
};

static int elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct elems *es = data;
	uint32_t len = 0;
	const void *k;

	if (es->n == es->cap) {
		size_t nc = es->cap ? es->cap * 2 : 64;
		struct elem *nv = realloc(es->v, nc * sizeof(*nv));
		if (!nv) {
			es->oom = true;
			return -1;
		}
		es->v = nv;
		es->cap = nc;
	}
	struct elem *x = &es->v[es->n++];
	memset(x, 0, sizeof(*x));
	k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	x->klen = len > 64 ? 64 : len;
	if (k)
		memcpy(x->key, k, x->klen);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
		k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);
		x->kelen = len > 64 ? 64 : len;
		if (k)
			memcpy(x->kend, k, x->kelen);
	}
	x->end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
		 (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
	return 0;
}

static int elem_cmp(const void *p, const void *q)
{
	const struct elem *x = p, *y = q;
	int c = memcmp(x->key, y->key, sizeof(x->key));
	if (c)
		return c;
	if (x->end != y->end)
		return x->end ? 1 : -1;
	return memcmp(x->kend, y->kend, sizeof(x->kend));
}

/* A unit of comparison: an element, or an interval (start + end marker). */
struct unit {
	const struct elem *a, *b;
};

static int unit_cmp(const void *p, const void *q)
{
	const struct unit *u = p, *v = q;
	int c = elem_cmp(u->a, v->a);
	if (c)
		return c;
	if (!u->b || !v->b)
		return (u->b != NULL) - (v->b != NULL);
	return elem_cmp(u->b, v->b);
}

static struct unit *units(struct elems *es, bool interval, size_t *n)
{
	struct unit *u = calloc(es->n + 1, sizeof(*u));
	size_t m = 0;

	if (!u)
		return NULL;
	if (es->n)
		qsort(es->v, es->n, sizeof(*es->v), elem_cmp);
	for (size_t i = 0; i < es->n; i++) {
		if (interval && !es->v[i].end && i + 1 < es->n && es->v[i + 1].end) {
			u[m++] = (struct unit){ &es->v[i], &es->v[i + 1] };
			i++;
		} else {
			u[m++] = (struct unit){ &es->v[i], NULL };
		}
	}
	if (m)
		qsort(u, m, sizeof(*u), unit_cmp);
	*n = m;
	return u;
}

static void fmt_key(const uint8_t *k, uint32_t len, char *buf, size_t blen)
{
	if (len == 4) {
		inet_ntop(AF_INET, k, buf, (socklen_t)blen);
	} else if (len == 16) {
		inet_ntop(AF_INET6, k, buf, (socklen_t)blen);
	} else if (len == 2) {
		snprintf(buf, blen, "%u", (unsigned)(k[0] << 8 | k[1]));
	} else {
		size_t o = 0;
		buf[0] = '\0';
		for (uint32_t i = 0; i < len && o + 3 < blen; i++)
			o += (size_t)snprintf(buf + o, blen - o, "%02x", k[i]);
	}
}

/* [s, e) as "a/len" when it is one prefix, else "a-b". e NULL: up to the top. */
static void fmt_interval(const uint8_t *s, const uint8_t *e, uint32_t len, char *buf, size_t blen)
{
	uint8_t last[64];
	char a[64], b[64];

	if (e) {
		memcpy(last, e, len);
		for (uint32_t i = len; i-- > 0;)	/* e - 1 */
			if (last[i]-- != 0)
				break;
	} else {
		memset(last, 0xff, len);
	}
	fmt_key(s, len, a, sizeof(a));
	if (len == 4 || len == 16) {
		/* longest common prefix; a prefix when s has zeros and last ones after it */
		uint32_t bits = len * 8, plen = 0;
		while (plen < bits && !((s[plen / 8] ^ last[plen / 8]) & (0x80 >> (plen % 8))))
			plen++;
		bool is_prefix = true;
		for (uint32_t i = plen; i < bits && is_prefix; i++) {
			uint8_t m = (uint8_t)(0x80 >> (i % 8));
			if ((s[i / 8] & m) || !(last[i / 8] & m))
				is_prefix = false;
		}
		if (is_prefix) {
			if (plen == bits)
				snprintf(buf, blen, "%s", a);
			else
				snprintf(buf, blen, "%s/%u", a, plen);
			return;
		}
	}
	fmt_key(last, len, b, sizeof(b));
	snprintf(buf, blen, "%s-%s", a, b);
}

static void fmt_unit(const struct unit *u, bool interval, char *buf, size_t blen)
{
	char a[160], b[160];

	if (u->a->kelen) {	/* concatenated ranges carry their own end */
		fmt_key(u->a->key, u->a->klen, a, sizeof(a));
		fmt_key(u->a->kend, u->a->kelen, b, sizeof(b));
		snprintf(buf, blen, "%s-%s", a, b);
	} else if (interval && u->b) {
		fmt_interval(u->a->key, u->b->key, u->a->klen, buf, blen);
	} else if (interval && !u->a->end) {
		fmt_interval(u->a->key, NULL, u->a->klen, buf, blen);
	} else if (u->a->end) {
		fmt_key(u->a->key, u->a->klen, a, sizeof(a));
		snprintf(buf, blen, "interval end marker %s", a);
	} else {
		fmt_key(u->a->key, u->a->klen, buf, blen);
	}
}

static long diff_elements(struct rs_diffs *d, const char *name, struct nftnl_set *want,
			  struct nftnl_set *have)
{
	struct elems ea = {0}, eb = {0};
	struct unit *ua = NULL, *ub = NULL;
	size_t na = 0, nb = 0, i = 0, j = 0;
	uint32_t flags = nftnl_set_is_set(want, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(want, NFTNL_SET_FLAGS) : 0;
	bool interval = (flags & NFT_SET_INTERVAL) && !(flags & NFT_SET_CONCAT);
	long found = -1;
	char buf[512];

	nftnl_set_elem_foreach(want, elem_cb, &ea);
	nftnl_set_elem_foreach(have, elem_cb, &eb);
	if (ea.oom || eb.oom)
		goto out;
	ua = units(&ea, interval, &na);
	ub = units(&eb, interval, &nb);
	if (!ua || !ub)
		goto out;
	found = 0;
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : unit_cmp(&ua[i], &ub[j]);
		if (c < 0) {
			fmt_unit(&ua[i++], interval, buf, sizeof(buf));
			rs_diffs_add(d, "set %s: missing element %s", name, buf);
			found++;
		} else if (c > 0) {
			fmt_unit(&ub[j++], interval, buf, sizeof(buf));
			rs_diffs_add(d, "set %s: unexpected element %s", name, buf);
			found++;
		} else {
			i++;
			j++;
		}
	}
out:
	free(ua);
	free(ub);
	free(ea.v);
	free(eb.v);
	return found;
}

static bool same_attr(const struct nftnl_set *a, const struct nftnl_set *b, uint16_t attr)
{
	bool sa = nftnl_set_is_set(a, attr), sb = nftnl_set_is_set(b, attr);
	return sa == sb && (!sa || nftnl_set_get_u32(a, attr) == nftnl_set_get_u32(b, attr));
}

static uint32_t attr_or0(const struct nftnl_set *s, uint16_t attr)
{
	return nftnl_set_is_set(s, attr) ? nftnl_set_get_u32(s, attr) : 0;
}

/* ---- all of it ---------------------------------------------------------- */

static bool in_list(const char *const *names, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], x) == 0)
			return true;
	return false;
}

long ruleset_compare(const struct ruleset *want, const struct ruleset *have, struct rs_diffs *out)
{
	long found = 0;
	char da[256], db[256];

	if (strcmp(want->table, have->table) != 0 || want->family != have->family) {
		rs_diffs_add(out, "table: expected %s, found %s", want->table, have->table);
		return out->oom ? -1 : 1;
	}

	/* chains, in the wanted order, then the unexpected ones */
	{
		struct nftnl_chain_list_iter *it = nftnl_chain_list_iter_create(want->chains);
		struct nftnl_chain *c;
		size_t nchains = 0;
		while (it && nftnl_chain_list_iter_next(it))
			nchains++;
		if (it)
			nftnl_chain_list_iter_destroy(it);
		it = nftnl_chain_list_iter_create(want->chains);
		const char **seen = calloc(nchains + 1, sizeof(*seen));
		size_t nseen = 0;
		while (it && seen && (c = nftnl_chain_list_iter_next(it))) {
			const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
			struct nftnl_chain *h = ruleset_find_chain(have, name);
			struct rline *ra = NULL, *rb = NULL;
			size_t na = 0, nb = 0;
			if (nseen < nchains)
				seen[nseen++] = name;
			chain_desc(c, da, sizeof(da));
			if (!h) {
				rs_diffs_add(out, "chain %s: missing (%s)", name, da);
				found++;
				continue;
			}
			chain_desc(h, db, sizeof(db));
			if (strcmp(da, db) != 0) {
				rs_diffs_add(out, "chain %s: expected %s, found %s", name, da, db);
				found++;
			}
			if (chain_rules(want, name, &ra, &na) < 0 || chain_rules(have, name, &rb, &nb) < 0) {
				rlines_free(ra, na);
				out->oom = true;
				break;
			}
			long f = diff_rules(out, name, ra, na, rb, nb);
			rlines_free(ra, na);
			rlines_free(rb, nb);
			if (f < 0) {
				out->oom = true;
				break;
			}
			found += f;
		}
		if (it)
			nftnl_chain_list_iter_destroy(it);
		it = nftnl_chain_list_iter_create(have->chains);
		while (it && seen && (c = nftnl_chain_list_iter_next(it))) {
			const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
			if (in_list(seen, nseen, name))
				continue;
			struct rline *rb = NULL;
			size_t nb = 0;
			chain_desc(c, db, sizeof(db));
			chain_rules(have, name, &rb, &nb);
			rs_diffs_add(out, "chain %s: unexpected (%s, %zu rule%s)", name, db, nb, nb == 1 ? "" : "s");
			rlines_free(rb, nb);
			found++;
		}
		if (it)
			nftnl_chain_list_iter_destroy(it);
		if (!seen)
			out->oom = true;
		free(seen);
	}

	/* sets */
	{
		struct nftnl_set_list_iter *it = nftnl_set_list_iter_create(want->sets);
		struct nftnl_set *s;
		while (it && (s = nftnl_set_list_iter_next(it))) {
			const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);
			struct nftnl_set *h = ruleset_find_set(have, name);
			if (!h) {
				rs_diffs_add(out, "set %s: missing", name);
				found++;
				continue;
			}
			if (!same_attr(s, h, NFTNL_SET_FLAGS) || !same_attr(s, h, NFTNL_SET_KEY_TYPE) ||
			    !same_attr(s, h, NFTNL_SET_KEY_LEN) || !same_attr(s, h, NFTNL_SET_DATA_TYPE)) {
				rs_diffs_add(out, "set %s: definition differs: expected flags 0x%x key type %u len %u, "
					     "found flags 0x%x key type %u len %u", name,
					     attr_or0(s, NFTNL_SET_FLAGS), attr_or0(s, NFTNL_SET_KEY_TYPE),
					     attr_or0(s, NFTNL_SET_KEY_LEN), attr_or0(h, NFTNL_SET_FLAGS),
					     attr_or0(h, NFTNL_SET_KEY_TYPE), attr_or0(h, NFTNL_SET_KEY_LEN));
				found++;
				continue;
			}
			char fq[300], fh[300];
			const char *ws = fqdn_of_set(s, fq, sizeof(fq)), *hs = fqdn_of_set(h, fh, sizeof(fh));

			if ((ws || hs) && !(ws && hs && strcmp(ws, hs) == 0)) {
				rs_diffs_add(out, "set %s: serves %s%s%s, expected %s%s%s", name,
					     hs ? "'" : "", hs ? hs : "no FQDN name", hs ? "'" : "",
					     ws ? "'" : "", ws ? ws : "no FQDN name", ws ? "'" : "");
				found++;
				continue;
			}
			if (ws)
				continue;	/* learned at run time, with timeouts */
			long f = diff_elements(out, name, s, h);
			if (f < 0) {
				out->oom = true;
				break;
			}
			found += f;
		}
		if (it)
			nftnl_set_list_iter_destroy(it);
		it = nftnl_set_list_iter_create(have->sets);
		while (it && (s = nftnl_set_list_iter_next(it))) {
			const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);
			if (!ruleset_find_set(want, name)) {
				rs_diffs_add(out, "set %s: unexpected", name);
				found++;
			}
		}
		if (it)
			nftnl_set_list_iter_destroy(it);
	}
	if (out->oom) {
		errno = ENOMEM;
		return -1;
	}
	return found;
}
