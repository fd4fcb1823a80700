/* vm_memo — the flow memo (vm.h, vm_eval_memo).
 *
 * Why it is exact: nft_do_chain is a function of the bytes its expressions
 * read and of the state of limit and set-timeout expressions.  A set with
 * run-time elements makes an evaluation not memoisable; a limit on the path
 * is recorded with its answer, and the memo answers a later packet only when
 * every such limit would answer it the same at its time, taking their tokens
 * as the expressions would (limits_agree, limits_take).  While recording, every expression reports
 * through its type's memo() what it read (vm_int.h): only fields of the
 * conntrack tuple (which the memo's key holds), the hook's interfaces, and
 * ctinfo/status/mark (kept and compared) are allowed.  A later packet with
 * the same key and the same values therefore takes the same path through the
 * same rules to the same verdict; the memo replays that path's effects on the
 * rule and element counters, so coverage and statistics do not change either.
 * The pcap-replay tests run every capture both ways and compare
 * (test_replay_captures.c), and the kernel agreement test runs with it on.
 *
 * Outcomes (verdict + effects) are interned: the established-traffic path is
 * the same for thousands of flows, so a memo holds a pointer and its keys,
 * and the outcomes stay in the CPU caches.  An outcome that no tuple field
 * decided (typically "ct state established accept" after interface and
 * protocol checks) is also kept in a small table by protocols, hook,
 * interfaces and ctinfo, where the first such packet of every other
 * connection finds it; one that tuple fields decided only through the tests
 * vm_class.c follows (an address in a tag's prefix, a port in a list) is kept
 * in the class memo by the same and the fields' classes, where the first
 * packet of another connection to another address of the same segments
 * finds it. */
#include "vm_int.h"
#include "conntrack.h"
#include "zalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/nf_conntrack_common.h>

unsigned vm_memo_pure(const void *priv, const struct pkt *p)
{
	(void)priv;
	(void)p;
	return 0;
}

static size_t outcome_size(unsigned neffects)
{
	return sizeof(struct vm_outcome) + neffects * sizeof(struct vm_effect);
}

/* The bytes that make an outcome: verdict (zeroed, then filled field by
 * field by vm_eval_rec, so its padding is zero), keys and effects. */
static uint32_t outcome_hash(const struct vm_outcome *o)
{
	uint64_t w[sizeof(o->v) / 8 + 1] = { 0 };
	uint64_t h = 1469598103934665603ull ^ o->keys ^ (uint64_t)o->neffects << 32;

	memcpy(w, &o->v, sizeof(o->v));
	for (size_t i = 0; i < sizeof(w) / 8; i++)
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < o->neffects; i++)
		h = (h ^ o->effect[i].what ^ o->effect[i].n << 48) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h ^ h >> 32);
}

static bool outcome_eq(const struct vm_outcome *a, const struct vm_outcome *b)
{
	return a->hash == b->hash && a->keys == b->keys && a->neffects == b->neffects &&
	       memcmp(&a->v, &b->v, sizeof(a->v)) == 0 &&
	       memcmp(a->effect, b->effect, a->neffects * sizeof(a->effect[0])) == 0;
}

static bool outcomes_grow(struct vm *vm)
{
	size_t n = vm->outcap ? 2 * vm->outcap : 256;
	struct vm_outcome **t = zalloc(n, sizeof(*t));
	uint32_t *th = malloc(n * sizeof(*th));

	if (!t || !th) {
		free(t);
		free(th);
		return false;
	}
	for (size_t i = 0; i < vm->outcap; i++) {
		size_t j;

		if (!vm->outcomes[i])
			continue;
		for (j = vm->ohash[i] & (n - 1); t[j]; j = (j + 1) & (n - 1))
			;
		t[j] = vm->outcomes[i];
		th[j] = vm->ohash[i];
	}
	free(vm->outcomes);
	free(vm->ohash);
	vm->outcomes = t;
	vm->ohash = th;
	vm->outcap = n;
	return true;
}

