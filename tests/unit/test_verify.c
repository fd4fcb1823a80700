/* Unit tests for rules/verify.c (ruleset_compare) and rules/ruleinfo.c: every
 * difference between two rulesets, named; what does not count (counter values,
 * handles, a lookup's zero flags) is not reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "compile.h"
#include "rsdiff.h"
#include "ruleinfo.h"
#include "verify.h"

#define TAGS_FILE "examples/servicetags.json"

static const char policy_fmt[] =
	"version: 1\n"
	"workspace: unit-verify\n"
	"virtual_network:\n"
	"  address_space: [%s, \"fd00:10::/48\"]\n"
	"security_rules:\n"
	"  - name: DenySsh\n"
	"    priority: 100\n"
	"    direction: inbound\n"
	"    access: deny\n"
	"    protocol: tcp\n"
	"    source: Internet\n"
	"    destination_ports: \"22\"\n"
	"%s"
	"managed_network:\n"
	"  isolation_mode: disabled\n";

static const char extra_rule[] =
	"  - name: AllowWeb\n"
	"    priority: 110\n"
	"    direction: inbound\n"
	"    access: allow\n"
	"    protocol: tcp\n"
	"    destination_ports: \"80\"\n";

/* Compiles a policy text (taken: freed here) against the example tags. */
static struct compiled *compile_text(char *text)
{
	char err[512];
	struct diags d = {0};
	struct tagdb *tags = tagdb_load(TAGS_FILE, err, sizeof(err));
	struct policy *p = NULL;
	struct compiled *c = NULL;

	assert_non_null(tags);
	assert_non_null(text);
	assert_int_equal(policy_parse_buffer("p.yaml", text, strlen(text), &p, &d), 0);
	assert_int_equal(policy_resolve(p, tags, &d), 0);
	assert_int_equal(compile_policy(p, tags, NULL, &c, &d), 0);
	assert_non_null(c);
	policy_free(p);
	tagdb_free(tags);
	diags_clear(&d);
	free(text);
	return c;
}

static struct compiled *compile_with(const char *vnet, const char *more)
{
	char *text = NULL;

	assert_true(asprintf(&text, policy_fmt, vnet, more) > 0);
	return compile_text(text);
}

static bool has_line(const struct rs_diffs *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i], needle))
			return true;
	print_error("no difference contains \"%s\"; got:\n", needle);
	for (size_t i = 0; i < d->n; i++)
		print_error("  %s\n", d->v[i]);
	return false;
}

static void test_same(void **state)
{
	struct compiled *a = compile_with("10.0.0.0/16", ""), *b = compile_with("10.0.0.0/16", "");
	struct rs_diffs d = {0};

	(void)state;
	assert_int_equal(ruleset_compare(a->rs, b->rs, &d), 0);
	assert_int_equal(d.n, 0);
	compiled_free(a);
	compiled_free(b);
}

/* What a kernel dump adds: handles, counter values, a lookup's flags of 0. */
static void test_dump_artifacts_ignored(void **state)
{
	struct compiled *a = compile_with("10.0.0.0/16", ""), *b = compile_with("10.0.0.0/16", "");
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(b->rs->rules);
	struct nftnl_rule *r;
	struct rs_diffs d = {0};
	uint64_t h = 100;

	(void)state;
	assert_non_null(it);
	while ((r = nftnl_rule_list_iter_next(it))) {
		struct nftnl_expr_iter *ei = nftnl_expr_iter_create(r);
		struct nftnl_expr *e;
		nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, h++);
		while ((e = nftnl_expr_iter_next(ei))) {
			const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
			if (strcmp(n, "counter") == 0) {
				nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 7);
				nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, 700);
			} else if (strcmp(n, "lookup") == 0) {
				nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
			}
		}
		nftnl_expr_iter_destroy(ei);
	}
	nftnl_rule_list_iter_destroy(it);
	assert_int_equal(ruleset_compare(a->rs, b->rs, &d), 0);
	rs_diffs_free(&d);
	compiled_free(a);
	compiled_free(b);
}

static void test_every_difference(void **state)
{
	struct compiled *want = compile_with("10.0.0.0/16", "");
	struct compiled *have = compile_with("10.1.0.0/16", extra_rule);
	struct rs_diffs d = {0};
	long n;

	(void)state;
	n = ruleset_compare(want->rs, have->rs, &d);
	assert_true(n >= 3);
	assert_int_equal((size_t)n, d.n);
	assert_true(has_line(&d, "set vnet_v4: missing element 10.0.0.0/16"));
	assert_true(has_line(&d, "set vnet_v4: unexpected element 10.1.0.0/16"));
	assert_true(has_line(&d, "chain inbound: unexpected rule at position"));
	assert_true(has_line(&d, "user:in:AllowWeb"));
	rs_diffs_free(&d);

	/* the other way round: the same rules are missing */
	n = ruleset_compare(have->rs, want->rs, &d);
	assert_true(n >= 3);
	assert_true(has_line(&d, "chain inbound: missing rule"));
	rs_diffs_free(&d);
	compiled_free(want);
	compiled_free(have);
}

