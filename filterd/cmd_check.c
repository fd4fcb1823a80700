/* filterctl check POLICY [--tags FILE] [-v] */
#include "filterctl.h"

#include <getopt.h>
#include <stdio.h>

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tags", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tags = default_tags_path();
	bool verbose = false;
	struct loaded l;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:v", opts, NULL)) != -1) {
		switch (c) {
		case 't': tags = optarg; break;
		case 'v': verbose = true; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: filterctl check POLICY [--tags FILE] [-v]\n");
		return EXIT_USAGE;
	}
	rc = load_policy(argv[optind], tags, true, &l);
	if (rc == EXIT_OK) {
		if (verbose)
			policy_print(l.policy, stdout);
		printf("%s: ok (workspace %s; %zu rules, %zu sets, %zu elements; tags changeNumber %ld)\n",
		       argv[optind], l.policy->workspace, l.compiled->nrules, l.compiled->nsets,
		       l.compiled->nelements, l.tags->change_number);
	}
	loaded_free(&l);
	return rc;
}