/* The interned copy of the scratch outcome, or NULL (cap reached, memory). */
static const struct vm_outcome *intern(struct vm *vm, struct vm_outcome *s)
{
	struct vm_outcome *o;
	size_t i;

	s->hash = outcome_hash(s);
	/* room for one more at a load of 1/2 until the cap; a failed growth
	 * keeps the table as it is */
	if ((vm->noutcomes + 1) * 2 > vm->outcap && vm->noutcomes < VM_MEMO_OUTCOMES_MAX)
		outcomes_grow(vm);
	if (!vm->outcap)
		return NULL;
	/* the slot's hash first: thousands of outcomes (one per set element
	 * matched, say) are mostly out of the caches, and a probe that reads
	 * only this array does not fetch them */
	for (i = s->hash & (vm->outcap - 1); vm->outcomes[i]; i = (i + 1) & (vm->outcap - 1))
		if (vm->ohash[i] == s->hash && outcome_eq(vm->outcomes[i], s))
			return vm->outcomes[i];
	if ((vm->noutcomes + 1) * 2 > vm->outcap)
		return NULL;	/* full: only the outcomes already there are reused */
	o = malloc(outcome_size(s->neffects));
	if (!o)
		return NULL;
	memcpy(o, s, outcome_size(s->neffects));
	vm->outcomes[i] = o;
	vm->ohash[i] = o->hash;
	vm->noutcomes++;
	return o;
}

void vm_memo_free(struct vm *vm)
{
	for (size_t i = 0; i < vm->outcap; i++)
		free(vm->outcomes[i]);
	free(vm->outcomes);
	free(vm->ohash);
	free(vm->scratch);
	free(vm->gmemo);
	vm->gmemo = NULL;
	free(vm->cmemo);
	vm->cmemo = NULL;
	vm->outcomes = NULL;
	vm->ohash = NULL;
	vm->scratch = NULL;
	vm->outcap = vm->noutcomes = 0;
}

size_t vm_memo_outcomes(const struct vm *vm)
{
	return vm->noutcomes;
}

/* What the shared memos (by protocols, and by classes) compare besides the
 * outcome's own keys: hook, interfaces, ctinfo, protocols, and the ct status
 * and mark when the outcome read them. */
struct memo_ctx {
	uint32_t status, mark, iif, oif;
	int32_t hook;
	uint8_t ctinfo, nfproto, l4proto;
};

static struct memo_ctx ctx_of(const struct pkt *p)
{
	return (struct memo_ctx){ .status = p->ct_status, .mark = ct_entry_mark(p->ct),
				  .iif = p->iif, .oif = p->oif, .hook = p->hook,
				  .ctinfo = p->ctinfo, .nfproto = p->nfproto,
				  .l4proto = p->l4proto };
}

static uint32_t ctx_hash(const struct pkt *p)
{
	return (uint32_t)p->hook * 0x9e3779b1u ^ p->ctinfo * 0x85ebca6bu ^
	       p->l4proto * 0xc2b2ae35u ^ p->nfproto ^ p->iif * 0x27d4eb2fu ^
	       p->oif * 0x165667b1u;
}

/* The ct status and mark, where o read them. */
static bool keys_agree(const struct vm_outcome *o, uint32_t status, uint32_t mark,
		       const struct pkt *p)
{
	return (!(o->keys & VM_MEMO_KEY_STATUS) || status == p->ct_status) &&
	       (!(o->keys & VM_MEMO_KEY_MARK) || mark == ct_entry_mark(p->ct));
}

static bool ctx_matches(const struct memo_ctx *c, const struct vm_outcome *o,
			const struct pkt *p)
{
	return o && c->hook == p->hook && c->iif == p->iif && c->oif == p->oif &&
	       c->ctinfo == p->ctinfo && c->nfproto == p->nfproto &&
	       c->l4proto == p->l4proto && keys_agree(o, c->status, c->mark, p);
}

