/* reject — the kernel sends a TCP reset or an ICMP error and sets NF_DROP
 * (nft_reject_inet_eval); offline only the drop and its kind are recorded. */
#include "vm_int.h"

struct reject {
	uint32_t type;
	uint8_t code;
};

static const char *const reject_attrs[] = { "type", "code" };

static int reject_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct reject *r = priv;

	r->type = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE);
	if (r->type != NFT_REJECT_ICMP_UNREACH && r->type != NFT_REJECT_TCP_RST &&
	    r->type != NFT_REJECT_ICMPX_UNREACH)
		return vm_err(ld, "type %u is not supported", r->type);
	if (nftnl_expr_is_set(e, NFTNL_EXPR_REJECT_CODE))
		r->code = nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE);
	return 0;
}

static void reject_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct reject *r = priv;

	x->out->rejected = true;
	x->out->reject_type = r->type;
	x->out->reject_code = r->code;
	regs->code = NF_DROP;
}

const struct vm_expr_ops vm_expr_reject = {
	.name = "reject",
	.priv_size = sizeof(struct reject),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_REJECT_TYPE) | VM_ATTR(NFTNL_EXPR_REJECT_CODE),
	.attr_required = VM_ATTR(NFTNL_EXPR_REJECT_TYPE),
	.attr_names = reject_attrs,
	.nattr_names = sizeof(reject_attrs) / sizeof(reject_attrs[0]),
	.load = reject_load,
	.eval = reject_eval,
	.memo = vm_memo_pure,
};
