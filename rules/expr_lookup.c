/* lookup — set membership and map lookups (nft_lookup.c).
 *
 * found = (key in set) XOR invert; when not found the catch-all element, if
 * any, stands in (nft_set_catchall_lookup) — so an inverted lookup of a key
 * that IS in a set with a catch-all still matches, as in the kernel.  With a
 * destination register the element's data is copied (nft_data_copy: the last
 * partial word zeroed first); for verdict maps into the verdict register.
 * The kernel refuses invert together with a destination register. */
#include "vm_int.h"

#include <string.h>

struct lookup {
	struct vm_set *set;
	int sreg, dreg;		/* dreg: -1 none, 0 verdict, else data word */
	bool invert;
};

static const char *const lookup_attrs[] = { "sreg", "dreg", "set", "set_id", "flags" };

static int lookup_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct lookup *lk = priv;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
	uint32_t flags = 0;

	lk->set = vm_set_by_name(ld->vm, name);
	if (!lk->set)
		return vm_err(ld, "unknown set '%s'", name ? name : "(none)");
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS))
		flags = nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS);
	if (flags & ~(uint32_t)NFT_LOOKUP_F_INV)
		return vm_err(ld, "flags 0x%x are not supported", flags);
	lk->invert = flags & NFT_LOOKUP_F_INV;
	lk->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG),
			       lk->set->klen, "lookup key");
	if (lk->sreg < 0)
		return -1;
	lk->dreg = -1;
	if (!nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG))
		return 0;
	if (lk->invert)
		return vm_err(ld, "inverted lookup with a destination register");
	if (!lk->set->map)
		return vm_err(ld, "destination register on set '%s', which is not a map",
			      lk->set->name);
	if (lk->set->vmap) {
		if (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) != NFT_REG_VERDICT)
			return vm_err(ld, "verdict map '%s' into a data register",
				      lk->set->name);
		lk->dreg = 0;
		for (size_t i = 0; i < lk->set->nelems; i++)
			if (vm_add_edge(ld->vm, ld->chain_idx, lk->set->elems[i].vchain) < 0)
				return vm_err(ld, "out of memory");
		return 0;
	}
	lk->dreg = vm_reg_store(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG),
				lk->set->dlen, "map data");
	return lk->dreg < 0 ? -1 : 0;
}

static void lookup_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct lookup *lk = priv;
	struct vm_set *s = lk->set;
	int i = vm_set_find(s, &regs->data[lk->sreg]);
	bool found = (i >= 0) != lk->invert;

	if (i >= 0 && (size_t)i < s->nelems) {	/* else a run-time element (vm_dyn.c) */
		s->elems[i].hits++;
		if (x->rec)
			vm_memo_effect(x, (uintptr_t)&s->elems[i].hits);
	}
	if (!found) {
		i = s->catchall;
		if (i < 0) {
			regs->code = NFT_BREAK;
			return;
		}
		s->elems[i].hits++;
		if (x->rec)
			vm_memo_effect(x, (uintptr_t)&s->elems[i].hits);
	}
	if (i < 0 || lk->dreg < 0)
		return;
	if (lk->dreg == 0) {
		regs->code = s->elems[i].vcode;
		regs->chain = s->elems[i].vchain;
		return;
	}
	if (s->dlen % 4)
		regs->data[lk->dreg + s->dlen / 4] = 0;
	memcpy(&regs->data[lk->dreg], s->data + (size_t)i * s->dlen, s->dlen);
}

/* A set that takes run-time elements (timeouts, FQDN) answers differently as
 * time passes and DNS answers arrive: not memoisable.  Its contents are
 * otherwise fixed once loaded. */
static unsigned lookup_memo(const void *priv, const struct pkt *p)
{
	const struct lookup *lk = priv;
	const struct vm_set *s = lk->set;

	(void)p;
	return s->dyn || s->fqdn || (s->flags & NFT_SET_TIMEOUT) ? VM_MEMO_NEVER : 0;
}

bool vm_lookup_plain(const struct vm_expr *e, int *sreg, const struct vm_set **set)
{
	const struct lookup *lk = e->priv;

	if (e->ops != &vm_expr_lookup || lk->invert || lk->dreg >= 0 ||
	    lookup_memo(lk, NULL) != 0)
		return false;
	*sreg = lk->sreg;
	*set = lk->set;
	return true;
}

bool vm_lookup_any(const struct vm_expr *e, int *sreg, const struct vm_set **set)
{
	const struct lookup *lk = e->priv;

	if (e->ops != &vm_expr_lookup)
		return false;
	*sreg = lk->sreg;
	*set = lk->set;
	return true;
}

const struct vm_expr_ops vm_expr_lookup = {
	.name = "lookup",
	.priv_size = sizeof(struct lookup),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_LOOKUP_SREG) | VM_ATTR(NFTNL_EXPR_LOOKUP_DREG) |
			VM_ATTR(NFTNL_EXPR_LOOKUP_SET) | VM_ATTR(NFTNL_EXPR_LOOKUP_SET_ID) |
			VM_ATTR(NFTNL_EXPR_LOOKUP_FLAGS),
	.attr_required = VM_ATTR(NFTNL_EXPR_LOOKUP_SREG) | VM_ATTR(NFTNL_EXPR_LOOKUP_SET),
	.attr_names = lookup_attrs,
	.nattr_names = sizeof(lookup_attrs) / sizeof(lookup_attrs[0]),
	.load = lookup_load,
	.eval = lookup_eval,
	.memo = lookup_memo,
};
