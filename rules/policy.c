/* policy — the workspace network policy file (YAML, version 1).
 *
 * Two passes over the text with libyaml.  The first walks the event stream only to
 * refuse what the document loader would otherwise accept silently: anchors and
 * aliases (the loader expands aliases, which is how alias bombs blow up), nesting
 * beyond POLICY_MAX_DEPTH, several documents, and syntax errors.  The second loads
 * the document tree and walks it against small key tables (one per mapping kind,
 * checked in one place by map_fields()), collecting every problem with the node's
 * position.  Nothing here keeps global state. */
#include "fqdn.h"
#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define POLICY_MAX_BYTES	(4u << 20)
#define POLICY_MAX_DEPTH	64
#define MAX_KEYS		16

struct pctx {
	const char *file;
	struct diags *d;
	yaml_document_t *doc;
	struct policy *p;
	unsigned suggested;	/* unknown tags given a "did you mean" (bounded) */
};

/* "did you mean" for the first this many unknown tags of a file only: each
 * compares the name with every tag (a review made `check` run for minutes
 * with tens of thousands of unknown names) */
#define MAX_SUGGESTIONS 32

/* ---------------------------------------------------------------- names */

const char *proto_name(enum proto p)
{
	switch (p) {
	case PROTO_ANY:		return "*";
	case PROTO_TCP:		return "tcp";
	case PROTO_UDP:		return "udp";
	case PROTO_ICMP:	return "icmp";
	case PROTO_ESP:		return "esp";
	case PROTO_AH:		return "ah";
	}
	return "?";
}

const char *direction_name(enum direction d)
{
	switch (d) {
	case DIR_INBOUND:	return "inbound";
	case DIR_OUTBOUND:	return "outbound";
	}
	return "?";
}

const char *isolation_name(enum isolation i)
{
	switch (i) {
	case ISO_DISABLED:		return "disabled";
	case ISO_ALLOW_INTERNET:	return "allow_internet_outbound";
	case ISO_ALLOW_ONLY_APPROVED:	return "allow_only_approved_outbound";
	}
	return "?";
}

static const char *access_name(enum access a)
{
	return a == ACCESS_ALLOW ? "allow" : "deny";
}

static const char *outbound_type_name(enum outbound_type t)
{
	switch (t) {
	case OUT_SERVICE_TAG:		return "service_tag";
	case OUT_FQDN:			return "fqdn";
	case OUT_PRIVATE_ENDPOINT:	return "private_endpoint";
	}
	return "?";
}

/* ---------------------------------------------------------------- ports */

void portspec_free(struct portspec *ps)
{
	if (!ps)
		return;
	free(ps->r);
	ps->r = NULL;
	ps->n = 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct portrange *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sorts and merges the ranges.  Ranges that cover every port, 0-65535 (as
 * NSG default rules write "any port"), are "*": the rule then matches every
 * protocol its protocol names, not only those with ports (Azure's "Any" with
 * 0-65535 covers ICMP; a deny written so let pings through when it was
 * compiled to "tcp or udp, ports 0-65535"). */
static void portspec_normalize(struct portspec *ps)
{
	size_t out = 0;

	if (ps->n == 0)
		return;
	qsort(ps->r, ps->n, sizeof(*ps->r), range_cmp);
	for (size_t i = 1; i < ps->n; i++) {
		struct portrange *cur = &ps->r[out];
		if ((uint32_t)ps->r[i].lo <= (uint32_t)cur->hi + 1) {
			if (ps->r[i].hi > cur->hi)
				cur->hi = ps->r[i].hi;
		} else {
			ps->r[++out] = ps->r[i];
		}
	}
	ps->n = out + 1;
	if (ps->n == 1 && ps->r[0].lo == 0 && ps->r[0].hi == 65535) {
		free(ps->r);
		ps->r = NULL;
		ps->n = 0;
		ps->any = true;
	}
}

static int portspec_push(struct portspec *ps, uint16_t lo, uint16_t hi)
{
	struct portrange *nr = realloc(ps->r, (ps->n + 1) * sizeof(*nr));

	if (!nr)
		return -1;
	ps->r = nr;
	ps->r[ps->n++] = (struct portrange){ .lo = lo, .hi = hi };
	return 0;
}

/* Reads one decimal port at *sp; returns false when there is no digit.  Values
 * above 65535 set *big. */
static bool read_port(const char **sp, unsigned long *v, bool *big)
{
	const char *s = *sp;

	*v = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s)) {
		if (*v <= 65535)
			*v = *v * 10 + (unsigned long)(*s - '0');
		s++;
	}
	if (*v > 65535)
		*big = true;
	*sp = s;
	return true;
}

/* Appends the ranges of one NSG port string to ps (not normalised). */
static int portspec_append(const char *s, struct portspec *ps, char *err, size_t errlen)
{
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p) {
		snprintf(err, errlen, "empty port specification");
		return -1;
	}
	for (;;) {
		const char *tok, *end;
		unsigned long lo, hi;
		bool big = false;
		int tlen;

		while (*p == ' ' || *p == '\t')
			p++;
		tok = p;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		tlen = (int)(end - tok);
		while (tlen > 0 && isspace((unsigned char)tok[tlen - 1]))
			tlen--;
		if (tlen == 0) {
			snprintf(err, errlen, "empty item in port list '%s'", s);
			return -1;
		}
		if (tlen == 1 && tok[0] == '*') {
			snprintf(err, errlen, "'*' cannot be combined with other ports");
			return -1;
		}
		p = tok;
		if (!read_port(&p, &lo, &big))
			goto notport;
		hi = lo;
		if (*p == '-') {
			p++;
			if (!read_port(&p, &hi, &big))
				goto notport;
		}
		if (p != tok + tlen)
			goto notport;
		if (big) {
			snprintf(err, errlen, "port '%.*s' is out of range (0..65535)", tlen, tok);
			return -1;
		}
		if (lo > hi) {
			snprintf(err, errlen, "port range '%.*s' is reversed (low > high)", tlen, tok);
			return -1;
		}
		if (portspec_push(ps, (uint16_t)lo, (uint16_t)hi) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p = end;
		if (!*p)
			break;
		p++;
		continue;
notport:
		snprintf(err, errlen, "'%.*s' is not a port or port range", tlen, tok);
		return -1;
	}
	return 0;
}

static bool is_star(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	if (*s++ != '*')
		return false;
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* ps is overwritten (its pos zeroed: the caller knows the position). */
int portspec_parse(const char *s, struct portspec *ps, char *err, size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	if (is_star(s)) {
		ps->any = true;
		return 0;
	}
	if (portspec_append(s, ps, err, errlen) < 0) {
		portspec_free(ps);
		return -1;
	}
	portspec_normalize(ps);
	return 0;
}

/* ---------------------------------------------------------------- freeing */

static void addrspec_free(struct addrspec *as)
{
	for (size_t i = 0; i < as->n; i++)
		free(as->v[i].text);
	free(as->v);
	as->v = NULL;
	as->n = 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->workspace);
	free(p->region);
	free(p->vnet);
	free(p->vnet_pos);
	for (size_t i = 0; i < p->npe; i++) {
		free(p->pe[i].name);
		free(p->pe[i].addrs);
		portspec_free(&p->pe[i].ports);
	}
	free(p->pe);
	for (size_t i = 0; i < p->nrules; i++) {
		struct security_rule *r = &p->rules[i];
		free(r->name);
		addrspec_free(&r->src);
		addrspec_free(&r->dst);
		portspec_free(&r->sports);
		portspec_free(&r->dports);
	}
	free(p->rules);
	for (size_t i = 0; i < p->nout; i++) {
		struct outbound_rule *o = &p->out[i];
		free(o->name);
		addrspec_free(&o->dst);
		portspec_free(&o->ports);
		free(o->fqdn);
		free(o->service_resource_id);
		free(o->subresource_target);
		free(o->addrs);
	}
	free(p->out);
	for (size_t i = 0; i < p->nforward; i++)
		free(p->forward_ifaces[i]);
	free(p->forward_ifaces);
	free(p);
}

/* ---------------------------------------------------------------- diagnostics */

static struct srcpos npos(const yaml_node_t *n)
{
	return (struct srcpos){ .line = (int)n->start_mark.line + 1,
				.col = (int)n->start_mark.column + 1 };
}

static struct srcpos mpos(const yaml_mark_t *m)
{
	return (struct srcpos){ .line = (int)m->line + 1, .col = (int)m->column + 1 };
}

__attribute__((format(printf, 5, 0)))
static void vreport(struct diags *d, const char *file, enum diag_severity sev,
		    struct srcpos pos, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0) {
		diags_add(d, DIAG_ERROR, file, pos.line, pos.col, "out of memory");
		return;
	}
	diags_add(d, sev, file, pos.line, pos.col, "%s", msg);
	free(msg);
}

__attribute__((format(printf, 4, 5)))
static void report(struct pctx *c, enum diag_severity sev, struct srcpos pos,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c->d, c->file, sev, pos, fmt, ap);
	va_end(ap);
}

#define error_at(c, n, ...)	report((c), DIAG_ERROR, npos(n), __VA_ARGS__)
#define warn_at(c, n, ...)	report((c), DIAG_WARNING, npos(n), __VA_ARGS__)

static char *xstrdup(struct pctx *c, const char *s)
{
	char *r = strdup(s);

	if (!r)
		diags_add(c->d, DIAG_ERROR, c->file, 0, 0, "out of memory");
	return r;
}

static void *xcalloc(struct pctx *c, size_t n, size_t size)
{
	void *r = calloc(n ? n : 1, size);

	if (!r)
		diags_add(c->d, DIAG_ERROR, c->file, 0, 0, "out of memory");
	return r;
}

/* ---------------------------------------------------------------- node access */

