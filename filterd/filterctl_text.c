/* filterctl: what filterd answers is shown on an operator's terminal, and
 * parts of it come from other users (a rejected policy's text in an error, an
 * audit record's detail).  Control characters there could move the cursor,
 * retitle the window, hide the rest of a line or forge whole lines, so every
 * string of an answer is made inert before it is printed as text. */
#include "filterctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ctl_raw_answer;

/* Whether code point c, valid UTF-8 decoded, must not reach a terminal: C1
 * controls (U+0080..U+009F; CSI is U+009B), the line and paragraph
 * separators, the bidirectional embeddings, overrides, isolates and marks
 * that reorder what follows them on the line, and the invisible ones (soft
 * hyphen, zero-width space and joiners, BOM) that hide a difference. */
static bool cp_unsafe(unsigned c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0xad || c == 0x61c || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

char *text_safe(const char *s, bool keep_newlines)
{
	return text_safen(s, strlen(s), keep_newlines);
}

char *text_safen(const char *s, size_t n, bool keep_newlines)
{
	char *out = malloc(n * 8 + 1), *o = out;	/* worst case: \u{NNNN} for 3 bytes */
	const unsigned char *end = (const unsigned char *)s + n;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; p < end;) {
		unsigned c = *p;
		size_t len = 1;
		if (c >= 0xc0 && c < 0xe0 && end - p >= 2 && (p[1] & 0xc0) == 0x80) {
			c = (c & 0x1f) << 6 | (p[1] & 0x3f);
			len = 2;
		} else if (c >= 0xe0 && c < 0xf0 && end - p >= 3 && (p[1] & 0xc0) == 0x80 &&
			   (p[2] & 0xc0) == 0x80) {
			c = (c & 0x0f) << 12 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			len = 3;
		}
		if (c == '\n' && !keep_newlines)
			o += sprintf(o, "\\n");
		else if (c == '\r')
			o += sprintf(o, "\\r");
		else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			o += sprintf(o, "\\x%02x", c);
		else if (len > 1 && cp_unsafe(c))
			o += sprintf(o, "\\u{%04X}", c);
		else {
			memcpy(o, p, len);
			o += len;
		}
		p += len;
	}
	*o = 0;
	return out;
}

/* Members whose text is several lines by nature. */
static bool multiline_key(const char *k)
{
	return k && (!strcmp(k, "diagnostics") || !strcmp(k, "metrics") || !strcmp(k, "output"));
}

static json_t *safe_string(json_t *v, const char *key)
{
	/* the whole string: a NUL in it (JSON_ALLOW_NUL) is shown, not an end */
	char *t = text_safen(json_string_value(v), json_string_length(v), multiline_key(key));
	json_t *r = t ? json_string(t) : NULL;
	free(t);
	return r ? r : json_string("");
}

void text_tree(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v) {
			if (json_is_string(v))
				json_object_set_new(j, k, safe_string(v, k));
			else
				text_tree(v);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if (json_is_string(v))
				json_array_set_new(j, i, safe_string(v, NULL));
			else
				text_tree(v);
		}
	}
}
