/* Unit tests for rules/servicetags.c: loading ServiceTags_Public_*.json, lookups,
 * "did you mean" suggestions and the exact text of every load error.
 *
 * Run from the repository root.  The real tags files in
 * ../shared/data/servicetags are used when present, skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "servicetags.h"
#include "testutil.h"

#define TAGS_FILE	"examples/servicetags.json"
#define REAL_DIR	"../shared/data/servicetags/"
#define REAL_0415	REAL_DIR "ServiceTags_Public_20240415.json"
#define REAL_0506	REAL_DIR "ServiceTags_Public_20240506.json"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct tagdb *load(const char *path)
{
	char err[512] = "";
	struct tagdb *db = tagdb_load(path, err, sizeof(err));

	if (!db)
		print_error("%s\n", err);
	assert_non_null(db);
	return db;
}

static struct addr A(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.b) != 1)
		assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return a;
}

/* ---- the shipped synthetic file ---------------------------------------- */

static void test_load_example(void **state)
{
	struct tagdb *db = load(TAGS_FILE);
	const struct service_tag *t;

	(void)state;
	assert_string_equal(db->path, TAGS_FILE);
	assert_string_equal(db->cloud, "Public");
	assert_int_equal(db->change_number, 1);
	assert_int_equal(db->n, 14);
	assert_int_equal(db->total_prefixes, 30);
	/* sorted by case-folded name */
	for (size_t i = 1; i < db->n; i++)
		assert_true(strcasecmp(db->tags[i - 1].name, db->tags[i].name) < 0);

	/* found whatever the case, returned as the file spells it */
	static const char *const spellings[] = {
		"Storage.EastUS", "storage.eastus", "STORAGE.EASTUS", "sToRaGe.EaStUs",
	};
	for (size_t i = 0; i < N(spellings); i++) {
		t = tagdb_find(db, spellings[i]);
		assert_non_null(t);
		assert_string_equal(t->name, "Storage.EastUS");
	}
	assert_int_equal(t->change_number, 2);
	assert_int_equal(t->nprefixes, 2);
	assert_string_equal(t->region, "eastus");
	assert_string_equal(t->system_service, "AzureStorage");
	assert_int_equal(t->v4.family, AF_INET);
	assert_int_equal(t->v6.family, AF_INET6);
	assert_pset_text(&t->v4, "198.51.100.0/26");
	assert_pset_text(&t->v6, "2001:db8:3::/56");

	t = tagdb_find(db, "azurecloud.EASTUS");
	assert_non_null(t);
	assert_string_equal(t->name, "AzureCloud.eastus");
	assert_int_equal(t->change_number, 2);
	assert_int_equal(t->nprefixes, 7);
	assert_string_equal(t->system_service, "");
	assert_pset_text(&t->v4, "192.0.2.16/29, 192.0.2.80/29, 192.0.2.112/29, "
				 "198.51.100.0/26, 198.51.100.192/26");
	assert_pset_text(&t->v6, "2001:db8:3::/56, 2001:db8:ee::/48");
	struct addr a = A("192.0.2.87");
	assert_true(pset_contains(&t->v4, &a));
	a = A("192.0.2.88");
	assert_false(pset_contains(&t->v4, &a));

	/* a tag without IPv6 prefixes */
	t = tagdb_find(db, "AzureKeyVault.EastUS");
	assert_non_null(t);
	assert_int_equal(t->v4.n, 1);
	assert_int_equal(t->v6.n, 0);

	t = tagdb_find(db, "AzureMachineLearning");
	assert_non_null(t);
	assert_int_equal(t->change_number, 3);
	assert_string_equal(t->region, "");

	/* not found */
	assert_null(tagdb_find(db, "Storage.WestUS"));
	assert_null(tagdb_find(db, "Storage.EastUS "));
	assert_null(tagdb_find(db, "Storage.EastU"));
	assert_null(tagdb_find(db, ""));
	assert_null(tagdb_find(db, "Internet"));
	assert_null(tagdb_find(db, "VirtualNetwork"));
	tagdb_free(db);
	tagdb_free(NULL);
}

