#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *sev_name[] = {
	[DIAG_ERROR] = "error", [DIAG_WARNING] = "warning", [DIAG_NOTE] = "note",
};

void diags_add(struct diags *d, enum diag_severity sev, const char *file,
	       int line, int col, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		struct diag *nv = realloc(d->v, ncap * sizeof(*nv));
		if (!nv)
			goto oom;
		d->v = nv;
		d->cap = ncap;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		goto oom;
	d->v[d->n] = (struct diag){
		.sev = sev, .file = file ? strdup(file) : NULL,
		.line = line, .col = col, .msg = msg,
	};
	d->n++;
	if (sev == DIAG_ERROR)
		d->errors++;
	else if (sev == DIAG_WARNING)
		d->warnings++;
	return;
oom:
	/* Still counted: an out-of-memory parse must never look clean. */
	d->errors++;
}

static void diag_format(const struct diag *g, FILE *f)
{
	if (g->file && g->line > 0)
		fprintf(f, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col,
			sev_name[g->sev], g->msg);
	else if (g->file)
		fprintf(f, "%s: %s: %s\n", g->file, sev_name[g->sev], g->msg);
	else
		fprintf(f, "%s: %s\n", sev_name[g->sev], g->msg);
}

struct diag_sort {
	struct diag d;
	size_t file, seq;
};

static int diag_sort_cmp(const void *a, const void *b)
{
	const struct diag_sort *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->d.line != y->d.line)
		return x->d.line < y->d.line ? -1 : 1;
	if (x->d.col != y->d.col)
		return x->d.col < y->d.col ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

void diags_sort(struct diags *d, size_t from)
{
	size_t n = d->n > from ? d->n - from : 0;
	struct diag_sort *t;

	if (n < 2 || !(t = malloc(n * sizeof(*t))))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *f = d->v[from + i].file;
		size_t k = 0;
		while (k < i && !((!f && !t[k].d.file) ||
				  (f && t[k].d.file && strcmp(f, t[k].d.file) == 0)))
			k++;
		t[i] = (struct diag_sort){ .d = d->v[from + i], .file = k < i ? t[k].file : i, .seq = i };
	}
	qsort(t, n, sizeof(*t), diag_sort_cmp);
	for (size_t i = 0; i < n; i++)
		d->v[from + i] = t[i].d;
	free(t);
}

void diags_print(const struct diags *d, FILE *f)
{
	for (size_t i = 0; i < d->n; i++)
		diag_format(&d->v[i], f);
	if (d->errors > d->n)
		fprintf(f, "error: out of memory while collecting diagnostics\n");
}

char *diags_first_error(const struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].sev != DIAG_ERROR)
			continue;
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		if (!m)
			return NULL;
		diag_format(&d->v[i], m);
		fclose(m);
		if (len && buf[len - 1] == '\n')
			buf[len - 1] = '\0';
		return buf;
	}
	return NULL;
}

void diags_clear(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	*d = (struct diags){0};
}
