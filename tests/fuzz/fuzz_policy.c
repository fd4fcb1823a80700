/* Fuzzes the policy parser: bytes -> policy_parse_buffer, and when the file is
 * accepted, the second pass against the example tags and the compiler (the
 * text printout included), as `filterctl check` would run them. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_env *env = fuzz_env_get(0);
	static FILE *devnull;
	struct policy *p = NULL;
	struct compiled *c = NULL;
	struct diags d = { 0 };

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		fuzz_die("/dev/null", "cannot open");
	if (policy_parse_buffer("fuzz.yaml", (const char *)data, size, &p, &d) == 0) {
		policy_print(p, devnull);
		if (policy_resolve(p, env->tags, &d) == 0 &&
		    compile_policy(p, env->tags, NULL, &c, &d) == 0) {
			char *j = compiled_to_json(c);

			free(j);
			compiled_free(c);
		}
		policy_free(p);
	}
	diags_print(&d, devnull);
	diags_clear(&d);
	return 0;
}
