/* expect — parser and matcher of pcap-replay's expectation file (see expect.h). */
#include "expect.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#define MAX_TOKENS 32

struct token {
	const char *s;		/* not NUL-terminated */
	size_t len;
	int col;		/* 1-based */
};

/* One line being parsed: where diagnostics go and what names resolve to. */
struct lctx {
	const char *file;
	int line;
	int endcol;		/* column just past the last token (for "missing ...") */
	const struct expect_env *env;
	struct diags *d;
	int errors;
};

static void err_at(struct lctx *c, int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_at(struct lctx *c, int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_add(c->d, DIAG_ERROR, c->file, c->line, col, "%s", msg);
	c->errors++;
}

static bool tok_is(const struct token *t, const char *word)
{
	return t->len == strlen(word) && strncasecmp(t->s, word, t->len) == 0;
}

static char *tok_dup(const struct token *t)
{
	return strndup(t->s, t->len);
}

const char *expect_verdict_name(enum expect_verdict v)
{
	return v == EXPECT_ALLOW ? "allow" : "deny";
}

const char *expect_dir_name(enum expect_dir d)
{
	return d == EXPECT_IN ? "in" : "out";
}

static const char *const proto_names[] = {
	[EXPECT_PROTO_ANY] = "any", [EXPECT_PROTO_TCP] = "tcp", [EXPECT_PROTO_UDP] = "udp",
	[EXPECT_PROTO_ICMP] = "icmp", [EXPECT_PROTO_ICMPV6] = "icmpv6",
	[EXPECT_PROTO_ESP] = "esp", [EXPECT_PROTO_AH] = "ah", [EXPECT_PROTO_SCTP] = "sctp",
	[EXPECT_PROTO_GRE] = "gre", [EXPECT_PROTO_DCCP] = "dccp", [EXPECT_PROTO_UDPLITE] = "udplite",
};

const char *expect_proto_name(enum expect_proto p)
{
	return (size_t)p < sizeof(proto_names) / sizeof(*proto_names) ? proto_names[p] : "?";
}

static void side_free(struct expect_side *s)
{
	free(s->text);
	pset_free(&s->v4);
	pset_free(&s->v6);
	portspec_free(&s->ports);
}

void expect_free(struct expect *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].text);
		side_free(&e->v[i].from);
		side_free(&e->v[i].to);
	}
	free(e->v);
	free(e->file);
	free(e);
}

