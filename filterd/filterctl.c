/* filterctl — subcommand dispatch and the load/compile pipeline they share. */
#include "filterctl.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "check", cmd_check, "POLICY [--tags FILE] [-v]   validate a policy (nothing is applied)" },
	{ "compile", cmd_compile, "POLICY [--tags FILE] [--format nft|json|bytecode]   print the ruleset" },
	{ "apply", cmd_apply, "POLICY [--tags FILE [--direct] [--quiet] | --confirm-within SECONDS [--daemon] [--force]]\n"
	  "           replace the filterd table in one atomic batch (directly with --tags, else through filterd)" },
	{ "status", cmd_status, "[--json]   what filterd holds in force: workspace, sha256, tags, who, pending" },
	{ "reload", cmd_reload, "[--force]   make filterd re-read its policy and tags files now" },
	{ "confirm", cmd_confirm, "   keep a policy applied with --confirm-within" },
	{ "rollback", cmd_rollback, "   return to the previously applied policy" },
	{ "roles", cmd_roles, "[set [--reader L] [--contributor L] [--owner L]]   who may do what (set: owner)" },
	{ "hbi-clear", cmd_hbi_clear, "WORKSPACE   (owner) forget that WORKSPACE was applied with hbi_workspace" },
	{ "show", cmd_show, "[--json]   the policy in force and the table's rules with their counters" },
	{ "metrics", cmd_metrics, "   Prometheus metrics (rule counters, drops, applies, ...)" },
	{ "verify", cmd_verify, "[--json]   the live table against a fresh compile, and the verify_captures replays" },
	{ "audit", cmd_audit, "[--since RFC3339|DURATION] [--json]   the audit log" },
	{ "dump", cmd_dump, "--out FILE [--netns NAME] [--table NAME]   save the live table for pcap-replay --ruleset" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: filterctl COMMAND [ARGS]\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->help);
	fprintf(f, "\nexit status: 0 ok, 1 policy or tags error, 2 usage, 3 kernel refused,\n"
		   "             4 filterd unreachable, 5 permission denied (role)\n");
}

const char *default_tags_path(void)
{
	const char *e = getenv("FILTERD_TAGS");
	return e && *e ? e : "/etc/filterd/servicetags.json";
}

int load_policy(const char *policy_path, const char *tags_path, bool do_compile,
		struct loaded *l)
{
	char err[1024];
	int rc = EXIT_POLICY;

	memset(l, 0, sizeof(*l));
	l->tags = tagdb_load(tags_path, err, sizeof(err));
	if (!l->tags) {
		fprintf(stderr, "%s\n", err);
		return EXIT_POLICY;
	}
	if (policy_load_file(policy_path, l->tags, &l->policy, &l->diags) < 0)
		goto out;
	if (do_compile && compile_policy(l->policy, l->tags, NULL, &l->compiled, &l->diags) < 0)
		goto out;
	rc = EXIT_OK;
out:
	diags_sort(&l->diags, 0);
	diags_print(&l->diags, stderr);
	if (rc != EXIT_OK)
		fprintf(stderr, "%s: rejected (%zu error%s); nothing was changed\n", policy_path,
			l->diags.errors, l->diags.errors == 1 ? "" : "s");
	return rc;
}

void loaded_free(struct loaded *l)
{
	compiled_free(l->compiled);
	policy_free(l->policy);
	tagdb_free(l->tags);
	diags_clear(&l->diags);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("filterctl %s\n", FILTERD_VERSION);
		return EXIT_OK;
	}
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "filterctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
