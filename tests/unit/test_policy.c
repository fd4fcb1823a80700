/* Unit tests for rules/policy.c.
 *
 * Golden files (run from the repository root):
 *   tests/data/policy/good/NAME.yaml  parses and resolves against
 *       examples/servicetags.json; NAME.out is the canonical printout, NAME.err
 *       (optional, default empty) the expected warnings;
 *   tests/data/policy/bad/NAME.yaml   is rejected; NAME.err holds the exact
 *       diagnostics.
 * UPDATE_GOLDEN=1 rewrites the expected files from the actual output (review the
 * diff before committing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

#define TAGS_FILE	"examples/servicetags.json"
#define GOOD_DIR	"tests/data/policy/good"
#define BAD_DIR		"tests/data/policy/bad"

/* path with its ".yaml" replaced by ext. */
static char *sibling(const char *path, const char *ext)
{
	size_t n = strlen(path);
	char *s;

	assert_true(n > 5 && !strcmp(path + n - 5, ".yaml"));
	s = malloc(n - 5 + strlen(ext) + 1);
	assert_non_null(s);
	memcpy(s, path, n - 5);
	strcpy(s + n - 5, ext);
	return s;
}

static char *print_text(const struct policy *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	policy_print(p, m);
	fclose(m);
	return buf;
}

static struct tagdb *load_tags(void)
{
	char err[256];
	struct tagdb *db = tagdb_load(TAGS_FILE, err, sizeof(err));

	if (!db)
		print_error("%s\n", err);
	assert_non_null(db);
	return db;
}

/* Parses, then resolves when parsing succeeded.  Returns the first failing rc. */
static int run_file(const char *path, const struct tagdb *tags, char **diag_out,
		    char **print_out)
{
	struct diags d = { 0 };
	struct policy *p = NULL;
	int rc = policy_parse_file(path, &p, &d);

	if (rc == 0) {
		assert_non_null(p);
		rc = policy_resolve(p, tags, &d);
	} else {
		assert_null(p);
	}
	*diag_out = diags_text(&d);
	*print_out = p && rc == 0 ? print_text(p) : NULL;
	if (rc < 0)
		assert_true(d.errors > 0);
	else
		assert_int_equal(d.errors, 0);
	policy_free(p);
	diags_clear(&d);
	return rc;
}

/* Compares actual with the golden file (missing file = empty when optional). */
static bool golden_check(const char *golden, const char *actual, bool optional)
{
	char *want = slurp(golden);
	bool ok;

	if (getenv("UPDATE_GOLDEN")) {
		if (*actual || !optional)
			spit(golden, actual);
		else if (want)
			unlink(golden);
		free(want);
		return true;
	}
	if (!want && !optional) {
		print_error("%s: missing golden file\n", golden);
		return false;
	}
	ok = !strcmp(want ? want : "", actual);
	if (!ok)
		print_error("%s: mismatch\n--- expected\n%s--- actual\n%s---\n", golden,
			    want ? want : "", actual);
	free(want);
	return ok;
}

static void test_good_files(void **state)
{
	struct tagdb *tags = load_tags();
	glob_t g;
	size_t failed = 0;

	(void)state;
	assert_int_equal(glob(GOOD_DIR "/*.yaml", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 5);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *path = g.gl_pathv[i];
		char *dtext, *ptext, *outp = sibling(path, ".out"), *errp = sibling(path, ".err");
		int rc = run_file(path, tags, &dtext, &ptext);

		if (rc != 0) {
			print_error("%s: expected to parse cleanly:\n%s", path, dtext);
			failed++;
		} else {
			if (!golden_check(outp, ptext, false))
				failed++;
			if (!golden_check(errp, dtext, true))
				failed++;
		}
		free(dtext);
		free(ptext);
		free(outp);
		free(errp);
	}
	globfree(&g);
	tagdb_free(tags);
	assert_int_equal(failed, 0);
}

