#include "set_lookup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

set_u128 set_key_u128(const uint8_t *key, uint32_t len)
{
	set_u128 v = 0;

	/* the common widths (IPv4, IPv6 addresses) without the byte loop */
	if (len == 4) {
		uint32_t w;

		memcpy(&w, key, 4);
		return (set_u128)__builtin_bswap32(w);
	}
	if (len >= 16) {
		uint64_t hi, lo;

		memcpy(&hi, key, 8);
		memcpy(&lo, key + 8, 8);
		return (set_u128)__builtin_bswap64(hi) << 64 | __builtin_bswap64(lo);
	}
	for (uint32_t i = 0; i < len; i++)
		v = (v << 8) | key[i];
	return v;
}

/* ---------------------------------------------------------------- exact --- */

struct exact_set {
	uint8_t *keys;
	size_t n;
	uint32_t klen;
	uint32_t mask;		/* slots - 1 */
	int32_t *slot;		/* key index, -1 empty */
};

static uint64_t hash_bytes(const uint8_t *p, uint32_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	uint32_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (i < len) {
		uint64_t w = 0;

		memcpy(&w, p + i, len - i);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h;
}

struct exact_set *exact_set_build(const uint8_t *keys, size_t n, uint32_t klen)
{
	struct exact_set *s;
	size_t slots = 8;

	if (klen == 0 || n > (1u << 28)) {
		errno = EINVAL;
		return NULL;
	}
	while (slots < 2 * n)
		slots <<= 1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->n = n;
	s->klen = klen;
	s->mask = (uint32_t)(slots - 1);
	s->keys = malloc(n ? n * klen : 1);
	s->slot = malloc(slots * sizeof(*s->slot));
	if (!s->keys || !s->slot) {
		exact_set_free(s);
		errno = ENOMEM;
		return NULL;
	}
	if (n)
		memcpy(s->keys, keys, n * klen);
	memset(s->slot, 0xff, slots * sizeof(*s->slot));
	for (size_t i = 0; i < n; i++) {
		const uint8_t *k = s->keys + i * klen;
		uint32_t h = (uint32_t)hash_bytes(k, klen) & s->mask;

		for (;; h = (h + 1) & s->mask) {
			int32_t j = s->slot[h];

			if (j < 0) {
				s->slot[h] = (int32_t)i;
				break;
			}
			if (memcmp(s->keys + (size_t)j * klen, k, klen) == 0)
				break;	/* duplicate: first wins */
		}
	}
	return s;
}

long exact_set_find(const struct exact_set *s, const uint8_t *key)
{
	uint32_t h = (uint32_t)hash_bytes(key, s->klen) & s->mask;

	for (;; h = (h + 1) & s->mask) {
		int32_t j = s->slot[h];

		if (j < 0)
			return -1;
		if (memcmp(s->keys + (size_t)j * s->klen, key, s->klen) == 0)
			return j;
	}
}

size_t exact_set_memory(const struct exact_set *s)
{
	return s ? sizeof(*s) + s->n * s->klen + ((size_t)s->mask + 1) * 4 : 0;
}

void exact_set_free(struct exact_set *s)
{
	if (!s)
		return;
	free(s->keys);
	free(s->slot);
	free(s);
}

/* ---------------------------------------------------- interval index ------ */

#define IX_LEAF_MAX	32
#define IX_INNER_BITS	8

struct ixnode {
	uint32_t lo, hi;	/* slice of the sorted key array */
	uint8_t shift, bits;
	/* Path compression: an inner node starts at the first bit where its
	 * slice's keys differ; every key of the slice has `prefix` in the bits
	 * from shift + bits up to the parent's window (pmask).  A looked-up key
	 * that differs there lies wholly before or after the slice. */
	set_u128 prefix, pmask;
	uint32_t *start;	/* (1 << bits) + 1 absolute positions */
	struct ixnode **child;	/* 1 << bits, or NULL when no bucket needs one */
};

/* Index over a sorted array of distinct keys answering "greatest key <= k".
 * Keys of at most 32 bits (IPv4 addresses, ports) are also kept as uint32_t:
 * the binary search then reads a quarter of the cache lines (a leaf's 32
 * keys are two lines instead of eight), and for sets of thousands of
 * addresses those lines are mostly cache misses. */
struct ixindex {
	const set_u128 *keys;
	uint32_t *k32;		/* keys as uint32_t when width <= 32, else NULL */
	size_t n;
	struct ixnode *root;	/* NULL: plain binary search */
	size_t mem;
};

static void ixnode_free(struct ixnode *nd)
{
	if (!nd)
		return;
	if (nd->child) {
		for (size_t w = 0; w < ((size_t)1 << nd->bits); w++)
			ixnode_free(nd->child[w]);
		free(nd->child);
	}
	free(nd->start);
	free(nd);
}

static struct ixnode *ixnode_build(struct ixindex *ix, uint32_t lo, uint32_t hi,
				   unsigned shift, unsigned bits, size_t *mem)
{
	struct ixnode *nd = calloc(1, sizeof(*nd));
	size_t nb = (size_t)1 << bits;
	set_u128 mask = ((set_u128)1 << bits) - 1;
	uint32_t i = lo;

	if (!nd)
		return NULL;
	nd->lo = lo;
	nd->hi = hi;
	nd->shift = (uint8_t)shift;
	nd->bits = (uint8_t)bits;
	nd->start = malloc((nb + 1) * sizeof(uint32_t));
	if (!nd->start)
		goto fail;
	*mem += sizeof(*nd) + (nb + 1) * sizeof(uint32_t);
	for (size_t w = 0; w < nb; w++) {
		while (i < hi && (size_t)((ix->keys[i] >> shift) & mask) < w)
			i++;
		nd->start[w] = i;
	}
	nd->start[nb] = hi;
	if (shift == 0)
		return nd;
	for (size_t w = 0; w < nb; w++) {
		uint32_t a = nd->start[w], b = nd->start[w + 1];
		unsigned cshift, cbits, hb;
		set_u128 diff;

		if (b - a <= IX_LEAF_MAX)
			continue;
		if (!nd->child) {
			nd->child = calloc(nb, sizeof(*nd->child));
			if (!nd->child)
				goto fail;
			*mem += nb * sizeof(*nd->child);
		}
		/* keys are distinct and sorted: first and last differ, and
		 * below this window (bits < shift) */
		diff = ix->keys[a] ^ ix->keys[b - 1];
		for (hb = shift - 1; hb > 0 && !((diff >> hb) & 1); hb--)
			;
		cbits = hb + 1 < IX_INNER_BITS ? hb + 1 : IX_INNER_BITS;
		cshift = hb + 1 - cbits;
		nd->child[w] = ixnode_build(ix, a, b, cshift, cbits, mem);
		if (!nd->child[w])
			goto fail;
		/* bits [cshift + cbits, shift) shared by the slice */
		nd->child[w]->pmask = ((((set_u128)1) << shift) - 1) &
				      ~((((set_u128)1) << (cshift + cbits)) - 1);
		nd->child[w]->prefix = ix->keys[a] & nd->child[w]->pmask;
	}
	return nd;
fail:
	ixnode_free(nd);
	return NULL;
}

static void ixindex_free(struct ixindex *ix)
{
	ixnode_free(ix->root);
	free(ix->k32);
	ix->root = NULL;
	ix->k32 = NULL;
}

static int ixindex_init(struct ixindex *ix, const set_u128 *keys, size_t n,
			unsigned width)
{
	unsigned bits = 8;

	ix->keys = keys;
	ix->n = n;
	ix->root = NULL;
	ix->k32 = NULL;
	ix->mem = 0;
	if (width <= 32) {
		ix->k32 = malloc((n ? n : 1) * sizeof(*ix->k32));
		if (!ix->k32)
			return -1;
		for (size_t i = 0; i < n; i++)
			ix->k32[i] = (uint32_t)keys[i];
		ix->mem += n * sizeof(*ix->k32);
	}
	if (n <= IX_LEAF_MAX)
		return 0;
	while (bits < 16 && ((size_t)1 << bits) < 2 * n)
		bits++;
	if (bits > width)
		bits = width;
	ix->root = ixnode_build(ix, 0, (uint32_t)n, width - bits, bits, &ix->mem);
	if (!ix->root) {
		ixindex_free(ix);
		return -1;
	}
	return 0;
}

/* Greatest i in [a, b) with keys[i] <= k, else a - 1: over the set's keys, and
 * over their 32-bit copy when the set's width is at most 32 bits. */
#define DEFINE_BSEARCH_LE(name, type)						\
	static long name(const type *keys, long a, long b, type k)		\
	{									\
		long lo = a, hi = b;	/* invariant: answer in [lo - 1, hi - 1] */ \
										\
		while (lo < hi) {						\
			long mid = lo + (hi - lo) / 2;				\
										\
			if (keys[mid] <= k)					\
				lo = mid + 1;					\
			else							\
				hi = mid;					\
		}								\
		return lo - 1;							\
	}
DEFINE_BSEARCH_LE(bsearch_le, set_u128)
DEFINE_BSEARCH_LE(bsearch_le32, uint32_t)

static long ixindex_leaf(const struct ixindex *ix, long a, long b, set_u128 k)
{
	if (!ix->k32)
		return bsearch_le(ix->keys, a, b, k);
	return k >> 32 ? b - 1 : bsearch_le32(ix->k32, a, b, (uint32_t)k);	/* (wider: above all) */
}

static long ixindex_find(const struct ixindex *ix, set_u128 k)
{
	const struct ixnode *nd = ix->root;

	if (!nd)
		return ixindex_leaf(ix, 0, (long)ix->n, k);
	for (;;) {
		size_t w = (size_t)((k >> nd->shift) & (((set_u128)1 << nd->bits) - 1));
		const struct ixnode *c = nd->child ? nd->child[w] : NULL;

		if (!c)
			return ixindex_leaf(ix, nd->start[w], nd->start[w + 1], k);
		if ((k & c->pmask) != c->prefix)
			return (k & c->pmask) < c->prefix ? (long)c->lo - 1 : (long)c->hi - 1;
		nd = c;
	}
}

/* ------------------------------------------------------------ interval --- */

struct interval_set {
	set_u128 *keys;
	int32_t *value;
	size_t n;
	struct ixindex ix;
};

static int bound_cmp(const void *a, const void *b)
{
	const struct interval_bound *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	/* starts before end markers, then by element index: first start wins */
	if ((x->value < 0) != (y->value < 0))
		return x->value < 0 ? 1 : -1;
	return (x->value > y->value) - (x->value < y->value);
}

struct interval_set *interval_set_build(struct interval_bound *b, size_t n,
					unsigned width_bits)
{
	struct interval_set *s;
	size_t m = 0;

	if (width_bits == 0 || width_bits > 128) {
		errno = EINVAL;
		return NULL;
	}
	qsort(b, n, sizeof(*b), bound_cmp);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->keys = malloc((n ? n : 1) * sizeof(*s->keys));
	s->value = malloc((n ? n : 1) * sizeof(*s->value));
	if (!s->keys || !s->value)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (m && s->keys[m - 1] == b[i].key)
			continue;
		s->keys[m] = b[i].key;
		s->value[m] = b[i].value;
		m++;
	}
	s->n = m;
	if (ixindex_init(&s->ix, s->keys, m, width_bits) < 0)
		goto fail;
	return s;
fail:
	interval_set_free(s);
	errno = ENOMEM;
	return NULL;
}

