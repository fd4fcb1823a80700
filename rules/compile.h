/* compile — policy + service tags → one nftables table (struct ruleset).
 *
 * Every expression is emitted together with the nft text that denotes it, so the
 * `--format nft` printout and the netlink batch come from the same code path; the
 * golden tests check that `nft` compiles the text into exactly our bytecode.
 *
 * Table layout (inet family):
 *   input   base, hook input,   policy drop: platform essentials, then goto inbound
 *   output  base, hook output,  policy drop: platform essentials, then goto outbound
 *   forward base, hook forward: with forward.interfaces conntrack, then
 *           oifname {containers} goto inbound, iifname {containers} goto outbound;
 *           without, every forwarded packet dropped (platform:fwd:not-declared)
 *   inbound   security_rules (inbound) by priority, NSG inbound defaults
 *   outbound  security_rules (outbound); allow → goto managed; NSG defaults
 *   managed   the managed network: accept, or only approved destinations
 * FQDN rules (isolation allow_only_approved_outbound): sets fqdn_<rule>_v4/_v6
 * (flags timeout, comment "fqdn=<name>", filled at run time), resolver sets
 * dns_resolvers_v4/_v6, and as the FIRST rule of input
 *   iifname != "lo" ct state established ct direction reply
 *   ip saddr @dns_resolvers_v4 meta l4proto { tcp, udp } th sport 53
 *   counter queue num 53 bypass   (comment "platform:in:fqdn-dns")
 * (iifname != { "lo", containers... }), and for the resolvers on this host
 * (loopback addresses, or the host's own: opts.addr_is_local), whose answers
 * come in on lo, the same with iifname "lo" ip saddr { those } 
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
	/* FQDN rules: DNS answers (udp/tcp sport 53, ct established) from these
	 * resolvers go to NFQUEUE dns_queue (bypass) ahead of every other input
	 * rule, so filterd learns their addresses before the application sees
	 * them.  When nresolvers is 0 and resolv_conf is set, the nameservers of
	 * that file are used; with neither, no answer is learned from (a warning
	 * says so).  Only emitted when the policy has FQDN rules. */
	const struct prefix *resolvers;
	size_t nresolvers;
	const char *resolv_conf;	/* e.g. "/etc/resolv.conf"; NULL: none */
	/* true when a resolver's address is one of this host's (its answers
	 * come in on lo): the daemon asks the interfaces; NULL: loopback
	 * addresses only */
	bool (*addr_is_local)(int family, const void *addr);
	uint16_t dns_queue;		/* default FQDN_DNS_QUEUE */
	bool dns_queue_xt;		/* the xtables NFQUEUE target (nft_compat)
					 * instead of the queue expression, for
					 * kernels without CONFIG_NFT_QUEUE */
};

#define FQDN_DNS_QUEUE 53
/* ... and the host's queries (UDP, TCP) to those resolvers go to the same
 * queue from a base chain of their own at output, after filterd's output
 * chain: only the queries the policy lets out (see fqdn.h,
 * fqdn_info.queries_queued) */
#define FQDN_QUERY_CHAIN "dns_queries"
#define FQDN_QUERY_PRIO 10

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