static yaml_node_t *node(struct pctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct pctx *c, const yaml_node_t *n, size_t i)
{
	return node(c, n->data.sequence.items.start[i]);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = sval(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* The scalar's text, or NULL after reporting why it is not a usable string. */
static const char *get_str(struct pctx *c, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		error_at(c, n, "%s must be a string", what);
		return NULL;
	}
	if (is_null(n)) {
		error_at(c, n, "%s has no value", what);
		return NULL;
	}
	if (strlen(sval(n)) != n->data.scalar.length) {
		error_at(c, n, "%s contains a NUL character", what);
		return NULL;
	}
	return sval(n);
}

static bool get_int(struct pctx *c, yaml_node_t *n, const char *what, long *out)
{
	const char *s = n->type == YAML_SCALAR_NODE ? sval(n) : NULL;
	const char *q;
	char *end;

	if (s && is_null(n)) {
		error_at(c, n, "%s has no value", what);
		return false;
	}
	if (!s)
		goto bad;
	q = s + (*s == '-' || *s == '+');
	if (!isdigit((unsigned char)*q))
		goto bad;
	/* Out-of-range values clamp to LONG_MIN/LONG_MAX; callers check their range
	 * and quote the text as written. */
	*out = strtol(s, &end, 10);
	if (*end)
		goto bad;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		error_at(c, n, "%s must be an integer, not the quoted string \"%s\"", what, s);
		return false;
	}
	return true;
bad:
	if (s)
		error_at(c, n, "%s must be an integer, not '%s'", what, s);
	else
		error_at(c, n, "%s must be an integer", what);
	return false;
}

static bool get_bool(struct pctx *c, yaml_node_t *n, const char *what, bool *out)
{
	const char *s = n->type == YAML_SCALAR_NODE ? sval(n) : NULL;

	if (s && is_null(n)) {
		error_at(c, n, "%s has no value", what);
		return false;
	}
	if (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (!strcasecmp(s, "true") || !strcasecmp(s, "yes")) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, "false") || !strcasecmp(s, "no")) {
			*out = false;
			return true;
		}
	}
	error_at(c, n, "%s must be true or false", what);
	return false;
}

/* A sequence node, or NULL after reporting.  A null value counts as an empty list
 * when allow_null (optional lists such as `security_rules:` with nothing). */
static yaml_node_t *get_seq(struct pctx *c, yaml_node_t *n, const char *what,
			    bool allow_null)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return n;
	if (!allow_null || !is_null(n))
		error_at(c, n, "%s must be a list", what);
	return NULL;
}

struct keydef {
	const char *name;
	bool required;
};

/* The one place where mappings are checked against their key table: the node must
 * be a mapping with scalar keys, each key known and given once, required keys
 * present.  val[i] receives the value of keys[i] or NULL.  Returns false only when
 * n is not a mapping at all (nothing else can be read from it then). */
static bool map_fields(struct pctx *c, yaml_node_t *n, const char *what,
		       const struct keydef *keys, size_t nkeys, yaml_node_t **val)
{
	yaml_node_t *keyn[MAX_KEYS] = { 0 };

	for (size_t i = 0; i < nkeys; i++)
		val[i] = NULL;
	if (n->type != YAML_MAPPING_NODE) {
		error_at(c, n, "%s must be a mapping", what);
		return false;
	}
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
	     pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
		const char *best = NULL;
		size_t bestd = (size_t)-1, i;

		if (k->type != YAML_SCALAR_NODE) {
			error_at(c, k, "mapping keys must be strings");
			continue;
		}
		for (i = 0; i < nkeys; i++)
			if (!strcmp(sval(k), keys[i].name))
				break;
		if (i < nkeys) {
			if (keyn[i])
				error_at(c, k, "duplicate key '%s' (first at line %d)",
					 keys[i].name, npos(keyn[i]).line);
			else {
				keyn[i] = k;
				val[i] = v;
			}
			continue;
		}
		for (i = 0; i < nkeys; i++) {
			size_t dist = edit_distance_ci(sval(k), keys[i].name);
			if (dist < bestd) {
				bestd = dist;
				best = keys[i].name;
			}
		}
		size_t len = strlen(sval(k));
		size_t limit = len / 3 > 2 ? len / 3 : 2;
		if (best && bestd <= limit && bestd < len)
			error_at(c, k, "unknown key '%s'; did you mean '%s'?", sval(k), best);
		else
			error_at(c, k, "unknown key '%s'", sval(k));
	}
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].required && !val[i])
			error_at(c, n, "missing required key '%s'", keys[i].name);
	return true;
}

/* Case-insensitive lookup of s in a NULL-terminated list of names; the index or -1. */
static int lookup_ci(const char *s, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	return -1;
}

/* ---------------------------------------------------------------- value syntax */

static bool name_ok(const char *s, size_t maxlen)
{
	size_t n = strlen(s);

	if (n == 0 || n > maxlen)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

static bool workspace_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 48)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '-')
			return false;
	return true;
}

static bool region_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s))
			return false;
	return true;
}

static bool iface_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.@:+-", *s))
			return false;
	return true;
}

/* Service tag names in the real file all start with a letter; anything that starts
 * with a digit or holds ':' or '/' was meant as an address. */
