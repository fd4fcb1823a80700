/* rsdiff — what changed between two rulesets.
 *
 * When two compiled rulesets have the same shape (same chains, same rules with
 * the same bytecode, same sets with the same definitions and the same anonymous
 * set contents) and differ only in the elements of named sets — the weekly
 * service-tag refresh — the change can be sent as element additions and
 * deletions instead of a whole new table.  Elements are compared as the kernel
 * stores them: (key, interval-end flag). */
#ifndef FILTERD_RSDIFF_H
#define FILTERD_RSDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "ruleset.h"

struct rs_set_delta {
	const char *name;		/* points into the new ruleset */
	struct nftnl_set *add, *del;	/* set headers carrying only the changed
					 * elements; NULL when none */
	size_t nadd, ndel;		/* elements (start and end markers) */
};

struct rs_delta {
	struct rs_set_delta *v;
	size_t n;
	size_t nadd, ndel;		/* totals */
};

/* Why the shapes differ, or NULL when they are the same (static string or
 * written into buf). */
const char *ruleset_shape_diff(const struct ruleset *a, const struct ruleset *b,
			       char *buf, size_t len);
/* Element delta from old to new (same shape required).  Returns 0, or -1 with
 * errno (ENOMEM, EINVAL when the shapes differ). */
int ruleset_delta(const struct ruleset *old, const struct ruleset *new_rs, struct rs_delta *d);
void rs_delta_free(struct rs_delta *d);

#endif
