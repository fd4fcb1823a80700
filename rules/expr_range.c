/* range — register within [from, to] or not (nft_range.c): two memcmp()s over
 * the data length; NFT_RANGE_EQ breaks when outside, NFT_RANGE_NEQ when inside. */
#include "vm_int.h"

#include <string.h>

struct range {
	int sreg;
	uint32_t op, len;
	uint8_t from[64], to[64];
};

static const char *const range_attrs[] = { "sreg", "op", "from", "to" };

static int range_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct range *r = priv;
	uint32_t lf = 0, lt = 0;
	const void *f = nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &lf);
	const void *t = nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &lt);

	r->op = nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP);
	if (r->op != NFT_RANGE_EQ && r->op != NFT_RANGE_NEQ)
		return vm_err(ld, "operator %u is not supported", r->op);
	if (!f || !t || lf != lt || lf == 0 || lf > sizeof(r->from))
		return vm_err(ld, "bounds of %u and %u bytes are invalid", lf, lt);
	r->len = lf;
	memcpy(r->from, f, lf);
	memcpy(r->to, t, lt);
	r->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_SREG), r->len,
			      "range");
	return r->sreg < 0 ? -1 : 0;
}

static void range_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct range *r = priv;
	int d1 = memcmp(&regs->data[r->sreg], r->from, r->len);
	int d2 = memcmp(&regs->data[r->sreg], r->to, r->len);
	bool mismatch;

	(void)x;
	if (r->op == NFT_RANGE_EQ)
		mismatch = d1 < 0 || d2 > 0;
	else
		mismatch = d1 >= 0 && d2 <= 0;
	if (mismatch)
		regs->code = NFT_BREAK;
}

bool vm_range_any(const struct vm_expr *e, int *sreg, const uint8_t **from, const uint8_t **to,
		  uint32_t *len)
{
	const struct range *r = e->priv;

	if (e->ops != &vm_expr_range)
		return false;
	*sreg = r->sreg;
	*from = r->from;
	*to = r->to;
	*len = r->len;
	return true;
}

const struct vm_expr_ops vm_expr_range = {
	.name = "range",
	.priv_size = sizeof(struct range),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_RANGE_SREG) | VM_ATTR(NFTNL_EXPR_RANGE_OP) |
			VM_ATTR(NFTNL_EXPR_RANGE_FROM_DATA) | VM_ATTR(NFTNL_EXPR_RANGE_TO_DATA),
	.attr_required = VM_ATTR(NFTNL_EXPR_RANGE_SREG) | VM_ATTR(NFTNL_EXPR_RANGE_OP) |
			 VM_ATTR(NFTNL_EXPR_RANGE_FROM_DATA) | VM_ATTR(NFTNL_EXPR_RANGE_TO_DATA),
	.attr_names = range_attrs,
	.nattr_names = sizeof(range_attrs) / sizeof(range_attrs[0]),
	.load = range_load,
	.eval = range_eval,
	.memo = vm_memo_pure,
};
