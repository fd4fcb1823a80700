/* fqdn_map — see fqdn_map.h. */
#include "fqdn_map.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_MAX_BYTES (64u * 1024 * 1024)
#define MAP_TTL_MAX 2147483647u

/* Checks and lower-cases a name; returns NULL or an error (static) and the
 * 0-based offset of the bad character in *at. */
static const char *check_name(char *s, size_t *at)
{
	size_t n = strlen(s), label = 0, i = 0;

	if (n && s[n - 1] == '.')
		s[--n] = '\0';
	*at = 0;
	if (!n)
		return "empty name";
	if (s[0] == '*') {
		if (s[1] != '.' || !s[2]) {
			*at = 1;
			return "a wildcard is written \"*.name\"";
		}
		i = 2;
	}
	if (n > 253) {
		*at = 253;
		return "name longer than 253 characters";
	}
	for (; i <= n; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0) {
				*at = i;
				return "empty label";
			}
			if (label > 63) {
				*at = i - label;
				return "label longer than 63 characters";
			}
			label = 0;
			continue;
		}
		if (c == '*') {
			*at = i;
			return "'*' only as the whole first label (\"*.name\")";
		}
		if (!isalnum((unsigned char)c) && c != '-' && c != '_') {
			*at = i;
			return "character not allowed in a name";
		}
		s[i] = (char)tolower((unsigned char)c);
		label++;
	}
	return NULL;
}

int fqdn_map_parse(const char *text, size_t len, const char *file, struct fqdn_map **out,
		   struct diags *d)
{
	struct fqdn_map *m = calloc(1, sizeof(*m));
	size_t errors0 = d->errors, cap = 0, pos = 0;
	int line = 0;

	*out = NULL;
	if (!m || !(m->file = strdup(file ? file : "-"))) {
		free(m);
		diags_add(d, DIAG_ERROR, file, 0, 0, "out of memory");
		return -1;
	}
	while (pos < len) {
		const char *eol = memchr(text + pos, '\n', len - pos);
		size_t ll = eol ? (size_t)(eol - (text + pos)) : len - pos;
		char buf[1024], *tok[4], *save = NULL;
		int col[4], nt = 0;

		line++;
		if (memchr(text + pos, '\0', ll)) {
			diags_add(d, DIAG_ERROR, file, line, 0, "NUL byte in the line");
			pos += ll + 1;
			continue;
		}
		if (ll >= sizeof(buf)) {
			diags_add(d, DIAG_ERROR, file, line, 1, "line longer than %zu bytes",
				  sizeof(buf) - 1);
			pos += ll + 1;
			continue;
		}
		memcpy(buf, text + pos, ll);
		buf[ll] = '\0';
		pos += ll + 1;
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		for (char *t = strtok_r(buf, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
			if (nt == 4) {
				nt++;
				break;
			}
			col[nt] = (int)(t - buf) + 1;
			tok[nt++] = t;
		}
		if (nt == 0)
			continue;
		if (nt == 1) {
			diags_add(d, DIAG_ERROR, file, line, col[0] + (int)strlen(tok[0]),
				  "expected \"name address [ttl]\": the address is missing");
			continue;
		}
		if (nt > 3) {
			diags_add(d, DIAG_ERROR, file, line, col[3],
				  "unexpected '%s' after \"name address [ttl]\"", tok[3]);
			continue;
		}
		struct fqdn_map_entry e = { .line = line };
		size_t at;
		const char *why = check_name(tok[0], &at);
		bool bad = false;

		if (why) {
			diags_add(d, DIAG_ERROR, file, line, col[0] + (int)at, "bad name '%s': %s",
				  tok[0], why);
			bad = true;
		}
		if (inet_pton(AF_INET, tok[1], e.addr) == 1) {
			e.family = AF_INET;
		} else if (inet_pton(AF_INET6, tok[1], e.addr) == 1) {
			e.family = AF_INET6;
		} else {
			diags_add(d, DIAG_ERROR, file, line, col[1],
				  "bad address '%s': expected an IPv4 or IPv6 address", tok[1]);
			bad = true;
		}
		if (nt == 3) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(tok[2], &end, 10);
			if (errno || *end || end == tok[2] || tok[2][0] == '-' || v > MAP_TTL_MAX) {
				diags_add(d, DIAG_ERROR, file, line, col[2],
					  "bad ttl '%s': expected seconds from 0 to %u", tok[2],
					  MAP_TTL_MAX);
				bad = true;
			}
			e.has_ttl = true;
			e.ttl = (uint32_t)v;
		}
		if (bad)
			continue;
		if (m->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct fqdn_map_entry *nv = realloc(m->v, nc * sizeof(*nv));

			if (!nv) {
				diags_add(d, DIAG_ERROR, file, line, 0, "out of memory");
				break;
			}
			m->v = nv;
			cap = nc;
		}
		e.name = strdup(tok[0]);
		if (!e.name) {
			diags_add(d, DIAG_ERROR, file, line, 0, "out of memory");
			break;
		}
		m->v[m->n++] = e;
	}
	if (d->errors > errors0) {
		fqdn_map_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

int fqdn_map_parse_file(const char *path, struct fqdn_map **out, struct diags *d)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	if (!f) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - n < 65536) {
			char *nb;

			if (cap >= MAP_MAX_BYTES) {
				diags_add(d, DIAG_ERROR, path, 0, 0, "larger than %u bytes",
					  MAP_MAX_BYTES);
				free(buf);
				fclose(f);
				return -1;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				diags_add(d, DIAG_ERROR, path, 0, 0, "out of memory");
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "read error: %s", strerror(errno));
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	rc = fqdn_map_parse(buf ? buf : "", n, path, out, d);
	free(buf);
	return rc;
}

void fqdn_map_free(struct fqdn_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].name);
	free(m->v);
	free(m->file);
	free(m);
}