static void test_suggest(void **state)
{
	struct tagdb *db = load(TAGS_FILE);

	(void)state;
	assert_string_equal(tagdb_suggest(db, "AzureMachineLerning"), "AzureMachineLearning");
	assert_string_equal(tagdb_suggest(db, "azuremachinelearning"), "AzureMachineLearning");
	assert_string_equal(tagdb_suggest(db, "AzureMachinLearnig"), "AzureMachineLearning");
	assert_string_equal(tagdb_suggest(db, "Storge"), "Storage");
	assert_string_equal(tagdb_suggest(db, "Storage.EastUs2"), "Storage.EastUS");
	assert_string_equal(tagdb_suggest(db, "BatchNodeManagment"), "BatchNodeManagement");
	assert_string_equal(tagdb_suggest(db, "AzureKeyVault.EastU"), "AzureKeyVault.EastUS");
	/* nothing reasonably close */
	assert_null(tagdb_suggest(db, "xyzzy"));
	assert_null(tagdb_suggest(db, "Nonsense.Tag.Name"));
	assert_null(tagdb_suggest(db, "SqlManagement"));
	assert_null(tagdb_suggest(db, "Sql"));
	tagdb_free(db);

	/* an empty database suggests nothing */
	char err[256];
	static const char empty[] = "{\"changeNumber\": 5, \"values\": []}";
	db = tagdb_load_buffer("e.json", empty, strlen(empty), err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(db->n, 0);
	assert_int_equal(db->change_number, 5);
	assert_string_equal(db->cloud, "");
	assert_null(tagdb_suggest(db, "Storage"));
	assert_null(tagdb_find(db, "Storage"));
	tagdb_free(db);
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(edit_distance_ci("", ""), 0);
	assert_int_equal(edit_distance_ci("", "abc"), 3);
	assert_int_equal(edit_distance_ci("abc", ""), 3);
	assert_int_equal(edit_distance_ci("ABC", "abc"), 0);
	assert_int_equal(edit_distance_ci("kitten", "sitting"), 3);
	assert_int_equal(edit_distance_ci("flaw", "lawn"), 2);
	assert_int_equal(edit_distance_ci("Storage", "storge"), 1);
	/* no transposition shortcut: a swap costs two */
	assert_int_equal(edit_distance_ci("ab", "ba"), 2);
	assert_int_equal(edit_distance_ci("AzureMachineLerning", "AzureMachineLearning"), 1);
	/* symmetric */
	assert_int_equal(edit_distance_ci("sitting", "kitten"), 3);
}

/* Prefixes of one tag are split by family and merged; nprefixes counts them as
 * listed, total_prefixes sums over the tags. */
static void test_merging(void **state)
{
	static const char text[] =
		"{\"changeNumber\": 42, \"cloud\": \"Public\", \"values\": [\n"
		" {\"name\": \"Zeta\", \"properties\": {\"changeNumber\": 7, \"region\": \"westus\",\n"
		"   \"addressPrefixes\": [\"10.0.1.0/24\", \"2001:db8::/33\", \"10.0.0.0/24\",\n"
		"      \"10.0.0.128/25\", \"2001:db8:8000::/33\", \"10.0.3.0/24\", \"10.0.2.1/24\"]}},\n"
		" {\"name\": \"alpha\", \"properties\": {\"addressPrefixes\": []}},\n"
		" {\"name\": \"Beta\", \"properties\": {\"addressPrefixes\": [\"fd00::1\", \"fd00::/127\"]}}\n"
		"]}\n";
	char err[256] = "";
	struct tagdb *db = tagdb_load_buffer("m.json", text, strlen(text), err, sizeof(err));
	const struct service_tag *t;

	(void)state;
	if (!db)
		print_error("%s\n", err);
	assert_non_null(db);
	assert_string_equal(db->path, "m.json");
	assert_int_equal(db->change_number, 42);
	assert_int_equal(db->n, 3);
	assert_int_equal(db->total_prefixes, 9);
	assert_string_equal(db->tags[0].name, "alpha");
	assert_string_equal(db->tags[1].name, "Beta");
	assert_string_equal(db->tags[2].name, "Zeta");

	t = tagdb_find(db, "zeta");
	assert_non_null(t);
	assert_int_equal(t->nprefixes, 7);
	assert_int_equal(t->change_number, 7);
	assert_string_equal(t->region, "westus");
	/* 10.0.2.1/24 has host bits: loaded as its network */
	assert_pset_text(&t->v4, "10.0.0.0/22");
	assert_pset_text(&t->v6, "2001:db8::/32");

	t = tagdb_find(db, "ALPHA");
	assert_non_null(t);
	assert_int_equal(t->nprefixes, 0);
	assert_int_equal(t->v4.n, 0);
	assert_int_equal(t->v6.n, 0);
	assert_int_equal(t->change_number, 0);

	t = tagdb_find(db, "beta");
	assert_non_null(t);
	assert_int_equal(t->v4.n, 0);
	assert_pset_text(&t->v6, "fd00::/127");
	tagdb_free(db);
}

/* ---- errors ------------------------------------------------------------ */

struct bad {
	const char *text;
	const char *err;
};

static void test_bad_buffers(void **state)
{
	static const struct bad cases[] = {
		{ "", "b.json:1:1: invalid JSON: '[' or '{' expected near end of file" },
		{ "not json", "b.json:1:3: invalid JSON: '[' or '{' expected near 'not'" },
		{ "{\"changeNumber\": 1,\n \"values\": [\n  {\"name\": \"X\",,}]}",
		  "b.json:3:16: invalid JSON: string or '}' expected near ','" },
		/* truncated */
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"X\", \"properties\": {\"address",
		  "b.json:1:68: invalid JSON: premature end of input near '\"address'" },
		{ "{\"changeNumber\": 1, \"values\": [",
		  "b.json:1:31: invalid JSON: ']' expected near end of file" },
		{ "{\"a\": 1, \"a\": 2}",
		  "b.json:1:12: invalid JSON: duplicate object key near '\"a\"'" },
		/* structure */
		{ "[]", "b.json: top level is not a JSON object" },
		{ "{}", "b.json: missing integer 'changeNumber' at top level" },
		{ "{\"changeNumber\": \"1\", \"values\": []}",
		  "b.json: missing integer 'changeNumber' at top level" },
		{ "{\"changeNumber\": 1}", "b.json: missing array 'values' at top level" },
		{ "{\"changeNumber\": 1, \"values\": {}}",
		  "b.json: missing array 'values' at top level" },
		{ "{\"changeNumber\": 1, \"values\": [{\"properties\": {\"addressPrefixes\": []}}]}",
		  "b.json: values[0]: needs 'name' and 'properties'" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"A\", \"properties\": {\"addressPrefixes\": []}},"
		  " {\"name\": \"\", \"properties\": {\"addressPrefixes\": []}}]}",
		  "b.json: values[1]: needs 'name' and 'properties'" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": 5, \"properties\": {}}]}",
		  "b.json: values[0]: needs 'name' and 'properties'" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"A\"}]}",
		  "b.json: values[0]: needs 'name' and 'properties'" },
		{ "{\"changeNumber\": 1, \"values\": [\"A\"]}",
		  "b.json: values[0]: needs 'name' and 'properties'" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"Storage\", \"properties\": {}}]}",
		  "b.json: tag Storage: 'addressPrefixes' is not an array" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"Storage\", \"properties\": "
		  "{\"addressPrefixes\": \"10.0.0.0/8\"}}]}",
		  "b.json: tag Storage: 'addressPrefixes' is not an array" },
		/* bad prefixes name the tag and the index */
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"Storage\", \"properties\": "
		  "{\"addressPrefixes\": [\"10.0.0.0/8\", \"10.0.0.0/33\"]}}]}",
		  "b.json: tag Storage: addressPrefixes[1]: '10.0.0.0/33': prefix length must be 0..32" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"AzureCloud\", \"properties\": "
		  "{\"addressPrefixes\": [\"2001:db8::/32\", \"::1\", \"2001:db8:::/48\"]}}]}",
		  "b.json: tag AzureCloud: addressPrefixes[2]: '2001:db8:::/48' is not an IP address or CIDR" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"Storage\", \"properties\": "
		  "{\"addressPrefixes\": [10]}}]}",
		  "b.json: tag Storage: addressPrefixes[0]: not a string" },
		{ "{\"changeNumber\": 1, \"values\": [{\"name\": \"Storage\", \"properties\": "
		  "{\"addressPrefixes\": [\"10.0.0.0/\"]}}]}",
		  "b.json: tag Storage: addressPrefixes[0]: '10.0.0.0/': prefix length is not a number" },
		/* duplicates */
		{ "{\"changeNumber\": 1, \"values\": ["
		  "{\"name\": \"Storage\", \"properties\": {\"addressPrefixes\": []}},"
		  "{\"name\": \"AzureCloud\", \"properties\": {\"addressPrefixes\": []}},"
		  "{\"name\": \"Storage\", \"properties\": {\"addressPrefixes\": [\"10.0.0.0/8\"]}}]}",
		  "b.json: tag 'Storage' appears twice" },
	};

	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char err[512] = "";
		struct tagdb *db = tagdb_load_buffer("b.json", cases[i].text, strlen(cases[i].text),
						     err, sizeof(err));
		if (db || strcmp(err, cases[i].err) != 0) {
			print_error("case %zu: %s\n  expected: %s\n  actual:   %s\n", i, cases[i].text,
				    cases[i].err, db ? "(loaded)" : err);
			failed++;
		}
		tagdb_free(db);
	}
	assert_int_equal(failed, 0);
}

