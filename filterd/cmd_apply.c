/* filterctl apply POLICY [--tags FILE] — one-shot apply, as `nft -f` would. */
#include "filterctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netlink.h"

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tags", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "confirm-within", required_argument, NULL, 'w' },
		{ "direct", no_argument, NULL, 'D' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tags = default_tags_path();
	bool tags_given = false, direct = false, via_daemon = false, force = false;
	long confirm = 0;
	char *end;
	const char *fault = getenv("FILTERD_FAULT");
	bool quiet = false;
	struct loaded l;
	struct nl_report rep;
	struct timespec t0, t1;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:q", opts, NULL)) != -1) {
		switch (c) {
		case 't': tags = optarg; tags_given = true; break;
		case 'q': quiet = true; break;
		case 'D': direct = true; break;
		case 'd': via_daemon = true; break;
		case 'f': force = true; break;
		case 'w':
			confirm = strtol(optarg, &end, 10);
			if (end == optarg || (*end && strcmp(end, "s") != 0) || confirm < 1 || confirm > 86400) {
				fprintf(stderr, "filterctl: --confirm-within takes 1..86400 seconds (e.g. 60 or 60s)\n");
				return EXIT_USAGE;
			}
			via_daemon = true;
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (direct && via_daemon) || (tags_given && via_daemon)) {
		fprintf(stderr, "usage: filterctl apply POLICY [--tags FILE] [--direct] [--quiet]\n"
				"       filterctl apply POLICY [--confirm-within SECONDS] [--daemon] [--force]\n"
				"(--tags applies directly with that tags file; through filterd, its own tags file is used)\n");
		return EXIT_USAGE;
	}
	if (via_daemon || (!direct && !tags_given && ctl_reachable()))
		return apply_via_daemon(argv[optind], (unsigned)confirm, force);
	if (!direct && !tags_given && !quiet)
		/* said, not silent: no daemon means no audit record and no hbi latch */
		fprintf(stderr, "note: filterd does not answer on %s: applying directly (no audit "
			"record, no hbi latch; --direct says so and silences this)\n", ctl_socket_path());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = load_policy(argv[optind], tags, true, &l);
	if (rc != EXIT_OK)
		goto out;
	if (nl_apply(l.compiled->rs, 0,
		     fault && strcmp(fault, "kernel-reject") == 0 ? NL_FAULT_BAD_JUMP : NL_FAULT_NONE,
		     &rep) < 0) {
		fprintf(stderr, "filterctl: %s\n", rep.msg);
		if (strstr(rep.msg, "Operation not permitted") && strstr(rep.msg, "(create)"))
			/* the table is owned: a running filterd holds it */
			fprintf(stderr, "filterctl: table inet %s is owned by a running filterd "
				"(kernel-enforced ownership): apply through it (--daemon, with "
				"FILTERD_SOCKET if its socket is not the default)\n",
				l.compiled->rs->table);
		rc = EXIT_KERNEL;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!quiet) {
		double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
		printf("applied %s to table inet %s: %zu sets, %zu elements, %zu rules "
		       "(%zu netlink messages, %zu bytes, one batch) in %.1f ms (kernel %.1f ms)\n",
		       argv[optind], l.compiled->rs->table, l.compiled->nsets, l.compiled->nelements,
		       l.compiled->nrules, rep.messages, rep.bytes, ms, rep.ms);
		printf("%s\n", apply_conn_note(l.policy && l.policy->hbi_workspace));
	}
out:
	loaded_free(&l);
	return rc;
}
