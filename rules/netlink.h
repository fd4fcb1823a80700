/* netlink — sends a ruleset to the kernel in ONE nfnetlink batch.
 *
 * The batch replaces the project's own table atomically: it creates the table if
 * absent, deletes it, and creates it again with every chain, set, element and
 * rule, between BATCH_BEGIN and BATCH_END.  The kernel applies all of it or none
 * of it.  Every message asks for an ACK and every ACK is checked; a refusal is
 * mapped from its sequence number back to the object (and the policy rule, via
 * the rule comment) that caused it.  Other tables are never touched. */
#ifndef FILTERD_NETLINK_H
#define FILTERD_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

struct nl_report {
	int error;		/* errno of the first refusal, 0 on success */
	char msg[1024];		/* what failed, human readable */
	int failed_index;	/* index of the refused message in the batch, -1 */
	char failed_what[512];	/* that message's object ("table inet filterd (new)") */
	size_t messages;	/* messages in the batch (without begin/end) */
	size_t bytes;		/* batch size */
	double ms;		/* build + send + all ACKs */
};


/* Fault injection for tests (filterctl: FILTERD_FAULT=kernel-reject): a genuine
 * kernel refusal, appended as the batch's last message. */
enum nl_fault { NL_FAULT_NONE, NL_FAULT_BAD_JUMP };

/* Replaces rs->table in the current network namespace.  table_flags are
 * NFT_TABLE_F_* for the new table.  Returns 0, or -1 with rep->error and
 * rep->msg set; on -1 the kernel state is unchanged (the batch was aborted). */
int nl_apply(const struct ruleset *rs, uint32_t table_flags, enum nl_fault fault,
	     struct nl_report *rep);

/* A netlink socket kept open by the daemon: tables created with
 * NFT_TABLE_F_OWNER through it belong to it (and vanish with it unless
 * NFT_TABLE_F_PERSIST is also set). */
struct nl_conn;
struct nl_conn *nl_open(char *err, size_t errlen);
void nl_close(struct nl_conn *c);
uint32_t nl_portid(const struct nl_conn *c);

struct nl_table_info {
	bool exists;
	uint32_t flags;		/* NFT_TABLE_F_* */
	uint32_t owner;		/* netlink portid of the owner, 0 if none */
};
/* Returns 0 (info->exists false when there is no such table), -1 + errno. */
int nl_table_query(struct nl_conn *c, const char *table, uint32_t family,
		   struct nl_table_info *info);
/* nl_apply through an existing connection. */
int nl_apply_conn(struct nl_conn *c, const struct ruleset *rs, uint32_t table_flags,
		  enum nl_fault fault, struct nl_report *rep);

/* Does this kernel (in the current network namespace) take expression e?
 * One batch creates a scratch table (inet filterd-probe-PID) with a rule
 * holding e and deletes the table again: the kernel commits both, leaving
 * nothing, or refuses the batch at that rule.  1: it takes e; 0: it refuses
 * e's type (ENOENT/EOPNOTSUPP); -1: the probe failed (err says why).  e is
 * freed in every case. */
struct nftnl_expr;
int nl_probe_expr(struct nftnl_expr *e, char *err, size_t errlen);
/* nl_probe_expr for nf_tables' queue expression (CONFIG_NFT_QUEUE), which
 * filterd uses to hold DNS answers; without it, the xtables NFQUEUE target. */
int nl_probe_queue(char *err, size_t errlen);

/* Element-only changes between two rulesets of the same shape (rsdiff.h),
 * sent as DELSETELEM then NEWSETELEM messages in one batch. */
struct rs_delta;
int nl_apply_delta(struct nl_conn *c, const struct rs_delta *d, struct nl_report *rep);

#endif
