/* Hand-built rulesets for the evaluator tests (test_vm.c, test_vm_dyn.c):
 * libnftnl objects made directly, for kernel behaviour nft text cannot
 * express.  One inet table "t", one base chain "input" (hook input,
 * priority 0).  Include after <cmocka.h>; static inline: unused ones cost
 * nothing. */
#ifndef FILTERD_HBUILD_H
#define FILTERD_HBUILD_H

#include <stdint.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "ruleset.h"

/* The table with its input chain of the given policy (NF_ACCEPT, NF_DROP). */
static inline struct ruleset *hb_new(uint32_t policy)
{
	struct ruleset *rs = ruleset_new("t", NFPROTO_INET);
	struct nftnl_chain *c = nftnl_chain_alloc();

	assert_non_null(rs);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "t");
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "input");
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
	nftnl_chain_list_add_tail(c, rs->chains);
	return rs;
}

/* A new rule at the end of the input chain. */
static inline struct nftnl_rule *hb_rule(struct ruleset *rs)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "input");
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_list_add_tail(r, rs->rules);
	return r;
}

static inline struct nftnl_expr *hb_expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	assert_non_null(e);
	nftnl_rule_add_expr(r, e);
	return e;
}

static inline void hb_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
			      uint32_t dreg)
{
	struct nftnl_expr *e = hb_expr(r, "payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

static inline void hb_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *d,
			  uint32_t len)
{
	struct nftnl_expr *e = hb_expr(r, "cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, d, len);
}

static inline void hb_verdict(struct nftnl_rule *r, int code)
{
	struct nftnl_expr *e = hb_expr(r, "immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
}

#endif
