/* Names a client gives that filterd prints in log lines, status and the
 * audit log (an apply's policy_name, an hbi-clear workspace): the one rule
 * of what they may hold, for the daemon that refuses them (d_req.c) and for
 * filterctl, which replaces what would be refused in a path it sends. */
#ifndef FILTERD_LABEL_H
#define FILTERD_LABEL_H

#include <stddef.h>

#define LABEL_MAX 1024	/* bytes: a policy's path */

/* 0 when the character at p may stand in a label, else the bytes of the
 * character that may not: a C0 control, DEL, '"' or '\\' (the log quotes
 * values), a C1 control as UTF-8 encodes it (terminal escapes), or the
 * Unicode line separators and bidi controls (U+2028/2029, U+061C,
 * U+200E/200F, U+202A..202E, U+2066..2069), which reorder or break a status
 * or log line. */
static inline size_t label_bad_char(const unsigned char *p)
{
	if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
		return 1;
	if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		return 2;
	if (p[0] == 0xe2 && p[1] == 0x80 &&
	    (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae)))
		return 3;	/* U+200E/200F, U+2028/2029, U+202A..202E */
	if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
		return 3;	/* U+2066..2069 */
	if (p[0] == 0xd8 && p[1] == 0x9c)
		return 2;	/* U+061C, the Arabic letter mark */
	return 0;
}

#endif
