/* log — no effect on the verdict (nft_log.c sends a log message and leaves
 * the verdict register alone); the vm records that it happened and its prefix. */
#include "vm_int.h"

struct log {
	const char *prefix;	/* points into the nftnl_expr */
};

static const char *const log_attrs[] = {
	"prefix", "group", "snaplen", "qthreshold", "level", "flags",
};

static int log_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct log *l = priv;

	(void)ld;
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX))
		l->prefix = nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX);
	return 0;
}

static void log_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct log *l = priv;

	(void)regs;
	x->out->nlogged++;
	x->out->log_prefix = l->prefix;
}

const struct vm_expr_ops vm_expr_log = {
	.name = "log",
	.priv_size = sizeof(struct log),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_LOG_PREFIX) | VM_ATTR(NFTNL_EXPR_LOG_GROUP) |
			VM_ATTR(NFTNL_EXPR_LOG_SNAPLEN) | VM_ATTR(NFTNL_EXPR_LOG_QTHRESHOLD) |
			VM_ATTR(NFTNL_EXPR_LOG_LEVEL) | VM_ATTR(NFTNL_EXPR_LOG_FLAGS),
	.attr_names = log_attrs,
	.nattr_names = sizeof(log_attrs) / sizeof(log_attrs[0]),
	.load = log_load,
	.eval = log_eval,
	.memo = vm_memo_pure,
};
