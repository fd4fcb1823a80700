/* Unit tests for rules/compile.c.
 *
 * Golden files (run from the repository root):
 *   tests/data/compile/NAME.yaml   a policy, compiled against examples/servicetags.json
 *       unless its first lines say "# tags: PATH";
 *   tests/data/compile/NAME.nft    the exact `compiled->nft` text;
 *   tests/data/compile/NAME.err    the compiler's diagnostics (optional, default empty).
 * examples/policy.yaml is compiled too, with the golden name "example".
 * UPDATE_GOLDEN=1 rewrites the expected files from the actual output; review
 * every diff by hand (rule order, verdicts, sets) before committing.
 *
 * Bytecode parity (root only, needs nft and python3): `nft --debug=netlink -c`
 * of our text must give exactly our bytecode, as normalised by
 * tests/tools/bytecode_norm.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "compile.h"
#include "fqdn.h"
#include <libnftnl/chain.h>

#define TAGS_FILE	"examples/servicetags.json"
#define EXAMPLE		"examples/policy.yaml"
#define GOLDEN_DIR	"tests/data/compile"
#define NORMALISER	"tests/tools/bytecode_norm.py"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ----------------------------------------------------------- */

static size_t count_substr(const char *s, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = strstr(s, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

/* Compares actual with the golden file (a missing optional file = empty). */
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
		print_error("%s: missing golden file (UPDATE_GOLDEN=1 writes it)\n", golden);
		return false;
	}
	ok = !strcmp(want ? want : "", actual);
	if (!ok)
		print_error("%s: mismatch\n--- expected\n%s--- actual\n%s---\n", golden,
			    want ? want : "", actual);
	free(want);
	return ok;
}

struct gcase {
	char *yaml;		/* policy */
	char *tags;		/* tags file */
	char *base;		/* tests/data/compile/NAME (without extension) */
};

/* "# tags: PATH" among the leading comment lines selects another tags file. */
static char *tags_for(const char *yaml)
{
	FILE *f = fopen(yaml, "r");
	char line[512];
	char *tags = NULL;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) && line[0] == '#') {
		if (strncmp(line, "# tags: ", 8) == 0) {
			line[strcspn(line, "\r\n")] = '\0';
			tags = strdup(line + 8);
			break;
		}
	}
	fclose(f);
	return tags ? tags : strdup(TAGS_FILE);
}

static size_t golden_cases(struct gcase **out)
{
	glob_t g;
	struct gcase *v;
	size_t n = 0;

	assert_int_equal(glob(GOLDEN_DIR "/*.yaml", 0, NULL, &g), 0);
	v = calloc(g.gl_pathc + 1, sizeof(*v));
	assert_non_null(v);
	v[n].yaml = strdup(EXAMPLE);
	v[n].tags = strdup(TAGS_FILE);
	v[n].base = strdup(GOLDEN_DIR "/example");
	n++;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *p = g.gl_pathv[i];
		size_t len = strlen(p);
		v[n].yaml = strdup(p);
		v[n].tags = tags_for(p);
		v[n].base = strndup(p, len - 5);
		n++;
	}
	globfree(&g);
	*out = v;
	return n;
}

static void golden_cases_free(struct gcase *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].yaml);
		free(v[i].tags);
		free(v[i].base);
	}
	free(v);
}

static char *path_ext(const char *base, const char *ext)
{
	char *s = NULL;

	assert_true(asprintf(&s, "%s%s", base, ext) > 0);
	return s;
}

static struct tagdb *load_tags(const char *path)
{
	char err[512];
	struct tagdb *db = tagdb_load(path, err, sizeof(err));

	if (!db)
		print_error("%s\n", err);
	assert_non_null(db);
	return db;
}

/* Parses, resolves and compiles; everything must succeed.  Diagnostics of all
 * three stages go to d. */
static struct compiled *compile_file(const char *yaml, const struct tagdb *tags,
				     struct policy **pout, struct diags *d)
{
	struct policy *p = NULL;
	struct compiled *c = NULL;
	int rc = policy_parse_file(yaml, &p, d);

	if (rc == 0)
		rc = policy_resolve(p, tags, d);
	if (rc == 0)
		rc = compile_policy(p, tags, NULL, &c, d);
	if (rc != 0) {
		char *t = diags_text(d);
		print_error("%s: does not compile:\n%s", yaml, t);
		free(t);
	}
	assert_int_equal(rc, 0);
	assert_non_null(c);
	assert_int_equal(d->errors, 0);
	if (pout)
		*pout = p;
	else
		policy_free(p);
	return c;
}

static struct compiled *compile_text(const char *policy, const char *tagsjson,
				     struct diags *d)
{
	char err[512];
	struct tagdb *tags = tagdb_load_buffer("tags.json", tagsjson, strlen(tagsjson),
					       err, sizeof(err));
	struct policy *p = NULL;
	struct compiled *c = NULL;

	if (!tags)
		print_error("%s\n", err);
	assert_non_null(tags);
	assert_int_equal(policy_parse_buffer("p.yaml", policy, strlen(policy), &p, d), 0);
	assert_int_equal(policy_resolve(p, tags, d), 0);
	assert_int_equal(compile_policy(p, tags, NULL, &c, d), 0);
	assert_non_null(c);
	policy_free(p);
	tagdb_free(tags);
	return c;
}

/* Counts kept by the compiler agree with the objects and with the text. */
static void check_counts(const char *name, const struct compiled *c)
{
	size_t named = 0;
	struct nftnl_set_list_iter *it = nftnl_set_list_iter_create(c->rs->sets);
	struct nftnl_set *s;

	assert_non_null(it);
	while ((s = nftnl_set_list_iter_next(it)))
		if (!(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS))
			named++;
	nftnl_set_list_iter_destroy(it);
	if (c->nrules != ruleset_count_rules(c->rs) || c->nsets != named ||
	    c->nelements != ruleset_count_elements(c->rs))
		print_error("%s: counts rules %zu/%zu sets %zu/%zu elements %zu/%zu\n", name,
			    c->nrules, ruleset_count_rules(c->rs), c->nsets, named,
			    c->nelements, ruleset_count_elements(c->rs));
	assert_int_equal(c->nrules, ruleset_count_rules(c->rs));
	assert_int_equal(c->nsets, named);
	assert_int_equal(c->nelements, ruleset_count_elements(c->rs));
	/* one text line per rule, one declaration per named set */
	assert_int_equal(count_substr(c->nft, " comment \""), c->nrules);
	assert_int_equal(count_substr(c->nft, "\n\tset "), c->nsets);
}

