/* compile — policy + service tags → one nftables table (struct ruleset).
 *
 * Every expression is emitted together with the nft text that denotes it, so the
 * `--format nft` printout and the netlink batch come from the same code path; the
 * golden tests check that `nft` compiles the text into exactly our bytecode.
 *
 * Table layout (inet family):
 *   input   base, hook input,   policy drop: platform essentials, then goto inbound
 *   output  base, hook output,  policy drop: platform essentials, then goto outbound
 *   forward base, hook forward (only with forward.interfaces): conntrack, then
 *           oifname {containers} goto inbound, iifname {containers} goto outbound
 *   inbound   security_rules (inbound) by priority, NSG inbound defaults
 *   outbound  security_rules (outbound); allow → goto managed; NSG defaults
 *   managed   the managed network: accept, or only approved destinations
 * Sets: one interval set per referenced tag and family (tag_<Name>_v4/_v6),
 * vnet_v4/v6 (VirtualNetwork), inet_v4/v6 (Internet), and anonymous sets
 * (__setN) for literal lists.  Every rule has a counter and a comment
 * "<category>:<in|out|fwd>:<name>"; drops are logged to NFLOG. */
#ifndef FILTERD_COMPILE_H
#define FILTERD_COMPILE_H

#include "diag.h"
#include "policy.h"
#include "ruleset.h"
#include "servicetags.h"

struct compile_opts {
	const char *table;		/* default FILTERD_TABLE */
	uint16_t log_group;		/* NFLOG group of drop rules, default 1 */
	uint32_t log_rate;		/* logged drops per second per rule, default 10 */
	uint32_t log_burst;		/* default 20 */
	bool no_text;			/* skip the nft text (compiled->nft is NULL):
					 * the daemon only needs the objects */
};

struct compiled {
	struct ruleset *rs;
	char *nft;		/* the whole table as an nft script (replaces the table) */
	size_t nsets, nelements, nrules;
};

void compile_opts_default(struct compile_opts *o);
/* Compiles a parsed and resolved policy.  Warnings (e.g. a tag without prefixes)
 * go to d.  Returns 0 and sets *out, or -1 with errors in d. */
int compile_policy(const struct policy *p, const struct tagdb *tags,
		   const struct compile_opts *o, struct compiled **out, struct diags *d);
void compiled_free(struct compiled *c);
/* JSON description of the compiled ruleset (sets, chains, rules with their nft
 * text, origin and bytecode).  Caller frees. */
char *compiled_to_json(const struct compiled *c);

#endif
