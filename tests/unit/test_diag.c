/* Unit tests for the small support modules rules/diag.c (located diagnostics)
 * and rules/strbuf.c (growable strings with sticky out-of-memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "strbuf.h"

static void test_order_and_counts(void **state)
{
	struct diags d = { 0 };
	char *text;

	(void)state;
	text = diags_text(&d);
	assert_string_equal(text, "");
	free(text);
	assert_null(diags_first_error(&d));

	diags_add(&d, DIAG_WARNING, "p.yaml", 3, 5, "first %s", "warning");
	diags_add(&d, DIAG_NOTE, "p.yaml", 4, 1, "a note");
	diags_add(&d, DIAG_ERROR, "p.yaml", 10, 7, "rule '%s': bad %d", "R1", 42);
	diags_add(&d, DIAG_ERROR, "other.yaml", 1, 1, "second error");
	diags_add(&d, DIAG_WARNING, NULL, 0, 0, "no location");
	assert_int_equal(d.n, 5);
	assert_int_equal(d.errors, 2);
	assert_int_equal(d.warnings, 2);	/* notes are not counted */
	/* kept in the order added, strings copied */
	assert_int_equal(d.v[0].sev, DIAG_WARNING);
	assert_string_equal(d.v[0].msg, "first warning");
	assert_string_equal(d.v[0].file, "p.yaml");
	assert_int_equal(d.v[0].line, 3);
	assert_int_equal(d.v[0].col, 5);
	assert_int_equal(d.v[2].sev, DIAG_ERROR);
	assert_string_equal(d.v[2].msg, "rule 'R1': bad 42");
	assert_null(d.v[4].file);

	text = diags_text(&d);
	assert_string_equal(text,
			    "p.yaml:3:5: warning: first warning\n"
			    "p.yaml:4:1: note: a note\n"
			    "p.yaml:10:7: error: rule 'R1': bad 42\n"
			    "other.yaml:1:1: error: second error\n"
			    "warning: no location\n");
	free(text);

	text = diags_first_error(&d);
	assert_non_null(text);
	assert_string_equal(text, "p.yaml:10:7: error: rule 'R1': bad 42");
	free(text);

	diags_clear(&d);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 0);
	assert_null(d.v);
	/* reusable after clear, and clearing twice is harmless */
	diags_add(&d, DIAG_NOTE, NULL, 0, 0, "again");
	assert_int_equal(d.n, 1);
	diags_clear(&d);
	diags_clear(&d);
}

static void test_locations(void **state)
{
	struct diags d = { 0 };
	char *text;

	(void)state;
	/* a file without a line prints as "file: severity: msg" */
	diags_add(&d, DIAG_ERROR, "tags.json", 0, 0, "no line");
	text = diags_first_error(&d);
	assert_string_equal(text, "tags.json: error: no line");
	free(text);
	diags_clear(&d);

	diags_add(&d, DIAG_ERROR, NULL, 7, 7, "no file");
	text = diags_first_error(&d);
	assert_string_equal(text, "error: no file");
	free(text);
	diags_clear(&d);

	/* only warnings: no first error */
	diags_add(&d, DIAG_WARNING, "w.yaml", 2, 3, "careful");
	assert_null(diags_first_error(&d));
	text = diags_text(&d);
	assert_string_equal(text, "w.yaml:2:3: warning: careful\n");
	free(text);
	diags_clear(&d);
}

static void test_many(void **state)
{
	struct diags d = { 0 };
	char *text;

	(void)state;
	/* beyond the first allocation */
	for (int i = 0; i < 1000; i++)
		diags_add(&d, i % 3 == 0 ? DIAG_ERROR : DIAG_WARNING, "f", i + 1, 1, "m%d", i);
	assert_int_equal(d.n, 1000);
	assert_int_equal(d.errors, 334);
	assert_int_equal(d.warnings, 666);
	assert_string_equal(d.v[999].msg, "m999");
	assert_int_equal(d.v[999].line, 1000);
	text = diags_first_error(&d);
	assert_string_equal(text, "f:1:1: error: m0");
	free(text);
	diags_clear(&d);

	/* a message with % and a long message survive as written */
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	diags_add(&d, DIAG_ERROR, "f", 1, 2, "%s %%d", big);
	assert_int_equal(strlen(d.v[0].msg), sizeof(big) - 1 + 3);
	assert_string_equal(d.v[0].msg + sizeof(big) - 1, " %d");
	diags_clear(&d);
}

/* ---- strbuf ------------------------------------------------------------ */

/* sb_put_utf8: valid sequences kept, every byte that does not start one
 * becomes U+FFFD (RFC 3629's table: no overlongs, surrogates or code points
 * past U+10FFFF; a cut sequence is replaced byte by byte). */
static void test_utf8(void **state)
{
	static const struct { const char *in, *out; } c[] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "caf\xe9", "caf\xef\xbf\xbd" },				/* Latin-1 */
		{ "\x80x", "\xef\xbf\xbdx" },					/* stray continuation */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },			/* overlong '/' */
		{ "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong, 3 bytes */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* > U+10FFFF */
		{ "a\xe2\x82", "a\xef\xbf\xbd\xef\xbf\xbd" },			/* cut at the end */
		{ "", "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		char *u = utf8_lossy(c[i].in);

		assert_non_null(u);
		assert_string_equal(u, c[i].out);
		free(u);
	}
}

static void test_strbuf(void **state)
{
	struct strbuf sb = { 0 };
	char *s;

	(void)state;
	assert_string_equal(sb_str(&sb), "");
	/* taking an empty buffer gives "", not NULL */
	s = sb_take(&sb);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	sb_puts(&sb, "table ");
	sb_printf(&sb, "%s %s {", "inet", "filterd");
	sb_puts(&sb, "");
	assert_string_equal(sb_str(&sb), "table inet filterd {");
	assert_int_equal(sb.n, strlen("table inet filterd {"));
	assert_false(sb.oom);

	/* growth across many doublings */
	for (int i = 0; i < 10000; i++)
		sb_printf(&sb, "%05d", i);
	assert_int_equal(sb.n, 20 + 50000);
	assert_int_equal(strlen(sb_str(&sb)), sb.n);
	assert_memory_equal(sb_str(&sb) + 20, "000000000100002", 15);
	assert_string_equal(sb_str(&sb) + sb.n - 5, "09999");

	s = sb_take(&sb);
	assert_non_null(s);
	assert_int_equal(strlen(s), 50020);
	free(s);
	/* sb is empty and reusable after take */
	assert_null(sb.s);
	assert_int_equal(sb.n, 0);
	sb_printf(&sb, "%d", 7);
	assert_string_equal(sb_str(&sb), "7");
	sb_free(&sb);
	assert_null(sb.s);
	sb_free(&sb);

	/* one big append */
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sb_puts(&sb, big);
	sb_puts(&sb, big);
	assert_int_equal(sb.n, 2 * (sizeof(big) - 1));
	sb_free(&sb);

	/* out of memory is sticky: appends are ignored, take returns NULL */
	sb_puts(&sb, "x");
	sb.oom = true;
	sb_puts(&sb, "more");
	sb_printf(&sb, "%s", "more");
	assert_string_equal(sb_str(&sb), "x");
	assert_null(sb_take(&sb));
	assert_null(sb.s);
	assert_false(sb.oom);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_counts),
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_strbuf),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