/* ---- golden tests ------------------------------------------------------ */

static void test_golden(void **state)
{
	struct gcase *v;
	size_t n = golden_cases(&v), failed = 0;

	(void)state;
	assert_true(n >= 9);
	for (size_t i = 0; i < n; i++) {
		struct tagdb *tags = load_tags(v[i].tags);
		struct diags d = { 0 };
		struct compiled *c = compile_file(v[i].yaml, tags, NULL, &d);
		char *nftp = path_ext(v[i].base, ".nft"), *errp = path_ext(v[i].base, ".err");
		char *dt = diags_text(&d);

		if (!golden_check(nftp, c->nft, false))
			failed++;
		if (!golden_check(errp, dt, true))
			failed++;
		check_counts(v[i].yaml, c);
		free(dt);
		free(nftp);
		free(errp);
		compiled_free(c);
		diags_clear(&d);
		tagdb_free(tags);
	}
	golden_cases_free(v, n);
	assert_int_equal(failed, 0);
}

/* The shipped example, by number: a change here is a change in what hosts run. */
static void test_example_counts(void **state)
{
	struct tagdb *tags = load_tags(TAGS_FILE);
	struct diags d = { 0 };
	struct compiled *c = compile_file(EXAMPLE, tags, NULL, &d);

	(void)state;
	assert_int_equal(c->nsets, 23);
	assert_int_equal(c->nelements, 74);
	assert_int_equal(c->nrules, 65);
	/* one note (the fqdn rule), no warning */
	assert_int_equal(d.n, 1);
	assert_int_equal(d.warnings, 0);
	assert_int_equal(d.v[0].sev, DIAG_NOTE);
	assert_non_null(strstr(d.v[0].msg, "fqdn rule 'pypi'"));
	compiled_free(c);
	diags_clear(&d);
	tagdb_free(tags);
}

/* ---- NSG order, checked on the objects of every golden ------------------ */

struct seen {
	const char *chain;
	enum rule_category cat;
	char name[200];
	uint32_t verdict;	/* NF_ACCEPT, NF_DROP, NFT_GOTO, NFT_JUMP; ~0 = none */
	char target[64];
};

static void rule_verdict(struct nftnl_rule *r, uint32_t *verdict, char *target, size_t len)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;

	*verdict = ~0u;
	target[0] = '\0';
	assert_non_null(it);
	while ((e = nftnl_expr_iter_next(it))) {
		if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "immediate") != 0 ||
		    nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) != NFT_REG_VERDICT)
			continue;
		*verdict = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
			snprintf(target, len, "%s", nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
	}
	nftnl_expr_iter_destroy(it);
}

static int rule_priority(const struct policy *p, const char *dir, const char *name)
{
	enum direction d = strcmp(dir, "in") == 0 ? DIR_INBOUND : DIR_OUTBOUND;

	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].dir == d && strcmp(p->rules[i].name, name) == 0)
			return p->rules[i].priority;
	return -1;
}

/* DESIGN.md "Evaluation": platform essentials first, then user rules by
 * priority, then the NSG defaults; allowed outbound traffic goes to the managed
 * chain; every chain ends in a catch-all. */
static void check_order(const char *yaml, const struct policy *p, const struct compiled *c)
{
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(c->rs->rules);
	struct nftnl_rule *r;
	const char *prev_chain = NULL;
	enum rule_category prev_cat = CAT_PLATFORM;
	int prev_prio = 0;
	struct seen last = { 0 };

	assert_non_null(it);
	while ((r = nftnl_rule_list_iter_next(it))) {
		struct seen s = { .chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN) };
		char dir[16];

		if (rule_origin(r, &s.cat, dir, sizeof(dir), s.name, sizeof(s.name)) != 0) {
			print_error("%s: rule without origin in chain %s\n", yaml, s.chain);
			fail();
		}
		rule_verdict(r, &s.verdict, s.target, sizeof(s.target));
		if (!prev_chain || strcmp(prev_chain, s.chain) != 0) {
			/* a new chain: the previous one ended in an unconditional verdict */
			if (prev_chain && last.verdict == ~0u)
				fail_msg("%s: chain %s ends without a verdict", yaml, prev_chain);
			prev_chain = s.chain;
			prev_cat = s.cat;
			prev_prio = 0;
		}
		if (!strcmp(s.chain, "input") || !strcmp(s.chain, "output") ||
		    !strcmp(s.chain, "forward")) {
			if (s.cat != CAT_PLATFORM && s.cat != CAT_INTERNAL)
				fail_msg("%s: %s in base chain %s", yaml, s.name, s.chain);
			/* nothing platform after the jump to the NSG chains */
			if (prev_cat == CAT_INTERNAL && s.cat == CAT_PLATFORM &&
			    strcmp(s.chain, "forward") != 0)
				fail_msg("%s: platform rule %s after the NSG jump", yaml, s.name);
		} else if (!strcmp(s.chain, "inbound") || !strcmp(s.chain, "outbound")) {
			bool out = !strcmp(s.chain, "outbound");
			if (s.cat != CAT_USER && s.cat != CAT_DEFAULT)
				fail_msg("%s: %s in %s", yaml, s.name, s.chain);
			if (prev_cat == CAT_DEFAULT && s.cat == CAT_USER)
				fail_msg("%s: user rule %s after the defaults", yaml, s.name);
			if (s.cat == CAT_USER) {
				int prio = rule_priority(p, out ? "out" : "in", s.name);
				if (prio < 0)
					fail_msg("%s: %s is no %s rule of the policy", yaml, s.name, s.chain);
				if (prio < prev_prio)
					fail_msg("%s: %s (%d) after priority %d", yaml, s.name, prio, prev_prio);
				prev_prio = prio;
			}
			/* NSG allows go through the managed network outbound */
			if (out && s.verdict == NF_ACCEPT)
				fail_msg("%s: outbound rule %s accepts instead of goto managed", yaml, s.name);
			if (out && s.verdict == (uint32_t)NFT_GOTO && strcmp(s.target, "managed") != 0)
				fail_msg("%s: outbound rule %s goes to %s", yaml, s.name, s.target);
			if (!out && (s.verdict == (uint32_t)NFT_GOTO || s.verdict == (uint32_t)NFT_JUMP))
				fail_msg("%s: inbound rule %s jumps", yaml, s.name);
		} else if (!strcmp(s.chain, "managed")) {
			if (s.cat != CAT_MANAGED && s.cat != CAT_REQUIRED)
				fail_msg("%s: %s in managed", yaml, s.name);
			if (s.verdict == (uint32_t)NFT_GOTO || s.verdict == (uint32_t)NFT_JUMP)
				fail_msg("%s: managed rule %s jumps", yaml, s.name);
		} else {
			fail_msg("%s: unexpected chain %s", yaml, s.chain);
		}
		prev_cat = s.cat;
		last = s;
	}
	nftnl_rule_list_iter_destroy(it);
	if (last.verdict == ~0u)
		fail_msg("%s: last chain ends without a verdict", yaml);
}

