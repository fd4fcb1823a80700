/* filterctl compile POLICY [--tags FILE] [--format nft|json|bytecode] */
#include "filterctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_compile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tags", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tags = default_tags_path(), *format = "nft";
	struct loaded l;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:f:", opts, NULL)) != -1) {
		switch (c) {
		case 't': tags = optarg; break;
		case 'f': format = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (strcmp(format, "nft") && strcmp(format, "json") &&
				   strcmp(format, "bytecode"))) {
		fprintf(stderr, "usage: filterctl compile POLICY [--tags FILE] [--format nft|json|bytecode]\n");
		return EXIT_USAGE;
	}
	rc = load_policy(argv[optind], tags, true, &l);
	if (rc == EXIT_OK) {
		if (strcmp(format, "nft") == 0) {
			fputs(l.compiled->nft, stdout);
		} else if (strcmp(format, "bytecode") == 0) {
			ruleset_print_bytecode(l.compiled->rs, stdout);
		} else {
			char *j = compiled_to_json(l.compiled);
			if (!j) {
				fprintf(stderr, "filterctl: out of memory\n");
				rc = EXIT_POLICY;
			} else {
				printf("%s\n", j);
				free(j);
			}
		}
	}
	loaded_free(&l);
	return rc;
}
