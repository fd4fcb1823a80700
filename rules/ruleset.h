/* ruleset — one nftables table as libnftnl objects: what goes to the kernel, what
 * comes back from a dump, and what the evaluator (vm) loads.
 *
 * The compiler fills one; netlink.c sends it in one batch or fills one from a
 * kernel dump; vm.c loads from one.  The ruleset owns all its objects.  Every
 * rule, chain and set carries the table name and family.  Rules are kept in
 * evaluation order within their chain.  Anonymous sets are named "__setN"
 * explicitly (not "__set%d"), so that names are unambiguous before and after the
 * kernel sees them; lookups reference sets by name (and set id in a batch). */
#ifndef FILTERD_RULESET_H
#define FILTERD_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#define FILTERD_TABLE "filterd"

/* Category of a compiled rule, carried in its comment "<category>:<dir>:<name>". */
enum rule_category {
	CAT_PLATFORM,	/* platform essentials (loopback, conntrack, ND, DHCP, ...) */
	CAT_USER,	/* security_rules */
	CAT_DEFAULT,	/* NSG default rules (AllowVnetInBound, DenyAllOutBound, ...) */
	CAT_MANAGED,	/* managed_network outbound_rules and private endpoints */
	CAT_REQUIRED,	/* Azure ML required outbound rules */
	CAT_INTERNAL,	/* plumbing: jumps between chains */
};

struct ruleset {
	uint32_t family;		/* NFPROTO_INET */
	char *table;
	struct nftnl_table *t;
	struct nftnl_chain_list *chains;	/* base chains first */
	struct nftnl_set_list *sets;		/* elements attached */
	struct nftnl_rule_list *rules;		/* grouped by chain, in order */
};

struct ruleset *ruleset_new(const char *table, uint32_t family);
void ruleset_free(struct ruleset *rs);
struct nftnl_set *ruleset_find_set(const struct ruleset *rs, const char *name);
struct nftnl_chain *ruleset_find_chain(const struct ruleset *rs, const char *name);
size_t ruleset_count_rules(const struct ruleset *rs);
size_t ruleset_count_sets(const struct ruleset *rs);	/* anonymous ones too */
/* The sets a user names ("sets" in every report: apply, status, verify, dump);
 * elements are counted over every set, the rules' anonymous ones too. */
size_t ruleset_count_named_sets(const struct ruleset *rs);
size_t ruleset_count_elements(const struct ruleset *rs);

/* The rule's comment (NFTNL_UDATA_RULE_COMMENT) into buf; "" when absent. */
void rule_comment(const struct nftnl_rule *r, char *buf, size_t len);
/* Splits a comment "<category>:<dir>:<name>"; returns -1 when it is not ours. */
int rule_origin(const struct nftnl_rule *r, enum rule_category *cat,
		char *dir, size_t dirlen, char *name, size_t namelen);
const char *category_name(enum rule_category c);

/* Prints the ruleset as libnftnl's debug form (what `nft --debug=netlink` shows):
 * chains, set declarations and elements, and each rule's expressions.  Used by
 * the golden tests that compare our bytecode with nft's. */
void ruleset_print_bytecode(const struct ruleset *rs, FILE *f);

#endif