/* Resolves SPEC into s.  Errors are reported at the token. */
static int parse_spec(struct lctx *c, const struct token *t, struct expect_side *s)
{
	char *w = tok_dup(t);
	int rc = -1;

	if (!w) {
		err_at(c, t->col, "out of memory");
		return -1;
	}
	s->text = w;
	pset_init(&s->v4, AF_INET);
	pset_init(&s->v6, AF_INET6);
	if (strcasecmp(w, "any") == 0 || strcmp(w, "*") == 0) {
		s->kind = EXPECT_SPEC_ANY;
		rc = 0;
	} else if (strncasecmp(w, "tag:", 4) == 0) {
		const struct service_tag *tag = NULL;
		const char *name = w + 4;
		size_t nl = strlen(name);
		/* NAME.region: the policy's regional tag, as the policy resolves it */
		bool regional = nl > 7 && !strcasecmp(name + nl - 7, ".region");

		s->kind = EXPECT_SPEC_TAG;
		if (c->env && c->env->tags && *name) {
			if (regional && c->env->region) {
				char base[128];
				snprintf(base, sizeof(base), "%.*s", (int)(nl - 7), name);
				tag = tagdb_find_regional(c->env->tags, base, c->env->region);
			} else if (!regional) {
				tag = tagdb_find(c->env->tags, name);
			}
		}
		if (!*name) {
			err_at(c, t->col + 4, "'tag:' needs a service tag name");
		} else if (!c->env || !c->env->tags) {
			err_at(c, t->col, "'%s' needs the service tags file (--tags)", w);
		} else if (regional && !c->env->region) {
			err_at(c, t->col + 4, "'%s' needs the policy's region (--policy with 'region:')", name);
		} else if (regional && !tag) {
			err_at(c, t->col + 4, "unknown service tag '%.*s.%s' (from '%s')", (int)(nl - 7), name,
			       c->env->region, name);
		} else if (!tag) {
			const char *sug = tagdb_suggest(c->env->tags, name);

			if (!strcasecmp(name, "VirtualNetwork") || !strcasecmp(name, "Internet") ||
			    !strcasecmp(name, "AzureLoadBalancer"))
				/* the policy's pseudo-tags are no tags of the file */
				err_at(c, t->col + 4, "'%s' is a pseudo-tag, not in the tags file: "
				       "write %s", name, !strcasecmp(name, "Internet") ? "internet"
				       : !strcasecmp(name, "VirtualNetwork") ? "vnet"
				       : "168.63.129.16");
			else if (sug)
				err_at(c, t->col + 4, "unknown service tag '%s' (did you mean '%s'?)",
				       name, sug);
			else
				err_at(c, t->col + 4, "unknown service tag '%s'", name);
		} else if (pset_copy(&s->v4, &tag->v4) < 0 || pset_copy(&s->v6, &tag->v6) < 0) {
			err_at(c, t->col, "out of memory");
		} else {
			if (tag->v4.n == 0 && tag->v6.n == 0)
				diags_add(c->d, DIAG_WARNING, c->file, c->line, t->col,
					  "service tag '%s' has no prefixes: matches no flow",
					  tag->name);
			rc = 0;
		}
	} else if (strcasecmp(w, "vnet") == 0 || strcasecmp(w, "VirtualNetwork") == 0) {
		s->kind = EXPECT_SPEC_VNET;
		if (!c->env || (!c->env->vnet4 && !c->env->vnet6))
			err_at(c, t->col, "'%s' needs the policy's address space (--policy, or --vnet "
			       "with --ruleset)", w);
		else if ((c->env->vnet4 && pset_copy(&s->v4, c->env->vnet4) < 0) ||
			 (c->env->vnet6 && pset_copy(&s->v6, c->env->vnet6) < 0))
			err_at(c, t->col, "out of memory");
		else
			rc = 0;
	} else if (strcasecmp(w, "internet") == 0) {
		s->kind = EXPECT_SPEC_INTERNET;
		pset_free(&s->v4);
		pset_free(&s->v6);
		if (pset_internet(c->env ? c->env->vnet4 : NULL, c->env ? c->env->vnet6 : NULL,
				    &s->v4, &s->v6) < 0) {
			pset_init(&s->v4, AF_INET);
			pset_init(&s->v6, AF_INET6);
			err_at(c, t->col, "out of memory");
		} else {
			rc = 0;
		}
	} else {
		struct prefix pf;
		bool host_bits = false;
		char err[128];

		s->kind = EXPECT_SPEC_CIDR;
		if (prefix_parse(w, &pf, &host_bits, err, sizeof(err)) < 0) {
			if (c->env && c->env->tags && tagdb_find(c->env->tags, w))
				err_at(c, t->col, "bad address spec '%s': a service tag is written "
				       "tag:%s", w, w);
			else
				err_at(c, t->col, "bad address spec '%s' (%s); expected any, an address, "
				       "a CIDR, tag:NAME, vnet or internet", w, err);
		} else if (pset_add_prefix(pf.family == AF_INET ? &s->v4 : &s->v6, &pf) < 0) {
			err_at(c, t->col, "out of memory");
		} else {
			if (host_bits) {
				char net[64];

				prefix_format(&pf, net, sizeof(net));
				diags_add(c->d, DIAG_WARNING, c->file, c->line, t->col,
					  "'%s' has host bits set; taken as %s", w, net);
			}
			rc = 0;
		}
	}
	pset_normalize(&s->v4);
	pset_normalize(&s->v6);
	return rc;
}

static bool proto_has_ports(enum expect_proto p)
{
	/* the protocols whose conntrack tuple has ports */
	return p == EXPECT_PROTO_ANY || p == EXPECT_PROTO_TCP || p == EXPECT_PROTO_UDP ||
	       p == EXPECT_PROTO_SCTP || p == EXPECT_PROTO_DCCP || p == EXPECT_PROTO_UDPLITE;
}

