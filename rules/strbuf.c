#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool sb_reserve(struct strbuf *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (sb->n + extra + 1 <= sb->cap)
		return true;
	size_t ncap = sb->cap ? sb->cap : 256;
	while (ncap < sb->n + extra + 1)
		ncap *= 2;
	char *ns = realloc(sb->s, ncap);
	if (!ns) {
		sb->oom = true;
		return false;
	}
	sb->s = ns;
	sb->cap = ncap;
	return true;
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0 || !sb_reserve(sb, (size_t)len))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->n, (size_t)len + 1, fmt, ap);
	va_end(ap);
	sb->n += (size_t)len;
}

void sb_putn(struct strbuf *sb, const char *s, size_t n)
{
	if (!sb_reserve(sb, n))
		return;
	memcpy(sb->s + sb->n, s, n);
	sb->n += n;
	sb->s[sb->n] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

char *sb_take(struct strbuf *sb)
{
	char *s;

	if (sb->oom) {
		sb_free(sb);
		return NULL;
	}
	s = sb->s ? sb->s : strdup("");
	*sb = (struct strbuf){0};
	return s;
}

void sb_free(struct strbuf *sb)
{
	free(sb->s);
	*sb = (struct strbuf){0};
}
