/* vm — loader and chain walker.  See vm.h for the contract, vm_int.h for the
 * data model.  The chain walk mirrors nft_do_chain() in
 * net/netfilter/nf_tables_core.c: one register file per base chain, the
 * verdict register reset to NFT_CONTINUE before each rule, NFT_BREAK ending a
 * rule, a jump stack of NFT_JUMP_STACK_SIZE entries, the end of a regular chain
 * returning to the caller and the end of a base chain applying its policy. */
#include "vm_int.h"
#include "conntrack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/nf_conntrack_common.h>

/* Every expression the evaluator knows; anything else fails the load. */
static const struct vm_expr_ops *const expr_ops[] = {
	&vm_expr_payload,
	&vm_expr_cmp,
	&vm_expr_bitwise,
	&vm_expr_byteorder,
	&vm_expr_range,
	&vm_expr_lookup,
	&vm_expr_meta,
	&vm_expr_ct,
	&vm_expr_immediate,
	&vm_expr_counter,
	&vm_expr_log,
	&vm_expr_limit,
	&vm_expr_reject,
	&vm_expr_queue,
	&vm_expr_target,
	NULL,
};

static const struct vm_expr_ops *expr_ops_find(const char *name)
{
	for (size_t i = 0; expr_ops[i]; i++)
		if (strcmp(expr_ops[i]->name, name) == 0)
			return expr_ops[i];
	return NULL;
}

int vm_err(struct vm_load *ld, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!ld->err || ld->errlen == 0)
		return -1;
	if (ld->chain && ld->rule_index >= 0)
		n = snprintf(ld->err, ld->errlen, "rule %d in chain %s: ",
			     ld->rule_index + 1, ld->chain);	/* from 1, as filterctl show counts */
	if (n >= 0 && (size_t)n < ld->errlen && ld->expr)
		n += snprintf(ld->err + n, ld->errlen - n, "expression '%s': ", ld->expr);
	if (n < 0 || (size_t)n >= ld->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* nft_parse_register(): NFT_REG_1..4 are 16-byte registers, NFT_REG32_00..15
 * 4-byte ones, both mapped onto the same 32-bit words. */
static int reg_word(uint32_t reg)
{
	if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
		return (int)(reg * 4);
	if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15)
		return (int)(reg - NFT_REG32_00 + 4);
	return -1;
}

static int reg_check(struct vm_load *ld, uint32_t reg, uint32_t len, const char *what,
		     const char *dir)
{
	int w = reg_word(reg);

	if (reg == NFT_REG_VERDICT)
		return vm_err(ld, "%s %s register is the verdict register", what, dir);
	if (w < 0)
		return vm_err(ld, "%s %s register %u is invalid", what, dir, reg);
	if (len == 0 || (size_t)w * 4 + len > VM_REG_WORDS * 4)
		return vm_err(ld, "%s of %u bytes does not fit register %u", what, len, reg);
	return w;
}

/* The words [w, w + len rounded up to words): the kernel's register writers
 * all fill whole words (the last one zero-padded). */
uint32_t vm_reg_words(int w, uint32_t len)
{
	uint32_t n = (len + 3) / 4;

	return (n >= 32 ? ~0u : (1u << n) - 1) << w;
}

int vm_reg_load(struct vm_load *ld, uint32_t reg, uint32_t len, const char *what)
{
	int w = reg_check(ld, reg, len, what, "source");

	/* a read of what an earlier rule (or nothing) wrote: the rule index,
	 * which skips writes, is off for this ruleset (vm_index.c) */
	if (w >= 0 && (vm_reg_words(w, len) & ~ld->rule_words))
		ld->vm->regs_shared = true;
	if (w >= 0)
		ld->expr_rwords |= vm_reg_words(w, len);
	return w;
}

int vm_reg_store(struct vm_load *ld, uint32_t reg, uint32_t len, const char *what)
{
	int w = reg_check(ld, reg, len, what, "destination");

	if (w >= 0)
		ld->expr_words |= vm_reg_words(w, len);
	return w;
}

int vm_chain_index(const struct vm *vm, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < vm->nchains; i++)
		if (strcmp(vm->chains[i].name, name) == 0)
			return (int)i;
	return -1;
}