/* "from SPEC [port PORTS]" or "to ..." starting at tokens[*i] (the keyword). */
static void parse_side(struct lctx *c, const struct token *tk, size_t n, size_t *i,
		       enum expect_proto proto, struct expect_side *s, bool *seen)
{
	const struct token *kw = &tk[*i];

	if (*seen)
		err_at(c, kw->col, "'%.*s' given twice", (int)kw->len, kw->s);
	(*i)++;
	if (*i >= n || tok_is(&tk[*i], "from") || tok_is(&tk[*i], "to") ||
	    tok_is(&tk[*i], "port")) {
		err_at(c, *i < n ? tk[*i].col : c->endcol,
		       "'%.*s' needs an address spec (any, an address, a CIDR, tag:NAME, vnet "
		       "or internet)", (int)kw->len, kw->s);
		*seen = true;
		return;
	}
	if (*seen) {
		/* keep the first; still check the spec for errors */
		struct expect_side tmp = { 0 };

		tmp.ports.any = true;
		parse_spec(c, &tk[*i], &tmp);
		side_free(&tmp);
	} else {
		free(s->text);
		s->text = NULL;
		pset_free(&s->v4);
		pset_free(&s->v6);
		parse_spec(c, &tk[*i], s);
	}
	*seen = true;
	(*i)++;
	if (*i < n && tok_is(&tk[*i], "port")) {
		const struct token *pk = &tk[*i];
		struct portspec ps = { 0 };
		char err[256], *w;

		(*i)++;
		if (*i >= n || tok_is(&tk[*i], "from") || tok_is(&tk[*i], "to")) {
			err_at(c, *i < n ? tk[*i].col : c->endcol, "'port' needs a port list "
			       "(443, 80,443, 1024-65535 or *, without spaces)");
			return;
		}
		/* '*' is every port: with any protocol, as the policy takes it */
		if (!proto_has_ports(proto) && !tok_is(&tk[*i], "*") && !tok_is(&tk[*i], "\"*\""))
			err_at(c, pk->col, "ports need protocol tcp, udp, sctp, dccp, udplite or "
			       "any, not %s (only '*' goes with any protocol)",
			       expect_proto_name(proto));
		w = tok_dup(&tk[*i]);
		/* quoted as in the policy ("443"): the quotes are not the list */
		if (w && strlen(w) >= 2 && w[0] == '"' && w[strlen(w) - 1] == '"') {
			memmove(w, w + 1, strlen(w) - 2);
			w[strlen(w) - 2] = '\0';
		}
		if (!w) {
			err_at(c, tk[*i].col, "out of memory");
		} else if (portspec_parse(w, &ps, err, sizeof(err)) < 0) {
			err_at(c, tk[*i].col, "bad port spec '%s': %s", w, err);
		} else {
			portspec_free(&s->ports);
			s->ports = ps;
			s->ports.pos.line = c->line;
			s->ports.pos.col = tk[*i].col;
		}
		free(w);
		(*i)++;
	}
}

/* Splits a line into whitespace-separated tokens; '#' ends the line. */
/* *extra_col: the column of the first word past max (0 if none). */
static size_t tokenize(const char *s, size_t len, struct token *tk, size_t max,
		       size_t *total, int *endcol, int *extra_col)
{
	size_t n = 0, i = 0;

	*total = 0;
	*endcol = 1;
	*extra_col = 0;
	while (i < len) {
		size_t start;

		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i >= len || s[i] == '#')
			break;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
			i++;
		if (n < max)
			tk[n++] = (struct token){ s + start, i - start, (int)start + 1 };
		else if (!*extra_col)
			*extra_col = (int)start + 1;
		(*total)++;
		*endcol = (int)i + 1;
	}
	return n;
}

/* Parses one non-empty line into l.  Returns the number of errors. */
static int parse_line(struct lctx *c, const struct token *tk, size_t n,
		      struct expect_line *l)
{
	static const char *const dirs = "in or out";
	size_t i = 0;
	bool seen_from = false, seen_to = false;

