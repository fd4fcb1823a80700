/* vm_index — the rule index: one lookup tells which rules of a run of address
 * (or port) tests can match, and the others are passed over without running.
 *
 * A chain that lists service tags is a run of rules like
 *     ip daddr @tag_Storage.EastUS_v4 tcp dport { 443, 445 } accept
 *     ip daddr @tag_AzureMonitor_v4 tcp dport 443 accept  ...
 * each of which nft_do_chain runs in turn: a payload load of the address and a
 * lookup that, for most of them, fails (NFT_BREAK).  The kernel pays one set
 * lookup a rule; so did this evaluator, and a connection's first packet went
 * through a dozen of them.
 *
 * Here, at load time, the rules whose first test after the guard (vm.c, enum
 * vm_guard) is "payload FIELD -> R; lookup R in S" (S a set that answers
 * membership only: no data, not inverted, no run-time elements, intervals) or
 * "payload FIELD -> R; cmp eq R, V" are grouped by FIELD (base, offset,
 * length).  Each member's test is a step function of FIELD's value (an
 * interval set is one already: the greatest boundary <= key decides; a value
 * V holds on [V, V]); merging the members' step functions gives, for every
 * segment of the key space, the mask of members whose test holds there, and
 * an interval_set (set_lookup.c) finds a key's segment.  When the evaluator
 * reaches a member whose guard passed, the group's mask for this packet
 * (looked up once, vm_index_fill) says whether the test can hold: if not, the
 * rule breaks exactly where the lookup or cmp would have broken, and what the
 * two expressions would have done is nothing anyone can observe:
 *   - the payload wrote a register, which no rule of this ruleset reads
 *     without writing it first (vm.c tracks every register operand at load:
 *     a ruleset where a rule reads what an earlier rule left gets no index);
 *   - a failed membership lookup counts no element (sets with a catch-all,
 *     which matches instead, are not indexed) and a failed cmp nothing;
 *   - what they read, the memo learns when the mask is looked up: the first
 *     member reached (its guard passed) would have run the same payload, and
 *     the lookup or cmp of a membership set or a value reads nothing else.
 * A packet whose FIELD lies outside the captured bytes (where the payload
 * would break or mark the verdict incomplete) gets an all-ones mask: every
 * member runs as it is.  Members that pass still run in full, so counters,
 * element hits, the trace and coverage are those of the plain evaluation;
 * --no-rule-index (pcap-replay) switches the index off, and the tests compare
 * the two on every capture. */
#include "vm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct member {
	struct vm_rule *r;
	const struct vm_set *set;	/* NULL: a value */
	set_u128 value;
};

struct event {
	set_u128 key;
	unsigned bit;
	bool holds;
};

static int event_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* The test a rule starts with, if it is one the index can answer. */
static bool rule_test(struct vm_rule *r, uint32_t *base, uint32_t *offset, uint32_t *len,
		      struct member *m)
{
	unsigned e = r->guard != VM_GUARD_NONE ? 2 : 0;
	const struct vm_set *set;
	const uint8_t *data;
	uint32_t clen;
	int dreg, sreg;

	if (r->nexprs < e + 2 || !vm_payload_field(&r->exprs[e], base, offset, len, &dreg))
		return false;
	if (*base != NFT_PAYLOAD_NETWORK_HEADER && *base != NFT_PAYLOAD_TRANSPORT_HEADER)
		return false;
	if (*len == 0 || *len > 16)
		return false;
	memset(m, 0, sizeof(*m));
	m->r = r;
	if (vm_lookup_plain(&r->exprs[e + 1], &sreg, &set)) {
		if (sreg != dreg || set->kind != VM_SET_INTERVAL || set->klen != *len ||
		    set->catchall >= 0 || !set->interval)
			return false;
		m->set = set;
	} else if (vm_cmp_eq(&r->exprs[e + 1], &sreg, &data, &clen)) {
		if (sreg != dreg || clen != *len)
			return false;
		m->value = set_key_u128(data, clen);
	} else {
		return false;
	}
	r->ix_first = (uint8_t)e;
	return true;
}

/* Merges the members' step functions into g->iv and g->mask. */
static int group_build(struct vm_ixgroup *g, const struct member *m, unsigned n)
{
	const set_u128 top = g->len >= 16 ? ~(set_u128)0 : ((set_u128)1 << (8 * g->len)) - 1;
	struct event *ev = NULL;
	struct interval_bound *b = NULL;
	size_t nev = 0, cap = 0, nb = 0, nmask = 0;
	uint64_t mask = 0, emitted = 0;
	int rc = -1;

	for (unsigned i = 0; i < n; i++) {
		const set_u128 *k;
		const int32_t *v;

		cap += m[i].set ? interval_set_bounds(m[i].set->interval, &k, &v) : 2;
	}
	ev = malloc((cap ? cap : 1) * sizeof(*ev));
	b = malloc((cap ? cap : 1) * sizeof(*b));
	g->mask = malloc((cap ? cap : 1) * sizeof(*g->mask));
	if (!ev || !b || !g->mask)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		if (m[i].set) {
			const set_u128 *k;
			const int32_t *v;
			size_t nk = interval_set_bounds(m[i].set->interval, &k, &v);

			for (size_t j = 0; j < nk; j++)
				ev[nev++] = (struct event){ k[j], i, v[j] >= 0 };
		} else {
			ev[nev++] = (struct event){ m[i].value, i, true };
			if (m[i].value != top)
				ev[nev++] = (struct event){ m[i].value + 1, i, false };
		}
	}
	/* one member's events have distinct keys: the order among equal keys
	 * (different members) does not matter */
	qsort(ev, nev, sizeof(*ev), event_cmp);
	for (size_t i = 0; i < nev;) {
		set_u128 k = ev[i].key;

		for (; i < nev && ev[i].key == k; i++) {
			if (ev[i].holds)
				mask |= 1ull << ev[i].bit;
			else
				mask &= ~(1ull << ev[i].bit);
		}
		if (mask == emitted)
			continue;
		b[nb].key = k;
		b[nb].value = mask ? (int32_t)nmask : -1;
		if (mask)
			g->mask[nmask++] = mask;
		nb++;
		emitted = mask;
	}
	g->iv = interval_set_build(b, nb, 8 * g->len);
	if (g->iv)
		rc = 0;