static void test_nsg_order(void **state)
{
	struct gcase *v;
	size_t n = golden_cases(&v);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct tagdb *tags = load_tags(v[i].tags);
		struct diags d = { 0 };
		struct policy *p = NULL;
		struct compiled *c = compile_file(v[i].yaml, tags, &p, &d);

		check_order(v[i].yaml, p, c);
		compiled_free(c);
		policy_free(p);
		diags_clear(&d);
		tagdb_free(tags);
	}
	golden_cases_free(v, n);
}

/* ---- JSON -------------------------------------------------------------- */

static void test_json(void **state)
{
	struct tagdb *tags = load_tags(TAGS_FILE);
	struct diags d = { 0 };
	struct compiled *c = compile_file(EXAMPLE, tags, NULL, &d);
	char *text = compiled_to_json(c);
	json_error_t je;
	json_t *root, *sets, *chains, *x;
	size_t i, k, nrules = 0, named = 0;
	static const char *const want_chains[] = { "input", "output", "forward", "inbound", "outbound", "managed" };

	(void)state;
	assert_non_null(text);
	root = json_loads(text, 0, &je);
	if (!root)
		print_error("%d:%d: %s\n", je.line, je.column, je.text);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "table")), "filterd");
	assert_string_equal(json_string_value(json_object_get(root, "family")), "inet");
	assert_string_equal(json_string_value(json_object_get(root, "nft")), c->nft);

	sets = json_object_get(root, "sets");
	assert_true(json_is_array(sets));
	assert_int_equal(json_array_size(sets), ruleset_count_sets(c->rs));
	json_array_foreach(sets, i, x) {
		const char *name = json_string_value(json_object_get(x, "name"));
		assert_non_null(name);
		assert_true(json_is_integer(json_object_get(x, "flags")));
		assert_true(json_is_array(json_object_get(x, "elements")));
		if (strncmp(name, "__set", 5) != 0)
			named++;
		if (!strcmp(name, "vnet_v4")) {
			json_t *el = json_object_get(x, "elements");
			/* leading end marker at 0, start 10.0.0.0, end marker 10.1.0.0,
			 * the host's virtual IP 168.63.129.16 and its end marker */
			assert_int_equal(json_array_size(el), 5);
			assert_string_equal(json_string_value(json_object_get(json_array_get(el, 1), "key")),
					    "0a000000");
			assert_false(json_is_true(json_object_get(json_array_get(el, 1), "interval_end")));
			assert_string_equal(json_string_value(json_object_get(json_array_get(el, 3), "key")),
					    "a83f8110");
			assert_string_equal(json_string_value(json_object_get(json_array_get(el, 2), "key")),
					    "0a010000");
			assert_true(json_is_true(json_object_get(json_array_get(el, 2), "interval_end")));
			assert_int_equal(json_integer_value(json_object_get(x, "key_len")), 4);
		}
	}
	assert_int_equal(named, c->nsets);

	chains = json_object_get(root, "chains");
	assert_true(json_is_array(chains));
	assert_int_equal(json_array_size(chains), N(want_chains));
	json_array_foreach(chains, i, x) {
		json_t *rules = json_object_get(x, "rules"), *r;
		assert_string_equal(json_string_value(json_object_get(x, "name")), want_chains[i]);
		if (i < 3) {
			assert_string_equal(json_string_value(json_object_get(x, "hook")), want_chains[i]);
			assert_string_equal(json_string_value(json_object_get(x, "policy")), "drop");
			assert_int_equal(json_integer_value(json_object_get(x, "priority")), 0);
		} else {
			assert_null(json_object_get(x, "hook"));
		}
		assert_true(json_is_array(rules));
		assert_true(json_array_size(rules) > 0);
		json_array_foreach(rules, k, r) {
			const char *cat = json_string_value(json_object_get(r, "category"));
			const char *comment = json_string_value(json_object_get(r, "comment"));
			json_t *bc = json_object_get(r, "bytecode");
			assert_non_null(cat);
			assert_non_null(comment);
			assert_non_null(json_string_value(json_object_get(r, "direction")));
			assert_non_null(json_string_value(json_object_get(r, "policy_rule")));
			assert_true(strncmp(comment, cat, strlen(cat)) == 0);
			assert_true(json_is_array(bc));
			assert_true(json_array_size(bc) >= 2);	/* at least counter + verdict */
			assert_non_null(json_string_value(json_object_get(json_array_get(bc, 0), "expr")));
			assert_non_null(json_string_value(json_object_get(json_array_get(bc, 0), "text")));
			nrules++;
		}
		/* the first rule of input is the loopback accept */
		if (i == 0) {
			r = json_array_get(rules, 0);
			assert_string_equal(json_string_value(json_object_get(r, "comment")),
					    "platform:in:loopback");
			assert_string_equal(json_string_value(json_object_get(r, "policy_rule")), "loopback");
		}
	}
	assert_int_equal(nrules, c->nrules);
	json_decref(root);
	free(text);
	compiled_free(c);
	diags_clear(&d);
	tagdb_free(tags);
}

/* ---- options ----------------------------------------------------------- */

