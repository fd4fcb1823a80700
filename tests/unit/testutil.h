/* Helpers shared by the cmocka tests (each test_*.c is one translation unit;
 * include after <cmocka.h>).  static inline: a test that does not use one gets
 * no unused-function warning. */
#ifndef FILTERD_TESTUTIL_H
#define FILTERD_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "diag.h"
#include "prefix.h"

/* The whole file as a string (NUL-terminated), or NULL when it cannot be read. */
static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	char chunk[4096];
	size_t r;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	if (!m) {
		fclose(f);
		return NULL;
	}
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, r, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Writes text to path (golden updates); fails the test when it cannot. */
static inline void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* What diags_print() prints, as a string the caller frees.  (noinline:
 * inlined, gcc 12 takes the memstream's buffer for a dangling local) */
__attribute__((noinline, unused)) static char *diags_text(const struct diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	diags_print(d, m);
	fclose(m);
	return buf;
}

/* A pset as interval_format() writes its intervals, ", "-separated; the
 * caller frees it. */
static inline char *pset_text(const struct pset *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char iv[2 * INET6_ADDRSTRLEN + 2];

	assert_non_null(m);
	for (size_t i = 0; i < s->n; i++) {
		interval_format(s->family, &s->v[i], iv, sizeof(iv));
		fprintf(m, "%s%s", i ? ", " : "", iv);
	}
	fclose(m);
	return buf;
}

static inline void assert_pset_text(const struct pset *s, const char *want)
{
	char *got = pset_text(s);

	if (strcmp(got, want) != 0)
		print_error("expected: %s\nactual:   %s\n", want, got);
	assert_string_equal(got, want);
	free(got);
}

#endif
