/* limit — token bucket on capture time (nft_limit.c).
 *
 * Same integer arithmetic as the kernel, in nanoseconds: a bucket of
 * tokens_max = nsecs/rate * burst (packets, burst defaulting to 5) or
 * nsecs * (rate + burst) / rate (bytes); each packet refills by the time
 * elapsed since the previous one (capped at tokens_max) and costs nsecs/rate
 * (packets) or nsecs * skb->len / rate (bytes).  Within the limit the
 * expression breaks only when inverted ("over"), beyond it only when not.
 * The kernel starts the clock when the rule is loaded; offline the bucket
 * starts full at the first packet evaluated.
 *
 * The flow memo (vm_memo.c) may answer a packet whose path reaches a limit:
 * the limit is recorded with its answer, and a later packet gets the memo's
 * outcome only if each recorded limit would answer the same for it now
 * (vm_limit_peek); then its tokens are taken (vm_limit_take) as the
 * expression would have. */
#include "vm_int.h"

struct limit {
	uint64_t rate, nsecs, tokens_max, cost;
	uint32_t burst, type;
	bool invert;
	bool started;
	uint64_t last, tokens;
};

static const char *const limit_attrs[] = { "rate", "unit", "burst", "type", "flags" };

static int limit_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct limit *l = priv;
	uint64_t unit, rate_with_burst;
	uint32_t flags = 0;

	l->rate = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE);
	unit = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT);
	l->type = nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_TYPE) ?
		  nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_TYPE) : NFT_LIMIT_PKTS;
	if (l->type != NFT_LIMIT_PKTS && l->type != NFT_LIMIT_PKT_BYTES)
		return vm_err(ld, "type %u is not supported", l->type);
	if (l->rate == 0)
		return vm_err(ld, "rate 0");
	if (__builtin_mul_overflow(unit, (uint64_t)1000000000, &l->nsecs))
		return vm_err(ld, "unit overflows");
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_BURST))
		l->burst = nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST);
	if (l->type == NFT_LIMIT_PKTS && l->burst == 0)
		l->burst = 5;	/* NFT_LIMIT_PKT_BURST_DEFAULT */
	if (__builtin_add_overflow(l->rate, (uint64_t)l->burst, &rate_with_burst))
		return vm_err(ld, "rate + burst overflows");
	if (l->type == NFT_LIMIT_PKTS) {
		if (__builtin_mul_overflow(l->nsecs / l->rate, (uint64_t)l->burst,
					   &l->tokens_max))
			return vm_err(ld, "bucket size overflows");
		l->cost = l->nsecs / l->rate;
	} else {
		uint64_t tmp;

		if (__builtin_mul_overflow(l->nsecs, rate_with_burst, &tmp))
			return vm_err(ld, "bucket size overflows");
		l->tokens_max = tmp / l->rate;
	}
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_FLAGS))
		flags = nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_FLAGS);
	if (flags & ~(uint32_t)NFT_LIMIT_F_INV)
		return vm_err(ld, "flags 0x%x are not supported", flags);
	l->invert = flags & NFT_LIMIT_F_INV;
	l->tokens = l->tokens_max;
	return 0;
}

/* nft_limit_eval(): true means NFT_BREAK.  The bucket's new state goes to
 * *next (the caller stores it, or not when it only asks). */
static bool limit_step(const struct limit *l, const struct pkt *p, struct limit *next)
{
	uint64_t now = (uint64_t)p->ts.tv_sec * 1000000000ull +
		       (uint64_t)p->ts.tv_usec * 1000ull;
	uint64_t cost = l->type == NFT_LIMIT_PKTS ? l->cost :
			(l->nsecs * (uint64_t)p->len) / l->rate;
	uint64_t tokens;
	int64_t delta;

	*next = *l;
	if (!next->started) {
		next->started = true;
		next->last = now;
	}
	tokens = next->tokens + now - next->last;
	if (tokens > next->tokens_max)
		tokens = next->tokens_max;
	next->last = now;
	delta = (int64_t)(tokens - cost);
	if (delta >= 0) {
		next->tokens = (uint64_t)delta;
		return next->invert;
	}
	next->tokens = tokens;
	return !next->invert;
}

bool vm_limit_peek(const void *priv, const struct pkt *p)
{
	struct limit next;

	return limit_step(priv, p, &next);
}

bool vm_limit_take(void *priv, const struct pkt *p)
{
	struct limit *l = priv;

	return limit_step(l, p, l);
}

static void limit_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	bool brk = vm_limit_take(priv, x->p);

	if (x->rec) {
		/* the same limit twice in one path (a chain jumped to twice):
		 * asking each alone would not see the other's tokens */
		const struct vm_outcome *o = x->rec;
		uintptr_t what = (uintptr_t)priv | VM_EFFECT_LIMIT;

		for (unsigned i = 0; i < o->neffects; i++)
			if (o->effect[i].what == what)
				x->rec_keys |= VM_MEMO_NEVER;
		vm_memo_effect(x, what);
		if (o->neffects && o->effect[o->neffects - 1].what == what)
			x->rec->effect[o->neffects - 1].n = brk;
		x->rec->limits = true;
	}
	if (brk)
		regs->code = NFT_BREAK;
}

static void limit_reset(void *priv)
{
	struct limit *l = priv;

	l->started = false;
	l->tokens = l->tokens_max;
}

const struct vm_expr_ops vm_expr_limit = {
	.name = "limit",
	.priv_size = sizeof(struct limit),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_LIMIT_RATE) | VM_ATTR(NFTNL_EXPR_LIMIT_UNIT) |
			VM_ATTR(NFTNL_EXPR_LIMIT_BURST) | VM_ATTR(NFTNL_EXPR_LIMIT_TYPE) |
			VM_ATTR(NFTNL_EXPR_LIMIT_FLAGS),
	.attr_required = VM_ATTR(NFTNL_EXPR_LIMIT_RATE) | VM_ATTR(NFTNL_EXPR_LIMIT_UNIT),
	.attr_names = limit_attrs,
	.nattr_names = sizeof(limit_attrs) / sizeof(limit_attrs[0]),
	.load = limit_load,
	.eval = limit_eval,
	.reset = limit_reset,
	/* its state is checked by the memo itself (VM_EFFECT_LIMIT) */
	.memo = vm_memo_pure,
};
