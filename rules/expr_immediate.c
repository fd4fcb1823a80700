/* immediate — a constant into a register, or a verdict (nft_immediate.c).
 * Data copies zero the last partial word first (nft_data_copy). */
#include "vm_int.h"

#include <string.h>

struct immediate {
	int dreg;		/* 0: verdict */
	int32_t code, chain;
	uint32_t len;
	uint8_t data[64];
};

static const char *const imm_attrs[] = { "dreg", "data", "verdict", "chain", "chain_id" };

static int imm_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct immediate *im = priv;
	uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG);

	if (dreg == NFT_REG_VERDICT) {
		const char *chain = NULL;

		if (!nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT))
			return vm_err(ld, "verdict register without a verdict");
		im->dreg = 0;
		im->code = (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
			chain = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
		if (vm_verdict_load(ld, im->code, chain, &im->chain) < 0)
			return -1;
		if (vm_add_edge(ld->vm, ld->chain_idx, im->chain) < 0)
			return vm_err(ld, "out of memory");
		return 0;
	}
	const void *d = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &im->len);

	if (!nftnl_expr_is_set(e, NFTNL_EXPR_IMM_DATA) || !d || im->len == 0 ||
	    im->len > sizeof(im->data))
		return vm_err(ld, "data register without data");
	memcpy(im->data, d, im->len);
	im->dreg = vm_reg_store(ld, dreg, im->len, "immediate");
	return im->dreg < 0 ? -1 : 0;
}

static void imm_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct immediate *im = priv;

	(void)x;
	if (im->dreg == 0) {
		regs->code = im->code;
		regs->chain = im->chain;
		return;
	}
	if (im->len % 4)
		regs->data[im->dreg + im->len / 4] = 0;
	memcpy(&regs->data[im->dreg], im->data, im->len);
}

const struct vm_expr_ops vm_expr_immediate = {
	.name = "immediate",
	.priv_size = sizeof(struct immediate),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_IMM_DREG) | VM_ATTR(NFTNL_EXPR_IMM_DATA) |
			VM_ATTR(NFTNL_EXPR_IMM_VERDICT) | VM_ATTR(NFTNL_EXPR_IMM_CHAIN) |
			VM_ATTR(NFTNL_EXPR_IMM_CHAIN_ID),
	.attr_required = VM_ATTR(NFTNL_EXPR_IMM_DREG),
	.attr_names = imm_attrs,
	.nattr_names = sizeof(imm_attrs) / sizeof(imm_attrs[0]),
	.load = imm_load,
	.eval = imm_eval,
	.memo = vm_memo_pure,
};