struct vm_set *vm_set_by_name(struct vm *vm, const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < vm->nsets; i++)
		if (strcmp(vm->sets[i].name, name) == 0)
			return &vm->sets[i];
	return NULL;
}

/* nft_verdict_init(): which verdicts exist, and jump/goto targets. */
int vm_verdict_load(struct vm_load *ld, int32_t code, const char *chain_name,
		    int32_t *chain)
{
	*chain = -1;
	switch (code) {
	case NF_ACCEPT:
	case NF_DROP:
	case NFT_CONTINUE:
	case NFT_BREAK:
	case NFT_RETURN:
		return 0;
	case NFT_JUMP:
	case NFT_GOTO:
		*chain = vm_chain_index(ld->vm, chain_name);
		if (*chain < 0)
			return vm_err(ld, "%s to unknown chain '%s'",
				      code == NFT_JUMP ? "jump" : "goto",
				      chain_name ? chain_name : "(none)");
		if (ld->vm->chains[*chain].base)
			return vm_err(ld, "%s to base chain '%s'",
				      code == NFT_JUMP ? "jump" : "goto", chain_name);
		return 0;
	case NF_QUEUE:
		return vm_err(ld, "verdict 'queue' is not supported");
	default:
		return vm_err(ld, "verdict %d is not supported", code);
	}
}

const char *vm_verdict_name(int code)
{
	switch (code) {
	case NF_ACCEPT: return "accept";
	case NF_DROP: return "drop";
	case NF_QUEUE: return "queue";
	case NFT_CONTINUE: return "continue";
	case NFT_BREAK: return "break";
	case NFT_JUMP: return "jump";
	case NFT_GOTO: return "goto";
	case NFT_RETURN: return "return";
	default: return "?";
	}
}

/* ------------------------------------------------------------- loading --- */

static int load_expr(struct vm_load *ld, struct vm_expr *x, struct nftnl_expr *e)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const struct vm_expr_ops *ops;

	ld->expr = NULL;
	if (!name)
		return vm_err(ld, "expression without a name");
	ops = expr_ops_find(name);
	if (!ops)
		return vm_err(ld, "expression '%s' is not supported", name);
	ld->expr = ops->name;
	/* The attribute policy, checked in one place for every expression:
	 * unsupported attributes first (they say most), then missing ones. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t a = NFTNL_EXPR_BASE; a < 32; a++) {
			bool set = nftnl_expr_is_set(e, (uint16_t)a);
			uint32_t bit = VM_ATTR(a);
			size_t ni = a - NFTNL_EXPR_BASE;
			char num[16];
			const char *an = ni < ops->nattr_names && ops->attr_names[ni] ?
					 ops->attr_names[ni] : NULL;

			if (!an) {
				snprintf(num, sizeof(num), "#%u", a);
				an = num;
			}
			if (pass == 0 && set && !(ops->attr_allowed & bit))
				return vm_err(ld, "attribute '%s' is not supported", an);
			if (pass == 1 && !set && (ops->attr_required & bit))
				return vm_err(ld, "attribute '%s' is missing", an);
		}
	}
	x->ops = ops;
	x->eval = ops->eval;
	x->priv = calloc(1, ops->priv_size ? ops->priv_size : 1);
	if (!x->priv)
		return vm_err(ld, "out of memory");
	ld->expr_words = ld->expr_rwords = 0;
	if (ops->load(ld, e, x->priv) < 0)
		return -1;
	ld->rule_words |= ld->expr_words;
	x->rwords = ld->expr_rwords;
	x->wwords = ld->expr_words;
	x->memo = ops->memo ? ops->memo(x->priv, NULL) : VM_MEMO_NEVER;
	return 0;
}

/* See enum vm_guard. */
static void find_guard(struct vm_rule *vr)
{
	uint32_t key;
	int dreg, sreg;
	uint8_t val;

	if (vr->nexprs < 2 || !vm_meta_load(&vr->exprs[0], &key, &dreg) ||
	    !vm_cmp_eq_byte(&vr->exprs[1], &sreg, &val) || sreg != dreg)
		return;
	if (key == NFT_META_NFPROTO)
		vr->guard = VM_GUARD_NFPROTO;
	else if (key == NFT_META_L4PROTO)
		vr->guard = VM_GUARD_L4PROTO;
	else
		return;
	vr->guard_val = val;
	vr->guard_reg = dreg;
}