static void test_bad_files(void **state)
{
	struct tagdb *tags = load_tags();
	glob_t g;
	size_t failed = 0;

	(void)state;
	assert_int_equal(glob(BAD_DIR "/*.yaml", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 25);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *path = g.gl_pathv[i];
		char *dtext, *ptext, *errp = sibling(path, ".err");
		int rc = run_file(path, tags, &dtext, &ptext);

		if (rc != -1) {
			print_error("%s: expected to be rejected\n", path);
			failed++;
		}
		if (!golden_check(errp, dtext, false))
			failed++;
		free(dtext);
		free(ptext);
		free(errp);
	}
	globfree(&g);
	tagdb_free(tags);
	assert_int_equal(failed, 0);
}

/* The shipped example must be clean: no warning either. */
static void test_example_policy(void **state)
{
	struct tagdb *tags = load_tags();
	struct diags d = { 0 };
	struct policy *p = NULL;

	(void)state;
	assert_int_equal(policy_parse_file("examples/policy.yaml", &p, &d), 0);
	assert_non_null(p);
	assert_int_equal(policy_resolve(p, tags, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(p->workspace, "contoso-ml-prod");
	assert_string_equal(p->region, "eastus");
	assert_true(p->hbi_workspace);
	assert_int_equal(p->nvnet, 2);
	assert_int_equal(p->npe, 1);
	assert_int_equal(p->nrules, 4);
	assert_int_equal(p->isolation, ISO_ALLOW_ONLY_APPROVED);
	assert_int_equal(p->nout, 4);
	/* Storage.region became the file's Storage.EastUS */
	assert_int_equal(p->out[0].dst.n, 1);
	assert_non_null(p->out[0].dst.v[0].tag);
	assert_string_equal(p->out[0].dst.v[0].tag->name, "Storage.EastUS");
	assert_int_equal(p->rules[2].src.v[0].kind, ADDR_INTERNET);
	assert_int_equal(p->out[3].naddrs, 1);
	policy_free(p);
	diags_clear(&d);
	tagdb_free(tags);
}

static int parse_str(const char *text, struct policy **p, struct diags *d)
{
	return policy_parse_buffer("t.yaml", text, strlen(text), p, d);
}

static void test_defaults_and_fields(void **state)
{
	static const char text[] =
		"version: 1\n"
		"workspace: ws\n"
		"security_rules:\n"
		"  - name: R1\n"
		"    priority: 100\n"
		"    direction: Inbound\n"
		"    access: Deny\n"
		"    protocol: Tcp\n"
		"  - name: R2\n"
		"    priority: 100\n"
		"    direction: outbound\n"
		"    access: allow\n"
		"    protocol: udp\n"
		"    source: [10.1.0.0/16, \"fd00::1\", VirtualNetwork]\n"
		"    destination_ports: [\"53\", 1000-2000, 1500-3000, 443]\n"
		"  - name: R3\n"
		"    priority: 200\n"
		"    direction: inbound\n"
		"    access: deny\n"
		"    protocol: Any\n"
		"    destination_ports: [0-1023, 1024-65535]\n";
	struct diags d = { 0 };
	struct policy *p = NULL;
	const struct security_rule *r;

	(void)state;
	assert_int_equal(parse_str(text, &p, &d), 0);
	assert_non_null(p);
	assert_int_equal(d.n, 0);
	assert_null(p->region);
	assert_false(p->hbi_workspace);
	assert_int_equal(p->isolation, ISO_DISABLED);
	assert_int_equal(p->nrules, 3);
	r = &p->rules[0];
	assert_string_equal(r->name, "R1");
	assert_int_equal(r->dir, DIR_INBOUND);
	assert_int_equal(r->access, ACCESS_DENY);
	assert_int_equal(r->proto, PROTO_TCP);
	assert_int_equal(r->src.n, 1);
	assert_int_equal(r->src.v[0].kind, ADDR_ANY);
	assert_int_equal(r->dst.v[0].kind, ADDR_ANY);
	assert_true(r->sports.any);
	assert_true(r->dports.any);
	assert_int_equal(r->pos.line, 4);
	assert_int_equal(r->pos.col, 5);
	assert_int_equal(r->name_pos.line, 4);
	assert_int_equal(r->name_pos.col, 11);
	assert_int_equal(r->priority_pos.line, 5);
	r = &p->rules[1];
	assert_int_equal(r->dir, DIR_OUTBOUND);
	assert_int_equal(r->src.n, 3);
	assert_int_equal(r->src.v[0].kind, ADDR_CIDR);
	assert_int_equal(r->src.v[0].pfx.family, AF_INET);
	assert_int_equal(r->src.v[0].pfx.len, 16);
	assert_int_equal(r->src.v[1].pfx.family, AF_INET6);
	assert_int_equal(r->src.v[1].pfx.len, 128);
	assert_int_equal(r->src.v[2].kind, ADDR_VNET);
	assert_string_equal(r->src.v[2].text, "VirtualNetwork");
	assert_int_equal(r->source_pos.line, 14);
	assert_int_equal(r->source_pos.col, 13);
	assert_false(r->dports.any);
	assert_int_equal(r->dports.n, 3);
	assert_int_equal(r->dports.r[0].lo, 53);
	assert_int_equal(r->dports.r[1].lo, 443);
	assert_int_equal(r->dports.r[2].lo, 1000);
	assert_int_equal(r->dports.r[2].hi, 3000);
	/* Azure's "Any" is "*"; a list of ranges that covers every port is "*" */
	r = &p->rules[2];
	assert_int_equal(r->proto, PROTO_ANY);
	assert_true(r->dports.any);
	assert_int_equal(r->dports.n, 0);
	policy_free(p);
	diags_clear(&d);
}

struct port_case {
	const char *in;
	const char *want;	/* canonical, or NULL for an error */
	const char *err;	/* expected error text when want is NULL */
};

static void format_ports(const struct portspec *ps, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (ps->any) {
		snprintf(buf, len, "*");
		return;
	}
	for (size_t i = 0; i < ps->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "",
					ps->r[i].lo, ps->r[i].hi);
}

static void test_portspec(void **state)
{
	static const struct port_case cases[] = {
		{ "*", "*", NULL },
		{ " * ", "*", NULL },
		{ "443", "443-443", NULL },
		{ "0", "0-0", NULL },
		{ "65535", "65535-65535", NULL },
		{ "80,443", "80-80,443-443", NULL },
		{ "443, 80", "80-80,443-443", NULL },
		{ "1024-65535", "1024-65535", NULL },
		{ "80,81,82", "80-82", NULL },
		{ "10-20,15-30,31", "10-31", NULL },
		{ "5-5", "5-5", NULL },
		/* every port is "*" (protocol Any then matches ICMP too) */
		{ "0-65535", "*", NULL },
		{ "0-100, 101-65535", "*", NULL },
		{ "1-65535", "1-65535", NULL },
		{ "0-65534", "0-65534", NULL },
		{ "", NULL, "empty port specification" },
		{ "  ", NULL, "empty port specification" },
		{ "80,,443", NULL, "empty item in port list '80,,443'" },
		{ "80,", NULL, "empty item in port list '80,'" },
		{ "65536", NULL, "port '65536' is out of range (0..65535)" },
		{ "99999999999999999999", NULL,
		  "port '99999999999999999999' is out of range (0..65535)" },
		{ "1-70000", NULL, "port '1-70000' is out of range (0..65535)" },
		{ "443-80", NULL, "port range '443-80' is reversed (low > high)" },
		{ "http", NULL, "'http' is not a port or port range" },
		{ "-5", NULL, "'-5' is not a port or port range" },
		{ "5-", NULL, "'5-' is not a port or port range" },
		{ "1 2", NULL, "'1 2' is not a port or port range" },
		{ "80,*", NULL, "'*' cannot be combined with other ports" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct portspec ps;
		char err[128] = "", got[256];
		int rc = portspec_parse(cases[i].in, &ps, err, sizeof(err));

		if (cases[i].want) {
			if (rc != 0)
				print_error("'%s': %s\n", cases[i].in, err);
			assert_int_equal(rc, 0);
			format_ports(&ps, got, sizeof(got));
			assert_string_equal(got, cases[i].want);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(err, cases[i].err);
			assert_null(ps.r);
		}
		portspec_free(&ps);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(proto_name(PROTO_ANY), "*");
	assert_string_equal(proto_name(PROTO_TCP), "tcp");
	assert_string_equal(proto_name(PROTO_UDP), "udp");
	assert_string_equal(proto_name(PROTO_ICMP), "icmp");
	assert_string_equal(proto_name(PROTO_ESP), "esp");
	assert_string_equal(proto_name(PROTO_AH), "ah");
	assert_string_equal(direction_name(DIR_INBOUND), "inbound");
	assert_string_equal(direction_name(DIR_OUTBOUND), "outbound");
	assert_string_equal(isolation_name(ISO_DISABLED), "disabled");
	assert_string_equal(isolation_name(ISO_ALLOW_INTERNET), "allow_internet_outbound");
	assert_string_equal(isolation_name(ISO_ALLOW_ONLY_APPROVED),
			    "allow_only_approved_outbound");
	policy_free(NULL);
	portspec_free(NULL);
}

static void test_oversize(void **state)
{
	size_t len = (4u << 20) + 1;
	char *big = malloc(len);
	char path[] = "/tmp/test_policy_big_XXXXXX";
	struct diags d = { 0 };
	struct policy *p = (struct policy *)&d;	/* must be reset to NULL */
	char *first;
	int fd;

	(void)state;
	assert_non_null(big);
	memset(big, '#', len);
	assert_int_equal(policy_parse_buffer("big.yaml", big, len, &p, &d), -1);
	assert_null(p);
	first = diags_first_error(&d);
	assert_non_null(first);
	assert_string_equal(first, "big.yaml: error: file is 4194305 bytes, larger than "
			    "the limit of 4194304 bytes (4 MiB)");
	free(first);
	diags_clear(&d);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, len), (ssize_t)len);
	close(fd);
	p = (struct policy *)&d;
	assert_int_equal(policy_parse_file(path, &p, &d), -1);
	assert_null(p);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.v[0].msg, "larger than the limit"));
	unlink(path);
	diags_clear(&d);

	/* exactly at the limit is accepted: a valid policy padded with a comment */
	len--;
	memset(big, ' ', len);
	memcpy(big, "version: 1\nworkspace: w\n#", 25);
	big[len - 1] = '\n';
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, len), (ssize_t)len);
	close(fd);
	assert_int_equal(policy_parse_file(path, &p, &d), 0);
	assert_non_null(p);
	assert_int_equal(d.n, 0);
	policy_free(p);
	unlink(path);
	free(big);

	assert_int_equal(policy_parse_file("tests/data/policy/does-not-exist.yaml", &p, &d), -1);
	assert_null(p);
	first = diags_first_error(&d);
	assert_string_equal(first, "tests/data/policy/does-not-exist.yaml: error: "
			    "cannot open: No such file or directory");
	free(first);
	diags_clear(&d);
}

