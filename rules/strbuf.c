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

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char b = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		len = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		if (b == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (b == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		if (b == 0xf0)
			lo = 0x90;	/* overlong */
		else if (b == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

void sb_put_utf8(struct strbuf *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0;

	while (run < n) {
		size_t k = utf8_seq(p + run, n - run);

		if (k) {
			run += k;
			continue;
		}
		sb_putn(sb, (const char *)p, run);
		sb_puts(sb, "\xef\xbf\xbd");	/* U+FFFD */
		p += run + 1;
		n -= run + 1;
		run = 0;
	}
	sb_putn(sb, (const char *)p, run);
}

void sb_put_json_body(struct strbuf *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		const unsigned char *q = p;
		while (q < e && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
			q++;
		sb_putn(sb, (const char *)p, (size_t)(q - p));
		if ((p = q) >= e)
			break;
		size_t k = utf8_seq(p, (size_t)(e - p));
		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };
			sb_putn(sb, esc, 2);
		} else if (*p < 0x20) {
			sb_printf(sb, "\\u%04x", *p);
		} else if (k) {
			sb_putn(sb, (const char *)p, k);
			p += k;
			continue;
		} else {
			sb_puts(sb, "\\ufffd");
		}
		p++;
	}
}

char *utf8_lossy(const char *s)
{
	struct strbuf sb = { 0 };

	sb_put_utf8(&sb, s, strlen(s));
	return sb_take(&sb);	/* "" for an empty s, NULL when out of memory */
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