static bool tag_syntax_ok(const char *s)
{
	if (!isalpha((unsigned char)*s) || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

/* Host names: labels of [a-z0-9-] (1..63, no '-' at either end), 253 chars at
 * most; an optional leading "*." wildcard.  s is lower-cased in place. */
static bool fqdn_ok(char *s)
{
	char *p = s;
	size_t total = strlen(s);

	for (char *q = s; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (!strncmp(p, "*.", 2)) {
		p += 2;
		total -= 2;
	}
	if (total == 0 || total > 253)
		return false;
	for (;;) {
		char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
			return false;
		for (size_t i = 0; i < len; i++)
			if (!(p[i] >= 'a' && p[i] <= 'z') && !(p[i] >= '0' && p[i] <= '9') &&
			    p[i] != '-')
				return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* ---------------------------------------------------------------- addresses */

static bool parse_cidr(struct pctx *c, yaml_node_t *n, const char *s, struct prefix *out)
{
	char err[160], net[INET6_ADDRSTRLEN + 8];
	bool host = false;
	static struct prefix mapped;

	if (prefix_parse(s, out, &host, err, sizeof(err)) < 0) {
		error_at(c, n, "%s", err);
		return false;
	}
	if (host) {
		prefix_format(out, net, sizeof(net));
		warn_at(c, n, "'%s' has host bits set; using %s", s, net);
	}
	if (!mapped.family)
		prefix_parse("::ffff:0:0/96", &mapped, NULL, err, sizeof(err));
	if (out->family == AF_INET6 && out->len >= 96 && prefix_contains(&mapped, &out->a))
		warn_at(c, n, "'%s' is an IPv4-mapped IPv6 address: IPv4 traffic never matches it "
			"(write the IPv4 address)", s);
	return true;
}

/* Whether two prefixes share an address (prefixes nest or are disjoint). */
static bool prefixes_overlap(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family &&
	       (prefix_contains(a, &b->a) || prefix_contains(b, &a->a));
}

/* What a virtual network cannot hold (Azure refuses these address spaces). */
static const struct {
	const char *cidr, *what;
} not_vnet[] = {
	{ "0.0.0.0/8", "'this network'" },
	{ "127.0.0.0/8", "loopback" },
	{ "169.254.0.0/16", "link-local" },
	{ "168.63.129.16/32", "Azure's platform address" },
	{ "224.0.0.0/4", "multicast" },
	{ "240.0.0.0/4", "reserved and broadcast" },
	{ "::/128", "the unspecified address" },
	{ "::1/128", "loopback" },
	{ "::ffff:0:0/96", "IPv4-mapped" },
	{ "fe80::/10", "link-local" },
	{ "ff00::/8", "multicast" },
};

/* Whether pf may be (a part of) the address space; an error where not. */
static bool check_vnet_space(struct pctx *c, yaml_node_t *n, const char *s,
			     const struct prefix *pf, const struct prefix *earlier, size_t nearlier)
{
	char err[64], txt[INET6_ADDRSTRLEN + 8];

	for (size_t i = 0; i < sizeof(not_vnet) / sizeof(*not_vnet); i++) {
		struct prefix r;

		prefix_parse(not_vnet[i].cidr, &r, NULL, err, sizeof(err));
		if (prefixes_overlap(pf, &r)) {
			error_at(c, n, "address_space '%s' overlaps %s (%s), which a virtual network "
				 "cannot hold", s, not_vnet[i].cidr, not_vnet[i].what);
			return false;
		}
	}
	for (size_t i = 0; i < nearlier; i++)
		if (prefixes_overlap(pf, &earlier[i])) {
			prefix_format(&earlier[i], txt, sizeof(txt));
			error_at(c, n, "address_space '%s' overlaps %s, listed before it", s, txt);
			return false;
		}
	return true;
}

/* A private endpoint is a private address: in the virtual network, or in a
 * private range (a hub network's endpoint subnet, peered).  An Internet
 * address there would be approved by the managed network in every mode --
 * 0.0.0.0/0 would approve the whole Internet on the endpoint's ports. */
static const char *const private_ranges[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7",
};

static void check_endpoint_addr(struct pctx *c, yaml_node_t *n, const char *s,
				const struct prefix *pf)
{
	char err[64];

	for (size_t i = 0; i < c->p->nvnet; i++) {
		const struct prefix *v = &c->p->vnet[i];

		if (v->family == pf->family && v->len <= pf->len && prefix_contains(v, &pf->a))
			return;
	}
	for (size_t i = 0; i < sizeof(private_ranges) / sizeof(*private_ranges); i++) {
		struct prefix r;

		prefix_parse(private_ranges[i], &r, NULL, err, sizeof(err));
		if (r.family == pf->family && r.len <= pf->len && prefix_contains(&r, &pf->a))
			return;
	}
	error_at(c, n, "private endpoint address '%s' is neither in virtual_network.address_space "
		 "nor in a private range (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): the "
		 "managed network approves an endpoint in every mode; a public destination is a "
		 "service_tag rule with address_prefixes", s);
}

enum plist_check { PL_PLAIN, PL_VNET_SPACE, PL_ENDPOINT };

/* A non-empty list of addresses/CIDRs (no tags). */
static void parse_prefix_list(struct pctx *c, yaml_node_t *n, const char *key,
			      struct prefix **out, size_t *nout, enum plist_check chk)
{
	char what[96];
	size_t len;

	snprintf(what, sizeof(what), "'%s'", key);
	if (!get_seq(c, n, what, false))
		return;
	len = seq_len(n);
	if (len == 0) {
		error_at(c, n, "'%s' must not be empty", key);
		return;
	}
	if (!(*out = xcalloc(c, len, sizeof(**out))))
		return;
	if (chk == PL_VNET_SPACE && !(c->p->vnet_pos = xcalloc(c, len, sizeof(*c->p->vnet_pos))))
		return;
	snprintf(what, sizeof(what), "each item of '%s'", key);
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(c, n, i);
		const char *s = get_str(c, it, what);
		struct prefix *pf = &(*out)[*nout];

		if (!s || !parse_cidr(c, it, s, pf))
			continue;
		if (chk == PL_VNET_SPACE && !check_vnet_space(c, it, s, pf, *out, *nout))
			continue;	/* not part of it: nothing is judged by it */
		if (chk == PL_VNET_SPACE)
			c->p->vnet_pos[*nout] = npos(it);
		if (chk == PL_ENDPOINT)
			check_endpoint_addr(c, it, s, pf);
		(*nout)++;
	}
}

static const char *const pseudo_tags[] = {
	"VirtualNetwork", "Internet", "AzureLoadBalancer", NULL,
};
static const enum addr_kind pseudo_kinds[] = { ADDR_VNET, ADDR_INTERNET, ADDR_ALB };

static bool parse_addr_item(struct pctx *c, yaml_node_t *n, const char *s,
			    struct addr_item *it)
{
	struct prefix pfx;
	char err[160];
	int k;

	it->pos = npos(n);
	if (is_star(s)) {
		it->kind = ADDR_ANY;
	} else if ((k = lookup_ci(s, pseudo_tags)) >= 0) {
		it->kind = pseudo_kinds[k];
	} else if (prefix_parse(s, &pfx, NULL, err, sizeof(err)) == 0) {
		if (!parse_cidr(c, n, s, &pfx))
			return false;
		it->kind = ADDR_CIDR;
		it->pfx = pfx;
	} else if (tag_syntax_ok(s)) {
		it->kind = ADDR_TAG;
	} else if (isdigit((unsigned char)*s) || strchr(s, ':') || strchr(s, '/')) {
		error_at(c, n, "%s", err);
		return false;
	} else {
		error_at(c, n, "'%s' is not an address, CIDR or service tag name", s);
		return false;
	}
	it->text = xstrdup(c, s);
	return it->text != NULL;
}

/* Address spec: one scalar or a non-empty list of them.  Defaults to "*" when n is
 * NULL, at position dflt. */
static void parse_addrspec(struct pctx *c, yaml_node_t *n, const char *key,
			   struct srcpos dflt, struct addrspec *as)
{
	char what[96];
	size_t len;

	snprintf(what, sizeof(what), "'%s'", key);
	as->pos = n ? npos(n) : dflt;
	if (!n || n->type == YAML_SCALAR_NODE) {
		const char *s = n ? get_str(c, n, what) : "*";
		if (!s || !(as->v = xcalloc(c, 1, sizeof(*as->v))))
			return;
		if (!n) {
			as->v[0] = (struct addr_item){ .kind = ADDR_ANY, .pos = dflt };
			as->v[0].text = xstrdup(c, "*");
			if (as->v[0].text)
				as->n = 1;
		} else if (parse_addr_item(c, n, s, &as->v[0])) {
			as->n = 1;
		}
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		error_at(c, n, "'%s' must be an address, a tag name or a list of them", key);
		return;
	}
	len = seq_len(n);
	if (len == 0) {
		error_at(c, n, "'%s' must not be empty", key);
		return;
	}
	if (!(as->v = xcalloc(c, len, sizeof(*as->v))))
		return;
	snprintf(what, sizeof(what), "each item of '%s'", key);
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *itn = seq_item(c, n, i);
		const char *s = get_str(c, itn, what);
		if (!s)
			continue;
		if (len > 1 && is_star(s)) {
			error_at(c, itn, "'*' cannot be combined with other addresses");
			continue;
		}
		if (parse_addr_item(c, itn, s, &as->v[as->n]))
			as->n++;
	}
}

/* Port spec: a scalar (string or integer) or a non-empty list of them.  Defaults
 * to dflt_text at position dflt when n is NULL. */
static void parse_ports(struct pctx *c, yaml_node_t *n, const char *key,
			const char *dflt_text, struct srcpos dflt, struct portspec *ps)
{
	struct srcpos pos = n ? npos(n) : dflt;
	char err[160], what[96];
	size_t len;

	memset(ps, 0, sizeof(*ps));
	snprintf(what, sizeof(what), "'%s'", key);
	if (!n || n->type == YAML_SCALAR_NODE) {
		const char *s = n ? get_str(c, n, what) : dflt_text;
		if (s && portspec_parse(s, ps, err, sizeof(err)) < 0)
			report(c, DIAG_ERROR, pos, "%s: %s", key, err);
		ps->pos = pos;
		return;
	}
	ps->pos = pos;
	if (n->type != YAML_SEQUENCE_NODE) {
		error_at(c, n, "'%s' must be a port string or a list of them", key);
		return;
	}
	len = seq_len(n);
	if (len == 0) {
		error_at(c, n, "'%s' must not be empty", key);
		return;
	}
	snprintf(what, sizeof(what), "each item of '%s'", key);
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(c, n, i);
		const char *s = get_str(c, it, what);
		if (!s)
			continue;
		if (is_star(s)) {
			if (len > 1)
				error_at(c, it, "%s: '*' cannot be combined with other ports", key);
			else
				ps->any = true;
			continue;
		}
		if (portspec_append(s, ps, err, sizeof(err)) < 0)
			error_at(c, it, "%s: %s", key, err);
	}
	portspec_normalize(ps);
}

static bool proto_has_ports(enum proto p)
{
	return p == PROTO_ANY || p == PROTO_TCP || p == PROTO_UDP;
}

static void check_proto_ports(struct pctx *c, bool proto_ok, enum proto proto,
			      const struct portspec *ps)
{
	if (proto_ok && !proto_has_ports(proto) && !ps->any)
		report(c, DIAG_ERROR, ps->pos, "ports require protocol tcp, udp or *");
}

/* ---------------------------------------------------------------- duplicates */

struct named {
	const char *name;
	struct srcpos pos;
	size_t idx;		/* file order */
};

static int named_cmp_ci(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int d = strcasecmp(x->name, y->name);

	return d ? d : (x->idx > y->idx) - (x->idx < y->idx);
}

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	return d ? d : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Reports every repeat of a name at its position, naming the first one's line.
 * Sorting keeps a file with a hundred thousand entries fast; t is reordered. */
static void report_dups(struct pctx *c, struct named *t, size_t n, bool ci,
			const char *kind)
{
	int (*cmp)(const char *, const char *) = ci ? strcasecmp : strcmp;

	qsort(t, n, sizeof(*t), ci ? named_cmp_ci : named_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (cmp(t[i].name, t[first].name)) {
			first = i;
			continue;
		}
		report(c, DIAG_ERROR, t[i].pos, "duplicate %s '%s' (first defined at line %d)",
		       kind, t[i].name, t[first].pos.line);
	}
}

/* ---------------------------------------------------------------- sections */

static void parse_vnet(struct pctx *c, yaml_node_t *n)
{
	static const struct keydef keys[] = { { "address_space", true } };
	yaml_node_t *v[1];

	if (map_fields(c, n, "'virtual_network'", keys, 1, v) && v[0])
		parse_prefix_list(c, v[0], "address_space", &c->p->vnet, &c->p->nvnet, PL_VNET_SPACE);
}

static void parse_forward(struct pctx *c, yaml_node_t *n)
{
	static const struct keydef keys[] = { { "interfaces", true } };
	struct policy *p = c->p;
	yaml_node_t *v[1], *seq;
	struct named *names;
	size_t len, nn = 0;

	if (!map_fields(c, n, "'forward'", keys, 1, v) || !v[0])
		return;
	if (!(seq = get_seq(c, v[0], "'interfaces'", true)))
		return;
	len = seq_len(seq);
	if (!len || !(p->forward_ifaces = xcalloc(c, len, sizeof(char *))))
		return;
	if (!(names = xcalloc(c, len, sizeof(*names))))
		return;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(c, seq, i);
		const char *s = get_str(c, it, "each item of 'interfaces'");

		if (!s)
			continue;
		if (!iface_ok(s)) {
			error_at(c, it, "invalid interface name '%s' (1..15 characters of "
				 "A-Z, a-z, 0-9 and _.@:+-)", s);
			continue;
		}
		if (strcmp(s, "lo") == 0) {
			/* nothing is forwarded over lo; the rules would take the
			 * host's own loopback traffic as a container's */
			error_at(c, it, "'lo' is the loopback interface, not a container's link");
			continue;
		}
		if (!(p->forward_ifaces[p->nforward] = xstrdup(c, s)))
			continue;
		names[nn++] = (struct named){ p->forward_ifaces[p->nforward], npos(it), i };
		p->nforward++;
	}
	report_dups(c, names, nn, false, "interface");
	free(names);
}

enum { PE_NAME, PE_ADDRESSES, PE_PORTS, PE_N };
static const struct keydef pe_keys[PE_N] = {
	[PE_NAME] = { "name", true },
	[PE_ADDRESSES] = { "addresses", true },
	[PE_PORTS] = { "ports", false },
};

static void parse_private_endpoints(struct pctx *c, yaml_node_t *n)
{
	struct policy *p = c->p;
	yaml_node_t *seq;
	struct named *names;
	size_t len, nn = 0;

	if (!(seq = get_seq(c, n, "'private_endpoints'", true)))
		return;
	len = seq_len(seq);
	if (!len || !(p->pe = xcalloc(c, len, sizeof(*p->pe))))
		return;
	p->npe = len;
	if (!(names = xcalloc(c, len, sizeof(*names))))
		return;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *m = seq_item(c, seq, i), *v[PE_N];
		struct private_endpoint *e = &p->pe[i];
		const char *s;

		e->pos = npos(m);
		if (!map_fields(c, m, "each item of 'private_endpoints'", pe_keys, PE_N, v))
			continue;
		if (v[PE_NAME] && (s = get_str(c, v[PE_NAME], "'name'"))) {
			if (!name_ok(s, 80))
				error_at(c, v[PE_NAME], "invalid private endpoint name '%s' "
					 "(1..80 characters of A-Z, a-z, 0-9 and _.-)", s);
			else if ((e->name = xstrdup(c, s)))
				names[nn++] = (struct named){ e->name, npos(v[PE_NAME]), i };
		}
		if (v[PE_ADDRESSES])
			parse_prefix_list(c, v[PE_ADDRESSES], "addresses", &e->addrs, &e->naddrs, PL_ENDPOINT);
		parse_ports(c, v[PE_PORTS], "ports", "443", e->pos, &e->ports);
	}
	report_dups(c, names, nn, true, "private endpoint name");
	free(names);
}