static void test_missing_chain_and_set(void **state)
{
	struct compiled *want = compile_with("10.0.0.0/16", "");
	struct ruleset *empty = ruleset_new(want->rs->table, NFPROTO_INET);
	struct rs_diffs d = {0};

	(void)state;
	assert_non_null(empty);
	assert_true(ruleset_compare(want->rs, empty, &d) > 0);
	assert_true(has_line(&d, "chain input: missing (type filter hook input priority 0 policy drop)"));
	assert_true(has_line(&d, "chain inbound: missing (regular chain)"));
	assert_true(has_line(&d, "set vnet_v4: missing"));
	rs_diffs_free(&d);
	assert_true(ruleset_compare(empty, want->rs, &d) > 0);
	assert_true(has_line(&d, "chain inbound: unexpected"));
	assert_true(has_line(&d, "set vnet_v4: unexpected"));
	rs_diffs_free(&d);
	ruleset_free(empty);
	compiled_free(want);
}

static struct compiled *compile_fqdn(const char *dest)
{
	char *text = NULL;

	assert_true(asprintf(&text, "version: 1\nworkspace: w\nvirtual_network:\n"
			     "  address_space: [10.0.0.0/16]\nmanaged_network:\n"
			     "  isolation_mode: allow_only_approved_outbound\n  outbound_rules:\n"
			     "    - {name: pkgs, type: fqdn, destination: %s}\n", dest) > 0);
	return compile_text(text);
}

/* An FQDN rule that keeps its name and changes its destination compiles to
 * the same set names and bytecode: only the sets' comment (fqdn=NAME) tells.
 * The shape diff must see it (else an apply is "unchanged" and the kernel's
 * sets keep the old name's addresses), and so must verify. */
static void test_fqdn_name_change(void **state)
{
	struct compiled *a = compile_fqdn("pypi.org"), *b = compile_fqdn("files.example.net");
	struct compiled *a2 = compile_fqdn("pypi.org");
	struct rs_diffs diffs = {0};
	char buf[256];
	const char *why;

	(void)state;
	why = ruleset_shape_diff(a->rs, b->rs, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "set fqdn_pkgs_v4 serves another name");
	assert_null(ruleset_shape_diff(a->rs, a2->rs, buf, sizeof(buf)));
	assert_int_equal(ruleset_compare(b->rs, a->rs, &diffs), 2);
	assert_true(has_line(&diffs, "set fqdn_pkgs_v4: serves 'pypi.org', expected 'files.example.net'"));
	assert_true(has_line(&diffs, "set fqdn_pkgs_v6: serves 'pypi.org', expected 'files.example.net'"));
	rs_diffs_free(&diffs);
	compiled_free(a);
	compiled_free(a2);
	compiled_free(b);
}

static void test_ruleinfo(void **state)
{
	struct compiled *c = compile_with("10.0.0.0/16", "");
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(c->rs->rules);
	struct nftnl_rule *r;
	int logged = 0, dropped = 0, gotos = 0;
	char line[8192], comment[256];

	(void)state;
	while ((r = nftnl_rule_list_iter_next(it))) {
		uint64_t p, b;
		rule_comment(r, comment, sizeof(comment));
		assert_true(rule_counter_get(r, &p, &b));	/* every rule counts */
		if (strcmp(comment, "user:in:DenySsh") != 0) {
			if (rule_action_of(r) == RA_GOTO) {
				gotos++;
				assert_true(rule_target_chain(r)[0] != '\0');
			}
			continue;
		}
		rule_bytecode_line(r, line, sizeof(line));
		assert_non_null(strstr(line, "[ counter ]"));
		if (rule_action_of(r) == RA_LOG) {
			logged++;
			assert_non_null(strstr(line, "log prefix filterd user:in:DenySsh"));
		} else {
			assert_int_equal(rule_action_of(r), RA_DROP);
			assert_string_equal(rule_action_name(RA_DROP), "dropped");
			dropped++;
		}
	}
	nftnl_rule_list_iter_destroy(it);
	assert_int_equal(logged, 2);	/* v4 and v6 */
	assert_int_equal(dropped, 2);
	assert_true(gotos >= 2);
	compiled_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_dump_artifacts_ignored),
		cmocka_unit_test(test_every_difference),
		cmocka_unit_test(test_missing_chain_and_set),
		cmocka_unit_test(test_ruleinfo),
		cmocka_unit_test(test_fqdn_name_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