/* The DNS queue rule takes answers only from where the resolver is: a
 * resolver elsewhere never over lo nor from a container's interface, one on
 * this host (loopback, or one of its addresses) over lo only, in a rule for
 * its address alone (a forged answer over lo, or a container spoofing the
 * resolver, opened any address for a name before a review). */
static bool local_53(int family, const void *addr)
{
	static const uint8_t a[4] = { 10, 0, 1, 53 };

	return family == AF_INET && memcmp(addr, a, 4) == 0;
}

static void test_dns_queue_ifaces(void **state)
{
	static const char policy[] =
		"version: 1\nworkspace: dnsq\n"
		"forward: {interfaces: [ctr0, docker0]}\n"
		"managed_network:\n  isolation_mode: allow_only_approved_outbound\n"
		"  outbound_rules:\n    - {name: app, type: fqdn, destination: app.test.example}\n";
	static const char tags[] = "{\"changeNumber\": 1, \"values\": []}";
	static const char remote4[] = "iifname != { \"lo\", \"ctr0\", \"docker0\" } ct state established "
				      "ct direction reply ip saddr @dns_resolvers_v4 ";
	struct prefix res[3];
	char err[256];
	struct tagdb *db = tagdb_load_buffer("t.json", tags, strlen(tags), err, sizeof(err));
	struct policy *p = NULL;
	struct diags d = { 0 };
	struct compiled *c = NULL;
	struct compile_opts o;

	(void)state;
	assert_non_null(db);
	assert_int_equal(prefix_parse("10.0.1.53", &res[0], NULL, err, sizeof(err)), 0);
	assert_int_equal(prefix_parse("127.0.0.53", &res[1], NULL, err, sizeof(err)), 0);
	assert_int_equal(prefix_parse("fd00:10::53", &res[2], NULL, err, sizeof(err)), 0);
	assert_int_equal(policy_parse_buffer("p.yaml", policy, strlen(policy), &p, &d), 0);
	assert_int_equal(policy_resolve(p, db, &d), 0);
	compile_opts_default(&o);
	/* 127.0.0.53 answers over lo, in a rule of its own; 10.0.1.53 (not
	 * this host's) and fd00:10::53 never over lo */
	o.resolvers = res;
	o.nresolvers = 3;
	assert_int_equal(compile_policy(p, db, &o, &c, &d), 0);
	assert_non_null(strstr(c->nft, remote4));
	assert_non_null(strstr(c->nft, "iifname \"lo\" ct state established ct direction reply "
				       "ip saddr 127.0.0.53 meta l4proto { tcp, udp } th sport 53 "));
	assert_non_null(strstr(c->nft, "iifname != { \"lo\", \"ctr0\", \"docker0\" } ct state established "
				       "ct direction reply ip6 saddr @dns_resolvers_v6 "));
	assert_null(strstr(c->nft, "iifname \"lo\" ct state established ct direction reply ip6"));
	/* the host's queries to them: a chain of their own after output (only
	 * what output accepted reaches it), queued to the same queue */
	assert_non_null(strstr(c->nft, "\tchain dns_queries {\n"
				       "\t\ttype filter hook output priority filter + 10; policy accept;\n"
				       "\t\tip daddr @dns_resolvers_v4 udp dport 53 counter queue num 53 bypass"));
	assert_non_null(strstr(c->nft, "ip6 daddr @dns_resolvers_v6 udp dport 53 counter queue num 53 bypass"));
	/* and every segment of its TCP streams to them (queries over TCP) */
	assert_non_null(strstr(c->nft, "ip daddr @dns_resolvers_v4 tcp dport 53 counter queue num 53 bypass"));
	assert_non_null(strstr(c->nft, "ip6 daddr @dns_resolvers_v6 tcp dport 53 counter queue num 53 bypass"));
	{
		struct nftnl_chain *ch = ruleset_find_chain(c->rs, FQDN_QUERY_CHAIN);
		struct fqdn_info fi;

		assert_non_null(ch);
		assert_int_equal(nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM), NF_INET_LOCAL_OUT);
		assert_int_equal(nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO), 10);
		assert_int_equal(nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY), NF_ACCEPT);
		/* filterd and pcap-replay read from the objects that queries are
		 * queued, and match answers to them */
		assert_int_equal(fqdn_info_from_ruleset(c->rs, &fi), 0);
		assert_true(fi.queries_queued);
		assert_int_equal(fi.nres, 3);
		fqdn_info_free(&fi);
	}
	compiled_free(c);
	/* no resolver: neither answers nor queries are queued */
	o.nresolvers = 0;
	c = NULL;
	assert_int_equal(compile_policy(p, db, &o, &c, &d), 0);
	assert_null(strstr(c->nft, "dns_queries"));
	assert_null(ruleset_find_chain(c->rs, FQDN_QUERY_CHAIN));
	{
		struct fqdn_info fi;

		assert_int_equal(fqdn_info_from_ruleset(c->rs, &fi), 0);
		assert_false(fi.queries_queued);
		fqdn_info_free(&fi);
	}
	compiled_free(c);
	/* 10.0.1.53 one of this host's addresses: its own rule on lo */
	o.addr_is_local = local_53;
	o.nresolvers = 1;
	c = NULL;
	assert_int_equal(compile_policy(p, db, &o, &c, &d), 0);
	assert_non_null(strstr(c->nft, remote4));
	assert_non_null(strstr(c->nft, "iifname \"lo\" ct state established ct direction reply "
				       "ip saddr 10.0.1.53 meta l4proto { tcp, udp } th sport 53 "));
	assert_null(strstr(c->nft, "dns_resolvers_v6"));
	compiled_free(c);
	policy_free(p);
	diags_clear(&d);
	tagdb_free(db);
}