/* The classic alias bomb: refused from the event stream, before the loader could
 * expand anything (each level would multiply the document by 9). */
static void test_alias_bomb(void **state)
{
	struct diags d = { 0 };
	struct policy *p = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	(void)state;
	assert_non_null(m);
	fputs("version: 1\nworkspace: bomb\nx0: &a0 [\"lol\"]\n", m);
	for (int i = 1; i < 30; i++)
		fprintf(m, "x%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n",
			i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	fclose(m);
	assert_int_equal(policy_parse_buffer("bomb.yaml", text, len, &p, &d), -1);
	assert_null(p);
	/* 30 anchors and 29*9 aliases, nothing else (no unknown-key errors: the tree
	 * was never built) */
	assert_int_equal(d.errors, 30 + 29 * 9);
	assert_string_equal(d.v[0].msg, "YAML anchors are not allowed ('&a0')");
	assert_string_equal(d.v[2].msg, "YAML aliases are not allowed ('*a0')");
	free(text);
	diags_clear(&d);
}

static void test_deep_nesting(void **state)
{
	struct diags d = { 0 };
	struct policy *p = NULL;
	char text[4096];
	size_t off;

	(void)state;
	off = (size_t)snprintf(text, sizeof(text), "version: 1\nworkspace: w\nx: ");
	for (int i = 0; i < 1000; i++)
		text[off++] = '[';
	for (int i = 0; i < 1000; i++)
		text[off++] = ']';
	text[off++] = '\n';
	text[off] = '\0';
	assert_int_equal(parse_str(text, &p, &d), -1);
	assert_null(p);
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.v[0].msg, "nesting is deeper than 64 levels");
	assert_int_equal(d.v[0].line, 3);
	assert_int_equal(d.v[0].col, 4 + 63);
	diags_clear(&d);

	/* 63 levels inside the top mapping are fine for the event pass (the key is
	 * then simply unknown) */
	off = (size_t)snprintf(text, sizeof(text), "version: 1\nworkspace: w\nx: ");
	for (int i = 0; i < 63; i++)
		text[off++] = '[';
	for (int i = 0; i < 63; i++)
		text[off++] = ']';
	text[off++] = '\n';
	text[off] = '\0';
	assert_int_equal(parse_str(text, &p, &d), -1);
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.v[0].msg, "unknown key 'x'");
	diags_clear(&d);
}

