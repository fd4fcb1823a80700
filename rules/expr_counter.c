/* counter — packets and bytes (skb->len) per rule (nft_counter.c).  Counts
 * start at zero in the vm whatever the loaded values were (a dump carries the
 * kernel's running totals). */
#include "vm_int.h"

static const char *const counter_attrs[] = { "packets", "bytes" };

static int counter_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	(void)ld;
	(void)e;
	(void)priv;
	return 0;
}

static void counter_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	(void)priv;
	(void)regs;
	x->rule->packets++;
	x->rule->bytes += x->p->len;
	if (x->rec)
		vm_memo_effect(x, (uintptr_t)x->rule | VM_EFFECT_COUNTER);
}

const struct vm_expr_ops vm_expr_counter = {
	.name = "counter",
	.priv_size = 0,
	.attr_allowed = VM_ATTR(NFTNL_EXPR_CTR_PACKETS) | VM_ATTR(NFTNL_EXPR_CTR_BYTES),
	.attr_names = counter_attrs,
	.nattr_names = sizeof(counter_attrs) / sizeof(counter_attrs[0]),
	.load = counter_load,
	.eval = counter_eval,
	.memo = vm_memo_pure,
};