static void test_options(void **state)
{
	static const char policy[] =
		"version: 1\nworkspace: opts\n"
		"security_rules:\n"
		"  - {name: D, priority: 100, direction: inbound, access: deny, protocol: tcp,"
		" destination_ports: \"22\"}\n";
	static const char tags[] = "{\"changeNumber\": 1, \"values\": []}";
	struct tagdb *db;
	struct policy *p = NULL;
	struct diags d = { 0 };
	struct compiled *c = NULL;
	struct compile_opts o;
	char err[256];

	(void)state;
	compile_opts_default(&o);
	assert_string_equal(o.table, FILTERD_TABLE);
	assert_int_equal(o.log_group, 1);
	assert_int_equal(o.log_rate, 10);
	assert_int_equal(o.log_burst, 20);
	o.table = "mytable";
	o.log_group = 7;
	o.log_rate = 3;
	o.log_burst = 4;
	db = tagdb_load_buffer("t.json", tags, strlen(tags), err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(policy_parse_buffer("p.yaml", policy, strlen(policy), &p, &d), 0);
	assert_int_equal(policy_resolve(p, db, &d), 0);
	assert_int_equal(compile_policy(p, db, &o, &c, &d), 0);
	assert_non_null(c);
	assert_string_equal(c->rs->table, "mytable");
	assert_non_null(strstr(c->nft, "table inet mytable\ndelete table inet mytable\ntable inet mytable {\n"));
	assert_non_null(strstr(c->nft,
		"\t\ttcp dport 22 limit rate 3/second burst 4 packets counter log prefix "
		"\"filterd user:in:D \" group 7 comment \"user:in:D\"\n"
		"\t\ttcp dport 22 counter drop comment \"user:in:D\"\n"));
	assert_null(strstr(c->nft, "filterd {"));
	/* no vnet: no vnet sets and no AllowVnet rules */
	assert_null(strstr(c->nft, "vnet_v"));
	assert_null(strstr(c->nft, "AllowVnetInBound"));
	assert_non_null(strstr(c->nft, "AllowInternetOutBound"));
	/* every object carries the table name */
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(c->rs->rules);
	struct nftnl_rule *r;
	while ((r = nftnl_rule_list_iter_next(it)))
		assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "mytable");
	nftnl_rule_list_iter_destroy(it);
	compiled_free(c);
	compiled_free(NULL);
	policy_free(p);
	diags_clear(&d);
	tagdb_free(db);
}

/* ---- diagnostics from the compiler ------------------------------------- */

static const char tags_with_empty[] =
	"{\"changeNumber\": 1, \"values\": ["
	"{\"name\": \"Empty\", \"properties\": {\"addressPrefixes\": []}},"
	"{\"name\": \"Six\", \"properties\": {\"addressPrefixes\": [\"2001:db8:6::/48\"]}},"
	"{\"name\": \"AzureActiveDirectory\", \"properties\": {\"addressPrefixes\": [\"192.0.2.32/28\"]}},"
	"{\"name\": \"AzureMachineLearning\", \"properties\": {\"addressPrefixes\": [\"192.0.2.0/28\"]}},"
	"{\"name\": \"BatchNodeManagement\", \"properties\": {\"addressPrefixes\": [\"192.0.2.16/28\"]}},"
	"{\"name\": \"AzureResourceManager\", \"properties\": {\"addressPrefixes\": [\"192.0.2.48/28\"]}},"
	"{\"name\": \"Storage\", \"properties\": {\"addressPrefixes\": [\"198.51.100.0/25\"]}},"
	"{\"name\": \"AzureFrontDoor.FirstParty\", \"properties\": {\"addressPrefixes\": [\"192.0.2.64/28\"]}},"
	"{\"name\": \"MicrosoftContainerRegistry\", \"properties\": {\"addressPrefixes\": [\"192.0.2.80/28\"]}},"
	"{\"name\": \"AzureMonitor\", \"properties\": {\"addressPrefixes\": [\"192.0.2.96/28\"]}}"
	"]}";

/* A deny rule that matches no address would deny nothing (fail open): an
 * error, so that a tags file emptying a tag a deny names is refused with the
 * policy and the rules in force stay (a review found it only warned). */
static void test_diag_empty_deny(void **state)
{
	static const char policy[] =
		"version: 1\n"
		"workspace: w\n"
		"security_rules:\n"
		"  - name: DenyEmpty\n"
		"    priority: 100\n"
		"    direction: inbound\n"
		"    access: deny\n"
		"    protocol: tcp\n"
		"    source: Empty\n";
	struct diags d = { 0 };
	char err[512];
	struct tagdb *tags = tagdb_load_buffer("tags.json", tags_with_empty,
					       strlen(tags_with_empty), err, sizeof(err));
	struct policy *p = NULL;
	struct compiled *c = NULL;
	char *t;

	(void)state;
	assert_non_null(tags);
	assert_int_equal(policy_parse_buffer("p.yaml", policy, strlen(policy), &p, &d), 0);
	assert_int_equal(policy_resolve(p, tags, &d), 0);
	assert_int_not_equal(compile_policy(p, tags, NULL, &c, &d), 0);
	assert_null(c);
	t = diags_text(&d);
	assert_string_equal(t,
		"p.yaml:4:5: error: deny rule 'DenyEmpty' matches no address (its tags or address "
		"lists are empty for every family): it would deny nothing; refused\n");
	assert_int_equal(d.errors, 1);
	free(t);
	policy_free(p);
	tagdb_free(tags);
	diags_clear(&d);
}

static void test_diag_empty_tag(void **state)
{
	static const char policy[] =
		"version: 1\n"
		"workspace: w\n"
		"security_rules:\n"
		"  - name: FromEmpty\n"
		"    priority: 100\n"
		"    direction: inbound\n"
		"    access: allow\n"
		"    protocol: tcp\n"
		"    source: Empty\n"
		"  - name: SixToFour\n"
		"    priority: 101\n"
		"    direction: outbound\n"
		"    access: allow\n"
		"    protocol: tcp\n"
		"    source: six\n"
		"    destination: 192.0.2.1\n"
		"  - name: FromEmptyOrSix\n"
		"    priority: 102\n"
		"    direction: inbound\n"
		"    access: allow\n"
		"    protocol: tcp\n"
		"    source: [Empty, Six]\n";
	struct diags d = { 0 };
	struct compiled *c = compile_text(policy, tags_with_empty, &d);
	char *t = diags_text(&d);

	(void)state;
	assert_string_equal(t,
		"p.yaml:4:5: warning: rule 'FromEmpty' matches no address (its tags or address "
		"lists are empty for every family); it compiles to nothing\n"
		"p.yaml:10:5: warning: rule 'SixToFour' matches no address (its tags or address "
		"lists are empty for every family); it compiles to nothing\n");
	assert_int_equal(d.warnings, 2);
	assert_int_equal(d.errors, 0);
	/* nothing emitted for them, no empty set declared */
	assert_null(strstr(c->nft, "FromEmpty\""));
	assert_null(strstr(c->nft, "SixToFour"));
	assert_null(strstr(c->nft, "tag_Empty"));
	assert_null(strstr(c->nft, "tag_Six_v4"));
	assert_non_null(strstr(c->nft, "\t\tip6 saddr @tag_Six_v6 meta l4proto tcp counter accept "
				       "comment \"user:in:FromEmptyOrSix\"\n"));
	free(t);
	compiled_free(c);
	diags_clear(&d);
}