static void test_duplicate_case(void **state)
{
	/* names differing only in case are the same tag */
	static const char text[] =
		"{\"changeNumber\": 1, \"values\": ["
		"{\"name\": \"Storage.EastUS\", \"properties\": {\"addressPrefixes\": []}},"
		"{\"name\": \"storage.eastus\", \"properties\": {\"addressPrefixes\": []}}]}";
	char err[256] = "";

	(void)state;
	assert_null(tagdb_load_buffer("d.json", text, strlen(text), err, sizeof(err)));
	assert_true(!strcmp(err, "d.json: tag 'Storage.EastUS' appears twice") ||
		    !strcmp(err, "d.json: tag 'storage.eastus' appears twice"));
}

static void test_bad_paths(void **state)
{
	char err[512] = "";
	char path[] = "/tmp/test_servicetags_XXXXXX";
	int fd;

	(void)state;
	assert_null(tagdb_load("tests/data/servicetags/does-not-exist.json", err, sizeof(err)));
	assert_string_equal(err, "tests/data/servicetags/does-not-exist.json: No such file or directory");
	assert_null(tagdb_load("tests", err, sizeof(err)));
	assert_string_equal(err, "tests: read error: Is a directory");

	/* a file on disk is read whole; errors carry its path */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"changeNumber\": 1,\n\"values\": [}\n", 33), 33);
	close(fd);
	assert_null(tagdb_load(path, err, sizeof(err)));
	{
		char want[256];
		snprintf(want, sizeof(want), "%s:2:12: invalid JSON: unexpected token near '}'", path);
		assert_string_equal(err, want);
	}
	unlink(path);

	/* a short error buffer is truncated, never overrun */
	char small[12];
	assert_null(tagdb_load("tests/data/servicetags/does-not-exist.json", small, sizeof(small)));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* ---- the real files ---------------------------------------------------- */

