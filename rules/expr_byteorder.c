/* byteorder — host/network conversion of a register (nft_byteorder.c).
 *
 * Mirrors the kernel's addressing exactly: elements of size 2 are the first
 * u16 of successive 32-bit words, elements of size 4 successive words; for
 * size 8 only a single element (len 8) is accepted, the one layout where the
 * kernel's loop has no ambiguity.  Lengths not a multiple of the size are
 * accepted as the kernel accepts them: the trailing bytes are left alone. */
#include "vm_int.h"

#include <endian.h>
#include <string.h>

struct byteorder {
	int sreg, dreg;
	uint32_t op, len, size;
};

static const char *const byteorder_attrs[] = { "dreg", "sreg", "op", "len", "size" };

static int byteorder_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct byteorder *b = priv;

	b->op = nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_OP);
	b->len = nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_LEN);
	b->size = nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_SIZE);
	if (b->op != NFT_BYTEORDER_NTOH && b->op != NFT_BYTEORDER_HTON)
		return vm_err(ld, "operation %u is not supported", b->op);
	if (b->size != 2 && b->size != 4 && b->size != 8)
		return vm_err(ld, "size %u is invalid", b->size);
	/* The kernel does not require len % size == 0: the loops run len/size
	 * times (nft emits len 1, size 2 for an inet_proto concat field: a
	 * no-op).  Mirror that; refuse only the multi-element 8-byte form. */
	if (b->len == 0 || b->len > 64)
		return vm_err(ld, "length %u is invalid", b->len);
	if (b->size == 8 && b->len >= 16)
		return vm_err(ld, "%u bytes in 8-byte units are not supported", b->len);
	b->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_SREG),
			      b->len, "byteorder");
	if (b->sreg < 0)
		return -1;
	b->dreg = vm_reg_store(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_DREG),
			       b->len, "byteorder");
	return b->dreg < 0 ? -1 : 0;
}

static void byteorder_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct byteorder *b = priv;
	uint32_t *src = &regs->data[b->sreg], *dst = &regs->data[b->dreg];

	(void)x;
	/* ntoh and hton are the same swap on a little-endian host, and the
	 * identity on a big-endian one. */
	switch (b->size) {
	case 8: {
		uint64_t v;

		if (b->len < 8)
			break;
		memcpy(&v, src, 8);
		v = b->op == NFT_BYTEORDER_NTOH ? be64toh(v) : htobe64(v);
		memcpy(dst, &v, 8);
		break;
	}
	case 4:
		for (uint32_t i = 0; i < b->len / 4; i++)
			dst[i] = b->op == NFT_BYTEORDER_NTOH ? be32toh(src[i]) : htobe32(src[i]);
		break;
	default:
		for (uint32_t i = 0; i < b->len / 2; i++) {
			uint16_t v;

			memcpy(&v, &src[i], 2);
			v = b->op == NFT_BYTEORDER_NTOH ? be16toh(v) : htobe16(v);
			memcpy(&dst[i], &v, 2);
		}
		break;
	}
}

const struct vm_expr_ops vm_expr_byteorder = {
	.name = "byteorder",
	.priv_size = sizeof(struct byteorder),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_BYTEORDER_DREG) | VM_ATTR(NFTNL_EXPR_BYTEORDER_SREG) |
			VM_ATTR(NFTNL_EXPR_BYTEORDER_OP) | VM_ATTR(NFTNL_EXPR_BYTEORDER_LEN) |
			VM_ATTR(NFTNL_EXPR_BYTEORDER_SIZE),
	.attr_required = VM_ATTR(NFTNL_EXPR_BYTEORDER_DREG) | VM_ATTR(NFTNL_EXPR_BYTEORDER_SREG) |
			 VM_ATTR(NFTNL_EXPR_BYTEORDER_OP) | VM_ATTR(NFTNL_EXPR_BYTEORDER_LEN) |
			 VM_ATTR(NFTNL_EXPR_BYTEORDER_SIZE),
	.attr_names = byteorder_attrs,
	.nattr_names = sizeof(byteorder_attrs) / sizeof(byteorder_attrs[0]),
	.load = byteorder_load,
	.eval = byteorder_eval,
	.memo = vm_memo_pure,
};