static void test_empty_and_multi_doc(void **state)
{
	struct diags d = { 0 };
	struct policy *p = NULL;
	char *first;

	(void)state;
	assert_int_equal(parse_str("", &p, &d), -1);
	assert_null(p);
	first = diags_first_error(&d);
	assert_string_equal(first, "t.yaml: error: the policy file is empty");
	free(first);
	diags_clear(&d);

	assert_int_equal(parse_str("# only a comment\n", &p, &d), -1);
	assert_int_equal(d.errors, 1);
	diags_clear(&d);

	assert_int_equal(parse_str("version: 1\nworkspace: a\n---\nversion: 1\n", &p, &d), -1);
	first = diags_first_error(&d);
	assert_string_equal(first, "t.yaml:3:1: error: a policy file holds one YAML "
			    "document, found another");
	free(first);
	diags_clear(&d);

	/* An embedded NUL in a quoted string is not silently truncated. */
	assert_int_equal(parse_str("version: 1\nworkspace: \"ab\\0cd\"\n", &p, &d), -1);
	first = diags_first_error(&d);
	assert_string_equal(first, "t.yaml:2:12: error: 'workspace' contains a NUL character");
	free(first);
	diags_clear(&d);
}

/* An address space with public Internet addresses: an error with hbi (the
 * VNet would admit Internet hosts inbound), a warning without; each names
 * the item's own line and column. */
