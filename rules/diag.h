/* diag — located diagnostics ("file:line:col: severity: message").
 *
 * Parsers and semantic passes collect every problem into a struct diags, then the
 * caller decides (nothing is ever applied from a file with an error).  Library code
 * never prints on its own: callers hand the list to diags_print(). */
#ifndef FILTERD_DIAG_H
#define FILTERD_DIAG_H

#include <stdio.h>
#include <stddef.h>

enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE };

struct diag {
	enum diag_severity sev;
	char *file;		/* owned copy, may be NULL */
	int line, col;		/* 1-based; 0 = unknown */
	char *msg;		/* owned */
};

struct diags {
	struct diag *v;
	size_t n, cap;
	size_t errors, warnings;
};

/* Appends one diagnostic; strings are copied.  Out of memory is reported once as an
 * error without location so that a failure never passes as success. */
void diags_add(struct diags *d, enum diag_severity sev, const char *file,
	       int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void diags_print(const struct diags *d, FILE *f);
/* Sorts the diagnostics from index from on, stably, into file order: by
 * file (in the order the files first appear), line and column; a file-level
 * one (line 0) first.  Passes report by kind (unknown keys, then values, then
 * cross-checks, then the compiler's), which is harder to read.  Without
 * memory they stay as they are. */
void diags_sort(struct diags *d, size_t from);
/* "file:line:col: error: msg" of the first error, or NULL. Caller frees. */
char *diags_first_error(const struct diags *d);
void diags_clear(struct diags *d);

#endif
