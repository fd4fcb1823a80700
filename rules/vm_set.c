/* vm_set — nftables sets (libnftnl objects) into the evaluator's lookup
 * structures (set_lookup.h), keeping the kernel's semantics:
 *
 *  - no NFT_SET_INTERVAL: exact keys of klen bytes (nft_set_hash/bitmap);
 *  - NFT_SET_INTERVAL without NFT_SET_CONCAT: nft_set_rbtree — start elements
 *    and end markers (NFT_SET_ELEM_INTERVAL_END, key = last + 1, often a
 *    leading "0 end" element); a key matches the start element of the greatest
 *    boundary <= key, nothing when that boundary is an end marker;
 *  - NFT_SET_INTERVAL with NFT_SET_CONCAT (or elements with key_end):
 *    nft_set_pipapo — each element is [key, key_end] field by field;
 *  - NFT_SET_ELEM_CATCHALL elements are kept apart (nft_set_catchall_lookup).
 * Anything whose behaviour depends on state we do not model (timeouts,
 * stateful element expressions, object maps, dynamic sets) fails the load. */
#include "vm_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NFT_SET_TIMEOUT only allows elements to carry timeouts; a set with the flag
 * whose elements carry none (filterd's FQDN sets before any name is learned)
 * behaves as a plain set.  Elements with a timeout or expiration are refused
 * below: their presence depends on when the dump was taken. */
#define SET_FLAGS_OK (NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL | \
		      NFT_SET_MAP | NFT_SET_CONCAT | NFT_SET_TIMEOUT)

static const struct { uint32_t flag; const char *name; } set_flag_names[] = {
	{ NFT_SET_EVAL, "dynamic" },
	{ NFT_SET_OBJECT, "object map" }, { NFT_SET_EXPR, "stateful expressions" },
};

static int set_err(char *err, size_t errlen, const char *set, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, const char *set, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "set '%s': ", set);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

struct elem_walk {
	struct vm *vm;
	struct vm_set *vs;
	size_t i;
	char *err;
	size_t errlen;
	int ret;
};

static int elem_check(struct nftnl_set_elem *e, void *data)
{
	struct elem_walk *w = data;
	struct vm_set *vs = w->vs;
	struct vm_elem *ve = &vs->elems[w->i];
	uint32_t flags = 0, len = 0;

	ve->e = e;
	ve->vcode = NFT_CONTINUE;
	ve->vchain = -1;
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
		flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);
	if (flags & ~(uint32_t)(NFT_SET_ELEM_INTERVAL_END | NFT_SET_ELEM_CATCHALL)) {
		w->ret = set_err(w->err, w->errlen, vs->name,
				 "element flags 0x%x are not supported", flags);
		return -1;
	}
	if ((flags & NFT_SET_ELEM_INTERVAL_END) && !(vs->flags & NFT_SET_INTERVAL)) {
		w->ret = set_err(w->err, w->errlen, vs->name,
				 "interval end element in a set without the interval flag");
		return -1;
	}
	if ((nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT) ||
	     nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION)) && vs->fqdn) {
		/* learned by a live filterd: offline the capture's answers
		 * fill the set instead (vm_fqdn.c) */
		ve->ignored = true;
		vs->nignored++;
		w->i++;
		return 0;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT) ||
	    nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION)) {
		w->ret = set_err(w->err, w->errlen, vs->name,
				 "element timeouts are not supported");
		return -1;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPR) ||
	    nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPRESSIONS) ||
	    nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_OBJREF)) {
		w->ret = set_err(w->err, w->errlen, vs->name,
				 "element expressions/objects are not supported");
		return -1;
	}
	if (flags & NFT_SET_ELEM_CATCHALL) {
		if (vs->catchall < 0)
			vs->catchall = (int)w->i;
	} else {
		const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

		if (!k || len != vs->klen) {
			w->ret = set_err(w->err, w->errlen, vs->name,
					 "element %zu: key of %u bytes, set key is %u",
					 w->i, k ? len : 0, vs->klen);
			return -1;
		}
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
			const void *ke = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len);

			if (!ke || len != vs->klen) {
				w->ret = set_err(w->err, w->errlen, vs->name,
						 "element %zu: key_end of %u bytes, set key is %u",
						 w->i, ke ? len : 0, vs->klen);
				return -1;
			}
			if (vs->kind == VM_SET_EXACT) {
				w->ret = set_err(w->err, w->errlen, vs->name,
						 "key_end in a set without the interval flag");
				return -1;
			}
			vs->kind = VM_SET_RANGES;
		}
	}
	/* Map data belongs to start elements (and catch-all); end markers carry none. */
	if (vs->map && !(flags & NFT_SET_ELEM_INTERVAL_END)) {
		if (vs->vmap) {
			const char *chain = NULL;

			if (!nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
				w->ret = set_err(w->err, w->errlen, vs->name,
						 "element %zu has no verdict", w->i);
				return -1;
			}
			ve->vcode = (int32_t)nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT);
			if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
				chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
			char sub[256];
			struct vm_load ld = { .vm = w->vm, .chain = NULL, .rule_index = -1, .chain_idx = -1,
					      .expr = NULL, .err = sub, .errlen = sizeof(sub) };

			if (vm_verdict_load(&ld, ve->vcode, chain, &ve->vchain) < 0) {
				w->ret = set_err(w->err, w->errlen, vs->name,
						 "element %zu: %s", w->i, sub);
				return -1;
			}
		} else {
			const void *d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);

			if (!d || len != vs->dlen) {
				w->ret = set_err(w->err, w->errlen, vs->name,
						 "element %zu: data of %u bytes, map data is %u",
						 w->i, d ? len : 0, vs->dlen);
				return -1;
			}
			memcpy(vs->data + w->i * vs->dlen, d, vs->dlen);
		}
	}
	w->i++;
	return 0;
}