/* The rule's guard, as its two expressions would do it: the register write
 * (nft_reg_store8), the break.  Returns the index of the first expression
 * left to run, or nexprs with regs->code = NFT_BREAK. */
static unsigned run_guard(const struct vm_rule *r, struct vm_regs *regs, const struct pkt *p)
{
	uint8_t v;

	if (r->guard == VM_GUARD_NONE)
		return 0;
	if (r->guard == VM_GUARD_L4PROTO && !p->tprot_set) {
		regs->code = NFT_BREAK;		/* meta l4proto breaks, no write */
		return r->nexprs;
	}
	v = r->guard == VM_GUARD_NFPROTO ? p->nfproto : p->l4proto;
	regs->data[r->guard_reg] = 0;
	memcpy(&regs->data[r->guard_reg], &v, 1);
	if (v != r->guard_val) {
		regs->code = NFT_BREAK;
		return r->nexprs;
	}
	return 2;
}

static int load_rule(struct vm *vm, struct vm_rule *vr, struct nftnl_rule *r,
		     char *err, size_t errlen)
{
	const char *cname = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	struct vm_load ld = { .vm = vm, .rule_index = -1, .chain_idx = -1,
			      .err = err, .errlen = errlen };
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	struct vm_chain *c;
	int ci = vm_chain_index(vm, cname);
	unsigned n = 0;

	if (ci < 0)
		return vm_err(&ld, "rule in unknown chain '%s'", cname ? cname : "(none)");
	c = &vm->chains[ci];
	if (c->nrules == c->cap) {
		unsigned cap = c->cap ? 2 * c->cap : 16;
		struct vm_rule **nr = realloc(c->rules, cap * sizeof(*nr));

		if (!nr)
			return vm_err(&ld, "out of memory");
		c->rules = nr;
		c->cap = cap;
	}
	vr->r = r;
	vr->chain = c;
	vr->index = (int)c->nrules;
	c->rules[c->nrules++] = vr;
	ld.chain = c->name;
	ld.rule_index = vr->index;
	ld.chain_idx = ci;

	it = nftnl_expr_iter_create(r);
	if (!it)
		return vm_err(&ld, "out of memory");
	while (nftnl_expr_iter_next(it))
		n++;
	nftnl_expr_iter_destroy(it);
	vr->exprs = calloc(n ? n : 1, sizeof(*vr->exprs));
	if (!vr->exprs)
		return vm_err(&ld, "out of memory");
	it = nftnl_expr_iter_create(r);
	if (!it)
		return vm_err(&ld, "out of memory");
	while ((e = nftnl_expr_iter_next(it))) {
		struct vm_expr *x = &vr->exprs[vr->nexprs++];

		if (load_expr(&ld, x, e) < 0) {
			nftnl_expr_iter_destroy(it);
			return -1;
		}
		if (x->ops == &vm_expr_counter)
			vr->has_counter = true;
	}
	nftnl_expr_iter_destroy(it);
	find_guard(vr);
	return 0;
}

/* Packets are judged at input and output (forward: transit, counted, not
 * judged).  A prerouting or postrouting chain, loaded and never run, gave the
 * kernel's drops there as accepts, silently (a review's finding): one is
 * refused unless it cannot change a packet's fate -- policy accept, rules of
 * counters and "meta nftrace set" alone (the tracing idiom of nft monitor
 * trace), which are then not run. */
static int check_unjudged_hooks(const struct vm *vm, char *err, size_t errlen)
{
	for (size_t i = 0; i < vm->nchains; i++) {
		const struct vm_chain *vc = &vm->chains[i];
		bool inert = vc->policy == NF_ACCEPT;

		if (!vc->base || (vc->hook != NF_INET_PRE_ROUTING && vc->hook != NF_INET_POST_ROUTING))
			continue;
		for (size_t j = 0; inert && j < vm->nrules; j++) {
			struct nftnl_expr_iter *it;
			struct nftnl_expr *e;

			if (vm->rules[j].chain != vc)
				continue;
			it = nftnl_expr_iter_create(vm->rules[j].r);
			if (!it)
				return snprintf(err, errlen, "out of memory"), -1;
			while (inert && (e = nftnl_expr_iter_next(it))) {
				const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

				if (strcmp(n, "counter") == 0)
					continue;
				if (strcmp(n, "immediate") == 0 &&
				    nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) != NFT_REG_VERDICT)
					continue;
				if (strcmp(n, "meta") == 0 && nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG) &&
				    nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == NFT_META_NFTRACE)
					continue;
				inert = false;
			}
			nftnl_expr_iter_destroy(it);
		}
		if (!inert) {
			snprintf(err, errlen, "chain %s: hook %s is not supported (only input, output "
				 "and forward; there only counters and meta nftrace set)",
				 vc->name, vc->hook == NF_INET_PRE_ROUTING ? "prerouting" : "postrouting");
			return -1;
		}
	}
	return 0;
}

