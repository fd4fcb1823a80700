/* queue — nft_queue_eval hands the packet to a userspace listener on an
 * NFQUEUE (verdict NF_QUEUE with the queue number; with "bypass" the packet
 * is accepted when nobody listens).
 *
 * filterd compiles exactly one kind of queue rule: DNS answers from the
 * configured resolvers, which filterd parses, learns FQDN addresses from, and
 * then ACCEPTS (after the set update is in the kernel).  Offline the verdict is
 * therefore NF_ACCEPT, with vm_verdict.queued set so that the caller learns
 * from the packet as filterd would.  A queue number taken from a register
 * (sreg_qnum) is refused: nothing here can know which listener that is. */
#include "vm_int.h"

struct queue {
	uint16_t num, total, flags;
};

static const char *const queue_attrs[] = { "num", "total", "flags", "sreg_qnum" };

static int queue_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct queue *q = priv;

	if (nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_SREG_QNUM))
		return vm_err(ld, "queue number from a register is not supported");
	if (nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_NUM))
		q->num = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM);
	q->total = 1;
	if (nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_TOTAL))
		q->total = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL);
	if (nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_FLAGS))
		q->flags = nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_FLAGS);
	if (q->flags & ~(uint16_t)(NFT_QUEUE_FLAG_BYPASS | NFT_QUEUE_FLAG_CPU_FANOUT))
		return vm_err(ld, "queue flags 0x%x are not supported", q->flags);
	if (q->total > 1)
		return vm_err(ld, "queue fanout over %u queues is not supported", q->total);
	return 0;
}

static void queue_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct queue *q = priv;

	x->out->queued = true;
	x->out->queue_num = q->num;
	regs->code = NF_ACCEPT;
}

const struct vm_expr_ops vm_expr_queue = {
	.name = "queue",
	.priv_size = sizeof(struct queue),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_QUEUE_NUM) | VM_ATTR(NFTNL_EXPR_QUEUE_TOTAL) |
			VM_ATTR(NFTNL_EXPR_QUEUE_FLAGS) | VM_ATTR(NFTNL_EXPR_QUEUE_SREG_QNUM),
	.attr_names = queue_attrs,
	.nattr_names = sizeof(queue_attrs) / sizeof(queue_attrs[0]),
	.load = queue_load,
	.eval = queue_eval,
};
