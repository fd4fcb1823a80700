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
/* The n bytes at s with every byte that does not start a valid UTF-8
 * sequence (a stray continuation byte, a cut, overlong or surrogate
 * sequence, Latin-1 text) replaced by U+FFFD: XML and JSON outputs stay
 * well-formed whatever bytes a file name or an input file holds. */
void sb_put_utf8(struct strbuf *sb, const char *s, size_t n);
/* The n bytes at s as the inside of a JSON string: quotes, backslashes and
 * control characters escaped, bytes that are not valid UTF-8 as \ufffd. */
void sb_put_json_body(struct strbuf *sb, const char *s, size_t n);
/* A malloc'd copy of s made valid UTF-8 as sb_put_utf8 does; NULL: no memory. */
char *utf8_lossy(const char *s);
/* Returns the string (never NULL unless oom) and leaves sb empty. */
char *sb_take(struct strbuf *sb);
void sb_free(struct strbuf *sb);
static inline const char *sb_str(const struct strbuf *sb) { return sb->s ? sb->s : ""; }

#endif