static int load_chain(struct vm *vm, struct vm_chain *vc, struct nftnl_chain *c,
		      char *err, size_t errlen)
{
	vc->c = c;
	vc->name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	if (!vc->name) {
		snprintf(err, errlen, "chain without a name");
		return -1;
	}
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_FAMILY) &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) != vm->family) {
		snprintf(err, errlen, "chain %s: family %u differs from the table's %u",
			 vc->name, nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY), vm->family);
		return -1;
	}
	vc->policy = NF_ACCEPT;
	if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
		return 0;
	vc->base = true;
	vc->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
	vc->prio = nftnl_chain_is_set(c, NFTNL_CHAIN_PRIO) ?
		   (int32_t)nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) : 0;
	if (vc->hook > NF_INET_POST_ROUTING) {
		snprintf(err, errlen, "chain %s: hook %u is not supported", vc->name,
			 vc->hook);
		return -1;
	}
	/* Conntrack takes a locally generated packet at output priority -200
	 * (NF_IP_PRI_CONNTRACK, nf_conntrack_proto.c); a chain before it sees
	 * no entry, which is not modelled (at input conntrack has run in
	 * prerouting whatever the priority). */
	if (vc->hook == NF_INET_LOCAL_OUT && vc->prio <= -200) {
		snprintf(err, errlen, "chain %s: priority %d at hook output is not supported "
			 "(at or before conntrack's -200)", vc->name, vc->prio);
		return -1;
	}
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE)) {
		const char *type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);

		if (type && strcmp(type, "filter") != 0) {
			snprintf(err, errlen, "chain %s: chain type '%s' is not supported",
				 vc->name, type);
			return -1;
		}
	}
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY)) {
		uint32_t pol = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);

		if (pol != NF_ACCEPT && pol != NF_DROP) {
			snprintf(err, errlen, "chain %s: policy %u is not supported",
				 vc->name, pol);
			return -1;
		}
		vc->policy = (int)pol;
	}
	return 0;
}

/* Jump/goto graph, for the checks nf_tables_check_loops() and the
 * NFT_JUMP_STACK_SIZE level limit of nft_chain_validate() do in the kernel. */
int vm_add_edge(struct vm *vm, int from, int to)
{
	if (from < 0 || to < 0)
		return 0;
	if (vm->nedges == vm->edgecap) {
		size_t cap = vm->edgecap ? 2 * vm->edgecap : 64;
		struct vm_edge *ne = realloc(vm->edges, cap * sizeof(*ne));

		if (!ne)
			return -1;
		vm->edges = ne;
		vm->edgecap = cap;
	}
	vm->edges[vm->nedges].from = from;
	vm->edges[vm->nedges].to = to;
	vm->nedges++;
	return 0;
}

static int check_depth(const struct vm *vm, int c, int level, bool limit,
		       uint8_t *onpath, char *err, size_t errlen)
{
	if (onpath[c]) {
		snprintf(err, errlen, "chain %s: jump/goto loop", vm->chains[c].name);
		return -1;
	}
	onpath[c] = 1;
	for (size_t i = 0; i < vm->nedges; i++) {
		if (vm->edges[i].from != c)
			continue;
		/* nft_chain_validate(): a chain reached at level 16 is -EMLINK */
		if (limit && level + 1 >= VM_JUMP_STACK) {
			snprintf(err, errlen, "chain %s: jumps nest %d deep (kernel limit %d)",
				 vm->chains[vm->edges[i].to].name, level + 1,
				 VM_JUMP_STACK - 1);
			onpath[c] = 0;
			return -1;
		}
		if (check_depth(vm, vm->edges[i].to, level + 1, limit, onpath, err,
				errlen) < 0) {
			onpath[c] = 0;
			return -1;
		}
	}
	onpath[c] = 0;
	return 0;
}

