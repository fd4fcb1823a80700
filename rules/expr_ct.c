/* ct — connection tracking state (nft_ct.c, nft_ct_get_eval), for the keys
 * the conntrack emulation provides: state, direction, status, mark; and
 * "ct mark set" (nft_ct_set_eval: a no-op without a conntrack entry; the mark
 * stays on the emulated entry for its later packets).
 *
 * state is always defined: the ctinfo bit of a tracked packet, the untracked
 * bit, or the invalid bit when there is no conntrack entry; every other key
 * breaks when the packet has no conntrack entry.  The direction attribute is
 * refused for these keys, as the kernel does. */
#include "vm_int.h"
#include "conntrack.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <string.h>

/* enum ip_conntrack_info: IP_CT_UNTRACKED = 7, kernel-internal */
#define CT_UNTRACKED 7

struct ct {
	uint32_t key;
	int dreg, sreg;		/* one of them, -1 for the other */
};

static const char *const ct_keys[] = {
	"state", "direction", "status", "mark", "secmark", "expiration", "helper",
	"l3protocol", "saddr", "daddr", "protocol", "proto-src", "proto-dst",
	"label", "packets", "bytes", "avgpkt", "zone", "event", "ip saddr",
	"ip daddr", "ip6 saddr", "ip6 daddr", "id",
};

static const char *ct_key_name(uint32_t k)
{
	return k < sizeof(ct_keys) / sizeof(ct_keys[0]) ? ct_keys[k] : "?";
}

static const char *const ct_attrs[] = { "dreg", "key", "dir", "sreg" };

static int ct_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct ct *c = priv;
	bool has_d = nftnl_expr_is_set(e, NFTNL_EXPR_CT_DREG);
	bool has_s = nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG);
	uint32_t len;

	c->key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);
	c->dreg = c->sreg = -1;
	if (has_d == has_s)
		return vm_err(ld, "needs exactly one of dreg and sreg");
	switch (c->key) {
	case NFT_CT_STATE:
	case NFT_CT_STATUS:
	case NFT_CT_MARK:
		len = 4;
		break;
	case NFT_CT_DIRECTION:
		len = 1;
		break;
	default:
		return vm_err(ld, "key '%s' (%u) is not supported", ct_key_name(c->key),
			      c->key);
	}
	if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR))
		return vm_err(ld, "direction with key '%s'", ct_key_name(c->key));
	if (has_s) {
		if (c->key != NFT_CT_MARK)
			return vm_err(ld, "setting key '%s' is not supported",
				      ct_key_name(c->key));
		c->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_CT_SREG), len, "ct");
		return c->sreg < 0 ? -1 : 0;
	}
	c->dreg = vm_reg_store(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_CT_DREG), len, "ct");
	return c->dreg < 0 ? -1 : 0;
}

static void ct_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct ct *c = priv;
	const struct pkt *p = x->p;
	uint32_t *d;

	if (c->sreg >= 0) {
		if (p->ct_present && p->ct)
			ct_entry_set_mark(p->ct, regs->data[c->sreg]);
		return;
	}
	d = &regs->data[c->dreg];
	if (c->key == NFT_CT_STATE) {
		if (p->ct_present)
			*d = p->ct_state;
		else if ((p->ct_state & NF_CT_STATE_UNTRACKED_BIT) ||
			 p->ctinfo == CT_UNTRACKED)
			*d = NF_CT_STATE_UNTRACKED_BIT;
		else
			*d = NF_CT_STATE_INVALID_BIT;
		return;
	}
	if (!p->ct_present) {
		regs->code = NFT_BREAK;
		return;
	}
	if (c->key == NFT_CT_DIRECTION) {
		*d = 0;
		memcpy(d, &p->ct_dir, 1);
	} else if (c->key == NFT_CT_MARK) {
		if (!p->ct) {	/* entry not available to the evaluator */
			regs->code = NFT_BREAK;
			return;
		}
		*d = ct_entry_mark(p->ct);
	} else {
		*d = p->ct_status;
	}
}

/* ct state / direction: from ctinfo, which every memo compares; status and
 * mark change during a connection's life: kept as keys; setting the mark
 * changes the entry: not memoisable. */
static unsigned ct_memo(const void *priv, const struct pkt *p)
{
	const struct ct *c = priv;

	(void)p;
	if (c->sreg >= 0)
		return VM_MEMO_NEVER;
	switch (c->key) {
	case NFT_CT_STATE:
	case NFT_CT_DIRECTION:
		return 0;
	case NFT_CT_STATUS:
		return VM_MEMO_KEY_STATUS;
	case NFT_CT_MARK:
		return VM_MEMO_KEY_MARK;
	}
	return VM_MEMO_NEVER;
}

const struct vm_expr_ops vm_expr_ct = {
	.name = "ct",
	.priv_size = sizeof(struct ct),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_CT_DREG) | VM_ATTR(NFTNL_EXPR_CT_KEY) |
			VM_ATTR(NFTNL_EXPR_CT_SREG),
	.attr_required = VM_ATTR(NFTNL_EXPR_CT_KEY),
	.attr_names = ct_attrs,
	.nattr_names = sizeof(ct_attrs) / sizeof(ct_attrs[0]),
	.load = ct_load,
	.eval = ct_eval,
	.memo = ct_memo,
};
