/* vm_class — classes of the tuple's fields, for the class memo (vm_memo.c).
 *
 * The flow memo answers the packets of one connection after its first; the
 * first packet of every connection still runs the bytecode, and on a host
 * that talks to thousands of addresses of a service tag that is most of the
 * evaluation time.  Yet two connections to two addresses of one prefix of the
 * tag take the same path through the same rules: what decides is not the
 * address but which side of each boundary the rules test it against it lies.
 *
 * At load time every payload load of an address or port (or of a prefix of
 * one: nft loads two bytes for a /16) is followed through the registers of its
 * rule to the expressions that read it.  When each of them is a cmp (any
 * operator), a range, a lookup whose key is exactly that value (membership,
 * map or verdict map, inverted or not), or a bitwise that keeps a prefix of it
 * (mask of leading ones, xor 0: "ip daddr 203.0.113.128/25") whose own readers
 * are such tests, the answer of each reader is constant between two
 * consecutive points of its "boundaries": a cmp's value and/or the value
 * after it, a range's start and the value after its end, a set's element starts and the values after their ends.
 * Mapped back through the prefix and the mask onto the whole field (the map is
 * monotone, so an interval of the loaded value is an interval of the field),
 * and merged over the ruleset, they cut each field — IPv4 or IPv6 source or
 * destination address, source or destination port (ICMP's type and code with
 * the source port) — into segments, each field by the tests of that field
 * alone: the field's class is its segment.  Two
 * packets whose fields lie in the same segments, with the same protocols,
 * hook, interfaces and conntrack state, make every such reader answer the
 * same, take the same path, match the same set elements and reach the same
 * verdict; the memo replays the path's counters, so rule and element
 * statistics and coverage are those of the plain evaluation.
 *
 * A load with any other reader (a concatenation, a shift, a mask that is not a
 * prefix, a byteorder, a register stored somewhere) keeps its kind exact:
 * payload_memo then reports a read by it as VM_MEMO_KEY_EXACT, and no outcome
 * that read it is kept by class.  A ruleset where a rule reads a register an
 * earlier rule wrote gets no classes at all.  The tests compare every capture
 * with the memo on and off (test_replay_captures.c) and with the kernel. */
#include "vm_int.h"
#include "conntrack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The fields, each cut by the tests of that field alone: a rule that tests
 * the destination port does not cut the source port (the ephemeral source
 * ports of a host's connections then fall in one class, not in as many as
 * the destination ports tested cut them into). */
enum { K_SA4, K_DA4, K_SA6, K_DA6, K_SPORT, K_DPORT, K_N };

static const unsigned kind_width[K_N] = { 4, 4, 16, 16, 2, 2 };	/* bytes */

struct bounds {
	set_u128 *v;
	size_t n, cap;
};

struct vm_classes {
	uint32_t *a4[2];	/* IPv4 boundaries, ascending: source, destination */
	size_t na4[2];
	set_u128 *a6[2];	/* IPv6 ones */
	size_t na6[2];
	uint16_t *port[2];	/* class of each port value: source, destination
				 * (ICMP's type and code: source) */
};

/* A register value followed through a rule: the first L bytes of field k,
 * of which the first pbits bits survive a mask. */
struct tracked {
	struct vm_expr *pl;	/* its payload load, NULL: nothing tracked */
	int head;		/* first register word */
	unsigned L, pbits, k;
	bool pair;		/* both ports, source then destination (nft loads
				 * "udp sport 67 udp dport 68" as one 4-byte word;
				 * k is then K_SPORT) */
};

/* The field a classable load reads (vm_payload_class_kind: its kind; the
 * offset says which end), or -1. */
static int field_of(const struct vm_expr *e, unsigned bits)
{
	uint32_t base, off, len;
	int dreg;

	if (!vm_payload_field(e, &base, &off, &len, &dreg))
		return -1;
	if (bits == VM_CLASS_A4)
		return off == 12 ? K_SA4 : off == 16 ? K_DA4 : -1;
	if (bits == VM_CLASS_A6)
		return off == 8 ? K_SA6 : off == 24 ? K_DA6 : -1;
	if (bits == VM_CLASS_PORT)
		return off == 0 ? K_SPORT : off == 2 ? K_DPORT : -1;
	return -1;
}