out:
	free(ev);
	free(b);
	return rc;
}

int vm_index_build(struct vm *vm)
{
	struct member *mem = NULL;
	struct vm_ixgroup *groups = NULL;
	unsigned *gmembers = NULL;	/* member -> group */
	size_t nmem = 0, ng = 0;
	int rc = -1;

	for (size_t i = 0; i < vm->nrules; i++)
		vm->rules[i].ix_group = vm->rules[i].ix_saved = -1;
	if (vm->regs_shared || vm->nrules == 0)
		return 0;
	mem = calloc(vm->nrules, sizeof(*mem));
	gmembers = calloc(vm->nrules, sizeof(*gmembers));
	groups = calloc(VM_IX_GROUPS, sizeof(*groups));
	if (!mem || !gmembers || !groups)
		goto out;
	for (size_t i = 0; i < vm->nrules; i++) {
		uint32_t base, offset, len;
		size_t g;

		if (!rule_test(&vm->rules[i], &base, &offset, &len, &mem[nmem]))
			continue;
		for (g = 0; g < ng; g++)
			if (groups[g].base == base && groups[g].offset == offset &&
			    groups[g].len == len && groups[g].nmembers < 64)
				break;
		if (g == ng) {
			if (ng == VM_IX_GROUPS)
				continue;
			groups[ng++] = (struct vm_ixgroup){ .base = base, .offset = offset,
							    .len = len };
		}
		mem[nmem].r->ix_bit = (uint8_t)groups[g].nmembers++;
		gmembers[nmem++] = (unsigned)g;
	}
	/* A group of one member would look up as much as it saves: dropped. */
	vm->ixg = calloc(ng ? ng : 1, sizeof(*vm->ixg));
	if (!vm->ixg)
		goto out;
	for (size_t g = 0; g < ng; g++) {
		struct member *gm;
		unsigned n = 0;

		if (groups[g].nmembers < 2)
			continue;
		gm = calloc(groups[g].nmembers, sizeof(*gm));
		if (!gm)
			goto out;
		for (size_t i = 0; i < nmem; i++)
			if (gmembers[i] == g)
				gm[n++] = mem[i];
		vm->ixg[vm->nixg] = groups[g];
		if (group_build(&vm->ixg[vm->nixg], gm, n) < 0) {
			free(vm->ixg[vm->nixg].mask);
			vm->ixg[vm->nixg].mask = NULL;
			free(gm);
			goto out;
		}
		for (unsigned i = 0; i < n; i++)
			gm[i].r->ix_group = gm[i].r->ix_saved = (int16_t)vm->nixg;
		vm->ixg[vm->nixg].payload = &gm[0].r->exprs[gm[0].r->ix_first];
		vm->nixg++;
		free(gm);
	}
	rc = 0;
out:
	if (rc < 0) {
		vm_index_free(vm);
		errno = ENOMEM;
	}
	free(mem);
	free(gmembers);
	free(groups);
	return rc;
}

void vm_index_free(struct vm *vm)
{
	for (size_t g = 0; g < vm->nixg; g++) {
		interval_set_free(vm->ixg[g].iv);
		free(vm->ixg[g].mask);
	}
	free(vm->ixg);
	vm->ixg = NULL;
	vm->nixg = 0;
	for (size_t i = 0; i < vm->nrules; i++)
		vm->rules[i].ix_group = vm->rules[i].ix_saved = -1;
}

void vm_set_rule_index(struct vm *vm, bool on)
{
	for (size_t i = 0; vm && i < vm->nrules; i++)
		vm->rules[i].ix_group = on ? vm->rules[i].ix_saved : -1;
}

size_t vm_rule_index_groups(const struct vm *vm, size_t *members)
{
	size_t n = 0;

	for (size_t g = 0; vm && g < vm->nixg; g++)
		n += vm->ixg[g].nmembers;
	if (members)
		*members = n;
	return vm ? vm->nixg : 0;
}

void vm_index_fill(struct vm_exec *x, unsigned g)
{
	const struct vm_ixgroup *ig = &x->vm->ixg[g];
	const struct pkt *p = x->p;
	uint64_t m = ~0ull;	/* unknown: every member runs */
	size_t off;

	if (ig->base == NFT_PAYLOAD_NETWORK_HEADER) {
		off = p->nh_off;
	} else {		/* NFT_PAYLOAD_TRANSPORT_HEADER */
		if (!p->tprot_set || p->fragoff)
			goto out;
		off = p->th_off;
	}
	off += ig->offset;
	/* where payload_eval would load (cap_end <= end) */
	if (off + ig->len <= x->cap_end) {
		int32_t i = interval_set_find(ig->iv, set_key_u128(p->data + off, ig->len));

		m = i < 0 ? 0 : ig->mask[i];
		if (x->rec)
			x->rec_keys |= ig->payload->memo == VM_MEMO_PER_PACKET ?
				       ig->payload->ops->memo(ig->payload->priv, p) :
				       ig->payload->memo;
	}
out:
	x->ix_mask[g] = m;
	x->ix_known |= 1ull << g;
}