/* Traffic the platform rules accept before any security rule (emit_platform)
 * passes a deny that names its address; an endpoint outside the address
 * space is not VirtualNetwork.  Broad denies ("*") and denies that miss the
 * platform's protocols and ports stay quiet. */
/* An inbound deny of VirtualNetwork denies 168.63.129.16 (the host's virtual
 * IP is VirtualNetwork): warned, unless an allow of every protocol from it
 * comes first; "*" does not warn. */
static void test_diag_host_vip(void **state)
{
	static const char policy[] =
		"version: 1\n"
		"workspace: w\n"
		"virtual_network:\n"
		"  address_space: [10.0.0.0/16]\n"
		"security_rules:\n"
		"  - {name: NoVnet, priority: 100, direction: inbound, access: deny, protocol: \"*\", source: VirtualNetwork}\n"
		"  - {name: Probes, priority: 105, direction: inbound, access: allow, protocol: Any, source: AzureLoadBalancer}\n"
		"  - {name: NoVnetLater, priority: 110, direction: inbound, access: deny, protocol: tcp, source: VirtualNetwork}\n"
		"  - {name: NoAny, priority: 120, direction: inbound, access: deny, protocol: tcp, source: \"*\"}\n"
		"  - {name: NoVnetOut, priority: 130, direction: outbound, access: deny, protocol: tcp, destination: VirtualNetwork}\n";
	struct diags d = { 0 };
	struct compiled *c = compile_text(policy, tags_with_empty, &d);
	char *t = diags_text(&d);

	(void)state;
	assert_non_null(c);
	assert_string_equal(t,
		"p.yaml:6:92: warning: deny rule 'NoVnet' denies 168.63.129.16 (it is VirtualNetwork): "
		"Azure's load balancer health probes and platform calls come from it; put an allow "
		"from AzureLoadBalancer before this rule unless they must be denied\n");
	free(t);
	compiled_free(c);
	diags_clear(&d);
}

static void test_diag_unreached(void **state)
{
	static const char policy[] =
		"version: 1\n"
		"workspace: w\n"
		"virtual_network:\n"
		"  address_space: [10.0.0.0/16]\n"
		"private_endpoints:\n"
		"  - {name: hub, addresses: [10.1.2.5]}\n"
		"  - {name: own, addresses: [10.0.2.5]}\n"
		"security_rules:\n"
		"  - {name: NoWire, priority: 100, direction: outbound, access: deny, protocol: tcp, destination: [192.0.2.1, 168.63.129.16], destination_ports: \"80-90\"}\n"
		"  - {name: NoImds, priority: 101, direction: outbound, access: deny, protocol: icmp, destination: 169.254.0.0/16}\n"
		"  - {name: NoAlb, priority: 102, direction: inbound, access: deny, protocol: udp, source: AzureLoadBalancer}\n"
		"  - {name: NoNtp, priority: 103, direction: outbound, access: deny, protocol: udp, destination: AzureLoadBalancer, destination_ports: \"123\"}\n"
		"  - {name: NoAlbTcp, priority: 104, direction: inbound, access: deny, protocol: tcp, source: 168.63.129.16}\n"
		"  - {name: NoAll, priority: 105, direction: outbound, access: deny, protocol: \"*\", destination: \"*\"}\n"
		"  - {name: NoLinkLocal, priority: 106, direction: inbound, access: deny, protocol: udp, source: \"fe80::/64\"}\n"
		"managed_network:\n"
		"  isolation_mode: allow_only_approved_outbound\n"
		"  outbound_rules:\n"
		"    - name: blob\n"
		"      type: private_endpoint\n"
		"      destination: {service_resource_id: /x, subresource_target: blob, addresses: [\"172.16.0.0/24\"]}\n";
	struct diags d = { 0 };
	struct compiled *c = compile_text(policy, tags_with_empty, &d);
	char *t = diags_text(&d);

	(void)state;
	assert_non_null(c);
	assert_string_equal(t,
		"p.yaml:6:5: warning: private endpoint 'hub': 10.1.2.5 is outside "
		"virtual_network.address_space, so not VirtualNetwork: DenyAllOutBound drops "
		"traffic to it unless an outbound security rule allows it\n"
		"p.yaml:19:7: warning: outbound rule 'blob': 172.16.0.0/24 is outside "
		"virtual_network.address_space, so not VirtualNetwork: DenyAllOutBound drops "
		"traffic to it unless an outbound security rule allows it\n"
		"p.yaml:9:110: warning: deny rule 'NoWire': the platform rules accept the wire "
		"server (tcp 80 and 32526) to 168.63.129.16 before any security rule; this rule "
		"does not deny that\n"
		"p.yaml:10:99: warning: deny rule 'NoImds': the platform rules accept instance "
		"metadata (every protocol and port) to 169.254.169.254 before any security rule; "
		"this rule does not deny that\n"
		"p.yaml:11:91: warning: deny rule 'NoAlb': the platform rules accept DHCP answers "
		"(udp 67 to 68) from 168.63.129.16 before any security rule; this rule does not "
		"deny that\n"
		"p.yaml:15:97: warning: deny rule 'NoLinkLocal': the platform rules accept DHCPv6 "
		"answers (udp 547 to 546) from fe80::/10 before any security rule; this rule does "
		"not deny that\n"
		"p.yaml:11:91: warning: deny rule 'NoAlb' denies 168.63.129.16 (AzureLoadBalancer): "
		"Azure's load balancer health probes and platform calls come from it; put an allow "
		"from AzureLoadBalancer before this rule unless they must be denied\n"
		"p.yaml:13:94: warning: deny rule 'NoAlbTcp' denies 168.63.129.16 (in this prefix): "
		"Azure's load balancer health probes and platform calls come from it; put an allow "
		"from AzureLoadBalancer before this rule unless they must be denied\n");
	assert_int_equal(d.warnings, 8);
	assert_int_equal(d.errors, 0);
	free(t);
	compiled_free(c);
	diags_clear(&d);
}

