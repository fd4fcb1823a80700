/* ruleinfo — reading one rule back: its bytecode as a line of text (without the
 * counter values, so that a compiled rule and its dumped twin read the same),
 * its counter, and what it does with a packet; and a rules-only kernel dump
 * for the counters (cheaper than ruleset_from_kernel: no sets, no elements).
 *
 * Error convention: -1 / NULL with a message in err (never printed here). */
#ifndef FILTERD_RULEINFO_H
#define FILTERD_RULEINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

/* What a rule does with a packet it matches. */
enum rule_action {
	RA_NONE,	/* no verdict: the packet goes on (e.g. counting) */
	RA_LOG,		/* no verdict, logs (first rule of the drop pair) */
	RA_ACCEPT,
	RA_DROP,
	RA_REJECT,
	RA_GOTO,
	RA_JUMP,
	RA_RETURN,
};

/* "[ meta load iifname => reg 1 ] [ cmp eq reg 1 0x... ] [ counter ] ..."
 * into buf (truncated to len).  Counter values, handles and positions are
 * left out. */
void rule_bytecode_line(const struct nftnl_rule *r, char *buf, size_t len);
/* The rule's counter; false when it has none. */
bool rule_counter_get(const struct nftnl_rule *r, uint64_t *packets, uint64_t *bytes);
enum rule_action rule_action_of(const struct nftnl_rule *r);
/* "accepted", "dropped", "logged", "rejected", "goto", "jump", "return", "none" */
const char *rule_action_name(enum rule_action a);
/* The chain a goto/jump targets ("" otherwise). */
const char *rule_target_chain(const struct nftnl_rule *r);

/* The rules of one table, in order, with their counters, from the current
 * network namespace.  NULL with a message ("table inet filterd: no such
 * table" ...). */
struct nftnl_rule_list *rules_from_kernel(const char *table, uint32_t family, char *err,
					  size_t errlen);

#endif