enum {
	R_NAME, R_PRIORITY, R_DIRECTION, R_ACCESS, R_PROTOCOL, R_SOURCE,
	R_SOURCE_PORTS, R_DESTINATION, R_DESTINATION_PORTS, R_N
};
static const struct keydef rule_keys[R_N] = {
	[R_NAME] = { "name", true },
	[R_PRIORITY] = { "priority", true },
	[R_DIRECTION] = { "direction", true },
	[R_ACCESS] = { "access", true },
	[R_PROTOCOL] = { "protocol", true },
	[R_SOURCE] = { "source", false },
	[R_SOURCE_PORTS] = { "source_ports", false },
	[R_DESTINATION] = { "destination", false },
	[R_DESTINATION_PORTS] = { "destination_ports", false },
};

/* "Any" is the Azure portal's and CLI's name for "*" */
static const char *const proto_names[] = { "*", "tcp", "udp", "icmp", "esp", "ah", "any", NULL };
static const enum proto proto_vals[] = {
	PROTO_ANY, PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ESP, PROTO_AH, PROTO_ANY,
};

/* Per-rule flags for the cross-rule checks: which fields parsed cleanly. */
struct rule_ok {
	bool priority, dir;
};

static void parse_rule(struct pctx *c, yaml_node_t *m, struct security_rule *r,
		       struct rule_ok *ok)
{
	static const char *const dirs[] = { "inbound", "outbound", NULL };
	static const char *const accs[] = { "allow", "deny", NULL };
	yaml_node_t *v[R_N];
	const char *s;
	bool proto_ok = false;
	long prio;
	int k;

	r->pos = npos(m);
	r->name_pos = r->priority_pos = r->source_pos = r->pos;
	if (!map_fields(c, m, "each item of 'security_rules'", rule_keys, R_N, v))
		return;
	if (v[R_NAME] && (s = get_str(c, v[R_NAME], "'name'"))) {
		r->name_pos = npos(v[R_NAME]);
		if (!name_ok(s, 80))
			error_at(c, v[R_NAME], "invalid rule name '%s' (1..80 characters of "
				 "A-Z, a-z, 0-9 and _.-)", s);
		else
			r->name = xstrdup(c, s);
	}
	if (v[R_PRIORITY] && get_int(c, v[R_PRIORITY], "'priority'", &prio)) {
		r->priority_pos = npos(v[R_PRIORITY]);
		if (prio < 100 || prio > 4096)
			error_at(c, v[R_PRIORITY], "priority %s is out of range (100..4096)",
				 sval(v[R_PRIORITY]));
		else {
			r->priority = (int)prio;
			ok->priority = true;
		}
	}
	if (v[R_DIRECTION] && (s = get_str(c, v[R_DIRECTION], "'direction'"))) {
		if ((k = lookup_ci(s, dirs)) < 0)
			error_at(c, v[R_DIRECTION], "invalid direction '%s' (inbound or outbound)", s);
		else {
			r->dir = k == 0 ? DIR_INBOUND : DIR_OUTBOUND;
			ok->dir = true;
		}
	}
	if (v[R_ACCESS] && (s = get_str(c, v[R_ACCESS], "'access'"))) {
		if ((k = lookup_ci(s, accs)) < 0)
			error_at(c, v[R_ACCESS], "invalid access '%s' (allow or deny)", s);
		else
			r->access = k == 0 ? ACCESS_ALLOW : ACCESS_DENY;
	}
	if (v[R_PROTOCOL] && (s = get_str(c, v[R_PROTOCOL], "'protocol'"))) {
		if ((k = lookup_ci(s, proto_names)) < 0)
			error_at(c, v[R_PROTOCOL], "invalid protocol '%s' (tcp, udp, icmp, "
				 "esp, ah, or * or any)", s);
		else {
			r->proto = proto_vals[k];
			proto_ok = true;
		}
	}
	parse_addrspec(c, v[R_SOURCE], "source", r->pos, &r->src);
	r->source_pos = r->src.pos;
	parse_ports(c, v[R_SOURCE_PORTS], "source_ports", "*", r->pos, &r->sports);
	parse_addrspec(c, v[R_DESTINATION], "destination", r->pos, &r->dst);
	parse_ports(c, v[R_DESTINATION_PORTS], "destination_ports", "*", r->pos, &r->dports);
	check_proto_ports(c, proto_ok, r->proto, &r->sports);
	check_proto_ports(c, proto_ok, r->proto, &r->dports);
}

struct rule_ref {
	const struct security_rule *r;
	size_t idx;
};

static int ref_prio_cmp(const void *a, const void *b)
{
	const struct rule_ref *x = a, *y = b;

	if (x->r->dir != y->r->dir)
		return x->r->dir < y->r->dir ? -1 : 1;
	if (x->r->priority != y->r->priority)
		return x->r->priority < y->r->priority ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Duplicate names and per-direction priorities (the first in file order is the
 * original). */
static void check_rule_dups(struct pctx *c, const struct rule_ok *ok)
{
	const struct policy *p = c->p;
	struct rule_ref *t = xcalloc(c, p->nrules, sizeof(*t));
	struct named *names = xcalloc(c, p->nrules, sizeof(*names));
	size_t n = 0;

	if (!t || !names)
		goto out;
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].name)
			names[n++] = (struct named){ p->rules[i].name, p->rules[i].name_pos, i };
	report_dups(c, names, n, true, "rule name");
	n = 0;
	for (size_t i = 0; i < p->nrules; i++)
		if (ok[i].priority && ok[i].dir)
			t[n++] = (struct rule_ref){ &p->rules[i], i };
	qsort(t, n, sizeof(*t), ref_prio_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		const struct security_rule *a = t[first].r, *b = t[i].r;
		if (a->dir != b->dir || a->priority != b->priority) {
			first = i;
			continue;
		}
		report(c, DIAG_ERROR, b->priority_pos,
		       "duplicate %s priority %d (first used by rule '%s' at line %d)",
		       direction_name(b->dir), b->priority, a->name ? a->name : "?",
		       a->pos.line);
	}
out:
	free(t);
	free(names);
}

static void parse_security_rules(struct pctx *c, yaml_node_t *n)
{
	struct policy *p = c->p;
	struct rule_ok *ok;
	yaml_node_t *seq;
	size_t len;

	if (!(seq = get_seq(c, n, "'security_rules'", true)))
		return;
	len = seq_len(seq);
	if (!len || !(p->rules = xcalloc(c, len, sizeof(*p->rules))))
		return;
	if (!(ok = xcalloc(c, len, sizeof(*ok))))
		return;
	p->nrules = len;
	for (size_t i = 0; i < len; i++)
		parse_rule(c, seq_item(c, seq, i), &p->rules[i], &ok[i]);
	check_rule_dups(c, ok);
	free(ok);
}

/* ---------------------------------------------------------------- managed network */

enum { ST_SERVICE_TAG, ST_ADDRESS_PREFIXES, ST_PROTOCOL, ST_PORT_RANGES, ST_N };
static const struct keydef st_keys[ST_N] = {
	[ST_SERVICE_TAG] = { "service_tag", false },
	[ST_ADDRESS_PREFIXES] = { "address_prefixes", false },
	[ST_PROTOCOL] = { "protocol", true },
	[ST_PORT_RANGES] = { "port_ranges", true },
};

static void parse_out_service_tag(struct pctx *c, yaml_node_t *n, struct outbound_rule *o)
{
	static const char *const protos[] = { "tcp", "udp", "icmp", "*", "any", NULL };
	static const enum proto pvals[] = { PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ANY, PROTO_ANY };
	yaml_node_t *v[ST_N];
	const char *s;
	bool proto_ok = false;
	int k;

	if (!map_fields(c, n, "a service_tag destination", st_keys, ST_N, v))
		return;
	o->dst.pos = npos(n);
	if (!v[ST_SERVICE_TAG] && !v[ST_ADDRESS_PREFIXES])
		error_at(c, n, "missing required key 'service_tag' or 'address_prefixes'");
	if (v[ST_SERVICE_TAG] && v[ST_ADDRESS_PREFIXES]) {
		warn_at(c, v[ST_SERVICE_TAG], "'service_tag' is ignored: 'address_prefixes' "
			"stand instead of it");
	} else if (v[ST_SERVICE_TAG] && (s = get_str(c, v[ST_SERVICE_TAG], "'service_tag'"))) {
		if (lookup_ci(s, pseudo_tags) >= 0 || is_star(s))
			error_at(c, v[ST_SERVICE_TAG], "'%s' is a pseudo-tag; 'service_tag' "
				 "needs a tag from the tags file", s);
		else if (!tag_syntax_ok(s))
			error_at(c, v[ST_SERVICE_TAG], "'%s' is not a service tag name "
				 "(addresses belong in 'address_prefixes')", s);
		else if ((o->dst.v = xcalloc(c, 1, sizeof(*o->dst.v)))) {
			o->dst.v[0] = (struct addr_item){ .kind = ADDR_TAG,
							  .pos = npos(v[ST_SERVICE_TAG]) };
			if ((o->dst.v[0].text = xstrdup(c, s)))
				o->dst.n = 1;
		}
	}
	if (v[ST_ADDRESS_PREFIXES]) {
		yaml_node_t *seq = v[ST_ADDRESS_PREFIXES];
		size_t len;

		o->dst.pos = npos(seq);
		if (get_seq(c, seq, "'address_prefixes'", false)) {
			len = seq_len(seq);
			if (!len)
				error_at(c, seq, "'address_prefixes' must not be empty");
			else if ((o->dst.v = xcalloc(c, len, sizeof(*o->dst.v)))) {
				for (size_t i = 0; i < len; i++) {
					yaml_node_t *it = seq_item(c, seq, i);
					struct addr_item *ai = &o->dst.v[o->dst.n];
					s = get_str(c, it, "each item of 'address_prefixes'");
					if (!s || !parse_cidr(c, it, s, &ai->pfx))
						continue;
					ai->kind = ADDR_CIDR;
					ai->pos = npos(it);
					if ((ai->text = xstrdup(c, s)))
						o->dst.n++;
				}
			}
		}
	}
	if (v[ST_PROTOCOL] && (s = get_str(c, v[ST_PROTOCOL], "'protocol'"))) {
		if ((k = lookup_ci(s, protos)) < 0)
			error_at(c, v[ST_PROTOCOL], "invalid protocol '%s' (TCP, UDP, ICMP, or * or Any)", s);
		else {
			o->proto = pvals[k];
			proto_ok = true;
		}
	}
	if (v[ST_PORT_RANGES]) {
		parse_ports(c, v[ST_PORT_RANGES], "port_ranges", "*", o->pos, &o->ports);
		check_proto_ports(c, proto_ok, o->proto, &o->ports);
	}
}