static int bounds_add(struct bounds *b, set_u128 v)
{
	if (v == 0)
		return 0;	/* every field starts a segment at 0 */
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		set_u128 *nv = realloc(b->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		b->v = nv;
		b->cap = cap;
	}
	b->v[b->n++] = v;
	return 0;
}

/* A point b (L-byte value) where a reader of t may change its answer, as the
 * smallest field value whose loaded-and-masked value is >= b (kb: the
 * fields' bounds, K_N of them). */
static int add_point(struct bounds *kb, const struct tracked *t, set_u128 b)
{
	unsigned s = 8 * t->L - t->pbits, W = 8 * kind_width[t->k];
	set_u128 q = s ? (b >> s) + ((b & (((set_u128)1 << s) - 1)) != 0) : b;

	if (t->pbits < 128 && q >> t->pbits)
		return 0;		/* beyond the field's last value */
	if (W - t->pbits >= 128)
		return 0;
	return bounds_add(&kb[t->k], q << (W - t->pbits));
}

static set_u128 top_of(unsigned len)
{
	return len >= 16 ? ~(set_u128)0 : ((set_u128)1 << (8 * len)) - 1;
}

/* v + 1, when v is not the top: where a test of <= v or > v changes. */
static int add_after(struct bounds *kb, const struct tracked *t, set_u128 v)
{
	return v == top_of(t->L) ? 0 : add_point(kb, t, v + 1);
}

/* v and v + 1: a test of equality or order at v. */
static int add_value(struct bounds *kb, const struct tracked *t, set_u128 v)
{
	return add_point(kb, t, v) < 0 ? -1 : add_after(kb, t, v);
}

/* A 4-byte constant compared with both ports: any order test of the pair is
 * decided by how each port compares with its half (lexicographic order), so
 * the high half and the value after it cut the source port, the low half and
 * the value after it the destination port. */
static int add_pair(struct bounds *kb, set_u128 v)
{
	static const struct tracked sport = { .L = 2, .pbits = 16, .k = K_SPORT };
	static const struct tracked dport = { .L = 2, .pbits = 16, .k = K_DPORT };

	if (add_value(kb, &sport, v >> 16) < 0)
		return -1;
	return add_value(kb, &dport, v & 0xffff);
}

static int add_const(struct bounds *kb, const struct tracked *t, set_u128 v)
{
	return t->pair ? add_pair(kb, v) : add_value(kb, t, v);
}

/* The points of set s's answers (s's key is t's value exactly). */
static int add_set(struct bounds *kb, const struct tracked *t, const struct vm_set *s)
{
	if (s->kind == VM_SET_INTERVAL && s->interval) {
		const set_u128 *k;
		const int32_t *v;
		size_t n = interval_set_bounds(s->interval, &k, &v);

		for (size_t i = 0; i < n; i++)
			if ((t->pair ? add_pair(kb, k[i]) : add_point(kb, t, k[i])) < 0)
				return -1;
		return 0;
	}
	for (size_t i = 0; i < s->nelems; i++) {
		/* (libnftnl's getters take no const element) */
		struct nftnl_set_elem *el = (struct nftnl_set_elem *)s->elems[i].e;
		uint32_t len = 0;
		const void *key;

		if ((int)i == s->catchall || !el || !nftnl_set_elem_is_set(el, NFTNL_SET_ELEM_KEY))
			continue;
		key = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &len);
		if (!key || len < t->L)
			continue;
		if (add_const(kb, t, set_key_u128(key, t->L)) < 0)
			return -1;
	}
	return 0;
}

/* Leading ones over len bytes and nothing after them: how many, or -1. */
static int prefix_bits(const uint8_t *mask, uint32_t len)
{
	int n = 0;
	bool zeros = false;

	for (uint32_t i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--) {
			bool one = mask[i] >> b & 1;

			if (one && zeros)
				return -1;
			if (one)
				n++;
			else
				zeros = true;
		}
	}
	return n;
}

static bool all_zero(const uint8_t *d, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (d[i])
			return false;
	return true;
}

/* e reads t's value: adds its points, or makes t's load exact.  A bitwise
 * keeping a prefix yields a new value in *out (out->pl NULL: none). */
static int reader(struct bounds *kb, struct tracked *t, const struct vm_expr *e,
		  struct tracked *out)
{
	const struct vm_set *set;
	const uint8_t *d, *d2;
	uint32_t len, op;
	int sreg, dreg;

