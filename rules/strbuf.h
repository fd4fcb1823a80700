/* strbuf — a growable string; allocation failure is sticky (sb->oom) and checked
 * once by the owner instead of after every append. */
#ifndef FILTERD_STRBUF_H
#define FILTERD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *s;
	size_t n, cap;
	bool oom;
};

void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_puts(struct strbuf *sb, const char *s);
/* The n bytes at s (no NUL among them needed). */
void sb_putn(struct strbuf *sb, const char *s, size_t n);
/* Returns the string (never NULL unless oom) and leaves sb empty. */
char *sb_take(struct strbuf *sb);
void sb_free(struct strbuf *sb);
static inline const char *sb_str(const struct strbuf *sb) { return sb->s ? sb->s : ""; }

#endif
