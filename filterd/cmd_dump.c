/* filterctl dump --out FILE [--netns NAME] [--table NAME]
 *
 * Saves the live table (inet filterd) in the "saved dump" format of dump.h,
 * which `pcap-replay --ruleset FILE` replays: a host's real state, checked in
 * CI.  With --netns the dump is taken in /run/netns/NAME. */
#include "filterctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/netfilter.h>

#include "netns.h"
#include "dump.h"

static const char dump_usage[] =
	"usage: filterctl dump --out FILE [--netns NAME] [--table NAME]\n";

static int enter_netns(const char *name)
{
	char err[PATH_MAX + 128];

	if (netns_enter(name, err, sizeof(err)) < 0) {
		fprintf(stderr, "filterctl dump: %s\n", err);
		return -1;
	}
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "netns", required_argument, NULL, 'n' },
		{ "table", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *netns = NULL, *table = FILTERD_TABLE;
	struct ruleset *rs = NULL;
	char err[1024];
	int c, rc = EXIT_KERNEL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:n:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'n': netns = optarg; break;
		case 't': table = optarg; break;
		default:
			fputs(dump_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!out || optind != argc) {
		fputs(dump_usage, stderr);
		return EXIT_USAGE;
	}
	/* exit codes: 2 for what the command line named wrong (no such
	 * namespace, an --out that cannot be written), 3 for what the kernel
	 * refused or lacks (no such table) */
	if (netns && enter_netns(netns) < 0)
		return EXIT_USAGE;
	rs = ruleset_from_kernel(table, NFPROTO_INET, err, sizeof(err));
	if (!rs) {
		fprintf(stderr, "filterctl dump: %s\n", err);
		goto out;
	}
	if (ruleset_save(rs, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "filterctl dump: %s\n", err);
		rc = EXIT_USAGE;
		goto out;
	}
	printf("%s: table inet %s%s%s: %zu rules, %zu sets, %zu elements\n", out, table,
	       netns ? " in netns " : "", netns ? netns : "", ruleset_count_rules(rs),
	       ruleset_count_named_sets(rs), ruleset_count_elements(rs));
	rc = EXIT_OK;
out:
	ruleset_free(rs);
	return rc;
}