	out->pl = NULL;
	if (vm_cmp_any(e, &sreg, &op, &d, &len) && sreg == t->head && len == t->L) {
		set_u128 v = set_key_u128(d, len);

		if (t->pair)
			return add_pair(kb, v);
		/* where the answer changes: < v and >= v change at v, <= v
		 * and > v after it, == and != at both */
		if (op == NFT_CMP_LT || op == NFT_CMP_GTE)
			return add_point(kb, t, v);
		if (op == NFT_CMP_LTE || op == NFT_CMP_GT)
			return add_after(kb, t, v);
		return add_value(kb, t, v);
	}
	if (vm_range_any(e, &sreg, &d, &d2, &len) && sreg == t->head && len == t->L) {
		set_u128 hi = set_key_u128(d2, len);

		if (t->pair)
			return add_pair(kb, set_key_u128(d, len)) < 0 ? -1 : add_pair(kb, hi);
		return add_point(kb, t, set_key_u128(d, len)) < 0 ? -1 : add_after(kb, t, hi);
	}
	if (vm_lookup_any(e, &sreg, &set) && sreg == t->head && set->klen == t->L &&
	    set->nfields <= 1 && ((set->kind == VM_SET_INTERVAL && set->interval) ||
				  set->kind == VM_SET_EXACT))
		return add_set(kb, t, set);
	if (vm_bitwise_bool(e, &sreg, &dreg, &len, &d, &d2) && sreg == t->head && len == t->L &&
	    !t->pair && all_zero(d2, len)) {
		int pb = prefix_bits(d, len);

		if (pb >= 0) {
			*out = *t;
			out->head = dreg;
			if ((unsigned)pb < out->pbits)
				out->pbits = (unsigned)pb;
			return 0;
		}
	}
	vm_payload_set_classable(t->pl, 0);	/* any other reader */
	return 0;
}

static int rule_walk(struct vm_rule *r, struct bounds *kb)
{
	struct tracked t[VM_REG_WORDS];
	unsigned nt = 0;

	for (unsigned i = 0; i < r->nexprs; i++) {
		struct vm_expr *e = &r->exprs[i];
		struct tracked nv[VM_REG_WORDS];
		unsigned nn = 0, k;
		int kind;

		for (unsigned j = 0; j < nt; j++) {
			if (!(e->rwords & vm_reg_words(t[j].head, t[j].L)))
				continue;
			if (reader(kb, &t[j], e, &nv[nn]) < 0)
				return -1;
			if (nv[nn].pl)
				nn++;
		}
		/* what e writes replaces what was there */
		for (unsigned j = 0; j < nt;) {
			if (e->wwords & vm_reg_words(t[j].head, t[j].L))
				t[j] = t[--nt];
			else
				j++;
		}
		for (unsigned j = 0; j < nn && nt < VM_REG_WORDS; j++)
			t[nt++] = nv[j];
		k = vm_payload_class_kind(e);
		kind = k ? field_of(e, k) : -1;
		if (kind >= 0 && nt < VM_REG_WORDS) {
			int dreg;
			uint32_t base, off, len;

			vm_payload_field(e, &base, &off, &len, &dreg);
			vm_payload_set_classable(e, k);
			t[nt++] = (struct tracked){ .pl = e, .head = dreg, .L = len,
						    .pbits = 8 * len, .k = (unsigned)kind,
						    .pair = kind == K_SPORT && len == 4 };
		}
	}
	return 0;
}

