/* filterctl subcommands that read what filterd has in force and what it saw
 * (reader role): show, metrics, verify, audit. */
#include "filterctl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

/* Sends {"op": op, ...extra}; on success *ans holds the answer.  Returns
 * EXIT_OK, or the exit code of the failure (printed). */
static void print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9) | JSON_ENSURE_ASCII);
	if (t)
		printf("%s\n", t);
	free(t);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static bool opt_json(int argc, char **argv, const char *usage)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0)) {
		fprintf(stderr, "usage: filterctl %s\n", usage);
		exit(EXIT_USAGE);
	}
	ctl_raw_answer = argc == 2;	/* printed as JSON, ASCII-only */
	return argc == 2;
}

static void print_policy(json_t *p)
{
	if (!json_is_object(p)) {
		printf("policy: none in force\n");
		return;
	}
	printf("workspace:    %s%s\n", str(p, "workspace"),
	       json_is_true(json_object_get(p, "hbi_workspace")) ? " (hbi)" : "");
	printf("policy:       %s\n", str(p, "name"));
	printf("sha256:       %s\n", str(p, "sha256"));
	printf("tags change:  %lld\n", json_integer_value(json_object_get(p, "tags_change_number")));
	printf("applied:      %s by %s\n", str(p, "applied_at"), str(p, "applied_by"));
}

int cmd_show(int argc, char **argv)
{
	bool as_json = opt_json(argc, argv, "show [--json]");
	json_t *ans, *r;
	size_t i;
	int rc = ctl_request("show", NULL, 60, &ans);

	if (rc != EXIT_OK)
		return rc;
	if (as_json) {
		json_object_del(ans, "ok");
		print_json(ans);
		json_decref(ans);
		return EXIT_OK;
	}
	print_policy(json_object_get(ans, "policy"));
	if (json_object_get(ans, "table_error")) {
		printf("table inet %s: %s\n", str(ans, "table"), str(ans, "table_error"));
		json_decref(ans);
		return EXIT_POLICY;
	}
	printf("table:        inet %s, %zu rules\n\n", str(ans, "table"),
	       json_array_size(json_object_get(ans, "rules")));
	printf("%-9s %4s %-9s %-3s %-28s %-14s %10s %12s  %s\n", "CHAIN", "#", "CATEGORY", "DIR", "RULE",
	       "ACTION", "PACKETS", "BYTES", "NFT");
	json_array_foreach(json_object_get(ans, "rules"), i, r) {
		const char *nft = str(r, "nft");
		char action[32];
		snprintf(action, sizeof(action), "%s", str(r, "action"));
		if (json_object_get(r, "target"))
			snprintf(action, sizeof(action), "%s %s", str(r, "action"), str(r, "target"));
		printf("%-9s %4lld %-9s %-3s %-28s %-14s %10lld %12lld  %s\n", str(r, "chain"),
		       json_integer_value(json_object_get(r, "position")), str(r, "category"),
		       str(r, "direction"), json_object_get(r, "rule") ? str(r, "rule") : str(r, "comment"),
		       action, json_integer_value(json_object_get(r, "packets")),
		       json_integer_value(json_object_get(r, "bytes")), nft[0] ? nft : str(r, "bytecode"));
	}
	json_t *fq = json_object_get(ans, "fqdn"), *set, *ad;
	size_t k, m;
	if (json_is_object(fq)) {
		printf("\nFQDN sets (learned addresses, seconds to expiry):\n");
		json_array_foreach(json_object_get(fq, "sets"), k, set) {
			printf("  %-32s %-24s", str(set, "fqdn"), str(set, "set"));
			if (!json_array_size(json_object_get(set, "addresses")))
				printf(" (none)");
			json_array_foreach(json_object_get(set, "addresses"), m, ad)
				printf(" %s (%llds)", str(ad, "address"),
				       (long long)json_integer_value(json_object_get(ad, "expires_in")));
			printf("\n");
		}
	}
	json_decref(ans);
	return EXIT_OK;
}

int cmd_metrics(int argc, char **argv)
{
	json_t *ans;
	int rc;

	if (argc != 1) {
		fprintf(stderr, "usage: filterctl metrics\n");
		return EXIT_USAGE;
	}
	(void)argv;
	rc = ctl_request("metrics", NULL, 30, &ans);
	if (rc != EXIT_OK)
		return rc;
	fputs(str(ans, "metrics"), stdout);
	json_decref(ans);
	return EXIT_OK;
}