/* spark_status: Azure's read-only report, accepted and ignored */
enum { PD_RESOURCE, PD_SUBRESOURCE, PD_SPARK, PD_ADDRESSES, PD_SPARK_STATUS, PD_N };
static const struct keydef pd_keys[PD_N] = {
	[PD_RESOURCE] = { "service_resource_id", true },
	[PD_SUBRESOURCE] = { "subresource_target", true },
	[PD_SPARK] = { "spark_enabled", false },
	[PD_ADDRESSES] = { "addresses", true },
	[PD_SPARK_STATUS] = { "spark_status", false },
};

static void parse_out_private_endpoint(struct pctx *c, yaml_node_t *n,
				       struct outbound_rule *o)
{
	yaml_node_t *v[PD_N];
	const char *s;

	/* All ports of the endpoint, tcp, as for private_endpoints. */
	o->proto = PROTO_TCP;
	o->ports.any = true;
	o->ports.pos = npos(n);
	if (!map_fields(c, n, "a private_endpoint destination", pd_keys, PD_N, v))
		return;
	if (v[PD_RESOURCE] && (s = get_str(c, v[PD_RESOURCE], "'service_resource_id'")))
		o->service_resource_id = xstrdup(c, s);
	if (v[PD_SUBRESOURCE] && (s = get_str(c, v[PD_SUBRESOURCE], "'subresource_target'")))
		o->subresource_target = xstrdup(c, s);
	if (v[PD_SPARK])
		get_bool(c, v[PD_SPARK], "'spark_enabled'", &o->spark_enabled);
	if (v[PD_ADDRESSES])
		parse_prefix_list(c, v[PD_ADDRESSES], "addresses", &o->addrs, &o->naddrs, PL_ENDPOINT);
}

static void parse_out_fqdn(struct pctx *c, yaml_node_t *n, struct outbound_rule *o)
{
	const char *s;
	char *f;

	if (n->type != YAML_SCALAR_NODE) {
		error_at(c, n, "an fqdn destination must be a host name");
		return;
	}
	if (!(s = get_str(c, n, "'destination'")) || !(f = xstrdup(c, s)))
		return;
	if (!fqdn_ok(f)) {
		error_at(c, n, "invalid host name '%s'", s);
		free(f);
		return;
	}
	{	/* all digits and dots: an IPv4 address, never resolved as a name */
		struct prefix ip;
		char perr[64];

		if (prefix_parse(f, &ip, NULL, perr, sizeof(perr)) == 0) {
			error_at(c, n, "'%s' is an IP address, not a host name: use an address "
				 "rule (address_prefixes) for it", s);
			free(f);
			return;
		}
	}
	/* the name lives in its sets' comment, "fqdn=NAME", which nftables
	 * caps at 128 characters (a longer one was cut: the cut name was
	 * resolved and matched, never the real one) */
	if (strlen(f) > FQDN_NAME_MAX) {
		error_at(c, n, "host name '%s' is %zu characters long: at most %d are supported "
			 "(the FQDN set's comment, fqdn=NAME, holds 128)", s, strlen(f), FQDN_NAME_MAX);
		free(f);
		return;
	}
	o->fqdn = f;
	o->proto = PROTO_TCP;
	o->ports.pos = npos(n);
	if (portspec_push(&o->ports, 80, 80) < 0 || portspec_push(&o->ports, 443, 443) < 0)
		diags_add(c->d, DIAG_ERROR, c->file, 0, 0, "out of memory");
}

enum { O_NAME, O_TYPE, O_DESTINATION, O_CATEGORY, O_STATUS, O_N };
static const struct keydef out_keys[O_N] = {
	[O_NAME] = { "name", true },
	[O_TYPE] = { "type", true },
	[O_DESTINATION] = { "destination", true },
	[O_CATEGORY] = { "category", false },	/* Azure's own listing; ignored */
	[O_STATUS] = { "status", false },	/* Azure's: Active or Inactive */
};

/* nm receives the rule's name and its position for the duplicate check. */
static void parse_outbound_rule(struct pctx *c, yaml_node_t *m, size_t idx,
				struct named *nm)
{
	static const char *const types[] = { "service_tag", "fqdn", "private_endpoint", NULL };
	struct outbound_rule *o = &c->p->out[idx];
	yaml_node_t *v[O_N];
	const char *s;
	int type = -1;

	o->pos = npos(m);
	if (!map_fields(c, m, "each item of 'outbound_rules'", out_keys, O_N, v))
		return;
	if (v[O_NAME] && (s = get_str(c, v[O_NAME], "'name'"))) {
		if (!name_ok(s, 80))
			error_at(c, v[O_NAME], "invalid outbound rule name '%s' (1..80 "
				 "characters of A-Z, a-z, 0-9 and _.-)", s);
		else if (strcasecmp(s, "DenyUnapprovedOutbound") == 0)
			/* its comment would be the final drop's: the flow table,
			 * counters and coverage could not tell them apart */
			error_at(c, v[O_NAME], "outbound rule name '%s' is reserved (the managed "
				 "network's final drop, managed:out:DenyUnapprovedOutbound)", s);
		else if ((o->name = xstrdup(c, s)))
			*nm = (struct named){ o->name, npos(v[O_NAME]), idx };
	}
	if (v[O_STATUS] && (s = get_str(c, v[O_STATUS], "'status'"))) {
		static const char *const st[] = { "Active", "Inactive", NULL };
		int k = lookup_ci(s, st);

		if (k < 0)
			error_at(c, v[O_STATUS], "invalid status '%s' (Active or Inactive)", s);
		else if ((o->inactive = k == 1))
			report(c, DIAG_NOTE, npos(v[O_STATUS]), "outbound rule '%s' is Inactive: it "
			       "approves nothing (not compiled)", o->name ? o->name : "?");
	}
	if (v[O_TYPE] && (s = get_str(c, v[O_TYPE], "'type'"))) {
		if ((type = lookup_ci(s, types)) < 0)
			error_at(c, v[O_TYPE], "invalid outbound rule type '%s' (service_tag, "
				 "fqdn or private_endpoint)", s);
		else
			o->type = (enum outbound_type)type;
	}
	if (!v[O_DESTINATION] || type < 0)
		return;
	switch (o->type) {
	case OUT_SERVICE_TAG:
		parse_out_service_tag(c, v[O_DESTINATION], o);
		break;
	case OUT_FQDN:
		parse_out_fqdn(c, v[O_DESTINATION], o);
		break;
	case OUT_PRIVATE_ENDPOINT:
		parse_out_private_endpoint(c, v[O_DESTINATION], o);
		break;
	}
}

static void parse_managed_network(struct pctx *c, yaml_node_t *n)
{
	/* firewall_sku (Azure Firewall's tier for FQDN rules: Basic or
	 * Standard) is Azure's; accepted as written and checked, no effect here */
	/* network_id and status are what `az ml workspace show` prints of the
	 * managed network (read-only): accepted and ignored, so that the
	 * block can be pasted as printed */
	static const struct keydef keys[] = {
		{ "isolation_mode", false }, { "outbound_rules", false }, { "firewall_sku", false },
		{ "network_id", false }, { "status", false },
	};
	static const char *const modes[] = {
		"disabled", "allow_internet_outbound", "allow_only_approved_outbound", NULL,
	};
	static const char *const skus[] = { "Basic", "Standard", NULL };
	yaml_node_t *v[5], *seq;
	struct named *names;
	const char *s;
	size_t len, nn = 0;
	int k;
	bool mode_known;

	if (!map_fields(c, n, "'managed_network'", keys, 5, v))
		return;
	if (v[2] && (s = get_str(c, v[2], "'firewall_sku'")) && lookup_ci(s, skus) < 0)
		error_at(c, v[2], "invalid firewall_sku '%s' (Basic or Standard)", s);
	mode_known = !v[0];
	if (v[0] && (s = get_str(c, v[0], "'isolation_mode'"))) {
		if ((k = lookup_ci(s, modes)) < 0)
			error_at(c, v[0], "invalid isolation_mode '%s' (disabled, "
				 "allow_internet_outbound or allow_only_approved_outbound)", s);
		else
			c->p->isolation = (enum isolation)k, mode_known = true;
	}
	if (!v[1] || !(seq = get_seq(c, v[1], "'outbound_rules'", true)))
		return;
	len = seq_len(seq);
	if (!len || !(c->p->out = xcalloc(c, len, sizeof(*c->p->out))))
		return;
	c->p->nout = len;
	if (!(names = xcalloc(c, len, sizeof(*names))))
		return;
	for (size_t i = 0; i < len; i++) {
		names[nn] = (struct named){ 0 };
		parse_outbound_rule(c, seq_item(c, seq, i), i, &names[nn]);
		if (names[nn].name)
			nn++;
	}
	report_dups(c, names, nn, true, "outbound rule name");
	free(names);
	/* only allow_only_approved_outbound restricts outbound traffic: the
	 * rules approve nothing otherwise (private endpoints pass in every mode) */
	if (mode_known && c->p->isolation != ISO_ALLOW_ONLY_APPROVED)
		report(c, c->p->isolation == ISO_DISABLED ? DIAG_WARNING : DIAG_NOTE, npos(v[1]),
		       "outbound_rules have no effect on the filter with isolation_mode '%s': "
		       "outbound traffic is not restricted by the managed network (only "
		       "allow_only_approved_outbound restricts it)", isolation_name(c->p->isolation));
}

