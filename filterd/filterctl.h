/* filterctl — the operator's client.  One file per subcommand (cmd_*.c). */
#ifndef FILTERD_FILTERCTL_H
#define FILTERD_FILTERCTL_H

#include "compile.h"
#include "diag.h"
#include "policy.h"
#include "servicetags.h"

/* Exit codes (documented in filterctl(8)). */
enum {
	EXIT_OK = 0,
	EXIT_POLICY = 1,	/* policy or tags file rejected */
	EXIT_USAGE = 2,
	EXIT_KERNEL = 3,	/* the kernel refused the batch */
};

struct loaded {
	struct tagdb *tags;
	struct policy *policy;
	struct compiled *compiled;
	struct diags diags;
};

/* Parses the policy, loads the tags, resolves and (with do_compile) compiles.
 * Prints every diagnostic to stderr.  Returns EXIT_OK or EXIT_POLICY. */
int load_policy(const char *policy_path, const char *tags_path, bool do_compile,
		struct loaded *l);
void loaded_free(struct loaded *l);
/* Default tags file when --tags is not given. */
const char *default_tags_path(void);

int cmd_check(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_apply(int argc, char **argv);

#endif