#define VM_GMEMO 256
struct vm_gmemo {
	const struct vm_outcome *o;	/* NULL: empty */
	struct memo_ctx ctx;
};

static struct vm_gmemo *gmemo_slot(struct vm *vm, const struct pkt *p)
{
	uint32_t h = ctx_hash(p);

	if (!vm->gmemo) {
		vm->gmemo = zalloc(VM_GMEMO, sizeof(*vm->gmemo));
		if (!vm->gmemo)
			return NULL;
	}
	return &vm->gmemo[(h ^ h >> 16) % VM_GMEMO];
}

/* The class memo: direct-mapped, a newer outcome replaces an older one. */
#define VM_CMEMO (1u << 14)
struct vm_cmemo {
	const struct vm_outcome *o;	/* NULL: empty */
	uint32_t cls[4];		/* vm_class_key */
	struct memo_ctx ctx;
};

static struct vm_cmemo *cmemo_slot(struct vm *vm, const struct pkt *p, const uint32_t cls[4])
{
	uint64_t h = ctx_hash(p);

	for (int i = 0; i < 4; i++)
		h = (h ^ cls[i]) * 0x9e3779b97f4a7c15ull;
	if (!vm->cmemo) {
		vm->cmemo = zalloc(VM_CMEMO, sizeof(*vm->cmemo));
		if (!vm->cmemo)
			return NULL;
	}
	return &vm->cmemo[(h ^ h >> 29) & (VM_CMEMO - 1)];
}

static bool memo_usable(const struct vm *vm, const struct pkt *p)
{
	return !vm->trace && p->ct_present && p->ct && p->cls == PKT_OK &&
	       p->ctinfo != IP_CT_RELATED && p->ctinfo != IP_CT_RELATED_REPLY;
}

static bool memo_matches(const struct vm_memo *m, const struct pkt *p)
{
	return m->o && m->hook == p->hook && m->iif == p->iif && m->oif == p->oif &&
	       m->ctinfo == p->ctinfo && keys_agree(m->o, m->status, m->mark, p);
}

/* The counters of outcome o's path, n times over packets of `bytes` bytes. */
static void apply_effects(const struct vm_outcome *o, uint64_t n, uint64_t bytes)
{
	for (unsigned i = 0; i < o->neffects; i++) {
		uintptr_t w = o->effect[i].what & ~(uintptr_t)VM_EFFECT_KIND;

		switch (o->effect[i].what & VM_EFFECT_KIND) {
		case VM_EFFECT_COUNTER:
			((struct vm_rule *)w)->packets += n;
			((struct vm_rule *)w)->bytes += bytes;
			break;
		case VM_EFFECT_RUN:
			for (uint64_t j = 0; j < o->effect[i].n; j++)
				((struct vm_rule **)w)[j]->evaluated += n;
			break;
		case VM_EFFECT_LIMIT:	/* its tokens were taken at the hit */
			break;
		default:
			(*(uint64_t *)w) += n;
		}
	}
}

/* Would every limit on o's path answer p now as it did when o was recorded?
 * (Nothing changes: a limit only answers.) */
static bool limits_agree(const struct vm_outcome *o, const struct pkt *p)
{
	if (!o->limits)
		return true;
	for (unsigned i = 0; i < o->neffects; i++)
		if ((o->effect[i].what & VM_EFFECT_KIND) == VM_EFFECT_LIMIT &&
		    vm_limit_peek((const void *)(o->effect[i].what & ~(uintptr_t)VM_EFFECT_KIND), p) !=
		    (o->effect[i].n != 0))
			return false;
	return true;
}

/* ... then their tokens are taken, as the path's limit expressions would. */
static void limits_take(const struct vm_outcome *o, const struct pkt *p)
{
	if (!o->limits)
		return;
	for (unsigned i = 0; i < o->neffects; i++)
		if ((o->effect[i].what & VM_EFFECT_KIND) == VM_EFFECT_LIMIT)
			(void)vm_limit_take((void *)(o->effect[i].what & ~(uintptr_t)VM_EFFECT_KIND), p);
}

