/* Fuzzes what the control socket does with a client's bytes before any
 * effect: the first line -> json_loadb -> ctl_request_check (filterd/d_req.c,
 * the validation handle() runs before the permission check), as ctl_event()
 * hands them over.  The answer is built and serialised as the daemon would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../filterd/d_req.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	struct ctl_request q;
	const char *err;
	json_error_t je;
	json_t *req, *ans;
	char *txt;

	if (nl)
		size = (size_t)(nl - (const char *)data);
	req = json_loadb((const char *)data, size, 0, &je);
	if (!req)
		ans = json_pack("{s:b,s:s}", "ok", 0, "error", "request is not JSON");
	else if (ctl_request_check(req, &q, &err) < 0)
		ans = json_pack("{s:b,s:s}", "ok", 0, "error", err);
	else if (q.arg_error)
		ans = json_pack("{s:b,s:s}", "ok", 0, "error", q.arg_error);
	else {
		/* touch everything the daemon will read */
		size_t n = q.policy_text ? strnlen(q.policy_text, q.policy_len) : 0;

		ans = json_pack("{s:b,s:s,s:i,s:b,s:I,s:s?,s:s?,s:i}", "ok", 1, "op", q.op,
				"need", (int)q.need, "force", q.force, "len", (json_int_t)n,
				"name", q.policy_name, "workspace", q.workspace,
				"confirm_within", (int)q.confirm_within);
	}
	json_decref(req);
	txt = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
	free(txt);
	json_decref(ans);
	return 0;
}