	l->line = c->line;
	l->from.ports.any = true;
	l->to.ports.any = true;
	pset_init(&l->from.v4, AF_INET);
	pset_init(&l->from.v6, AF_INET6);
	pset_init(&l->to.v4, AF_INET);
	pset_init(&l->to.v6, AF_INET6);

	if (tok_is(&tk[0], "allow") || tok_is(&tk[0], "accept"))
		l->verdict = EXPECT_ALLOW;
	else if (tok_is(&tk[0], "deny") || tok_is(&tk[0], "drop"))
		l->verdict = EXPECT_DENY;
	else
		err_at(c, tk[0].col, "expected verdict 'allow' or 'deny', got '%.*s'",
		       (int)tk[0].len, tk[0].s);

	if (n < 2) {
		err_at(c, c->endcol, "missing direction (%s)", dirs);
		return c->errors;
	}
	if (tok_is(&tk[1], "in"))
		l->dir = EXPECT_IN;
	else if (tok_is(&tk[1], "out"))
		l->dir = EXPECT_OUT;
	else
		err_at(c, tk[1].col, "expected direction %s, got '%.*s'", dirs,
		       (int)tk[1].len, tk[1].s);

	if (n < 3) {
		err_at(c, c->endcol, "missing protocol (tcp, udp, icmp, icmpv6, sctp, gre, dccp, udplite, esp, ah or any)");
		return c->errors;
	}
	l->proto = EXPECT_PROTO_ANY;
	{
		bool found = false;

		for (size_t p = 0; p < sizeof(proto_names) / sizeof(*proto_names); p++)
			if (tok_is(&tk[2], proto_names[p])) {
				l->proto = (enum expect_proto)p;
				found = true;
			}
		if (!found && (tok_is(&tk[2], "*") || tok_is(&tk[2], "all")))
			found = true;
		if (!found)
			err_at(c, tk[2].col, "expected protocol tcp, udp, icmp, icmpv6, sctp, gre, "
			       "dccp, udplite, esp, ah or any, got '%.*s'", (int)tk[2].len, tk[2].s);
	}

	i = 3;
	while (i < n) {
		if (tok_is(&tk[i], "from")) {
			if (seen_to)
				err_at(c, tk[i].col, "'from' must come before 'to'");
			parse_side(c, tk, n, &i, l->proto, &l->from, &seen_from);
		} else if (tok_is(&tk[i], "to")) {
			parse_side(c, tk, n, &i, l->proto, &l->to, &seen_to);
		} else if (tok_is(&tk[i], "port")) {
			err_at(c, tk[i].col, "'port' must follow 'from SPEC' or 'to SPEC'");
			i += 2;
		} else {
			err_at(c, tk[i].col, "expected 'from' or 'to', got '%.*s'",
			       (int)tk[i].len, tk[i].s);
			break;
		}
	}
	return c->errors;
}

/* ---- lines no flow can reach ------------------------------------------- */

static bool proto_covers(enum expect_proto a, enum expect_proto b)
{
	return a == EXPECT_PROTO_ANY || a == b ||
	       (a == EXPECT_PROTO_ICMP && b == EXPECT_PROTO_ICMPV6);
}

/* Every port of b is one of a's (both sorted and merged by portspec_parse). */
static bool ports_cover(const struct portspec *a, const struct portspec *b)
{
	if (a->any)
		return true;
	if (b->any)
		return false;
	for (size_t i = 0; i < b->n; i++) {
		bool in = false;

		for (size_t k = 0; k < a->n && !in; k++)
			in = a->r[k].lo <= b->r[i].lo && b->r[i].hi <= a->r[k].hi;
		if (!in)
			return false;
	}
	return true;
}

/* a's addresses hold all of b's; *budget counts the intervals compared. */
static bool addrs_cover(const struct expect_side *a, const struct expect_side *b, size_t *budget)
{
	if (a->kind == EXPECT_SPEC_ANY)
		return true;
	if (b->kind == EXPECT_SPEC_ANY)
		return false;
	if (a->text && b->text && !strcasecmp(a->text, b->text))
		return true;	/* the same spec (a tag named twice): no scan */
	*budget -= *budget < a->v4.n + a->v6.n + b->v4.n + b->v6.n ? *budget
		   : a->v4.n + a->v6.n + b->v4.n + b->v6.n;
	return pset_is_subset(&b->v4, &a->v4) && pset_is_subset(&b->v6, &a->v6);
}

