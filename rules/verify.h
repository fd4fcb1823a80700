/* verify — every difference between the ruleset that should be in force and
 * the one the kernel holds (rsdiff answers "same shape?" and stops at the
 * first difference; this lists them all, for people).
 *
 * Compared: chains (missing, unexpected, hook/priority/policy/type), rules per
 * chain in order (bytecode without counter values, and the comment; a
 * longest-common-subsequence alignment so that one inserted rule is one
 * difference), sets (missing, unexpected, definition) and their elements
 * (missing, unexpected; intervals shown as CIDRs or ranges).  Not compared:
 * handles, counters, the table's flags (ownership is the daemon's business),
 * the elements of FQDN sets (fqdn.h: learned at run time, they expire).
 *
 * Each difference is one line of text, e.g.
 *   "chain inbound: unexpected rule at position 12 (handle 57): [ immediate reg 0 accept ]"
 *   "set tag_Storage_v4: missing element 198.51.100.0/24" */
#ifndef FILTERD_VERIFY_H
#define FILTERD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "ruleset.h"

struct rs_diffs {
	char **v;
	size_t n, cap;
	bool oom;
};

/* Appends every difference between want and have to out (which may already
 * hold lines).  Returns the number of differences found, or -1 on ENOMEM. */
long ruleset_compare(const struct ruleset *want, const struct ruleset *have,
		     struct rs_diffs *out);
void rs_diffs_add(struct rs_diffs *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rs_diffs_free(struct rs_diffs *d);

#endif