static void test_public_address_space(void **state)
{
	static const char hbi[] =
		"version: 1\n"
		"workspace: ws\n"
		"hbi_workspace: true\n"
		"virtual_network:\n"
		"  address_space: [10.0.0.0/16, 203.0.113.0/24, \"fd00:10::/48\", \"2000::/3\"]\n";
	struct tagdb *tags = load_tags();
	struct diags d = { 0 };
	struct policy *p = NULL;
	char *text;

	(void)state;
	assert_int_equal(parse_str(hbi, &p, &d), 0);
	assert_int_equal(policy_resolve(p, tags, &d), -1);
	text = diags_text(&d);
	assert_int_equal(d.errors, 2);
	assert_non_null(strstr(text, "t.yaml:5:32: error: hbi_workspace: address_space "
			       "'203.0.113.0/24' holds public Internet addresses (e.g. 203.0.113.0)"));
	assert_non_null(strstr(text, "t.yaml:5:64: error: hbi_workspace: address_space "
			       "'2000::/3' holds public Internet addresses (e.g. 2000::)"));
	free(text);
	policy_free(p);
	diags_clear(&d);

	/* the same without hbi: warnings, and the policy is accepted */
	char *nohbi = strdup(hbi);
	assert_non_null(nohbi);
	memcpy(strstr(nohbi, "true"), "no  ", 4);
	assert_int_equal(parse_str(nohbi, &p, &d), 0);
	assert_int_equal(policy_resolve(p, tags, &d), 0);
	text = diags_text(&d);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 2);
	assert_non_null(strstr(text, "t.yaml:5:32: warning: address_space '203.0.113.0/24' holds "
			       "public Internet addresses (e.g. 203.0.113.0): they count as "
			       "VirtualNetwork, not Internet"));
	free(text);
	free(nohbi);
	policy_free(p);
	diags_clear(&d);
	tagdb_free(tags);
}

