/* set_lookup — the evaluator's lookup structures for nftables sets.
 *
 * Three shapes, matching what the kernel's set backends decide:
 *
 *  exact_set     keys compared whole (nft_set_hash, nft_set_bitmap): open
 *                addressing hash table.  Lookup O(1) expected: one hash of
 *                klen bytes, ~1.2 probes at load factor <= 0.5.  Memory: the
 *                keys (n * klen) + 2n..4n 32-bit slots.
 *
 *  interval_set  one-field intervals with nft_set_rbtree semantics: a sorted
 *                array of boundaries (start elements carry their element index,
 *                end markers -1); the answer for a key is the greatest boundary
 *                <= key.  The array is indexed by a multibit trie of windows on
 *                the key bits: a root window of up to 16 bits (sized to the
 *                set: ~2n buckets), 8-bit inner nodes only for buckets holding
 *                more than 32 boundaries, each inner node path-compressed to
 *                start at the first bit where its boundaries differ (a key that
 *                leaves the shared prefix is answered at once).  A lookup walks
 *                a few nodes (bounded by the key width: IPv4 at most 3, IPv6 in
 *                practice 2-4) and ends with a binary search over <= 32
 *                boundaries: the cost does not grow with the set size.
 *                Memory: 20 bytes per boundary + the trie.  Measured on the
 *                Azure service tags (tests/unit/test_vm.c): 88,691 IPv4
 *                elements (start + end) 5.5 MiB, 19,031 IPv6 elements 2.8 MiB,
 *                ~1,300 elements ~120 KiB; vm_eval of a packet through two
 *                such lookups ~150-250 ns (-O2).
 *
 *  range_set     concatenations of per-field ranges (nft_set_pipapo: an element
 *                matches when every field lies within [key, key_end]).  The
 *                first field's range ends cut its domain into elementary
 *                segments (found through an interval index as above); each
 *                segment lists the elements covering it, and elements covering
 *                more than 16 segments go to a "wide" list checked on every
 *                lookup.  Lookup: one index walk + the segment's candidates +
 *                the wide list, each checked field by field with memcmp.
 *
 * Keys are raw register bytes; orderings are memcmp orderings, as the kernel's
 * (a big-endian number of `width` bits for interval keys).
 *
 * All builders copy what they need; they return NULL with errno set (ENOMEM,
 * EINVAL) on failure. */
#ifndef FILTERD_SET_LOOKUP_H
#define FILTERD_SET_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 set_u128;

/* Big-endian value of len (<= 16) bytes. */
set_u128 set_key_u128(const uint8_t *key, uint32_t len);

struct exact_set;
/* keys: n keys of klen bytes each; on duplicates the first index wins. */
struct exact_set *exact_set_build(const uint8_t *keys, size_t n, uint32_t klen);
/* Index of the matching key, or -1. */
long exact_set_find(const struct exact_set *s, const uint8_t *key);
size_t exact_set_memory(const struct exact_set *s);
void exact_set_free(struct exact_set *s);

struct interval_bound {
	set_u128 key;
	int32_t value;		/* element index of a start, -1 for an end marker */
};

struct interval_set;
/* Sorts b (n entries) by key; on equal keys a start wins over an end marker
 * (the rbtree lookup skips end elements equal to the key), and the first start
 * wins over later ones.  width_bits: key width (8 * klen, <= 128). */
struct interval_set *interval_set_build(struct interval_bound *b, size_t n,
					unsigned width_bits);
/* Value of the greatest boundary <= key (element index), or -1. */
int32_t interval_set_find(const struct interval_set *s, set_u128 key);
/* The set's boundaries after the build: n keys ascending, each with the value
 * interval_set_find answers from it up to the next one (-1: no element). */
size_t interval_set_bounds(const struct interval_set *s, const set_u128 **keys,
			   const int32_t **values);
size_t interval_set_memory(const struct interval_set *s);
void interval_set_free(struct interval_set *s);

struct range_set;
/* lo/hi: n keys of klen bytes (inclusive bounds); fields: nfields lengths in
 * bytes, each field occupying its length rounded up to 4 bytes in the key.
 * The first field must be at most 16 bytes. */
struct range_set *range_set_build(const uint8_t *lo, const uint8_t *hi, size_t n,
				  uint32_t klen, const uint8_t *field_len,
				  unsigned nfields);
/* Lowest index of an element containing key, or -1. */
long range_set_find(const struct range_set *s, const uint8_t *key);
size_t range_set_memory(const struct range_set *s);
void range_set_free(struct range_set *s);

#endif