static int count_cb(struct nftnl_set_elem *e, void *data)
{
	(void)e;
	(*(size_t *)data)++;
	return 0;
}

static uint32_t elem_flags(const struct vm_elem *ve)
{
	struct nftnl_set_elem *e = (struct nftnl_set_elem *)ve->e;

	return nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ?
	       nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;
}

static const uint8_t *elem_key(const struct vm_elem *ve, uint16_t attr)
{
	uint32_t len;

	return nftnl_set_elem_get((struct nftnl_set_elem *)ve->e, attr, &len);
}

static int build_exact(struct vm_set *vs, char *err, size_t errlen)
{
	uint8_t *keys = malloc(vs->nelems ? vs->nelems * vs->klen : 1);
	size_t m = 0;
	int32_t *idx = malloc((vs->nelems ? vs->nelems : 1) * sizeof(*idx));

	if (!keys || !idx)
		goto nomem;
	for (size_t i = 0; i < vs->nelems; i++) {
		if ((elem_flags(&vs->elems[i]) & NFT_SET_ELEM_CATCHALL) || vs->elems[i].ignored)
			continue;
		memcpy(keys + m * vs->klen, elem_key(&vs->elems[i], NFTNL_SET_ELEM_KEY),
		       vs->klen);
		idx[m++] = (int32_t)i;
	}
	vs->exact = exact_set_build(keys, m, vs->klen);
	if (!vs->exact)
		goto nomem;
	/* exact_set returns positions among the keys given: keep the map. */
	vs->keymap = idx;
	free(keys);
	return 0;
nomem:
	free(keys);
	free(idx);
	return set_err(err, errlen, vs->name, "out of memory");
}

static int build_interval(struct vm_set *vs, char *err, size_t errlen)
{
	struct interval_bound *b;
	size_t m = 0;

	if (vs->klen > 16)
		return set_err(err, errlen, vs->name,
			       "interval keys of %u bytes are not supported (max 16)",
			       vs->klen);
	b = malloc((vs->nelems ? vs->nelems : 1) * sizeof(*b));
	if (!b)
		return set_err(err, errlen, vs->name, "out of memory");
	for (size_t i = 0; i < vs->nelems; i++) {
		uint32_t f = elem_flags(&vs->elems[i]);

		if (f & NFT_SET_ELEM_CATCHALL)
			continue;
		b[m].key = set_key_u128(elem_key(&vs->elems[i], NFTNL_SET_ELEM_KEY),
					vs->klen);
		b[m].value = (f & NFT_SET_ELEM_INTERVAL_END) ? -1 : (int32_t)i;
		m++;
	}
	vs->interval = interval_set_build(b, m, 8 * vs->klen);
	free(b);
	if (!vs->interval)
		return set_err(err, errlen, vs->name, "out of memory");
	return 0;
}

