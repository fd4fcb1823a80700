/* filterd: control-socket request validation (see d_req.h). */
#include "d_req.h"
#include "label.h"

#include <ctype.h>
#include <string.h>

struct opdef {
	const char *name;
	enum role need;
	bool changes;		/* audited */
};

static const struct opdef ops[] = {
	{ "status", ROLE_READER, false },
	{ "reload", ROLE_CONTRIBUTOR, true },
	{ "apply", ROLE_CONTRIBUTOR, true },
	{ "confirm", ROLE_CONTRIBUTOR, true },
	{ "rollback", ROLE_CONTRIBUTOR, true },
	{ "hbi-clear", ROLE_OWNER, true },
	{ "roles", ROLE_READER, false },
	{ "set-roles", ROLE_OWNER, true },
	{ "metrics", ROLE_READER, false },	/* observe.h */
	{ "show", ROLE_READER, false },
	{ "verify", ROLE_READER, false },
	{ "audit", ROLE_READER, false },
	{ NULL, ROLE_NONE, false },
};

/* A name a client gives that ends up in log lines, status and the audit log:
 * 1..LABEL_MAX bytes, no character label_bad_char() refuses. */
static bool label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LABEL_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (label_bad_char(p))
			return false;
	return true;
}

int ctl_request_check(json_t *req, struct ctl_request *rq, const char **error)
{
	const struct opdef *od;

	memset(rq, 0, sizeof(*rq));
	rq->op = json_string_value(json_object_get(req, "op"));
	if (!rq->op) {
		*error = "request has no 'op'";
		return -1;
	}
	for (od = ops; od->name && strcmp(od->name, rq->op) != 0; od++)
		;
	if (!od->name) {
		*error = "unknown op";
		return -1;
	}
	rq->need = od->need;
	rq->changes = od->changes;
	rq->force = json_is_true(json_object_get(req, "force"));
	if (rq->force && rq->need < ROLE_OWNER)
		rq->need = ROLE_OWNER;	/* forced operations are the owner's */

	if (strcmp(rq->op, "apply") == 0) {
		json_t *t = json_object_get(req, "policy_text");
		json_int_t cw;

		if (!json_is_string(t)) {
			rq->arg_error = "apply needs 'policy_text'";
			return 0;
		}
		rq->policy_text = json_string_value(t);
		rq->policy_len = json_string_length(t);
		rq->policy_name = json_string_value(json_object_get(req, "policy_name"));
		if (!rq->policy_name)
			rq->policy_name = "(filterctl)";
		if (!label_valid(rq->policy_name)) {
			/* it is printed in the log, status and audit: no line
			 * breaks, escapes or quotes to forge records with */
			rq->arg_error = "policy_name must be 1..1024 printable characters without "
					"quotes, backslashes or control characters";
			return 0;
		}
		json_t *cwj = json_object_get(req, "confirm_within");

		if (cwj && !json_is_integer(cwj)) {
			/* "60" or 60.0 read as 0 would apply with no guard */
			rq->arg_error = "confirm_within must be an integer number of seconds";
			return 0;
		}
		cw = json_integer_value(cwj);
		if (cw < 0 || cw > 86400) {
			rq->arg_error = "confirm_within must be 0..86400 seconds";
			return 0;
		}
		rq->confirm_within = (unsigned)cw;
	} else if (strcmp(rq->op, "set-roles") == 0) {
		static const char *names[3] = { "reader", "contributor", "owner" };
		int given = 0;
		for (int i = 0; i < 3; i++) {
			json_t *v = json_object_get(req, names[i]);
			if (!v)
				continue;
			if (!json_is_string(v) || !roles_valid(json_string_value(v))) {
				rq->arg_error = "set-roles: each of reader, contributor, owner is a list of "
						"user:NAME, group:NAME, uid:N or gid:N";
				return 0;
			}
			rq->roles[i] = json_string_value(v);
			given++;
		}
		if (!given)
			rq->arg_error = "set-roles needs reader, contributor or owner";
	} else if (strcmp(rq->op, "hbi-clear") == 0) {
		rq->workspace = json_string_value(json_object_get(req, "workspace"));
		if (!rq->workspace)
			rq->arg_error = "hbi-clear needs 'workspace'";
		else if (!label_valid(rq->workspace))
			rq->arg_error = "hbi-clear: workspace must be 1..1024 printable characters "
					"without quotes, backslashes or control characters";
	}
	return 0;
}
