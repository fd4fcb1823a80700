/* target — nft_compat's xtables target expression (net/netfilter/nft_compat.c:
 * NFTA_TARGET_NAME, _REV, _INFO = the target's xt struct, host byte order),
 * as a kernel dump shows it for rules written through nft_compat.
 *
 * Exactly one target is known: NFQUEUE (net/netfilter/xt_NFQUEUE.c), which
 * filterd uses on kernels without CONFIG_NFT_QUEUE to queue DNS answers from
 * the resolvers.  Its verdict is that of the queue expression (expr_queue.c):
 * offline filterd is the listener, learns from the answer and accepts it, so
 * the verdict is NF_ACCEPT with vm_verdict.queued set.  Revisions:
 *   0  xt_NFQ_info    { u16 queuenum }
 *   1  xt_NFQ_info_v1 { u16 queuenum, queues_total }
 *   2  xt_NFQ_info_v2 { ..., u16 bypass }            (0 or 1)
 *   3  xt_NFQ_info_v3 { ..., u16 flags }             (NFQ_FLAG_BYPASS 0x01,
 *                                                     NFQ_FLAG_CPU_FANOUT 0x02)
 * As nfqueue_tg_check: queues_total 0 and unknown flags are refused; balancing
 * over several queues (a hash or the CPU picks the listener) is refused like
 * the queue expression's fanout.  Any other target fails the load, named. */
#include "vm_int.h"

#include <string.h>

#define NFQ_FLAG_BYPASS		0x01
#define NFQ_FLAG_CPU_FANOUT	0x02

struct target {
	uint16_t num, total, flags;
	uint32_t rev;
};

static const char *const target_attrs[] = { "name", "rev", "info" };

static uint16_t rd16h(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);	/* xt structs are in host byte order */
	return v;
}

static int target_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct target *t = priv;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
	const uint8_t *info;
	uint32_t len = 0, need;

	if (!name || !*name)
		return vm_err(ld, "xtables target without a name");
	if (strcmp(name, "NFQUEUE") != 0)
		return vm_err(ld, "xtables target '%s' is not supported (only NFQUEUE is)", name);
	t->rev = nftnl_expr_is_set(e, NFTNL_EXPR_TG_REV) ?
		 nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV) : 0;
	if (t->rev > 3)
		return vm_err(ld, "xtables target 'NFQUEUE' revision %u is not supported", t->rev);
	need = t->rev == 0 ? 2 : t->rev == 1 ? 4 : 6;
	info = nftnl_expr_is_set(e, NFTNL_EXPR_TG_INFO) ?
	       nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len) : NULL;
	if (!info || len < need)
		return vm_err(ld, "xtables target 'NFQUEUE' revision %u: info of %u bytes, "
			      "needs %u", t->rev, info ? len : 0, need);
	t->num = rd16h(info);
	t->total = t->rev >= 1 ? rd16h(info + 2) : 1;
	t->flags = 0;
	if (t->rev == 2) {
		uint16_t bypass = rd16h(info + 4);

		if (bypass > 1)
			return vm_err(ld, "xtables target 'NFQUEUE' revision 2: bypass %u is "
				      "invalid", bypass);
		t->flags = bypass ? NFQ_FLAG_BYPASS : 0;
	} else if (t->rev == 3) {
		t->flags = rd16h(info + 4);
		if (t->flags & ~(uint16_t)(NFQ_FLAG_BYPASS | NFQ_FLAG_CPU_FANOUT))
			return vm_err(ld, "xtables target 'NFQUEUE': flags 0x%x are not "
				      "supported", t->flags);
	}
	if (t->total == 0)
		return vm_err(ld, "xtables target 'NFQUEUE': queues_total is 0 (the kernel "
			      "refuses it)");
	if ((uint32_t)t->num + t->total - 1 > 0xffff)
		return vm_err(ld, "xtables target 'NFQUEUE': queues %u..%u exceed 65535",
			      t->num, (uint32_t)t->num + t->total - 1);
	if (t->total > 1)
		return vm_err(ld, "xtables target 'NFQUEUE': balancing over %u queues is not "
			      "supported", t->total);
	return 0;
}

static void target_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct target *t = priv;

	x->out->queued = true;
	x->out->queue_num = t->num;
	regs->code = NF_ACCEPT;
}

const struct vm_expr_ops vm_expr_target = {
	.name = "target",
	.priv_size = sizeof(struct target),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_TG_NAME) | VM_ATTR(NFTNL_EXPR_TG_REV) |
			VM_ATTR(NFTNL_EXPR_TG_INFO),
	.attr_required = VM_ATTR(NFTNL_EXPR_TG_NAME),
	.attr_names = target_attrs,
	.nattr_names = sizeof(target_attrs) / sizeof(target_attrs[0]),
	.load = target_load,
	.eval = target_eval,
};