static void test_diag_required_missing(void **state)
{
	/* without a region the global tags stand in silently; AzureKeyVault is
	 * required by hbi and missing */
	static const char policy[] =
		"version: 1\n"
		"workspace: w\n"
		"hbi_workspace: true\n"
		"managed_network:\n"
		"  isolation_mode: allow_only_approved_outbound\n";
	static const char policy_noregion[] =
		"version: 1\n"
		"workspace: w\n"
		"managed_network:\n"
		"  isolation_mode: allow_only_approved_outbound\n";
	static const char policy_region[] =
		"version: 1\n"
		"workspace: w\n"
		"region: northeurope\n"
		"managed_network:\n"
		"  isolation_mode: allow_only_approved_outbound\n";
	static const char few_tags[] =
		"{\"changeNumber\": 1, \"values\": ["
		"{\"name\": \"AzureMachineLearning\", \"properties\": {\"addressPrefixes\": [\"192.0.2.0/28\"]}},"
		"{\"name\": \"Storage\", \"properties\": {\"addressPrefixes\": [\"198.51.100.0/25\"]}},"
		"{\"name\": \"AzureCloud.northeurope\", \"properties\": {\"region\": \"northeurope\", "
		"\"addressPrefixes\": [\"203.0.113.0/24\"]}}"
		"]}";
	struct diags d = { 0 };
	struct compiled *c;
	char *t;

	(void)state;
	c = compile_text(policy, tags_with_empty, &d);
	t = diags_text(&d);
	assert_string_equal(t, "p.yaml: warning: required rule: tag 'AzureKeyVault' is not in "
			       "tags.json; that required destination stays closed\n");
	assert_non_null(strstr(c->nft, "comment \"required:out:Storage/tcp\""));
	assert_null(strstr(c->nft, "AzureKeyVault"));
	free(t);
	compiled_free(c);
	diags_clear(&d);

	/* a region: regional tags missing stay closed -- the global tag does not
	 * stand in (it would approve every region's addresses) */
	c = compile_text(policy_region, few_tags, &d);
	t = diags_text(&d);
	assert_string_equal(t,
		"p.yaml: warning: required rule: tag 'AzureActiveDirectory' is not in tags.json; "
		"that required destination stays closed\n"
		"p.yaml:3:9: warning: required rule: tag 'BatchNodeManagement.northeurope' is not in "
		"tags.json; that required destination stays closed (the global tag 'BatchNodeManagement' "
		"would approve every region's addresses)\n"
		"p.yaml: warning: required rule: tag 'AzureResourceManager' is not in tags.json; "
		"that required destination stays closed\n"
		"p.yaml:3:9: warning: required rule: tag 'Storage.northeurope' is not in tags.json; "
		"that required destination stays closed (the global tag 'Storage' would approve every "
		"region's addresses)\n"
		"p.yaml: warning: required rule: tag 'AzureFrontDoor.FirstParty' is not in tags.json; "
		"that required destination stays closed\n"
		"p.yaml:3:9: warning: required rule: tag 'MicrosoftContainerRegistry.northeurope' is not "
		"in tags.json; that required destination stays closed (the global tag "
		"'MicrosoftContainerRegistry' would approve every region's addresses)\n"
		"p.yaml: warning: required rule: tag 'AzureMonitor' is not in tags.json; "
		"that required destination stays closed\n");
	assert_null(strstr(c->nft, "tag_Storage_v4"));
	assert_null(strstr(c->nft, "required:out:Storage"));
	compiled_free(c);
	free(t);
	t = NULL;
	diags_clear(&d);
	/* without a region, the global tags: AzureMachineLearning (tcp and udp)
	 * and the global Storage are open */
	c = compile_text(policy_noregion, few_tags, &d);
	free(diags_text(&d));
	assert_non_null(strstr(c->nft, "\t\tip daddr @tag_AzureMachineLearning_v4 tcp dport { 443, 18881 } "
				       "counter accept comment \"required:out:AzureMachineLearning/tcp\"\n"
				       "\t\tip daddr @tag_AzureMachineLearning_v4 udp dport 5831 "
				       "counter accept comment \"required:out:AzureMachineLearning/udp\"\n"));
	assert_non_null(strstr(c->nft, "\t\tip daddr @tag_Storage_v4 tcp dport { 443, 445 } counter "
				       "accept comment \"required:out:Storage/tcp\"\n"));
	free(t);
	compiled_free(c);
	diags_clear(&d);
}

/* 'region:' must be a region of the tags file (a typo used to pass with the
 * global tags standing in), and X.region finds the tag Azure named by another
 * spelling of the region through properties.region (AzureCloud.centralfrance
 * for francecentral, as Storage.FranceCentral says). */