/* A side that names addresses but holds none (an empty tag, vnet without that
 * family) matches no flow: its line is "covered" vacuously, not warned. */
static bool side_empty(const struct expect_side *s)
{
	return s->kind != EXPECT_SPEC_ANY && !s->v4.n && !s->v6.n;
}

/* a matches every flow b matches (expect_line_matches), so b, after a,
 * decides nothing.  The cheap tests first: the address scans are what cost. */
static bool line_covers(const struct expect_line *a, const struct expect_line *b, size_t *budget)
{
	return a->dir == b->dir && proto_covers(a->proto, b->proto) &&
	       ports_cover(&a->from.ports, &b->from.ports) &&
	       ports_cover(&a->to.ports, &b->to.ports) &&
	       addrs_cover(&a->from, &b->from, budget) && addrs_cover(&a->to, &b->to, budget);
}

/* The first matching line decides: a line an earlier one covers never
 * matches a flow (a duplicate, or "deny out icmpv6" after "allow out icmp").
 * Warned at parse time -- it would otherwise show only as "unmatched".  The
 * pairwise check is quadratic: it stops after SHADOW_BUDGET address
 * intervals compared (2,000 lines naming the largest real tag took 56 s
 * before the cheap tests came first and the budget was set). */
#define SHADOW_BUDGET 20000000u

static void warn_shadowed(const struct expect *e, struct diags *d)
{
	size_t budget = SHADOW_BUDGET;

	for (size_t j = 1; j < e->n && budget; j++) {
		if (side_empty(&e->v[j].from) || side_empty(&e->v[j].to))
			continue;
		for (size_t i = 0; i < j && budget; i++)
			if (line_covers(&e->v[i], &e->v[j], &budget)) {
				diags_add(d, DIAG_WARNING, e->file, e->v[j].line, 1,
					  "no flow can reach this line: line %d (%s) comes first "
					  "and matches every flow it would", e->v[i].line,
					  e->v[i].text ? e->v[i].text : "");
				break;
			}
	}
}

int expect_parse_buffer(const char *name, const char *buf, size_t len,
			const struct expect_env *env, struct expect **out,
			struct diags *d)
{
	struct expect *e = calloc(1, sizeof(*e));
	size_t cap = 0, pos = 0;
	int line = 0, errors = 0;

	*out = NULL;
	if (!e || !(e->file = strdup(name))) {
		free(e);
		diags_add(d, DIAG_ERROR, name, 0, 0, "out of memory");
		return -1;
	}
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;	/* a UTF-8 byte-order mark (some editors write one) */
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - s) : len - pos;
		struct token tk[MAX_TOKENS];
		struct lctx c = { .file = name, .line = ++line, .env = env, .d = d };
		size_t n, total;
		int extra_col;

		pos += ll + (nl ? 1 : 0);
		if (memchr(s, '\0', ll)) {
			err_at(&c, (int)((const char *)memchr(s, '\0', ll) - s) + 1,
			       "NUL byte: not a text file");
			errors++;
			continue;
		}
		n = tokenize(s, ll, tk, MAX_TOKENS, &total, &c.endcol, &extra_col);
		if (n == 0)
			continue;
		if (total > MAX_TOKENS) {
			/* at the first word past the limit (tokenize keeps its column) */
			err_at(&c, extra_col, "too many words (at most %d)",
			       MAX_TOKENS);
			errors++;
			continue;
		}
		if (e->n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct expect_line *nv = realloc(e->v, ncap * sizeof(*nv));

			if (!nv) {
				err_at(&c, 0, "out of memory");
				errors++;
				break;
			}
			e->v = nv;
			cap = ncap;
		}
		struct expect_line *l = &e->v[e->n];

		memset(l, 0, sizeof(*l));
		e->n++;
		/* the text from the first to the last token, for reports */
		/* the tokens joined by single blanks, for reports */
		l->text = malloc((size_t)(tk[n - 1].s + tk[n - 1].len - tk[0].s) + 1);
		if (!l->text) {
			err_at(&c, 0, "out of memory");
		} else {
			size_t off = 0;

			for (size_t j = 0; j < n; j++) {
				if (j)
					l->text[off++] = ' ';
				memcpy(l->text + off, tk[j].s, tk[j].len);
				off += tk[j].len;
			}
			l->text[off] = '\0';
		}
		errors += parse_line(&c, tk, n, l);
	}
	if (errors > 0) {
		expect_free(e);
		return -1;
	}
	warn_shadowed(e, d);
	*out = e;
	return 0;
}