static int edge_cmp(const void *a, const void *b)
{
	const struct vm_edge *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return (x->to > y->to) - (x->to < y->to);
}

/* Sorted, duplicate-free edges (a verdict map repeats its targets). */
static void edges_unique(struct vm *vm)
{
	size_t m = 0;

	if (vm->nedges == 0)
		return;
	qsort(vm->edges, vm->nedges, sizeof(*vm->edges), edge_cmp);
	for (size_t i = 0; i < vm->nedges; i++)
		if (m == 0 || edge_cmp(&vm->edges[m - 1], &vm->edges[i]) != 0)
			vm->edges[m++] = vm->edges[i];
	vm->nedges = m;
}

static int base_cmp(const void *a, const void *b)
{
	const struct vm_chain *x = *(struct vm_chain *const *)a;
	const struct vm_chain *y = *(struct vm_chain *const *)b;

	if (x->hook != y->hook)
		return x->hook < y->hook ? -1 : 1;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	/* equal priority: registration (creation) order, as nf_register_net_hook */
	return (x > y) - (x < y);
}

struct vm *vm_load(const struct ruleset *rs, char *err, size_t errlen)
{
	struct vm *vm = NULL;
	struct nftnl_chain_list_iter *ci = NULL;
	struct nftnl_set_list_iter *si = NULL;
	struct nftnl_rule_list_iter *ri = NULL;
	struct nftnl_chain *c;
	struct nftnl_set *s;
	struct nftnl_rule *r;
	uint8_t *onpath = NULL;
	size_t n;
	char dummy[1];

	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!rs || !rs->chains || !rs->sets || !rs->rules) {
		snprintf(err, errlen, "no ruleset");
		errno = EINVAL;
		return NULL;
	}
	if (rs->family != NFPROTO_INET && rs->family != NFPROTO_IPV4 &&
	    rs->family != NFPROTO_IPV6) {
		snprintf(err, errlen, "table family %u is not supported", rs->family);
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		goto nomem;
	vm->rs = rs;
	vm->family = rs->family;

	/* chains */
	ci = nftnl_chain_list_iter_create(rs->chains);
	if (!ci)
		goto nomem;
	for (n = 0; nftnl_chain_list_iter_next(ci); n++)
		;
	nftnl_chain_list_iter_destroy(ci);
	vm->chains = calloc(n ? n : 1, sizeof(*vm->chains));
	vm->base = calloc(n ? n : 1, sizeof(*vm->base));
	ci = nftnl_chain_list_iter_create(rs->chains);
	if (!vm->chains || !vm->base || !ci)
		goto nomem;
	while ((c = nftnl_chain_list_iter_next(ci))) {
		struct vm_chain *vc = &vm->chains[vm->nchains++];

		if (load_chain(vm, vc, c, err, errlen) < 0)
			goto fail;
		if (vm_chain_index(vm, vc->name) != (int)vm->nchains - 1) {
			snprintf(err, errlen, "chain %s: defined twice", vc->name);
			goto fail;
		}
		if (vc->base)
			vm->base[vm->nbase++] = vc;
	}
	qsort(vm->base, vm->nbase, sizeof(*vm->base), base_cmp);

	/* sets (after chains: verdict maps name chains) */
	si = nftnl_set_list_iter_create(rs->sets);
	if (!si)
		goto nomem;
	for (n = 0; nftnl_set_list_iter_next(si); n++)
		;
	nftnl_set_list_iter_destroy(si);
	vm->sets = calloc(n ? n : 1, sizeof(*vm->sets));
	si = nftnl_set_list_iter_create(rs->sets);
	if (!vm->sets || !si)
		goto nomem;
	while ((s = nftnl_set_list_iter_next(si))) {
		struct vm_set *vs = &vm->sets[vm->nsets++];

		if (vm_set_load(vm, vs, s, err, errlen) < 0)
			goto fail;
		if (vm_set_by_name(vm, vs->name) != vs) {
			snprintf(err, errlen, "set '%s': defined twice", vs->name);
			goto fail;
		}
	}

	/* rules */
	n = ruleset_count_rules(rs);
	vm->rules = calloc(n ? n : 1, sizeof(*vm->rules));
	ri = nftnl_rule_list_iter_create(rs->rules);
	if (!vm->rules || !ri)
		goto nomem;
	while ((r = nftnl_rule_list_iter_next(ri)) && vm->nrules < n) {
		struct vm_rule *vr = &vm->rules[vm->nrules++];

		if (load_rule(vm, vr, r, err, errlen) < 0)
			goto fail;
	}

	if (check_unjudged_hooks(vm, err, errlen) < 0)
		goto fail;
	edges_unique(vm);
	onpath = calloc(vm->nchains ? vm->nchains : 1, 1);
	if (!onpath)
		goto nomem;
	for (size_t i = 0; i < vm->nbase; i++)
		if (check_depth(vm, (int)(vm->base[i] - vm->chains), 0, true, onpath,
				err, errlen) < 0)
			goto fail;
	/* Regular chains unreachable from a base chain are still checked for
	 * loops (nf_tables_check_loops), not for depth. */
	for (size_t i = 0; i < vm->nchains; i++)
		if (check_depth(vm, (int)i, 0, false, onpath, err, errlen) < 0)
			goto fail;
	free(onpath);
	onpath = NULL;
	if (vm_index_build(vm) < 0 || vm_class_build(vm) < 0)
		goto nomem;
	nftnl_chain_list_iter_destroy(ci);
	nftnl_set_list_iter_destroy(si);
	nftnl_rule_list_iter_destroy(ri);
	return vm;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(onpath);
	if (ci)
		nftnl_chain_list_iter_destroy(ci);
	if (si)
		nftnl_set_list_iter_destroy(si);
	if (ri)
		nftnl_rule_list_iter_destroy(ri);
	vm_free(vm);
	return NULL;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	vm_index_free(vm);
	vm_class_free(vm);
	for (size_t i = 0; i < vm->nrules; i++) {
		struct vm_rule *vr = &vm->rules[i];

		for (unsigned j = 0; j < vr->nexprs; j++) {
			if (vr->exprs[j].ops && vr->exprs[j].ops->free)
				vr->exprs[j].ops->free(vr->exprs[j].priv);
			free(vr->exprs[j].priv);
		}
		free(vr->exprs);
	}
	for (size_t i = 0; i < vm->nchains; i++)
		free(vm->chains[i].rules);
	for (size_t i = 0; i < vm->nsets; i++)
		vm_set_release(&vm->sets[i]);
	free(vm->rules);
	free(vm->chains);
	free(vm->sets);
	free(vm->base);
	free(vm->edges);
	vm_memo_free(vm);
	free(vm);
}

