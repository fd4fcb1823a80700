/* cmp — compares a register with constant data (nft_cmp.c).
 *
 * The kernel compares with memcmp() over the data length for every operator:
 * eq/neq, and lt/lte/gt/gte as a byte-wise (big-endian) ordering of what is in
 * the register — which is why nft converts host-order values with byteorder
 * before an ordering cmp.  Mismatch sets NFT_BREAK. */
#include "vm_int.h"

#include <string.h>

struct cmp {
	int sreg;
	uint32_t op, len;
	uint8_t data[64];
};

static const char *const cmp_attrs[] = { "sreg", "op", "data" };

static int cmp_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct cmp *c = priv;
	const void *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &c->len);

	c->op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);
	if (c->op > NFT_CMP_GTE)
		return vm_err(ld, "operator %u is not supported", c->op);
	if (!d || c->len == 0 || c->len > sizeof(c->data))
		return vm_err(ld, "data of %u bytes is invalid", c->len);
	memcpy(c->data, d, c->len);
	c->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG), c->len,
			      "cmp");
	return c->sreg < 0 ? -1 : 0;
}

static void cmp_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct cmp *c = priv;
	const uint8_t *r = (const uint8_t *)&regs->data[c->sreg];
	bool ok;
	int d;

	(void)x;
	if (c->op == NFT_CMP_EQ || c->op == NFT_CMP_NEQ) {
		/* equality of the common small widths without a memcmp call */
		bool eq;

		if (c->len == 1) {
			eq = r[0] == c->data[0];
		} else if (c->len == 2) {
			eq = r[0] == c->data[0] && r[1] == c->data[1];
		} else if (c->len == 4) {
			uint32_t a, b;

			memcpy(&a, r, 4);
			memcpy(&b, c->data, 4);
			eq = a == b;
		} else {
			eq = memcmp(r, c->data, c->len) == 0;
		}
		if (eq != (c->op == NFT_CMP_EQ))
			regs->code = NFT_BREAK;
		return;
	}
	d = memcmp(r, c->data, c->len);
	switch (c->op) {
	case NFT_CMP_EQ: ok = d == 0; break;
	case NFT_CMP_NEQ: ok = d != 0; break;
	case NFT_CMP_LT: ok = d < 0; break;
	case NFT_CMP_LTE: ok = d <= 0; break;
	case NFT_CMP_GT: ok = d > 0; break;
	default: ok = d >= 0; break;	/* NFT_CMP_GTE */
	}
	if (!ok)
		regs->code = NFT_BREAK;
}

bool vm_cmp_eq_byte(const struct vm_expr *e, int *sreg, uint8_t *val)
{
	const struct cmp *c = e->priv;

	if (e->ops != &vm_expr_cmp || c->op != NFT_CMP_EQ || c->len != 1)
		return false;
	*sreg = c->sreg;
	*val = c->data[0];
	return true;
}

bool vm_cmp_eq(const struct vm_expr *e, int *sreg, const uint8_t **data, uint32_t *len)
{
	const struct cmp *c = e->priv;

	if (e->ops != &vm_expr_cmp || c->op != NFT_CMP_EQ)
		return false;
	*sreg = c->sreg;
	*data = c->data;
	*len = c->len;
	return true;
}

bool vm_cmp_any(const struct vm_expr *e, int *sreg, uint32_t *op, const uint8_t **data,
		uint32_t *len)
{
	const struct cmp *c = e->priv;

	if (e->ops != &vm_expr_cmp)
		return false;
	*sreg = c->sreg;
	*op = c->op;
	*data = c->data;
	*len = c->len;
	return true;
}

const struct vm_expr_ops vm_expr_cmp = {
	.name = "cmp",
	.priv_size = sizeof(struct cmp),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_CMP_SREG) | VM_ATTR(NFTNL_EXPR_CMP_OP) |
			VM_ATTR(NFTNL_EXPR_CMP_DATA),
	.attr_required = VM_ATTR(NFTNL_EXPR_CMP_SREG) | VM_ATTR(NFTNL_EXPR_CMP_OP) |
			 VM_ATTR(NFTNL_EXPR_CMP_DATA),
	.attr_names = cmp_attrs,
	.nattr_names = sizeof(cmp_attrs) / sizeof(cmp_attrs[0]),
	.load = cmp_load,
	.eval = cmp_eval,
	.memo = vm_memo_pure,
};
