/* Shared set-up of the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness is one file that #includes what it fuzzes and defines
 * LLVMFuzzerTestOneInput(); built with -fsanitize=fuzzer it is a fuzzer
 * (`make fuzz`), built with standalone.c it replays files (`make fuzz-regress`,
 * the regression inputs under tests/fuzz/regress/<harness>/).
 *
 * The fixed inputs (examples/policy.yaml, examples/servicetags.json) are read
 * from FUZZ_SRCDIR, the source tree the harness was built from (or the
 * FUZZ_SRCDIR environment variable).  A harness that cannot set itself up
 * aborts at once: a fuzzer must never run against a half-built context. */
#ifndef FILTERD_FUZZ_H
#define FILTERD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "diag.h"
#include "policy.h"
#include "servicetags.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The example set-up every harness judges against. */
struct fuzz_env {
	struct tagdb *tags;
	struct policy *pol;
	struct compiled *comp;
};

static inline const char *fuzz_path(const char *rel, char *buf, size_t len)
{
	const char *root = getenv("FUZZ_SRCDIR");

	snprintf(buf, len, "%s/%s", root && *root ? root : FUZZ_SRCDIR, rel);
	return buf;
}

static inline void fuzz_die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz set-up: %s: %s\n", what, why);
	abort();
}

/* Loads the example tags (and, with policy, the example policy compiled). */
static inline const struct fuzz_env *fuzz_env_get(int want_policy)
{
	static struct fuzz_env env;
	char path[4096], err[512];
	struct diags d = { 0 };

	if (!env.tags) {
		env.tags = tagdb_load(fuzz_path("examples/servicetags.json", path, sizeof(path)),
				      err, sizeof(err));
		if (!env.tags)
			fuzz_die("tags", err);
	}
	if (want_policy && !env.comp) {
		if (policy_parse_file(fuzz_path("examples/policy.yaml", path, sizeof(path)),
				      &env.pol, &d) < 0 ||
		    policy_resolve(env.pol, env.tags, &d) < 0 ||
		    compile_policy(env.pol, env.tags, NULL, &env.comp, &d) < 0) {
			diags_print(&d, stderr);
			fuzz_die("policy", "examples/policy.yaml does not compile");
		}
		diags_clear(&d);
	}
	return &env;
}

#endif