void vm_set_trace(struct vm *vm, vm_trace_fn fn, void *arg)
{
	vm->trace = fn;
	vm->trace_arg = arg;
}

/* ---------------------------------------------------------- evaluation --- */

static void trace_rule(struct vm *vm, const struct vm_rule *r, bool matched,
		       const struct vm_regs *regs)
{
	struct vm_trace_event ev = {
		.type = VM_TRACE_RULE, .chain = r->chain->name, .rule = r->r,
		.rule_index = r->index, .matched = matched,
		.verdict = matched ? regs->code : NFT_BREAK,
	};

	if (matched && (regs->code == NFT_JUMP || regs->code == NFT_GOTO))
		ev.target = vm->chains[regs->chain].name;
	vm->trace(&ev, vm->trace_arg);
}

static void trace_end(struct vm *vm, const struct vm_chain *c, enum vm_trace_type t,
		      int verdict)
{
	struct vm_trace_event ev = {
		.type = t, .chain = c->name, .rule_index = -1, .verdict = verdict,
	};

	vm->trace(&ev, vm->trace_arg);
}

/* nft_do_chain() for one base chain; returns NF_ACCEPT or NF_DROP. */
static int run_base_chain(struct vm *vm, struct vm_chain *base, struct vm_exec *x)
{
	struct { struct vm_chain *c; unsigned next; } stack[VM_JUMP_STACK];
	struct vm_verdict *out = x->out;
	struct vm_chain *c = base;
	struct vm_regs regs;
	unsigned ri;
	int sp = 0;
	/* read once: the expressions' calls would make the compiler reload them */
	const bool tracing = vm->trace != NULL, rec = x->rec != NULL;

	memset(&regs, 0, sizeof(regs));
do_chain:
	ri = 0;
next_rule:
	regs.code = NFT_CONTINUE;
	for (; ri < c->nrules; ri++) {
		struct vm_rule *r = c->rules[ri];

		r->evaluated++;
		x->rule = r;
		unsigned e0 = run_guard(r, &regs, x->p);

		if (r->ix_group >= 0 && e0 == r->ix_first && !vm_index_may_match(x, r)) {
			/* vm_index.c: the payload and the test would break
			 * here (what they read, vm_index_fill recorded) */
			if (rec)
				vm_memo_reached(x, &c->rules[ri]);
			regs.code = NFT_BREAK;
		} else if (rec) {
			/* the guard's two expressions are memo-pure (flow fields) */
			vm_memo_reached(x, &c->rules[ri]);
			for (const struct vm_expr *ex = r->exprs + e0, *end = r->exprs + r->nexprs;
			     ex < end; ex++) {
				x->rec_keys |= ex->memo == VM_MEMO_PER_PACKET ?
					       ex->ops->memo(ex->priv, x->p) : ex->memo;
				ex->eval(ex->priv, &regs, x);
				if (regs.code != NFT_CONTINUE)
					break;
			}
		} else {
			for (const struct vm_expr *ex = r->exprs + e0, *end = r->exprs + r->nexprs;
			     ex < end; ex++) {
				ex->eval(ex->priv, &regs, x);
				if (regs.code != NFT_CONTINUE)
					break;
			}
		}
		if (regs.code == NFT_BREAK) {
			regs.code = NFT_CONTINUE;
			if (tracing)
				trace_rule(vm, r, false, &regs);
			continue;
		}
		r->matched++;
		if (rec)
			vm_memo_effect(x, (uintptr_t)&r->matched);
		if (tracing)
			trace_rule(vm, r, true, &regs);
		if (regs.code != NFT_CONTINUE)
			break;
	}

	switch (regs.code) {
	case NF_ACCEPT:
	case NF_DROP:
		out->chain = c->name;
		out->rule = c->rules[ri]->r;
		out->rule_index = (int)ri;
		out->policy = false;
		return regs.code;
	case NFT_JUMP:
		if (sp >= VM_JUMP_STACK) {
			/* kernel: WARN_ON_ONCE and NF_DROP (cannot happen after
			 * the load-time depth check) */
			out->chain = c->name;
			out->rule = c->rules[ri]->r;
			out->rule_index = (int)ri;
			return NF_DROP;
		}
		stack[sp].c = c;
		stack[sp].next = ri + 1;
		sp++;
		/* fallthrough */
	case NFT_GOTO:
		c = &vm->chains[regs.chain];
		goto do_chain;
	default:	/* NFT_CONTINUE, NFT_RETURN */
		break;
	}
	if (sp > 0) {
		if (tracing)
			trace_end(vm, c, VM_TRACE_RETURN, NFT_RETURN);
		sp--;
		c = stack[sp].c;
		ri = stack[sp].next;
		goto next_rule;
	}
	if (tracing)
		trace_end(vm, base, VM_TRACE_POLICY, base->policy);
	out->chain = base->name;
	out->rule = NULL;
	out->rule_index = -1;
	out->policy = true;
	return base->policy;
}