static int cmp_u128(const void *a, const void *b)
{
	const set_u128 *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static size_t sort_unique(set_u128 *v, size_t n)
{
	size_t m = 0;

	if (!n)
		return 0;	/* (v may be NULL) */
	qsort(v, n, sizeof(*v), cmp_u128);
	for (size_t i = 0; i < n; i++)
		if (!m || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}

static void classes_free(struct vm_classes *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		free(c->a4[i]);
		free(c->a6[i]);
		free(c->port[i]);
	}
	free(c);
}

int vm_class_build(struct vm *vm)
{
	struct bounds kb[K_N] = { { 0 } };
	struct vm_classes *c = NULL;
	int rc = -1;

	vm->cls = NULL;
	if (vm->regs_shared)
		return 0;
	for (size_t i = 0; i < vm->nrules; i++)
		if (rule_walk(&vm->rules[i], kb) < 0)
			goto out;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	for (int i = 0; i < 2; i++) {
		const struct bounds *b4 = &kb[i ? K_DA4 : K_SA4], *bp = &kb[i ? K_DPORT : K_SPORT];
		struct bounds *b6 = &kb[i ? K_DA6 : K_SA6];
		size_t n, j = 0;
		uint16_t cls = 0;

		c->na4[i] = sort_unique(b4->v, b4->n);
		c->a4[i] = malloc((c->na4[i] ? c->na4[i] : 1) * sizeof(*c->a4[i]));
		c->na6[i] = sort_unique(b6->v, b6->n);
		c->a6[i] = b6->v;
		b6->v = NULL;
		c->port[i] = malloc(65536 * sizeof(*c->port[i]));
		if (!c->a4[i] || !c->port[i])
			goto out;
		for (size_t k = 0; k < c->na4[i]; k++)
			c->a4[i][k] = (uint32_t)b4->v[k];
		n = sort_unique(bp->v, bp->n);
		for (uint32_t p = 0; p < 65536; p++) {
			while (j < n && bp->v[j] <= p) {
				j++;
				cls++;
			}
			c->port[i][p] = cls;
		}
	}
	vm->cls = c;
	c = NULL;
	rc = 0;
out:
	for (int k = 0; k < K_N; k++)
		free(kb[k].v);
	classes_free(c);
	if (rc < 0)
		errno = ENOMEM;
	return rc;
}

/* Segments before v: how many boundaries of end i (0 source, 1 destination)
 * are <= v. */
static uint32_t class4(const struct vm_classes *c, int i, uint32_t v)
{
	const uint32_t *a = c->a4[i];
	size_t lo = 0, hi = c->na4[i];

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static uint32_t class6(const struct vm_classes *c, int i, set_u128 v)
{
	const set_u128 *a = c->a6[i];
	size_t lo = 0, hi = c->na6[i];

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

bool vm_class_key(const struct vm *vm, const struct pkt *p, uint32_t key[4])
{
	const struct vm_classes *c = vm->cls;
	const struct ct_tuple *t = NULL;
	const uint8_t *ip;

	if (!c || p->caplen < p->nh_off + (p->nfproto == NFPROTO_IPV4 ? 20 : 40))
		return false;
	/* the same values from conntrack's tuple where it holds them
	 * (ct_own_tuple): its entry is in the cache, the packet's bytes were
	 * last written by pcap-replay's reader thread on the other CPU */
	if (p->ct && p->ct_own_tuple)
		t = ct_entry_tuple_ref(p->ct, p->ct_dir);
	ip = p->data + p->nh_off;
	if (p->nfproto == NFPROTO_IPV4) {
		key[0] = class4(c, 0, (uint32_t)set_key_u128(t ? t->src : ip + 12, 4));
		key[1] = class4(c, 1, (uint32_t)set_key_u128(t ? t->dst : ip + 16, 4));
	} else if (p->nfproto == NFPROTO_IPV6) {
		key[0] = class6(c, 0, set_key_u128(t ? t->src : ip + 8, 16));
		key[1] = class6(c, 1, set_key_u128(t ? t->dst : ip + 24, 16));
	} else {
		return false;
	}
	/* ports only where payload_memo calls them the tuple's; elsewhere no
	 * class-memoised outcome read the transport header.  ICMP's type and
	 * code are the first word, classed as a port is (payload_memo) */
	key[2] = key[3] = UINT32_MAX;
	if (p->tprot_set && !p->fragoff) {
		const uint8_t *th = p->data + p->th_off;

		if (ct_tuple_has_ports(p->l4proto) && p->th_off + 4 <= p->caplen) {
			key[2] = c->port[0][t ? t->sport : th[0] << 8 | th[1]];
			key[3] = c->port[1][t ? t->dport : th[2] << 8 | th[3]];
		} else if (ct_is_icmp(p->nfproto, p->l4proto) && p->th_off + 2 <= p->caplen) {
			key[2] = c->port[0][t ? t->icmp_type << 8 | t->icmp_code : th[0] << 8 | th[1]];
		}
	}
	return true;
}

void vm_class_free(struct vm *vm)
{
	classes_free(vm->cls);
	vm->cls = NULL;
}
