/* filterd: validation of one control-socket request, apart from its effects.
 *
 * handle() in d_ctl.c answers a request in two steps: what the request asks
 * (this file: which operation, which role it needs, whether its arguments are
 * well-formed), then the permission check and the operation itself.  Kept
 * apart so that the validation can be fuzzed without a daemon
 * (tests/fuzz/fuzz_ctl.c). */
#ifndef FILTERD_D_REQ_H
#define FILTERD_D_REQ_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "daemon.h"

struct ctl_request {
	const char *op;			/* borrowed from the JSON request */
	enum role need;			/* role needed; "force" raises it to owner */
	bool force;
	bool changes;			/* the operation changes state (audited) */
	/* Set when the operation's arguments are wrong.  Answered only after the
	 * permission check, so that a caller without the role learns nothing more
	 * than "permission denied". */
	const char *arg_error;
	/* apply */
	const char *policy_text;	/* borrowed; may hold NUL bytes */
	size_t policy_len;
	const char *policy_name;	/* "(filterctl)" when absent */
	unsigned confirm_within;	/* 0..86400 */
	/* hbi-clear */
	const char *workspace;
	/* set-roles: new member lists (NULL: unchanged), checked by roles_valid() */
	const char *roles[3];
};

/* A role member list: "user:NAME", "group:NAME", "uid:N" or "gid:N", separated
 * by commas or spaces; "" is an empty role. */

/* Reads what req asks.  Returns 0 with rq filled (pointers borrowed from req),
 * or -1 with *error the answer to give ("request has no 'op'", "unknown op"). */
int ctl_request_check(json_t *req, struct ctl_request *rq, const char **error);

#endif