int vm_eval_rec(struct vm *vm, struct pkt *p, struct vm_verdict *out, struct vm_outcome *rec)
{
	struct vm_exec x;

	if (!vm || !p || !out || !p->data) {
		errno = EINVAL;
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->verdict = NF_ACCEPT;
	out->rule_index = -1;
	out->no_chain = true;
	if (p->nfproto != NFPROTO_IPV4 && p->nfproto != NFPROTO_IPV6)
		return 0;
	if (vm->family != NFPROTO_INET && vm->family != p->nfproto)
		return 0;
	memset(&x, 0, offsetof(struct vm_exec, ix_mask));	/* see ix_known */
	x.vm = vm;
	x.p = p;
	x.out = out;
	x.rec = rec;
	/* skb->len bounds every load: the IP packet (trailers trimmed); the
	 * capture may hold fewer of those bytes (snaplen). */
	x.end = p->len ? p->nh_off + p->len : p->caplen;
	x.cap_end = p->avail ? p->nh_off + p->avail : x.end;
	if (x.cap_end > p->caplen)
		x.cap_end = p->caplen;
	if (x.cap_end > x.end)
		x.cap_end = x.end;
	for (size_t i = 0; i < vm->nbase; i++) {
		struct vm_chain *b = vm->base[i];
		struct vm_verdict first = { 0 };

		if (b->hook != (uint32_t)p->hook)
			continue;
		out->no_chain = false;
		out->nchains++;
		out->rejected = false;
		if (out->nchains > 1)
			first = *out;
		out->verdict = run_base_chain(vm, b, &x);
		if (out->verdict == NF_DROP)
			break;
		/* every chain so far accepted: the decision reported is the
		 * first one a rule made; a policy accept is reported only
		 * when no rule accepted (then the last chain's, as before).
		 * filterd's own chain decides by rule; a later chain, such as
		 * dns_queries, only sees what that one let through and does
		 * not take the report over. */
		if (out->nchains > 1 && !first.policy) {
			out->policy = first.policy;
			out->chain = first.chain;
			out->rule = first.rule;
			out->rule_index = first.rule_index;
		}
	}
	if (rec)
		rec->keys = x.rec_keys | (out->incomplete || out->queued ? VM_MEMO_NEVER : 0);
	return 0;
}

int vm_eval(struct vm *vm, struct pkt *p, struct vm_verdict *out)
{
	return vm_eval_rec(vm, p, out, NULL);
}

/* ---------------------------------------------------- stats / coverage --- */

size_t vm_rule_count(const struct vm *vm)
{
	return vm->nrules;
}

static void fill_stats(const struct vm_rule *vr, struct vm_rule_stats *out)
{
	out->rule = vr->r;
	out->chain = vr->chain->name;
	out->index = vr->index;
	out->evaluated = vr->evaluated;
	out->matched = vr->matched;
	out->has_counter = vr->has_counter;
	out->packets = vr->packets;
	out->bytes = vr->bytes;
}

int vm_rule_stats(const struct vm *vm, size_t i, struct vm_rule_stats *out)
{
	if (i >= vm->nrules) {
		errno = ENOENT;
		return -1;
	}
	vm_memo_flush(vm, false);
	fill_stats(&vm->rules[i], out);
	return 0;
}

int vm_rule_stats_of(const struct vm *vm, const struct nftnl_rule *r,
		     struct vm_rule_stats *out)
{
	vm_memo_flush(vm, false);
	for (size_t i = 0; i < vm->nrules; i++) {
		if (vm->rules[i].r == r) {
			fill_stats(&vm->rules[i], out);
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

size_t vm_set_count(const struct vm *vm)
{
	return vm->nsets;
}

const char *vm_set_name(const struct vm *vm, size_t i)
{
	return i < vm->nsets ? vm->sets[i].name : NULL;
}

size_t vm_set_nelems(const struct vm *vm, size_t i)
{
	return i < vm->nsets ? vm->sets[i].nelems : 0;
}

uint64_t vm_set_elem_hits(const struct vm *vm, size_t i, size_t j)
{
	if (i >= vm->nsets || j >= vm->sets[i].nelems)
		return 0;
	vm_memo_flush(vm, false);
	return vm->sets[i].elems[j].hits;
}

const struct nftnl_set_elem *vm_set_elem(const struct vm *vm, size_t i, size_t j)
{
	if (i >= vm->nsets || j >= vm->sets[i].nelems)
		return NULL;
	return vm->sets[i].elems[j].e;
}

void vm_reset(struct vm *vm)
{
	vm_memo_flush(vm, true);
	for (size_t i = 0; i < vm->nrules; i++) {
		struct vm_rule *vr = &vm->rules[i];

		vr->evaluated = vr->matched = vr->packets = vr->bytes = 0;
		for (unsigned j = 0; j < vr->nexprs; j++)
			if (vr->exprs[j].ops->reset)
				vr->exprs[j].ops->reset(vr->exprs[j].priv);
	}
	for (size_t i = 0; i < vm->nsets; i++)
		for (size_t j = 0; j < vm->sets[i].nelems; j++)
			vm->sets[i].elems[j].hits = 0;
}
