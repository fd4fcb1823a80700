/* filterd: control-socket request validation (see d_req.h). */
#include "d_req.h"

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
	{ "metrics", ROLE_READER, false },	/* observe.h */
	{ "show", ROLE_READER, false },
	{ "verify", ROLE_READER, false },
	{ "audit", ROLE_READER, false },
	{ NULL, ROLE_NONE, false },
};

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
		cw = json_integer_value(json_object_get(req, "confirm_within"));
		if (cw < 0 || cw > 86400) {
			rq->arg_error = "confirm_within must be 0..86400 seconds";
			return 0;
		}
		rq->confirm_within = (unsigned)cw;
	} else if (strcmp(rq->op, "hbi-clear") == 0) {
		rq->workspace = json_string_value(json_object_get(req, "workspace"));
		if (!rq->workspace)
			rq->arg_error = "hbi-clear needs 'workspace'";
	}
	return 0;
}