/* A memo hit: counted on the outcome; the counters get it when read.  The
 * sums are the same as applying each hit's effects at once (additions
 * commute), and a hit costs two additions instead of a walk of the path. */
static void count_hit(struct vm *vm, const struct vm_outcome *co, const struct pkt *p)
{
	struct vm_outcome *o = (struct vm_outcome *)co;	/* interned: ours */

	limits_take(o, p);
	o->hits++;
	o->hit_bytes += p->len;
	vm->hits_pending = true;
}

void vm_memo_flush(const struct vm *cvm, bool drop)
{
	struct vm *vm = (struct vm *)cvm;	/* the counters' value does not change */

	if (!vm || !vm->hits_pending)
		return;
	for (size_t i = 0; i < vm->outcap; i++) {
		struct vm_outcome *o = vm->outcomes[i];

		if (!o || !o->hits)
			continue;
		if (!drop)
			apply_effects(o, o->hits, o->hit_bytes);
		o->hits = o->hit_bytes = 0;
	}
	vm->hits_pending = false;
}

int vm_eval_memo(struct vm *vm, struct pkt *p, struct vm_verdict *out, struct vm_memo *m)
{
	struct vm_outcome *s;
	struct vm_gmemo *g;
	struct vm_cmemo *c = NULL;
	uint32_t cls[4];
	int rc = 1;

	if (!vm || !p || !out || !m) {
		errno = EINVAL;
		return -1;
	}
	if (!memo_usable(vm, p))
		return vm_eval(vm, p, out);
	if (memo_matches(m, p) && limits_agree(m->o, p)) {
		count_hit(vm, m->o, p);
		*out = m->o->v;
		return 1;
	}
	m->o = NULL;
	g = gmemo_slot(vm, p);
	if (g && ctx_matches(&g->ctx, g->o, p) && limits_agree(g->o, p)) {
		count_hit(vm, g->o, p);
		*out = g->o->v;
		m->o = g->o;
		goto keep;
	}
	if (vm->cls && vm_class_key(vm, p, cls)) {
		c = cmemo_slot(vm, p, cls);
		if (c && ctx_matches(&c->ctx, c->o, p) &&
		    memcmp(c->cls, cls, sizeof(c->cls)) == 0 && limits_agree(c->o, p)) {
			count_hit(vm, c->o, p);
			*out = c->o->v;
			m->o = c->o;
			goto keep;
		}
	}
	if (!vm->scratch) {
		vm->scratch = calloc(1, outcome_size(VM_MEMO_EFFECTS));
		if (!vm->scratch)
			return vm_eval(vm, p, out);
	}
	s = vm->scratch;
	/* the effects are written from 0 to neffects (no padding in them) */
	memset(s, 0, sizeof(*s));
	if (vm_eval_rec(vm, p, out, s) < 0)
		return -1;
	if (s->keys & VM_MEMO_NEVER)
		return 0;
	memcpy(&s->v, out, sizeof(s->v));
	m->o = intern(vm, s);
	if (!m->o)
		return 0;
	if (g && !(m->o->keys & VM_MEMO_KEY_TUPLE)) {
		*g = (struct vm_gmemo){ .o = m->o, .ctx = ctx_of(p) };
	} else if (c && !(m->o->keys & VM_MEMO_KEY_EXACT)) {
		*c = (struct vm_cmemo){ .o = m->o, .ctx = ctx_of(p) };
		memcpy(c->cls, cls, sizeof(c->cls));
	}
	rc = 0;
keep:
	m->hook = p->hook;
	m->iif = p->iif;
	m->oif = p->oif;
	m->ctinfo = p->ctinfo;
	m->status = p->ct_status;
	m->mark = ct_entry_mark(p->ct);
	return rc;
}