int cmd_verify(int argc, char **argv)
{
	bool as_json = opt_json(argc, argv, "verify [--json]");
	json_t *ans, *v;
	size_t i, ndiff, nfail = 0;
	int rc = ctl_request("verify", NULL, 600, &ans);

	if (rc != EXIT_OK)
		return rc;
	bool clean = json_is_true(json_object_get(ans, "clean"));
	if (as_json) {
		json_object_del(ans, "ok");
		print_json(ans);
		json_decref(ans);
		return clean ? EXIT_OK : EXIT_POLICY;
	}
	if (json_object_get(ans, "error")) {
		printf("verify: %s\n", str(ans, "error"));
		json_decref(ans);
		return EXIT_POLICY;
	}
	ndiff = json_array_size(json_object_get(ans, "differences"));
	json_array_foreach(json_object_get(ans, "differences"), i, v)
		printf("difference: %s\n", json_string_value(v));
	printf("table inet filterd: %s (%lld rules, %lld sets, %lld elements compared with a fresh compile of %s)\n",
	       ndiff ? "DIFFERS" : "matches the policy in force",
	       json_integer_value(json_object_get(ans, "rules")),
	       json_integer_value(json_object_get(ans, "sets")),
	       json_integer_value(json_object_get(ans, "elements")),
	       str(json_object_get(ans, "policy"), "name"));
	json_array_foreach(json_object_get(ans, "captures"), i, v) {
		const char *st = str(v, "status");
		printf("capture %s with %s: %s\n", str(v, "capture"), str(v, "expect"), st);
		if (strcmp(st, "pass") != 0) {
			nfail++;
			const char *out = str(v, "output");
			/* pcap-replay's report, indented */
			for (const char *p = out; *p;) {
				const char *e = strchr(p, '\n');
				int l = e ? (int)(e - p) : (int)strlen(p);
				printf("    %.*s\n", l, p);
				p = e ? e + 1 : p + l;
			}
		}
	}
	if (json_object_get(ans, "captures_error")) {
		printf("captures: not replayed: %s\n", str(ans, "captures_error"));
		printf("verify: FAILED (%zu difference%s, the captures not replayed)\n", ndiff,
		       ndiff == 1 ? "" : "s");
		json_decref(ans);
		return EXIT_POLICY;
	}
	printf("verify: %s (%zu difference%s, %zu of %zu capture%s failed)\n", clean ? "ok" : "FAILED", ndiff,
	       ndiff == 1 ? "" : "s", nfail, json_array_size(json_object_get(ans, "captures")),
	       json_array_size(json_object_get(ans, "captures")) == 1 ? "" : "s");
	json_decref(ans);
	return clean ? EXIT_OK : EXIT_POLICY;
}

/* "1h", "90m", "1h30m", "2d", "45s" -> seconds; -1 when it is not one. */
static long parse_duration(const char *s)
{
	long total = 0;
	bool any = false;

	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s))
			return -1;
		long v = strtol(s, &end, 10);
		long mul;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
		total += v * mul;
		any = true;
		s = end + 1;
	}
	return any ? total : -1;
}

/* RFC 3339 ("2024-05-06T07:08:09Z", "...+02:00", fractional seconds) or a
 * date "2024-05-06" (midnight UTC) -> Unix time; -1 when it is neither. */
static time_t parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%d", &tm);

	if (!p)
		return -1;
	if (!*p)
		return timegm(&tm);
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p = strptime(p + 1, "%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	time_t t = timegm(&tm);
	if (*p == 'Z' || *p == 'z')
		return p[1] ? -1 : t;
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	    p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) && !p[6]) {
		long off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		return *p == '+' ? t - off : t + off;
	}
	return -1;
}

int cmd_audit(int argc, char **argv)
{
	bool as_json = false;
	time_t since = 0;
	json_t *ans, *v;
	size_t i;

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0) {
			as_json = true;
		} else if (strcmp(argv[a], "--since") == 0 && a + 1 < argc) {
			const char *s = argv[++a];
			long dur = parse_duration(s);
			since = dur >= 0 ? time(NULL) - dur : parse_rfc3339(s);
			if (since == (time_t)-1) {
				fprintf(stderr, "filterctl: --since %s: expected RFC 3339 (2024-05-06T07:08:09Z) "
					"or a duration (30m, 1h, 2d)\n", s);
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "usage: filterctl audit [--since RFC3339|DURATION] [--json]\n");
			return EXIT_USAGE;
		}
	}
	/* each record is a JSON line: parsed, then made inert field by field (a
	 * rejected request's error text, in "detail", is another user's) */
	ctl_raw_answer = true;
	int rc = ctl_request("audit", since ? json_pack("{s:I}", "since", (json_int_t)since) : NULL, 60, &ans);
	if (rc != EXIT_OK)
		return rc;
	if (json_is_true(json_object_get(ans, "truncated"))) {
		char *f = text_safe(str(ans, "file"), false);
		fprintf(stderr, "filterctl: older records left out: an answer holds the newest 6 MiB of the "
			"audit log; the whole log is %s (and %s.1) on the host\n", f ? f : "", f ? f : "");
		free(f);
	}
	json_array_foreach(json_object_get(ans, "records"), i, v) {
		const char *line = json_string_value(v);
		size_t llen = json_string_length(v);
		json_t *j = line ? json_loadb(line, llen, 0, NULL) : NULL;
		if (!j) {	/* not JSON (a damaged line, zeros a crash left): shown inert,
				 * with --json as {"unparsed": the line} */
			if (as_json) {
				json_t *u = json_pack("{s:s%}", "unparsed", line ? line : "", line ? llen : 0);
				char *t = u ? json_dumps(u, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
				printf("%s\n", t ? t : "");
				free(t);
				json_decref(u);
			} else {
				char *t = text_safen(line ? line : "", line ? llen : 0, false);
				printf("%s\n", t ? t : "");
				free(t);
			}
			continue;
		}
		if (as_json) {
			char *t = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII |
						JSON_REAL_PRECISION(6));
			printf("%s\n", t ? t : "");
			free(t);
			json_decref(j);
			continue;
		}
		text_tree(j);
		printf("%s  %s(uid=%lld) via %s  %s: %s", str(j, "time"), str(j, "user"),
		       json_integer_value(json_object_get(j, "uid")), str(j, "via"), str(j, "op"), str(j, "result"));
		if (json_object_get(j, "detail"))
			printf(" (%s)", str(j, "detail"));
		if (json_object_get(j, "policy_sha256"))
			printf("  policy=%s workspace=%s sha256=%.16s tags=%lld", str(j, "policy"), str(j, "workspace"),
			       str(j, "policy_sha256"), json_integer_value(json_object_get(j, "tags_change_number")));
		printf("\n");
		json_decref(j);
	}
	json_decref(ans);
	return EXIT_OK;
}