/* ---------------------------------------------------------------- top level */

enum {
	T_VERSION, T_WORKSPACE, T_REGION, T_HBI, T_VNET, T_PE, T_RULES, T_MANAGED,
	T_FORWARD, T_N
};
static const struct keydef top_keys[T_N] = {
	[T_VERSION] = { "version", true },
	[T_WORKSPACE] = { "workspace", true },
	[T_REGION] = { "region", false },
	[T_HBI] = { "hbi_workspace", false },
	[T_VNET] = { "virtual_network", false },
	[T_PE] = { "private_endpoints", false },
	[T_RULES] = { "security_rules", false },
	[T_MANAGED] = { "managed_network", false },
	[T_FORWARD] = { "forward", false },
};

static void parse_top(struct pctx *c, yaml_node_t *root)
{
	struct policy *p = c->p;
	yaml_node_t *v[T_N];
	const char *s;
	long ver;

	if (!map_fields(c, root, "the policy", top_keys, T_N, v))
		return;
	if (v[T_VERSION] && get_int(c, v[T_VERSION], "'version'", &ver)) {
		if (ver != 1)
			error_at(c, v[T_VERSION], "unsupported policy version %s (expected 1)",
				 sval(v[T_VERSION]));
		else
			p->version = 1;
	}
	if (v[T_WORKSPACE] && (s = get_str(c, v[T_WORKSPACE], "'workspace'"))) {
		if (!workspace_ok(s))
			error_at(c, v[T_WORKSPACE], "invalid workspace name '%s' (1..48 "
				 "characters of a-z, 0-9 and -)", s);
		else
			p->workspace = xstrdup(c, s);
	}
	if (v[T_REGION] && (s = get_str(c, v[T_REGION], "'region'"))) {
		p->region_pos = npos(v[T_REGION]);
		if (!region_ok(s)) {
			error_at(c, v[T_REGION], "invalid region '%s' (letters and digits, "
				 "e.g. eastus)", s);
			p->region_invalid = true;
		} else {
			p->region = xstrdup(c, s);
		}
	}
	if (v[T_HBI])
		get_bool(c, v[T_HBI], "'hbi_workspace'", &p->hbi_workspace);
	if (v[T_VNET])
		parse_vnet(c, v[T_VNET]);
	if (v[T_PE])
		parse_private_endpoints(c, v[T_PE]);
	if (v[T_RULES])
		parse_security_rules(c, v[T_RULES]);
	if (v[T_MANAGED])
		parse_managed_network(c, v[T_MANAGED]);
	if (v[T_FORWARD])
		parse_forward(c, v[T_FORWARD]);
}

/* ---------------------------------------------------------------- pass 1: events */

static void syntax_error(struct pctx *c, const yaml_parser_t *yp, const char *buf, size_t len)
{
	struct srcpos pos = mpos(&yp->problem_mark);
	const char *problem = yp->problem ? yp->problem : "unknown error";
	const char *hint = "";

	if (yp->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark; columns count
		 * characters as libyaml's marks do (UTF-8 continuation bytes don't). */
		pos = (struct srcpos){ 1, 1 };
		for (size_t i = 0; i < yp->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				pos.line++;
				pos.col = 1;
			} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
				pos.col++;
			}
		}
	} else if (yp->error == YAML_MEMORY_ERROR) {
		problem = "out of memory";
	}
	if (yp->context && strstr(yp->context, "alias"))
		hint = "; write \"*\" in quotes";
	if (yp->context && yp->context_mark.line != yp->problem_mark.line)
		report(c, DIAG_ERROR, pos, "YAML syntax error: %s (%s at line %d)%s", problem,
		       yp->context, (int)yp->context_mark.line + 1, hint);
	else if (yp->context)
		report(c, DIAG_ERROR, pos, "YAML syntax error: %s (%s)%s", problem,
		       yp->context, hint);
	else
		report(c, DIAG_ERROR, pos, "YAML syntax error: %s%s", problem, hint);
}

static void refuse_anchor(struct pctx *c, const yaml_event_t *ev, const yaml_char_t *anchor)
{
	if (anchor)
		report(c, DIAG_ERROR, mpos(&ev->start_mark),
		       "YAML anchors are not allowed ('&%s')", (const char *)anchor);
}

/* An explicit YAML tag ("!foo", "!!float") would be dropped silently by the
 * loader (a review's "priority: !!float 102" passed): refused. */
static void refuse_tag(struct pctx *c, const yaml_event_t *ev, const yaml_char_t *tag)
{
	if (tag)
		report(c, DIAG_ERROR, mpos(&ev->start_mark),
		       "YAML tags are not allowed ('%s'); quote the value instead", (const char *)tag);
}

/* Refuses what the loader would accept: anchors and aliases, deep nesting, more
 * than one document; reports syntax errors.  Returns -1 when anything was found. */
