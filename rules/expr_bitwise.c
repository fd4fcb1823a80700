/* bitwise — mask-and-xor and shifts (nft_bitwise.c).
 *
 * Both work on whole 32-bit words in host order, DIV_ROUND_UP(len, 4) of them:
 * bool: dst = (src & mask) ^ xor, with mask/xor zero beyond len; lshift walks
 * the words from last to first carrying the high bits, rshift from first to
 * last carrying the low bits.  The newer register-operand forms (and/or/xor
 * with sreg2) are not supported. */
#include "vm_int.h"

#include <string.h>

struct bitwise {
	int sreg, dreg;
	uint32_t op, len, words;
	uint32_t mask[16], xor[16];
	uint32_t shift;
};

static const char *const bitwise_attrs[] = {
	"sreg", "dreg", "len", "mask", "xor", "op", "data",
};

static int bitwise_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct bitwise *b = priv;
	const void *d;
	uint32_t l = 0;

	b->len = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_LEN);
	if (b->len == 0 || b->len > 64)
		return vm_err(ld, "length %u is invalid", b->len);
	b->words = (b->len + 3) / 4;
	b->op = nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_OP) ?
		nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_OP) : NFT_BITWISE_BOOL;
	switch (b->op) {
	case NFT_BITWISE_BOOL:
		if (!nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_MASK) ||
		    !nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_XOR) ||
		    nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_DATA))
			return vm_err(ld, "mask-and-xor needs mask and xor only");
		d = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &l);
		if (!d || l != b->len)
			return vm_err(ld, "mask of %u bytes, length is %u", l, b->len);
		memcpy(b->mask, d, l);
		d = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &l);
		if (!d || l != b->len)
			return vm_err(ld, "xor of %u bytes, length is %u", l, b->len);
		memcpy(b->xor, d, l);
		break;
	case NFT_BITWISE_LSHIFT:
	case NFT_BITWISE_RSHIFT:
		if (nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_MASK) ||
		    nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_XOR))
			return vm_err(ld, "shift with mask/xor");
		d = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_DATA, &l);
		if (!d || l != sizeof(uint32_t))
			return vm_err(ld, "shift amount of %u bytes", l);
		memcpy(&b->shift, d, sizeof(b->shift));
		if (b->shift >= 32)
			return vm_err(ld, "shift by %u", b->shift);
		break;
	default:
		return vm_err(ld, "operation %u is not supported", b->op);
	}
	b->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG), b->len,
			      "bitwise");
	if (b->sreg < 0)
		return -1;
	b->dreg = vm_reg_store(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG), b->len,
			       "bitwise");
	return b->dreg < 0 ? -1 : 0;
}

static void bitwise_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct bitwise *b = priv;
	const uint32_t *src = &regs->data[b->sreg];
	uint32_t *dst = &regs->data[b->dreg];
	uint32_t carry = 0;

	(void)x;
	switch (b->op) {
	case NFT_BITWISE_BOOL:
		for (uint32_t i = 0; i < b->words; i++)
			dst[i] = (src[i] & b->mask[i]) ^ b->xor[i];
		break;
	case NFT_BITWISE_LSHIFT:
		for (uint32_t i = b->words; i > 0; i--) {
			uint32_t s = src[i - 1];

			dst[i - 1] = (s << b->shift) | carry;
			carry = b->shift ? s >> (32 - b->shift) : 0;
		}
		break;
	default:	/* NFT_BITWISE_RSHIFT */
		for (uint32_t i = 0; i < b->words; i++) {
			uint32_t s = src[i];

			dst[i] = carry | (s >> b->shift);
			carry = b->shift ? s << (32 - b->shift) : 0;
		}
		break;
	}
}

bool vm_bitwise_bool(const struct vm_expr *e, int *sreg, int *dreg, uint32_t *len,
		     const uint8_t **mask, const uint8_t **xor)
{
	const struct bitwise *b = e->priv;

	if (e->ops != &vm_expr_bitwise || b->op != NFT_BITWISE_BOOL)
		return false;
	*sreg = b->sreg;
	*dreg = b->dreg;
	*len = b->len;
	*mask = (const uint8_t *)b->mask;
	*xor = (const uint8_t *)b->xor;
	return true;
}

const struct vm_expr_ops vm_expr_bitwise = {
	.name = "bitwise",
	.priv_size = sizeof(struct bitwise),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_BITWISE_SREG) | VM_ATTR(NFTNL_EXPR_BITWISE_DREG) |
			VM_ATTR(NFTNL_EXPR_BITWISE_LEN) | VM_ATTR(NFTNL_EXPR_BITWISE_MASK) |
			VM_ATTR(NFTNL_EXPR_BITWISE_XOR) | VM_ATTR(NFTNL_EXPR_BITWISE_OP) |
			VM_ATTR(NFTNL_EXPR_BITWISE_DATA),
	.attr_required = VM_ATTR(NFTNL_EXPR_BITWISE_SREG) | VM_ATTR(NFTNL_EXPR_BITWISE_DREG) |
			 VM_ATTR(NFTNL_EXPR_BITWISE_LEN),
	.attr_names = bitwise_attrs,
	.nattr_names = sizeof(bitwise_attrs) / sizeof(bitwise_attrs[0]),
	.load = bitwise_load,
	.eval = bitwise_eval,
	.memo = vm_memo_pure,
};