/* Resolution with no tags file at all, and resolving twice. */
static void test_resolve_edge_cases(void **state)
{
	static const char text[] =
		"version: 1\n"
		"workspace: ws\n"
		"region: EastUS\n"
		"security_rules:\n"
		"  - {name: A, priority: 100, direction: inbound, access: allow,\n"
		"     protocol: tcp, source: storage.REGION}\n";
	struct tagdb *tags = load_tags();
	struct diags d = { 0 };
	struct policy *p = NULL;
	char *first, *out;

	(void)state;
	assert_int_equal(parse_str(text, &p, &d), 0);
	assert_non_null(p);
	/* before resolution the tag prints as written */
	out = print_text(p);
	assert_non_null(strstr(out, "src=storage.REGION:*"));
	free(out);

	assert_int_equal(policy_resolve(p, NULL, &d), -1);
	first = diags_first_error(&d);
	assert_string_equal(first, "t.yaml:6:29: error: unknown service tag "
			    "'storage.EastUS' (from 'storage.REGION')");
	free(first);
	diags_clear(&d);

	assert_int_equal(policy_resolve(p, tags, &d), 0);
	assert_int_equal(policy_resolve(p, tags, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(p->rules[0].src.v[0].tag->name, "Storage.EastUS");
	out = print_text(p);
	assert_non_null(strstr(out, "src=Storage.EastUS:*"));
	free(out);
	policy_free(p);
	tagdb_free(tags);
}

/* The canonical printout does not depend on the order of rules in the file. */
static void test_print_is_canonical(void **state)
{
	static const char a[] =
		"version: 1\nworkspace: ws\nsecurity_rules:\n"
		"  - {name: B, priority: 200, direction: outbound, access: deny, protocol: '*'}\n"
		"  - {name: A, priority: 300, direction: inbound, access: allow, protocol: udp,\n"
		"     destination: ['fd00::/64', 10.0.0.0/8], destination_ports: '53,5353'}\n"
		"  - {name: C, priority: 100, direction: outbound, access: allow, protocol: icmp}\n";
	static const char b[] =
		"version: 1\nworkspace: ws\nsecurity_rules:\n"
		"  - {name: C, priority: 100, direction: outbound, access: allow, protocol: icmp}\n"
		"  - {name: A, priority: 300, direction: inbound, access: allow, protocol: udp,\n"
		"     destination: ['fd00::/64', 10.0.0.0/8], destination_ports: [5353, '53']}\n"
		"  - {name: B, priority: 200, direction: outbound, access: deny, protocol: '*'}\n";
	static const char want[] =
		"version 1\n"
		"workspace ws\n"
		"hbi_workspace false\n"
		"rule inbound 300 A allow udp src=*:* dst=[fd00::/64],10.0.0.0/8:53,5353\n"
		"rule outbound 100 C allow icmp src=*:* dst=*:*\n"
		"rule outbound 200 B deny * src=*:* dst=*:*\n"
		"isolation disabled\n";
	struct diags d = { 0 };
	struct policy *pa = NULL, *pb = NULL;
	char *oa, *ob;

	(void)state;
	assert_int_equal(parse_str(a, &pa, &d), 0);
	assert_int_equal(parse_str(b, &pb, &d), 0);
	oa = print_text(pa);
	ob = print_text(pb);
	assert_string_equal(oa, want);
	assert_string_equal(ob, want);
	free(oa);
	free(ob);
	policy_free(pa);
	policy_free(pb);
	diags_clear(&d);
}

/* policy_load reports structural and tag/hbi problems of one file together, in
 * file order: the operator fixes everything in one round. */
static void test_load_reports_everything(void **state)
{
	static const char text[] =
		"version: 1\n"
		"workspace: ws\n"
		"hbi_workspace: true\n"
		"security_rules:\n"
		"  - {name: A, priority: 100, direction: inbound, access: allow, protocol: tcp, source: BatchNodeManagement}\n"
		"  - {name: B, priority: 100, direction: inbound, access: allow, protocol: tcp, source: AzureMachineLerning}\n"
		"  - {name: C, priority: 200, direction: inbound, access: allow, protocol: tcp, source: Internet}\n";
	struct tagdb *tags = load_tags();
	struct diags d = {0};
	struct policy *p = (struct policy *)1;
	char *out;

	(void)state;
	assert_int_equal(policy_load("t.yaml", text, sizeof(text) - 1, tags, &p, &d), -1);
	assert_null(p);
	assert_int_equal(d.errors, 3);
	out = diags_text(&d);
	assert_string_equal(out,
		"t.yaml:6:25: error: duplicate inbound priority 100 (first used by rule 'A' at line 5)\n"
		"t.yaml:6:88: error: unknown service tag 'AzureMachineLerning'; did you mean 'AzureMachineLearning'?\n"
		"t.yaml:7:88: error: hbi_workspace: inbound allow rule 'C' admits sources outside VirtualNetwork, "
		"AzureMachineLearning, BatchNodeManagement and AzureLoadBalancer (e.g. 1.0.0.0)\n");
	free(out);
	diags_clear(&d);
	tagdb_free(tags);
}

/* "did you mean" for the first 32 unknown tags of a file only (each compares
 * the name with every tag: a review made `check` run for minutes with 40,000
 * unknown names); the others are still reported, plainly. */
static void test_suggestions_bounded(void **state)
{
	char *text = NULL, *out;
	size_t tlen = 0;
	FILE *m = open_memstream(&text, &tlen);
	struct tagdb *tags = load_tags();
	struct diags d = {0};
	struct policy *p = NULL;

	(void)state;
	assert_non_null(m);
	fprintf(m, "version: 1\nworkspace: ws\nsecurity_rules:\n");
	for (int i = 0; i < 34; i++)
		fprintf(m, "  - {name: R%d, priority: %d, direction: inbound, access: allow, "
			"protocol: tcp, source: AzureMachineLerning}\n", i, 100 + i);
	fclose(m);
	assert_int_equal(policy_load("t.yaml", text, tlen, tags, &p, &d), -1);
	assert_int_equal(d.errors, 34);
	out = diags_text(&d);
	assert_non_null(strstr(out, "t.yaml:35:"));	/* the 32nd: with a suggestion */
	assert_non_null(strstr(strstr(out, "t.yaml:35:"), "did you mean 'AzureMachineLearning'?\n"
							   "t.yaml:36:"));
	assert_non_null(strstr(out, "t.yaml:36:90: error: unknown service tag 'AzureMachineLerning'\n"));
	assert_non_null(strstr(out, "t.yaml:37:90: error: unknown service tag 'AzureMachineLerning'\n"));
	free(out);
	free(text);
	diags_clear(&d);
	tagdb_free(tags);
}

/* An outbound rule may not take the name of the managed network's final drop:
 * its nft comment would be the drop's (found by a review: the flow table said
 * "accept managed:DenyUnapprovedOutbound" for one flow, "drop" for the next). */
static void test_reserved_outbound_name(void **state)
{
	static const char text[] =
		"version: 1\n"
		"workspace: ws\n"
		"managed_network:\n"
		"  isolation_mode: allow_only_approved_outbound\n"
		"  outbound_rules:\n"
		"    - name: denyunapprovedoutbound\n"
		"      type: service_tag\n"
		"      destination: {service_tag: Storage, protocol: TCP, port_ranges: \"443\"}\n";
	struct tagdb *tags = load_tags();
	struct diags d = {0};
	struct policy *p = NULL;
	char *out;

	(void)state;
	assert_int_equal(policy_load("t.yaml", text, sizeof(text) - 1, tags, &p, &d), -1);
	out = diags_text(&d);
	assert_string_equal(out, "t.yaml:6:13: error: outbound rule name 'denyunapprovedoutbound' is "
			    "reserved (the managed network's final drop, "
			    "managed:out:DenyUnapprovedOutbound)\n");
	free(out);
	diags_clear(&d);
	tagdb_free(tags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserved_outbound_name),
		cmocka_unit_test(test_suggestions_bounded),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_portspec),
		cmocka_unit_test(test_defaults_and_fields),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_empty_and_multi_doc),
		cmocka_unit_test(test_resolve_edge_cases),
		cmocka_unit_test(test_public_address_space),
		cmocka_unit_test(test_print_is_canonical),
		cmocka_unit_test(test_example_policy),
		cmocka_unit_test(test_good_files),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_load_reports_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