static int build_ranges(struct vm_set *vs, char *err, size_t errlen)
{
	uint8_t *lo, *hi;
	size_t m = 0;
	int32_t *idx;

	if (vs->field_len[0] > 16)
		return set_err(err, errlen, vs->name,
			       "first field of %u bytes is not supported (max 16)",
			       vs->field_len[0]);
	lo = malloc(vs->nelems ? vs->nelems * vs->klen : 1);
	hi = malloc(vs->nelems ? vs->nelems * vs->klen : 1);
	idx = malloc((vs->nelems ? vs->nelems : 1) * sizeof(*idx));
	if (!lo || !hi || !idx)
		goto nomem;
	for (size_t i = 0; i < vs->nelems; i++) {
		uint32_t f = elem_flags(&vs->elems[i]);
		const uint8_t *k, *ke;

		if (f & NFT_SET_ELEM_CATCHALL)
			continue;
		if (f & NFT_SET_ELEM_INTERVAL_END) {
			free(lo);
			free(hi);
			free(idx);
			return set_err(err, errlen, vs->name,
				       "interval end element in a concatenated range set");
		}
		k = elem_key(&vs->elems[i], NFTNL_SET_ELEM_KEY);
		/* pipapo: without key_end the element is the single key */
		ke = nftnl_set_elem_is_set(vs->elems[i].e, NFTNL_SET_ELEM_KEY_END) ?
		     elem_key(&vs->elems[i], NFTNL_SET_ELEM_KEY_END) : k;
		memcpy(lo + m * vs->klen, k, vs->klen);
		memcpy(hi + m * vs->klen, ke, vs->klen);
		idx[m++] = (int32_t)i;
	}
	vs->ranges = range_set_build(lo, hi, m, vs->klen, vs->field_len, vs->nfields);
	free(lo);
	free(hi);
	if (!vs->ranges) {
		free(idx);
		if (errno == EINVAL)
			return set_err(err, errlen, vs->name,
				       "field lengths do not add up to the key length %u",
				       vs->klen);
		return set_err(err, errlen, vs->name, "out of memory");
	}
	vs->keymap = idx;
	return 0;
nomem:
	free(lo);
	free(hi);
	free(idx);
	return set_err(err, errlen, vs->name, "out of memory");
}

