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

#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

struct nl_report {
	int error;		/* errno of the first refusal, 0 on success */
	char msg[1024];		/* what failed, human readable */
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

#endif
