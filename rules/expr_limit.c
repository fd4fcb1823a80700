/* limit — token bucket on capture time (nft_limit.c).
 *
 * Same integer arithmetic as the kernel, in nanoseconds: a bucket of
 * tokens_max = nsecs/rate * burst (packets, burst defaulting to 5) or
 * nsecs * (rate + burst) / rate (bytes); each packet refills by the time
 * elapsed since the previous one (capped at tokens_max) and costs nsecs/rate
 * (packets) or nsecs * skb->len / rate (bytes).  Within the limit the
 * expression breaks only when inverted ("over"), beyond it only when not.
 * The kernel starts the clock when the rule is loaded; offline the bucket
 * starts full at the first packet evaluated. */
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

/* nft_limit_eval(): true means NFT_BREAK. */
static bool limit_take(struct limit *l, uint64_t now, uint64_t cost)
{
	uint64_t tokens;
	int64_t delta;

	if (!l->started) {
		l->started = true;
		l->last = now;
	}
	tokens = l->tokens + now - l->last;
	if (tokens > l->tokens_max)
		tokens = l->tokens_max;
	l->last = now;
	delta = (int64_t)(tokens - cost);
	if (delta >= 0) {
		l->tokens = (uint64_t)delta;
		return l->invert;
	}
	l->tokens = tokens;
	return !l->invert;
}

static void limit_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	struct limit *l = priv;
	const struct pkt *p = x->p;
	uint64_t now = (uint64_t)p->ts.tv_sec * 1000000000ull +
		       (uint64_t)p->ts.tv_usec * 1000ull;
	uint64_t cost = l->type == NFT_LIMIT_PKTS ? l->cost :
			(l->nsecs * (uint64_t)p->len) / l->rate;

	if (limit_take(l, now, cost))
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
};