int vm_set_load(struct vm *vm, struct vm_set *vs, const struct nftnl_set *cs,
		char *err, size_t errlen)
{
	struct nftnl_set *s = (struct nftnl_set *)cs;
	struct elem_walk w = { .vm = vm, .vs = vs, .err = err, .errlen = errlen };
	size_t n = 0;

	memset(vs, 0, sizeof(*vs));
	vs->s = cs;
	vs->catchall = -1;
	vs->name = nftnl_set_get_str(s, NFTNL_SET_NAME);
	if (!vs->name)
		vs->name = "?";
	vs->flags = nftnl_set_is_set(s, NFTNL_SET_FLAGS) ?
		    nftnl_set_get_u32(s, NFTNL_SET_FLAGS) : 0;
	for (size_t i = 0; i < sizeof(set_flag_names) / sizeof(set_flag_names[0]); i++)
		if (vs->flags & set_flag_names[i].flag)
			return set_err(err, errlen, vs->name, "flag '%s' is not supported",
				       set_flag_names[i].name);
	if (vs->flags & ~(uint32_t)SET_FLAGS_OK)
		return set_err(err, errlen, vs->name, "set flags 0x%x are not supported",
			       vs->flags & ~(uint32_t)SET_FLAGS_OK);
	if (nftnl_set_is_set(s, NFTNL_SET_EXPR) || nftnl_set_is_set(s, NFTNL_SET_EXPRESSIONS))
		return set_err(err, errlen, vs->name,
			       "set expressions are not supported");
	if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT) &&
	    nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT) != 0)
		return set_err(err, errlen, vs->name, "set timeouts are not supported");
	vs->klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	if (vs->klen == 0 || vs->klen > 64)
		return set_err(err, errlen, vs->name, "key length %u is invalid", vs->klen);
	vs->map = (vs->flags & NFT_SET_MAP) != 0;
	if (vs->map) {
		vs->dtype = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
		vs->dlen = nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN);
		vs->vmap = vs->dtype == NFT_DATA_VERDICT;
		if (!vs->vmap && (vs->dlen == 0 || vs->dlen > 64))
			return set_err(err, errlen, vs->name,
				       "map data length %u is invalid", vs->dlen);
	}

	/* Field layout: NFTA_SET_DESC_CONCAT for concatenations, else one field. */
	vs->nfields = 1;
	vs->field_len[0] = (uint8_t)(vs->klen > 255 ? 255 : vs->klen);
	if (nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT)) {
		uint32_t fl = 0;
		const uint8_t *f = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &fl);

		if (f && fl > 0) {
			if (fl > 16)
				return set_err(err, errlen, vs->name,
					       "%u concatenated fields are not supported", fl);
			vs->nfields = (uint8_t)fl;
			memcpy(vs->field_len, f, fl);
		}
	}
	if (vs->flags & NFT_SET_INTERVAL)
		vs->kind = (vs->flags & NFT_SET_CONCAT) ? VM_SET_RANGES : VM_SET_INTERVAL;
	else
		vs->kind = VM_SET_EXACT;
	if (vs->kind == VM_SET_RANGES && (vs->flags & NFT_SET_CONCAT) && vs->nfields < 2 &&
	    !nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT))
		return set_err(err, errlen, vs->name,
			       "concatenated interval set without field description");

	vs->fqdn = vs->kind == VM_SET_EXACT && !vs->map && vm_set_is_fqdn(s, vs->flags);
	nftnl_set_elem_foreach(s, count_cb, &n);
	vs->elems = calloc(n ? n : 1, sizeof(*vs->elems));
	vs->data = vs->map && !vs->vmap ? calloc(n ? n : 1, vs->dlen) : NULL;
	if (!vs->elems || (vs->map && !vs->vmap && !vs->data))
		return set_err(err, errlen, vs->name, "out of memory");
	vs->nelems = n;
	if (nftnl_set_elem_foreach(s, elem_check, &w) < 0 || w.ret < 0)
		return -1;

	switch (vs->kind) {
	case VM_SET_EXACT:
		return build_exact(vs, err, errlen);
	case VM_SET_INTERVAL:
		return build_interval(vs, err, errlen);
	case VM_SET_RANGES:
		if (vs->nfields == 1)
			vs->field_len[0] = (uint8_t)vs->klen;
		return build_ranges(vs, err, errlen);
	}
	return -1;
}

void vm_set_release(struct vm_set *vs)
{
	exact_set_free(vs->exact);
	interval_set_free(vs->interval);
	range_set_free(vs->ranges);
	free(vs->keymap);
	free(vs->elems);
	free(vs->data);
	vm_dyn_free(vs->dyn);
}

int vm_set_find(const struct vm_set *vs, const uint32_t *key)
{
	const uint8_t *k = (const uint8_t *)key;
	long i;

	switch (vs->kind) {
	case VM_SET_EXACT:
		i = exact_set_find(vs->exact, k);
		if (i < 0 && vs->dyn) {
			/* run-time elements come after the loaded ones */
			i = vm_dyn_find(vs->dyn, k, vs->klen);
			return i < 0 ? -1 : (int)(vs->nelems + (size_t)i);
		}
		return i < 0 ? -1 : vs->keymap[i];
	case VM_SET_INTERVAL:
		return interval_set_find(vs->interval, set_key_u128(k, vs->klen));
	case VM_SET_RANGES:
		i = range_set_find(vs->ranges, k);
		return i < 0 ? -1 : vs->keymap[i];
	}
	return -1;
}

size_t vm_set_memory(const struct vm *vm, size_t i)
{
	const struct vm_set *vs;

	if (i >= vm->nsets)
		return 0;
	vs = &vm->sets[i];
	return exact_set_memory(vs->exact) + interval_set_memory(vs->interval) +
	       range_set_memory(vs->ranges) + vs->nelems * sizeof(*vs->elems);
}