int32_t interval_set_find(const struct interval_set *s, set_u128 key)
{
	long i = ixindex_find(&s->ix, key);

	return i < 0 ? -1 : s->value[i];
}

size_t interval_set_bounds(const struct interval_set *s, const set_u128 **keys,
			   const int32_t **values)
{
	*keys = s->keys;
	*values = s->value;
	return s->n;
}

size_t interval_set_memory(const struct interval_set *s)
{
	return s ? sizeof(*s) + s->n * (sizeof(set_u128) + 4) + s->ix.mem : 0;
}

void interval_set_free(struct interval_set *s)
{
	if (!s)
		return;
	ixindex_free(&s->ix);
	free(s->keys);
	free(s->value);
	free(s);
}

/* --------------------------------------------------------------- ranges --- */

#define RANGE_WIDE_SEGMENTS	16

struct range_set {
	uint8_t *lo, *hi;	/* n * klen */
	size_t n;
	uint32_t klen;
	uint8_t nfields;
	uint8_t flen[16], foff[16];
	set_u128 *seg;		/* segment starts, sorted, distinct */
	size_t nseg;
	struct ixindex ix;
	uint32_t *cand_start;	/* nseg + 1 */
	uint32_t *cand;		/* element indexes, ascending within a segment */
	uint32_t *wide;
	size_t nwide;
	size_t mem;
};

