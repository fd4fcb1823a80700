/* fqdn_map — a static name → address map for pcap-replay --fqdn-map, standing
 * in for (or adding to) the DNS answers of a capture:
 *
 *     # name                 address          [ttl seconds]
 *     pypi.org               151.101.0.223    300
 *     files.pythonhosted.org 2a04:4e42::223
 *     *.blob.example.org     203.0.113.60
 *
 * One entry a line, '#' starts a comment, blank lines are ignored.  A name is
 * a DNS name (letters, digits, '-', '_'; labels of 1..63, at most 253 chars; a
 * trailing dot is dropped, case is folded) or a wildcard "*.name" standing for
 * every name below name.  Every problem is reported as file:line:col (diags),
 * then the whole file is rejected. */
#ifndef FILTERD_FQDN_MAP_H
#define FILTERD_FQDN_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

struct fqdn_map_entry {
	char *name;		/* lower-case, no trailing dot */
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	bool has_ttl;
	uint32_t ttl;		/* seconds, when has_ttl */
	int line;
};

struct fqdn_map {
	char *file;
	struct fqdn_map_entry *v;
	size_t n;
};

/* Parses text (len bytes, file is the name used in messages).  Returns 0 and
 * *out, or -1 with the errors in d (and *out NULL). */
int fqdn_map_parse(const char *text, size_t len, const char *file, struct fqdn_map **out,
		   struct diags *d);
int fqdn_map_parse_file(const char *path, struct fqdn_map **out, struct diags *d);
void fqdn_map_free(struct fqdn_map *m);

#endif
