/* jsonutil — JSON strings from bytes that may not be UTF-8 (file names,
 * capture and dump contents, policy text): jansson refuses such text, and a
 * json_object_set_new(o, key, json_string(s)) then left the key out. */
#ifndef FILTERD_JSONUTIL_H
#define FILTERD_JSONUTIL_H

#include <stdlib.h>

#include <jansson.h>

#include "strbuf.h"

/* A JSON string of s, made valid UTF-8 first when it is not (U+FFFD for the
 * bytes that are not); NULL only when out of memory (or s is NULL). */
static inline json_t *jtext(const char *s)
{
	json_t *j = json_string(s);
	char *u;

	if (j || !s || !(u = utf8_lossy(s)))
		return j;
	j = json_string(u);
	free(u);
	return j;
}

#endif