static int u128_cmp(const void *a, const void *b)
{
	set_u128 x = *(const set_u128 *)a, y = *(const set_u128 *)b;

	return (x > y) - (x < y);
}

static bool range_fields_match(const struct range_set *s, size_t e,
			       const uint8_t *key, unsigned from)
{
	const uint8_t *lo = s->lo + e * s->klen, *hi = s->hi + e * s->klen;

	for (unsigned f = from; f < s->nfields; f++) {
		unsigned o = s->foff[f], l = s->flen[f];

		if (memcmp(key + o, lo + o, l) < 0 || memcmp(key + o, hi + o, l) > 0)
			return false;
	}
	return true;
}

struct range_set *range_set_build(const uint8_t *lo, const uint8_t *hi, size_t n,
				  uint32_t klen, const uint8_t *field_len,
				  unsigned nfields)
{
	struct range_set *s;
	unsigned off = 0, width;
	size_t m = 0, total = 0;
	long *first = NULL, *last = NULL;

	if (nfields == 0 || nfields > 16 || field_len[0] == 0 || field_len[0] > 16) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->nfields = (uint8_t)nfields;
	for (unsigned f = 0; f < nfields; f++) {
		s->flen[f] = field_len[f];
		s->foff[f] = (uint8_t)off;
		off += (field_len[f] + 3u) & ~3u;
	}
	if (off != klen || field_len[0] == 0) {
		free(s);
		errno = EINVAL;
		return NULL;
	}
	width = 8u * field_len[0];
	s->n = n;
	s->klen = klen;
	s->lo = malloc(n ? n * klen : 1);
	s->hi = malloc(n ? n * klen : 1);
	s->seg = malloc((2 * n + 1) * sizeof(*s->seg));
	first = malloc((n ? n : 1) * sizeof(*first));
	last = malloc((n ? n : 1) * sizeof(*last));
	if (!s->lo || !s->hi || !s->seg || !first || !last)
		goto fail;
	if (n) {
		memcpy(s->lo, lo, n * klen);
		memcpy(s->hi, hi, n * klen);
	}

	/* Elementary segments of the first field: every start, every end + 1. */
	set_u128 maxv = width == 128 ? ~(set_u128)0 : (((set_u128)1 << width) - 1);
	for (size_t i = 0; i < n; i++) {
		set_u128 a = set_key_u128(lo + i * klen, field_len[0]);
		set_u128 b = set_key_u128(hi + i * klen, field_len[0]);

		s->seg[m++] = a;
		if (b < maxv)
			s->seg[m++] = b + 1;
	}
	s->seg[m++] = 0;
	qsort(s->seg, m, sizeof(*s->seg), u128_cmp);
	size_t u = 0;
	for (size_t i = 0; i < m; i++)
		if (u == 0 || s->seg[u - 1] != s->seg[i])
			s->seg[u++] = s->seg[i];
	s->nseg = u;
	if (ixindex_init(&s->ix, s->seg, s->nseg, width) < 0)
		goto fail;

	s->cand_start = calloc(s->nseg + 1, sizeof(uint32_t));
	s->wide = malloc((n ? n : 1) * sizeof(uint32_t));
	if (!s->cand_start || !s->wide)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		set_u128 a = set_key_u128(lo + i * klen, field_len[0]);
		set_u128 b = set_key_u128(hi + i * klen, field_len[0]);

		first[i] = ixindex_find(&s->ix, a);
		last[i] = ixindex_find(&s->ix, b);
		if (a > b) {		/* empty range: never matches */
			first[i] = 1;
			last[i] = 0;
			continue;
		}
		if (last[i] - first[i] + 1 > RANGE_WIDE_SEGMENTS) {
			s->wide[s->nwide++] = (uint32_t)i;
			first[i] = 1;
			last[i] = 0;
			continue;
		}
		for (long g = first[i]; g <= last[i]; g++)
			s->cand_start[g + 1]++;
		total += (size_t)(last[i] - first[i] + 1);
	}
	for (size_t g = 0; g < s->nseg; g++)
		s->cand_start[g + 1] += s->cand_start[g];
	s->cand = malloc((total ? total : 1) * sizeof(uint32_t));
	if (!s->cand)
		goto fail;
	{
		uint32_t *fill = calloc(s->nseg ? s->nseg : 1, sizeof(uint32_t));

		if (!fill)
			goto fail;
		for (size_t i = 0; i < n; i++)
			for (long g = first[i]; g <= last[i]; g++)
				s->cand[s->cand_start[g] + fill[g]++] = (uint32_t)i;
		free(fill);
	}
	s->mem = sizeof(*s) + 2 * n * klen + s->nseg * sizeof(set_u128) + s->ix.mem +
		 (s->nseg + 1 + total + s->nwide) * sizeof(uint32_t);
	free(first);
	free(last);
	return s;
fail:
	free(first);
	free(last);
	range_set_free(s);
	errno = ENOMEM;
	return NULL;
}

long range_set_find(const struct range_set *s, const uint8_t *key)
{
	set_u128 k = set_key_u128(key + s->foff[0], s->flen[0]);
	long g = ixindex_find(&s->ix, k), best = -1;

	if (g >= 0) {
		for (uint32_t c = s->cand_start[g]; c < s->cand_start[g + 1]; c++) {
			if (range_fields_match(s, s->cand[c], key, 1)) {
				best = s->cand[c];
				break;
			}
		}
	}
	for (size_t w = 0; w < s->nwide; w++) {
		if (best >= 0 && s->wide[w] > (uint32_t)best)
			break;
		if (range_fields_match(s, s->wide[w], key, 0)) {
			best = s->wide[w];
			break;
		}
	}
	return best;
}

size_t range_set_memory(const struct range_set *s)
{
	return s ? s->mem : 0;
}

void range_set_free(struct range_set *s)
{
	if (!s)
		return;
	ixindex_free(&s->ix);
	free(s->lo);
	free(s->hi);
	free(s->seg);
	free(s->cand_start);
	free(s->cand);
	free(s->wide);
	free(s);
}