static void test_region_resolution(void **state)
{
	static const char tags[] =
		"{\"changeNumber\": 1, \"values\": ["
		"{\"name\": \"AzureMachineLearning\", \"properties\": {\"addressPrefixes\": [\"192.0.2.0/28\"]}},"
		"{\"name\": \"Storage\", \"properties\": {\"addressPrefixes\": [\"198.51.100.0/24\"]}},"
		"{\"name\": \"Storage.FranceCentral\", \"properties\": {\"region\": \"centralfrance\", "
		"\"addressPrefixes\": [\"198.51.100.0/26\"]}},"
		"{\"name\": \"Storage.EastUS\", \"properties\": {\"region\": \"eastus\", "
		"\"addressPrefixes\": [\"198.51.100.64/26\"]}},"
		"{\"name\": \"AzureCloud.centralfrance\", \"properties\": {\"region\": \"centralfrance\", "
		"\"addressPrefixes\": [\"203.0.113.0/25\"]}},"
		"{\"name\": \"AzureFrontDoor.Frontend\", \"properties\": {\"region\": \"\", "
		"\"addressPrefixes\": [\"203.0.113.128/25\"]}}"
		"]}";
	static const char typo[] =
		"version: 1\n"
		"workspace: w\n"
		"region: eastuss\n";
	static const char fr[] =
		"version: 1\n"
		"workspace: w\n"
		"region: francecentral\n"
		"managed_network:\n"
		"  isolation_mode: allow_only_approved_outbound\n"
		"  outbound_rules:\n"
		"    - name: cloud\n"
		"      type: service_tag\n"
		"      destination: {service_tag: AzureCloud.region, protocol: TCP, port_ranges: \"443\"}\n";
	char err[256];
	struct tagdb *db = tagdb_load_buffer("tags.json", tags, strlen(tags), err, sizeof(err));
	struct diags d = { 0 };
	struct policy *p = NULL;
	char *t;

	(void)state;
	assert_non_null(db);
	assert_int_equal(policy_parse_buffer("p.yaml", typo, strlen(typo), &p, &d), 0);
	assert_int_equal(policy_resolve(p, db, &d), -1);
	t = diags_text(&d);
	assert_string_equal(t, "p.yaml:3:9: error: region 'eastuss' is not a region of tags.json (no tag "
			       "is named for it, as Storage.<region> is); did you mean 'EastUS'?\n");
	free(t);
	policy_free(p);
	diags_clear(&d);
	/* a tag name's suffix that is no region (AzureFrontDoor.Frontend) is none */
	assert_false(tagdb_has_region(db, "Frontend"));
	assert_true(tagdb_has_region(db, "eastus"));
	assert_true(tagdb_has_region(db, "FranceCentral"));
	/* both spellings find both tags */
	assert_ptr_equal(tagdb_find_regional(db, "AzureCloud", "francecentral"),
			 tagdb_find(db, "AzureCloud.centralfrance"));
	assert_ptr_equal(tagdb_find_regional(db, "Storage", "centralfrance"),
			 tagdb_find(db, "Storage.FranceCentral"));
	assert_null(tagdb_find_regional(db, "AzureCloud", "eastus"));
	tagdb_free(db);
	struct compiled *c = compile_text(fr, tags, &d);
	assert_non_null(strstr(c->nft, "@tag_AzureCloud.centralfrance_v4 tcp dport 443"));
	assert_non_null(strstr(c->nft, "@tag_Storage.FranceCentral_v4 tcp dport { 443, 445 }"));
	compiled_free(c);
	diags_clear(&d);
}

/* ---- bytecode parity with nft ------------------------------------------ */

static bool have_tool(const char *cmd)
{
	char *s = NULL;
	int rc;

	assert_true(asprintf(&s, "command -v %s >/dev/null 2>&1", cmd) > 0);
	rc = system(s);
	free(s);
	return rc == 0;
}

static char *tmpfile_with(const char *text)
{
	char *path = strdup("/tmp/test_compile_XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	if (text)
		spit(path, text);
	return path;
}

/* Runs cmd (stdout to a temp file) and returns what it printed; NULL on failure. */
static char *run(const char *cmd)
{
	char *out = tmpfile_with(NULL), *full = NULL, *text = NULL;

	assert_true(asprintf(&full, "( %s ) > %s 2>&1", cmd, out) > 0);
	if (system(full) == 0)
		text = slurp(out);
	else {
		char *err = slurp(out);
		print_error("'%s' failed:\n%s\n", cmd, err ? err : "");
		free(err);
	}
	unlink(out);
	free(out);
	free(full);
	return text;
}

static char *normalise(const char *raw)
{
	char *in = tmpfile_with(raw), *cmd = NULL, *text;

	assert_true(asprintf(&cmd, "python3 " NORMALISER " %s", in) > 0);
	text = run(cmd);
	unlink(in);
	free(in);
	free(cmd);
	return text;
}

static void test_bytecode_parity(void **state)
{
	struct gcase *v;
	size_t n, failed = 0;

	(void)state;
	if (geteuid() != 0) {
		print_message("skipping: bytecode parity needs root (nft -c talks to the kernel)\n");
		skip();
	}
	if (!have_tool("nft") || !have_tool("python3")) {
		print_message("skipping: nft or python3 not installed\n");
		skip();
	}
	n = golden_cases(&v);
	for (size_t i = 0; i < n; i++) {
		struct tagdb *tags = load_tags(v[i].tags);
		struct diags d = { 0 };
		struct compiled *c = compile_file(v[i].yaml, tags, NULL, &d);
		char *ours = NULL, *script = tmpfile_with(c->nft), *cmd = NULL, *theirs;
		size_t len = 0;
		FILE *m = open_memstream(&ours, &len);

		assert_non_null(m);
		ruleset_print_bytecode(c->rs, m);
		fclose(m);
		assert_true(asprintf(&cmd, "nft --debug=netlink -c -f %s", script) > 0);
		theirs = run(cmd);
		if (!theirs) {
			print_error("%s: nft rejects our text\n", v[i].yaml);
			failed++;
		} else {
			char *a = normalise(ours), *b = normalise(theirs);
			assert_non_null(a);
			assert_non_null(b);
			/* guard against a normaliser that reads nothing */
			assert_true(count_substr(a, "\nrule ") + 1 >= c->nrules);
			if (strcmp(a, b) != 0) {
				char *fa = tmpfile_with(a), *fb = tmpfile_with(b), *dc = NULL, *diff;
				assert_true(asprintf(&dc, "diff -u %s %s; true", fb, fa) > 0);
				diff = run(dc);
				print_error("%s: bytecode differs from nft's (--- nft, +++ ours):\n%s\n",
					    v[i].yaml, diff ? diff : "");
				unlink(fa);
				unlink(fb);
				free(fa);
				free(fb);
				free(dc);
				free(diff);
				failed++;
			}
			free(a);
			free(b);
		}
		unlink(script);
		free(script);
		free(cmd);
		free(theirs);
		free(ours);
		compiled_free(c);
		diags_clear(&d);
		tagdb_free(tags);
	}
	golden_cases_free(v, n);
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_example_counts),
		cmocka_unit_test(test_nsg_order),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_dns_queue_ifaces),
		cmocka_unit_test(test_diag_empty_tag),
		cmocka_unit_test(test_diag_empty_deny),
		cmocka_unit_test(test_diag_unreached),
		cmocka_unit_test(test_diag_host_vip),
		cmocka_unit_test(test_diag_required_missing),
		cmocka_unit_test(test_region_resolution),
		cmocka_unit_test(test_bytecode_parity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