static void check_real(const char *path, long change, size_t total, long azcloud_change,
		       size_t azcloud_v6)
{
	struct tagdb *db;
	const struct service_tag *t;
	struct addr a;

	if (access(path, R_OK) != 0) {
		print_message("skipping: %s not present\n", path);
		skip();
	}
	db = load(path);
	assert_int_equal(db->change_number, change);
	assert_string_equal(db->cloud, "Public");
	assert_int_equal(db->n, 2601);
	assert_int_equal(db->total_prefixes, total);
	for (size_t i = 1; i < db->n; i++)
		assert_true(strcasecmp(db->tags[i - 1].name, db->tags[i].name) < 0);

	t = tagdb_find(db, "storage.eastus");
	assert_non_null(t);
	assert_string_equal(t->name, "Storage.EastUS");
	assert_int_equal(t->change_number, 34);
	assert_int_equal(t->nprefixes, 102);
	assert_string_equal(t->region, "eastus");
	assert_int_equal(t->v4.n, 82);
	assert_int_equal(t->v6.n, 1);
	/* figures from Python's ipaddress.collapse_addresses */
	assert_int_equal(pset_count_prefixes(&t->v4), 97);
	assert_int_equal(pset_count_prefixes(&t->v6), 5);
	a = A("13.68.163.32");
	assert_true(pset_contains(&t->v4, &a));
	a = A("13.68.163.47");
	assert_true(pset_contains(&t->v4, &a));
	a = A("2603:1030:213::1");
	assert_true(pset_contains(&t->v6, &a));
	a = A("192.0.2.1");
	assert_false(pset_contains(&t->v4, &a));

	t = tagdb_find(db, "AzureCloud.EastUS");
	assert_non_null(t);
	assert_string_equal(t->name, "AzureCloud.eastus");
	assert_int_equal(t->change_number, azcloud_change);
	assert_int_equal(t->nprefixes, 425);
	assert_int_equal(t->v4.n, 336);
	assert_int_equal(t->v6.n, azcloud_v6);
	a = A("4.156.0.0");
	assert_true(pset_contains(&t->v4, &a));
	a = A("4.157.255.255");
	assert_true(pset_contains(&t->v4, &a));

	t = tagdb_find(db, "AzureMachineLearning");
	assert_non_null(t);
	assert_int_equal(t->nprefixes, 305);
	assert_string_equal(tagdb_suggest(db, "AzureMachineLerning"), "AzureMachineLearning");
	tagdb_free(db);
}

static void test_real_20240415(void **state)
{
	(void)state;
	check_real(REAL_0415, 302, 75356, 124, 38);
}

static void test_real_20240506(void **state)
{
	(void)state;
	check_real(REAL_0506, 305, 76793, 127, 39);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_example),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_merging),
		cmocka_unit_test(test_bad_buffers),
		cmocka_unit_test(test_duplicate_case),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_real_20240415),
		cmocka_unit_test(test_real_20240506),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