static int check_events(struct pctx *c, const char *buf, size_t len)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	size_t errors = c->d->errors;
	int depth = 0, docs = 0;
	bool done = false;

	if (!yaml_parser_initialize(&yp)) {
		diags_add(c->d, DIAG_ERROR, c->file, 0, 0, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			syntax_error(c, &yp, buf, len);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				report(c, DIAG_ERROR, mpos(&ev.start_mark),
				       "a policy file holds one YAML document, found another");
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			report(c, DIAG_ERROR, mpos(&ev.start_mark),
			       "YAML aliases are not allowed ('*%s')",
			       (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			refuse_anchor(c, &ev, ev.data.scalar.anchor);
			refuse_tag(c, &ev, ev.data.scalar.tag);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			refuse_anchor(c, &ev, ev.type == YAML_SEQUENCE_START_EVENT ?
				      ev.data.sequence_start.anchor :
				      ev.data.mapping_start.anchor);
			refuse_tag(c, &ev, ev.type == YAML_SEQUENCE_START_EVENT ?
				   ev.data.sequence_start.tag : ev.data.mapping_start.tag);
			if (++depth > POLICY_MAX_DEPTH) {
				report(c, DIAG_ERROR, mpos(&ev.start_mark),
				       "nesting is deeper than %d levels", POLICY_MAX_DEPTH);
				done = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	return c->d->errors > errors ? -1 : 0;
}

/* ---------------------------------------------------------------- entry points */

/* keep_partial: hand back the policy built so far even when errors were found
 * (for the semantic pass of policy_load); never when YAML itself failed. */
static int parse_buffer(const char *name, const char *buf, size_t len,
			struct policy **out, struct diags *d, bool keep_partial)
{
	struct pctx c = { .file = name, .d = d };
	size_t first = d->n, errors = d->errors;
	yaml_parser_t yp;
	yaml_document_t doc;
	yaml_node_t *root;

	*out = NULL;
	if (!buf)
		buf = "";	/* libyaml asserts on a NULL input */
	if (len > POLICY_MAX_BYTES) {
		diags_add(d, DIAG_ERROR, name, 0, 0,
			  "file is %zu bytes, larger than the limit of %u bytes (4 MiB)",
			  len, POLICY_MAX_BYTES);
		return -1;
	}
	if (check_events(&c, buf, len) < 0)
		goto out;
	if (!yaml_parser_initialize(&yp)) {
		diags_add(d, DIAG_ERROR, name, 0, 0, "out of memory");
		goto out;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&yp, &doc)) {
		syntax_error(&c, &yp, buf, len);
		yaml_parser_delete(&yp);
		goto out;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		diags_add(d, DIAG_ERROR, name, 0, 0, "the policy file is empty");
	} else if ((c.p = calloc(1, sizeof(*c.p))) && (c.p->file = strdup(name))) {
		parse_top(&c, root);
	} else {
		diags_add(d, DIAG_ERROR, name, 0, 0, "out of memory");
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
out:
	diags_sort(d, first);
	if (d->errors > errors) {
		if (keep_partial && c.doc)
			*out = c.p;
		else
			policy_free(c.p);
		return -1;
	}
	*out = c.p;
	return 0;
}

int policy_parse_buffer(const char *name, const char *buf, size_t len,
			struct policy **out, struct diags *d)
{
	return parse_buffer(name, buf, len, out, d, false);
}

int policy_load(const char *name, const char *buf, size_t len, const struct tagdb *tags,
		struct policy **out, struct diags *d)
{
	size_t first = d->n, errors = d->errors;
	struct policy *p = NULL;

	*out = NULL;
	parse_buffer(name, buf, len, &p, d, true);
	if (p)
		policy_resolve(p, tags, d);
	diags_sort(d, first);
	if (d->errors > errors) {
		policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

/* Reads a policy file (bounded) and hands it to parse (buffer variant). */
static int with_file(const char *path, struct diags *d,
		     int (*parse)(const char *, const char *, size_t, const void *,
				  struct policy **, struct diags *),
		     const void *arg, struct policy **out);

static int parse_only(const char *name, const char *buf, size_t len, const void *arg,
		      struct policy **out, struct diags *d)
{
	(void)arg;
	return policy_parse_buffer(name, buf, len, out, d);
}

static int parse_and_resolve(const char *name, const char *buf, size_t len, const void *arg,
			     struct policy **out, struct diags *d)
{
	return policy_load(name, buf, len, arg, out, d);
}

int policy_parse_file(const char *path, struct policy **out, struct diags *d)
{
	return with_file(path, d, parse_only, NULL, out);
}

int policy_load_file(const char *path, const struct tagdb *tags, struct policy **out,
		     struct diags *d)
{
	return with_file(path, d, parse_and_resolve, tags, out);
}

static int with_file(const char *path, struct diags *d,
		     int (*parse)(const char *, const char *, size_t, const void *,
				  struct policy **, struct diags *),
		     const void *arg, struct policy **out)
{
	FILE *f;
	char *buf;
	size_t len;
	int ret;

	*out = NULL;
	if (!(f = fopen(path, "rb"))) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	/* One byte more than the limit tells "too large" without trusting st_size. */
	if (!(buf = malloc(POLICY_MAX_BYTES + 1))) {
		fclose(f);
		diags_add(d, DIAG_ERROR, path, 0, 0, "out of memory");
		return -1;
	}
	len = fread(buf, 1, POLICY_MAX_BYTES + 1, f);
	if (ferror(f)) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "read error: %s", strerror(errno));
		ret = -1;
	} else if (len > POLICY_MAX_BYTES) {
		diags_add(d, DIAG_ERROR, path, 0, 0,
			  "file is larger than the limit of %u bytes (4 MiB)", POLICY_MAX_BYTES);
		ret = -1;
	} else {
		ret = parse(path, buf, len, arg, out, d);
	}
	free(buf);
	fclose(f);
	return ret;
}

/* ---------------------------------------------------------------- resolve */

static bool ends_with_region(const char *s, size_t *baselen)
{
	size_t n = strlen(s);

	if (n <= 7 || strcasecmp(s + n - 7, ".region"))
		return false;
	*baselen = n - 7;
	return true;
}

static void resolve_item(struct pctx *c, const struct tagdb *tags, struct addr_item *it)
{
	const struct service_tag *t = NULL;
	const char *name = it->text, *sugg = NULL;
	char *expanded = NULL;
	size_t base = 0;

	it->tag = NULL;
	if (it->kind != ADDR_TAG)
		return;
	if (ends_with_region(it->text, &base)) {
		if (!c->p->region) {
			if (!c->p->region_invalid)	/* else said at 'region:' */
				report(c, DIAG_ERROR, it->pos,
				       "'%s' needs 'region:' at the top level", it->text);
			return;
		}
		if (asprintf(&expanded, "%.*s.%s", (int)base, it->text, c->p->region) < 0) {
			diags_add(c->d, DIAG_ERROR, c->file, 0, 0, "out of memory");
			return;
		}
		name = expanded;
	}
	if (tags && expanded) {
		char b[256];
		snprintf(b, sizeof(b), "%.*s", (int)base, it->text);
		t = tagdb_find_regional(tags, b, c->p->region);
	} else if (tags) {
		t = tagdb_find(tags, name);
	}
	if (t) {
		it->tag = t;
		goto out;
	}
	bool suggest = c->suggested < MAX_SUGGESTIONS;

	if (suggest)
		c->suggested++;
	if (tags && suggest)
		sugg = tagdb_suggest(tags, name);
	/* The pseudo-tags are not in the file but are typed just as often. */
	for (int i = 0; suggest && pseudo_tags[i]; i++) {
		size_t dp = edit_distance_ci(name, pseudo_tags[i]);
		if (dp <= 2 && (!sugg || dp < edit_distance_ci(name, sugg)))
			sugg = pseudo_tags[i];
	}
	if (expanded && sugg)
		report(c, DIAG_ERROR, it->pos, "unknown service tag '%s' (from '%s'); "
		       "did you mean '%s'?", name, it->text, sugg);
	else if (expanded)
		report(c, DIAG_ERROR, it->pos, "unknown service tag '%s' (from '%s')",
		       name, it->text);
	else if (sugg)
		report(c, DIAG_ERROR, it->pos, "unknown service tag '%s'; did you mean '%s'?",
		       name, sugg);
	else
		report(c, DIAG_ERROR, it->pos, "unknown service tag '%s'", name);
out:
	free(expanded);
}

static int add_text_prefix(struct pset *s, const char *text)
{
	struct prefix pf;
	char err[64];

	if (prefix_parse(text, &pf, NULL, err, sizeof(err)) < 0)
		return -1;
	return pset_add_prefix(s, &pf);
}

/* What counts as Internet for the hbi example (pset_internet, for the
 * policy's address space). */
static int internet_set(const struct policy *p, struct pset *v4, struct pset *v6)
{
	struct pset vnet4, vnet6;
	int ret = -1;

	pset_init(&vnet4, AF_INET);
	pset_init(&vnet6, AF_INET6);
	for (size_t i = 0; i < p->nvnet; i++)
		if (pset_add_prefix(p->vnet[i].family == AF_INET ? &vnet4 : &vnet6,
				    &p->vnet[i]) < 0)
			goto out;
	pset_normalize(&vnet4);
	pset_normalize(&vnet6);
	ret = pset_internet(&vnet4, &vnet6, v4, v6);
out:
	pset_free(&vnet4);
	pset_free(&vnet6);
	return ret;
}

static bool tag_is_family(const char *name, const char *fam)
{
	size_t n = strlen(fam);

	return !strncasecmp(name, fam, n) && (name[n] == '\0' || name[n] == '.');
}

/* VirtualNetwork ∪ AzureMachineLearning(.*) ∪ BatchNodeManagement(.*) ∪ ALB. */
static int hbi_allowed(const struct policy *p, const struct tagdb *tags,
		       struct pset *a4, struct pset *a6)
{
	pset_init(a4, AF_INET);
	pset_init(a6, AF_INET6);
	if (add_text_prefix(a4, "168.63.129.16/32") < 0)
		return -1;
	for (size_t i = 0; i < p->nvnet; i++)
		if (pset_add_prefix(p->vnet[i].family == AF_INET ? a4 : a6, &p->vnet[i]) < 0)
			return -1;
	pset_normalize(a4);
	for (size_t i = 0; tags && i < tags->n; i++) {
		const struct service_tag *t = &tags->tags[i];
		if (!tag_is_family(t->name, "AzureMachineLearning") &&
		    !tag_is_family(t->name, "BatchNodeManagement"))
			continue;
		/* append, then normalise once: a union per tag would re-sort the
		 * growing set for each of the ~100 regional tags */
		for (size_t k = 0; k < t->v4.n; k++)
			if (pset_add_interval(a4, &t->v4.v[k].lo, &t->v4.v[k].hi) < 0)
				return -1;
		for (size_t k = 0; k < t->v6.n; k++)
			if (pset_add_interval(a6, &t->v6.v[k].lo, &t->v6.v[k].hi) < 0)
				return -1;
	}
	pset_normalize(a4);
	pset_normalize(a6);
	return 0;
}

/* The source set of a rule per family; false when an item is unresolved. */
static int rule_sources(const struct policy *p, const struct security_rule *r,
			const struct pset *inet4, const struct pset *inet6,
			struct pset *s4, struct pset *s6, bool *complete)
{
	*complete = true;
	pset_init(s4, AF_INET);
	pset_init(s6, AF_INET6);
	for (size_t i = 0; i < r->src.n; i++) {
		const struct addr_item *it = &r->src.v[i];
		switch (it->kind) {
		case ADDR_ANY:
			if (add_text_prefix(s4, "0.0.0.0/0") < 0 ||
			    add_text_prefix(s6, "::/0") < 0)
				return -1;
			break;
		case ADDR_INTERNET:
			if (pset_union(s4, inet4) < 0 || pset_union(s6, inet6) < 0)
				return -1;
			break;
		case ADDR_ALB:
			if (add_text_prefix(s4, "168.63.129.16/32") < 0)
				return -1;
			break;
		case ADDR_VNET:
			for (size_t j = 0; j < p->nvnet; j++)
				if (pset_add_prefix(p->vnet[j].family == AF_INET ? s4 : s6,
						    &p->vnet[j]) < 0)
					return -1;
			for (size_t j = 0; j < p->nvnet; j++)
				if (p->vnet[j].family == AF_INET) {
					if (pset_add_host_vip(s4) < 0)
						return -1;
					break;
				}
			break;
		case ADDR_CIDR:
			if (pset_add_prefix(it->pfx.family == AF_INET ? s4 : s6, &it->pfx) < 0)
				return -1;
			break;
		case ADDR_TAG:
			if (!it->tag) {
				*complete = false;
				break;
			}
			if (pset_union(s4, &it->tag->v4) < 0 || pset_union(s6, &it->tag->v6) < 0)
				return -1;
			break;
		}
	}
	pset_normalize(s4);
	pset_normalize(s6);
	return 0;
}

/* An address of src \ allowed, preferring one that is Internet (nicer to read than
 * 0.0.0.0); false when src is a subset of allowed. */
static int hbi_example(const struct pset *src, const struct pset *allowed,
		       const struct pset *inet, char *buf, size_t len, bool *found)
{
	struct pset diff, outside;
	int ret = -1;

	*found = false;
	pset_init(&outside, src->family);
	if (pset_copy(&diff, src) < 0)
		return -1;
	if (pset_subtract(&diff, allowed) < 0)
		goto out;
	if (diff.n) {
		const struct interval *pick = &diff.v[0];
		/* outside := diff \ (everything that is not Internet) = diff ∩ inet */
		struct pset notinet;
		pset_init(&notinet, src->family);
		if (add_text_prefix(&notinet, src->family == AF_INET ? "0.0.0.0/0" : "::/0") < 0 ||
		    pset_subtract(&notinet, inet) < 0 || pset_copy(&outside, &diff) < 0 ||
		    pset_subtract(&outside, &notinet) < 0) {
			pset_free(&notinet);
			goto out;
		}
		pset_free(&notinet);
		if (outside.n)
			pick = &outside.v[0];
		addr_format(src->family, &pick->lo, buf, len);
		*found = true;
	}
	ret = 0;
out:
	pset_free(&diff);
	pset_free(&outside);
	return ret;
}

static void check_hbi(struct pctx *c, const struct tagdb *tags)
{
	const struct policy *p = c->p;
	struct pset a4, a6, i4, i6;

	pset_init(&i4, AF_INET);
	pset_init(&i6, AF_INET6);
	if (hbi_allowed(p, tags, &a4, &a6) < 0 || internet_set(p, &i4, &i6) < 0)
		goto oom;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct security_rule *r = &p->rules[i];
		struct pset s4, s6;
		char ex[INET6_ADDRSTRLEN];
		bool complete, found = false;
		int rc;

		if (r->dir != DIR_INBOUND || r->access != ACCESS_ALLOW)
			continue;
		rc = rule_sources(p, r, &i4, &i6, &s4, &s6, &complete);
		if (rc == 0 && complete) {
			rc = hbi_example(&s4, &a4, &i4, ex, sizeof(ex), &found);
			if (rc == 0 && !found)
				rc = hbi_example(&s6, &a6, &i6, ex, sizeof(ex), &found);
		}
		pset_free(&s4);
		pset_free(&s6);
		if (rc < 0)
			goto oom;
		if (found)
			report(c, DIAG_ERROR, r->source_pos, "hbi_workspace: inbound allow rule "
			       "'%s' admits sources outside VirtualNetwork, AzureMachineLearning, "
			       "BatchNodeManagement and AzureLoadBalancer (e.g. %s)",
			       r->name ? r->name : "?", ex);
	}
	goto out;
oom:
	diags_add(c->d, DIAG_ERROR, c->file, 0, 0, "out of memory");
out:
	pset_free(&a4);
	pset_free(&a6);
	pset_free(&i4);
	pset_free(&i6);
}

/* An address space in the public Internet (the pseudo-tag's ranges, taken
 * without an address space): VirtualNetwork, which the NSG defaults trust
 * (AllowVnetInBound) and hbi admits, would hold hosts of the Internet -- an
 * hbi policy whose address space was 2000::/3 let any IPv6 host call the
 * pool, and `check` said ok.  An error with hbi_workspace; else a warning
 * (Azure lets a virtual network use public ranges its owner holds). */
static void check_vnet_public(struct pctx *c)
{
	const struct policy *p = c->p;
	struct pset pub4, pub6;

	if (pset_internet(NULL, NULL, &pub4, &pub6) < 0)
		goto oom;
	for (size_t i = 0; i < p->nvnet; i++) {
		const struct prefix *pf = &p->vnet[i];
		const struct pset *pub = pf->family == AF_INET ? &pub4 : &pub6;
		struct pset part, rest;
		char ex[INET6_ADDRSTRLEN], txt[64];

		pset_init(&part, pf->family);
		pset_init(&rest, pf->family);
		/* part := pf ∩ pub = pf \ (pf \ pub) */
		if (pset_add_prefix(&part, pf) < 0 || pset_copy(&rest, &part) < 0 ||
		    pset_subtract(&rest, pub) < 0 || pset_subtract(&part, &rest) < 0) {
			pset_free(&part);
			pset_free(&rest);
			pset_free(&pub4);
			pset_free(&pub6);
			goto oom;
		}
		if (part.n) {
			addr_format(pf->family, &part.v[0].lo, ex, sizeof(ex));
			prefix_format(pf, txt, sizeof(txt));
			if (p->hbi_workspace)
				report(c, DIAG_ERROR, p->vnet_pos[i], "hbi_workspace: address_space '%s' holds "
				       "public Internet addresses (e.g. %s): VirtualNetwork would admit "
				       "hosts of the Internet inbound (AllowVnetInBound); use private "
				       "ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fd00::/8)",
				       txt, ex);
			else
				report(c, DIAG_WARNING, p->vnet_pos[i], "address_space '%s' holds public "
				       "Internet addresses (e.g. %s): they count as VirtualNetwork, not "
				       "Internet, and AllowVnetInBound admits them", txt, ex);
		}
		pset_free(&part);
		pset_free(&rest);
	}
	pset_free(&pub4);
	pset_free(&pub6);
	return;
oom:
	diags_add(c->d, DIAG_ERROR, c->file, 0, 0, "out of memory");
}

/* 'region:' must name a region of the tags file.  The required rules of
 * allow_only_approved_outbound use its regional tags; a typo used to pass
 * check with warnings, and the global tags stood in: Storage's 559 prefixes
 * of every region approved instead of Storage.EastUS's 102. */
static void check_region(struct pctx *c, const struct tagdb *tags)
{
	const struct policy *p = c->p;
	const char *best = NULL;
	size_t bestd = (size_t)-1;

	if (!p->region || !tags || tagdb_has_region(tags, p->region))
		return;
	for (size_t i = 0; i < tags->n; i++) {
		const char *dot = strchr(tags->tags[i].name, '.');
		size_t dd = dot ? edit_distance_ci(dot + 1, p->region) : (size_t)-1;
		if (dd < bestd)
			bestd = dd, best = dot + 1;
	}
	if (best && bestd <= 3)
		report(c, DIAG_ERROR, p->region_pos, "region '%s' is not a region of %s (no tag is named "
		       "for it, as Storage.<region> is); did you mean '%s'?", p->region, tags->path, best);
	else
		report(c, DIAG_ERROR, p->region_pos, "region '%s' is not a region of %s (no tag is named "
		       "for it, as Storage.<region> is)", p->region, tags->path);
}

int policy_resolve(struct policy *p, const struct tagdb *tags, struct diags *d)
{
	struct pctx c = { .file = p->file, .d = d, .p = p };
	size_t first = d->n, errors = d->errors;

	for (size_t i = 0; i < p->nrules; i++) {
		for (size_t j = 0; j < p->rules[i].src.n; j++)
			resolve_item(&c, tags, &p->rules[i].src.v[j]);
		for (size_t j = 0; j < p->rules[i].dst.n; j++)
			resolve_item(&c, tags, &p->rules[i].dst.v[j]);
	}
	for (size_t i = 0; i < p->nout; i++)
		for (size_t j = 0; j < p->out[i].dst.n; j++)
			resolve_item(&c, tags, &p->out[i].dst.v[j]);
	check_vnet_public(&c);
	check_region(&c, tags);
	if (p->hbi_workspace)
		check_hbi(&c, tags);
	diags_sort(d, first);
	return d->errors > errors ? -1 : 0;
}

/* ---------------------------------------------------------------- printing */

static void print_item(const struct addr_item *it, bool bracket_v6, FILE *f)
{
	char buf[INET6_ADDRSTRLEN + 8];

	switch (it->kind) {
	case ADDR_ANY:
		fputs("*", f);
		break;
	case ADDR_VNET:
		fputs("VirtualNetwork", f);
		break;
	case ADDR_INTERNET:
		fputs("Internet", f);
		break;
	case ADDR_ALB:
		fputs("AzureLoadBalancer", f);
		break;
	case ADDR_TAG:
		fputs(it->tag ? it->tag->name : it->text, f);
		break;
	case ADDR_CIDR:
		prefix_format(&it->pfx, buf, sizeof(buf));
		if (bracket_v6 && it->pfx.family == AF_INET6)
			fprintf(f, "[%s]", buf);
		else
			fputs(buf, f);
		break;
	}
}

static void print_prefixes(const struct prefix *v, size_t n, bool bracket_v6, FILE *f)
{
	char buf[INET6_ADDRSTRLEN + 8];

	for (size_t i = 0; i < n; i++) {
		prefix_format(&v[i], buf, sizeof(buf));
		if (bracket_v6 && v[i].family == AF_INET6)
			fprintf(f, "%s[%s]", i ? "," : "", buf);
		else
			fprintf(f, "%s%s", i ? "," : "", buf);
	}
}

static void print_ports(const struct portspec *ps, FILE *f)
{
	if (ps->any) {
		fputs("*", f);
		return;
	}
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->r[i].lo == ps->r[i].hi)
			fprintf(f, "%s%u", i ? "," : "", ps->r[i].lo);
		else
			fprintf(f, "%s%u-%u", i ? "," : "", ps->r[i].lo, ps->r[i].hi);
	}
}

/* ADDRS:PORTS, IPv6 literals in brackets so the port part stays unambiguous. */
static void print_endpoint(const struct addrspec *as, const struct portspec *ps, FILE *f)
{
	for (size_t i = 0; i < as->n; i++) {
		if (i)
			fputc(',', f);
		print_item(&as->v[i], true, f);
	}
	fputc(':', f);
	print_ports(ps, f);
}

void policy_print(const struct policy *p, FILE *f)
{
	struct rule_ref *order;

	fprintf(f, "version %d\n", p->version);
	fprintf(f, "workspace %s\n", p->workspace ? p->workspace : "?");
	if (p->region)
		fprintf(f, "region %s\n", p->region);
	fprintf(f, "hbi_workspace %s\n", p->hbi_workspace ? "true" : "false");
	for (size_t i = 0; i < p->nvnet; i++) {
		fputs("vnet ", f);
		print_prefixes(&p->vnet[i], 1, false, f);
		fputc('\n', f);
	}
	for (size_t i = 0; i < p->nforward; i++)
		fprintf(f, "forward %s\n", p->forward_ifaces[i]);
	for (size_t i = 0; i < p->npe; i++) {
		const struct private_endpoint *e = &p->pe[i];
		fprintf(f, "private_endpoint %s tcp dst=", e->name ? e->name : "?");
		print_prefixes(e->addrs, e->naddrs, true, f);
		fputc(':', f);
		print_ports(&e->ports, f);
		fputc('\n', f);
	}
	/* Evaluation order: by direction, then priority (file order breaks ties, which
	 * only a rejected file can have). */
	order = calloc(p->nrules ? p->nrules : 1, sizeof(*order));
	if (order) {
		for (size_t i = 0; i < p->nrules; i++)
			order[i] = (struct rule_ref){ &p->rules[i], i };
		qsort(order, p->nrules, sizeof(*order), ref_prio_cmp);
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct security_rule *r = order ? order[i].r : &p->rules[i];
		fprintf(f, "rule %s %d %s %s %s src=", direction_name(r->dir), r->priority,
			r->name ? r->name : "?", access_name(r->access), proto_name(r->proto));
		print_endpoint(&r->src, &r->sports, f);
		fputs(" dst=", f);
		print_endpoint(&r->dst, &r->dports, f);
		fputc('\n', f);
	}
	free(order);
	fprintf(f, "isolation %s\n", isolation_name(p->isolation));
	for (size_t i = 0; i < p->nout; i++) {
		const struct outbound_rule *o = &p->out[i];
		fprintf(f, "outbound %s %s %s dst=", o->name ? o->name : "?",
			outbound_type_name(o->type), proto_name(o->proto));
		switch (o->type) {
		case OUT_SERVICE_TAG:
			print_endpoint(&o->dst, &o->ports, f);
			break;
		case OUT_FQDN:
			fprintf(f, "%s:", o->fqdn ? o->fqdn : "?");
			print_ports(&o->ports, f);
			break;
		case OUT_PRIVATE_ENDPOINT:
			print_prefixes(o->addrs, o->naddrs, true, f);
			fputc(':', f);
			print_ports(&o->ports, f);
			fprintf(f, " resource=%s subresource=%s spark=%s",
				o->service_resource_id ? o->service_resource_id : "?",
				o->subresource_target ? o->subresource_target : "?",
				o->spark_enabled ? "true" : "false");
			break;
		}
		fputc('\n', f);
	}
}