int expect_parse_file(const char *path, const struct expect_env *env,
		      struct expect **out, struct diags *d)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	if (!f) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 4096;
			char *nb;

			if (ncap > (64u << 20)) {
				diags_add(d, DIAG_ERROR, path, 0, 0, "file too large (> 64 MiB)");
				goto fail;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				diags_add(d, DIAG_ERROR, path, 0, 0, "out of memory");
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		size_t r = fread(buf + len, 1, cap - len, f);

		len += r;
		if (r == 0) {
			if (ferror(f)) {
				diags_add(d, DIAG_ERROR, path, 0, 0, "read error: %s",
					  strerror(errno));
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	rc = expect_parse_buffer(path, buf ? buf : "", len, env, out, d);
	free(buf);
	return rc;
fail:
	fclose(f);
	free(buf);
	return -1;
}

static bool proto_matches(enum expect_proto p, uint8_t proto)
{
	switch (p) {
	case EXPECT_PROTO_ANY: return true;
	case EXPECT_PROTO_TCP: return proto == IPPROTO_TCP;
	case EXPECT_PROTO_UDP: return proto == IPPROTO_UDP;
	case EXPECT_PROTO_ICMP: return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
	case EXPECT_PROTO_ICMPV6: return proto == IPPROTO_ICMPV6;
	case EXPECT_PROTO_ESP: return proto == IPPROTO_ESP;
	case EXPECT_PROTO_AH: return proto == IPPROTO_AH;
	case EXPECT_PROTO_SCTP: return proto == IPPROTO_SCTP;
	case EXPECT_PROTO_GRE: return proto == IPPROTO_GRE;
	case EXPECT_PROTO_DCCP: return proto == IPPROTO_DCCP;
	case EXPECT_PROTO_UDPLITE: return proto == IPPROTO_UDPLITE;
	}
	return false;
}

static bool ports_match(const struct portspec *ps, bool has_ports, uint16_t port)
{
	if (ps->any)
		return true;
	if (!has_ports)
		return false;
	for (size_t i = 0; i < ps->n; i++)
		if (port >= ps->r[i].lo && port <= ps->r[i].hi)
			return true;
	return false;
}

static bool side_matches(const struct expect_side *s, int family, const struct addr *a,
			 bool has_ports, uint16_t port)
{
	if (s->kind != EXPECT_SPEC_ANY &&
	    !pset_contains(family == AF_INET ? &s->v4 : &s->v6, a))
		return false;
	return ports_match(&s->ports, has_ports, port);
}

bool expect_line_matches(const struct expect_line *l, const struct expect_flow *f)
{
	return l->dir == f->dir && proto_matches(l->proto, f->proto) &&
	       side_matches(&l->from, f->family, &f->src, f->has_ports, f->sport) &&
	       side_matches(&l->to, f->family, &f->dst, f->has_ports, f->dport);
}

long expect_match(const struct expect *e, const struct expect_flow *f)
{
	for (size_t i = 0; i < e->n; i++)
		if (expect_line_matches(&e->v[i], f))
			return (long)i;
	return -1;
}

bool expect_record(struct expect *e, size_t i, bool allowed)
{
	struct expect_line *l = &e->v[i];
	bool ok = (l->verdict == EXPECT_ALLOW) == allowed;

	l->matched++;
	if (!ok)
		l->failures++;
	return ok;
}
