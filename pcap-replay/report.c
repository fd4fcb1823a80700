/* report — what pcap-replay prints: the flow table and totals (text, JSON),
 * expectation results, coverage, and the JUnit file. */
#include "replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <pcap/pcap.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "ruleset.h"
#include "set_lookup.h"
#include "strbuf.h"

#define TEXT_LIST_MAX 20	/* items listed per section in text output */
#define JSON_ELEMS_MAX 1000	/* unhit set elements listed per set in JSON */

static bool judged_flow(const struct flow *f)
{
	return f->dir != FLOW_LO;
}

void expect_outcome(const struct report_ctx *c, struct expect_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (!c->e)
		return;
	for (size_t i = 0; i < c->e->n; i++) {
		const struct expect_line *l = &c->e->v[i];

		if (l->matched == 0)
			out->lines_unmatched++;
		if (l->failures || (l->matched == 0 && c->require_match))
			out->lines_failed++;
	}
	for (size_t i = 0; i < c->r->nflows; i++)
		if (judged_flow(&c->r->flows[i]) && c->r->flows[i].expect_line < 0)
			out->flows_unmatched++;
	out->flows_unmatched += c->r->t.unlisted_unmatched;	/* past --max-listed-flows */
	for (size_t i = 0; i < c->nproblems; i++) {
		if (c->problems[i].error)
			out->problems_error++;
		else
			out->problems_failed++;
	}
	out->failed = out->lines_failed > 0 || (c->require_all && out->flows_unmatched > 0) ||
		      out->problems_failed > 0;
	out->errored = out->problems_error > 0;
}

const char *expect_result_name(const struct expect_outcome *o)
{
	return o->errored ? "error" : o->failed ? "fail" : "pass";
}

/* "#3 in tcp 192.0.2.1:40000 -> 10.0.0.4:44224 (capture 1 frame 7): drop by ..." */
static void flow_line(const struct replay *r, size_t i, char *buf, size_t len)
{
	const struct flow *f = &r->flows[i];
	char s[80], d[80];

	flow_format_addr(f, false, s, sizeof(s));
	flow_format_addr(f, true, d, sizeof(d));
	snprintf(buf, len, "flow #%zu %s %s %s -> %s (capture %u frame %llu): %s by %s%s", i + 1,
		 flow_dir_name(f->dir), l4_name(f->k.proto), s, d, f->capture,
		 (unsigned long long)f->first_frame, f->accepted ? "accepted" : "dropped",
		 f->decided, f->incomplete ? " (undecidable: capture truncated)" : "");
}

/* "frame " with one capture, "2:" (capture 2) with several. */
static const char *frame_prefix(const struct replay *r, unsigned cap, char *buf, size_t len)
{
	if (r->ncaps > 1)
		snprintf(buf, len, "%u:", cap);
	else
		snprintf(buf, len, "frame ");
	return buf;
}

static const char *verdict_word(const struct flow *f)
{
	if (f->incomplete)
		return f->accepted ? "accept?" : "drop?";
	return f->accepted ? "accept" : "drop";
}

/* ---- coverage ------------------------------------------------------------- */

struct origin_cov {
	char origin[256];
	uint64_t evaluated, matched;
	size_t nrules;
};

/* Policy rules by comment origin, in ruleset order.  Caller frees. */
static struct origin_cov *coverage_rules(const struct vm *vm, size_t *n)
{
	size_t cnt = vm_rule_count(vm), m = 0;
	struct origin_cov *v = calloc(cnt ? cnt : 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < cnt; i++) {
		struct vm_rule_stats st;
		enum rule_category cat;
		char dir[16], name[192], origin[256];
		size_t j;

		if (vm_rule_stats(vm, i, &st) < 0)
			continue;
		if (rule_origin(st.rule, &cat, dir, sizeof(dir), name, sizeof(name)) < 0)
			snprintf(origin, sizeof(origin), "chain %s rule %d", st.chain, st.index + 1);
		else if (cat == CAT_INTERNAL)
			continue;
		else
			snprintf(origin, sizeof(origin), "%s:%s:%s", category_name(cat), dir, name);
		for (j = 0; j < m; j++)
			if (strcmp(v[j].origin, origin) == 0)
				break;
		if (j == m) {
			snprintf(v[m].origin, sizeof(v[m].origin), "%s", origin);
			m++;
		}
		v[j].evaluated += st.evaluated;
		v[j].matched += st.matched;
		v[j].nrules++;
	}
	*n = m;
	return v;
}

static void elem_key_format(const struct nftnl_set_elem *e, char *buf, size_t len)
{
	uint32_t klen = 0;
	const uint8_t *k = nftnl_set_elem_get((struct nftnl_set_elem *)e, NFTNL_SET_ELEM_KEY, &klen);
	char txt[INET6_ADDRSTRLEN];

	if (!k || !klen) {
		snprintf(buf, len, "?");
		return;
	}
	if (klen == 4 || klen == 16) {
		inet_ntop(klen == 4 ? AF_INET : AF_INET6, k, txt, sizeof(txt));
		snprintf(buf, len, "%s", txt);
	} else if (klen == 2) {
		snprintf(buf, len, "%u", (unsigned)(k[0] << 8 | k[1]));
	} else if (klen == 1) {
		snprintf(buf, len, "%u", k[0]);
	} else {
		size_t off = 0;

		buf[0] = '\0';
		for (uint32_t i = 0; i < klen && off + 3 < len; i++)
			off += (size_t)snprintf(buf + off, len - off, "%02x", k[i]);
	}
}

static bool elem_is_end(const struct nftnl_set_elem *e)
{
	struct nftnl_set_elem *m = (struct nftnl_set_elem *)e;	/* libnftnl's getters */

	return nftnl_set_elem_is_set(m, NFTNL_SET_ELEM_FLAGS) &&
	       (nftnl_set_elem_get_u32(m, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
}

/* The interval sets' end markers, sorted: an element's range is its start up
 * to the first end above it (nft_set_rbtree's element pairs). */
struct set_ends {
	unsigned __int128 *v;
	size_t n;
	uint32_t klen;
};

static int u128_cmp(const void *a, const void *b)
{
	unsigned __int128 x = *(const unsigned __int128 *)a, y = *(const unsigned __int128 *)b;

	return x < y ? -1 : x > y;
}

static void set_ends_collect(const struct vm *vm, size_t s, struct set_ends *se)
{
	size_t ne = vm_set_nelems(vm, s);

	memset(se, 0, sizeof(*se));
	for (size_t j = 0; j < ne; j++) {
		const struct nftnl_set_elem *e = vm_set_elem(vm, s, j);
		uint32_t klen = 0;
		const uint8_t *k;

		if (!e || !elem_is_end(e))
			continue;
		k = nftnl_set_elem_get((struct nftnl_set_elem *)e, NFTNL_SET_ELEM_KEY, &klen);
		if (!k || (klen != 2 && klen != 4 && klen != 16))
			continue;
		if (!se->v && !(se->v = calloc(ne, sizeof(*se->v))))
			return;
		se->klen = klen;
		se->v[se->n++] = set_key_u128(k, klen);
	}
	if (se->n)
		qsort(se->v, se->n, sizeof(*se->v), u128_cmp);
}

static void addr_or_port(uint32_t klen, unsigned __int128 v, char *buf, size_t len)
{
	uint8_t b[16];
	char txt[INET6_ADDRSTRLEN];

	for (uint32_t i = 0; i < klen; i++)
		b[klen - 1 - i] = (uint8_t)(v >> (8 * i));
	if (klen == 2) {
		snprintf(buf, len, "%u", (unsigned)v);
		return;
	}
	inet_ntop(klen == 4 ? AF_INET : AF_INET6, b, txt, sizeof(txt));
	snprintf(buf, len, "%s", txt);
}

/* An unhit element as the policy wrote it: an address prefix as CIDR
 * ("1.0.0.0/8"), another range as "first-last", a single value alone; not
 * only its start (which said "1.0.0.0" for all of 1.0.0.0/8). */
static void elem_format(const struct nftnl_set_elem *e, const struct set_ends *se, char *buf,
			size_t len)
{
	struct nftnl_set_elem *m = (struct nftnl_set_elem *)e;
	uint32_t klen = 0, kel = 0;
	const uint8_t *k = nftnl_set_elem_get(m, NFTNL_SET_ELEM_KEY, &klen);
	const uint8_t *ke = nftnl_set_elem_is_set(m, NFTNL_SET_ELEM_KEY_END) ?
			    nftnl_set_elem_get(m, NFTNL_SET_ELEM_KEY_END, &kel) : NULL;
	unsigned __int128 lo, hi, size;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	bool have_hi = false;

	if (!k || (klen != 2 && klen != 4 && klen != 16)) {
		elem_key_format(e, buf, len);
		return;
	}
	lo = set_key_u128(k, klen);
	if (ke && kel == klen) {
		hi = set_key_u128(ke, klen);
		have_hi = true;
	} else if (se && se->n && se->klen == klen) {
		size_t l = 0, r = se->n;

		while (l < r) {		/* first end above lo */
			size_t mid = (l + r) / 2;

			if (se->v[mid] <= lo)
				l = mid + 1;
			else
				r = mid;
		}
		if (l < se->n) {
			hi = se->v[l] - 1;
			have_hi = true;
		}
	}
	addr_or_port(klen, lo, a, sizeof(a));
	if (!have_hi || hi == lo) {
		snprintf(buf, len, "%s", a);
		return;
	}
	size = hi - lo + 1;
	if (klen != 2 && size && (size & (size - 1)) == 0 && (lo & (size - 1)) == 0) {
		unsigned bits = 0;

		while (((unsigned __int128)1 << bits) < size)
			bits++;
		snprintf(buf, len, "%s/%u", a, klen * 8 - bits);
		return;
	}
	addr_or_port(klen, hi, b, sizeof(b));
	snprintf(buf, len, "%s-%s", a, b);
}

/* An anonymous set (__setN) is named by the rule that looks it up: its nft
 * comment ("user:in:AllowWeb"), "" when none does. */
static void set_user(const struct ruleset *rs, const char *set, char *buf, size_t len)
{
	struct nftnl_rule_list_iter *it;

	buf[0] = '\0';
	if (strncmp(set, "__set", 5) != 0 || !rs->rules ||
	    !(it = nftnl_rule_list_iter_create(rs->rules)))
		return;
	for (struct nftnl_rule *r = nftnl_rule_list_iter_next(it); r && !buf[0];
	     r = nftnl_rule_list_iter_next(it)) {
		struct nftnl_expr_iter *ei = nftnl_expr_iter_create(r);

		for (struct nftnl_expr *e = ei ? nftnl_expr_iter_next(ei) : NULL; e;
		     e = nftnl_expr_iter_next(ei)) {
			const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

			if (n && strcmp(n, "lookup") == 0 && nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_SET) &&
			    strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET), set) == 0) {
				rule_comment(r, buf, len);
				break;
			}
		}
		if (ei)
			nftnl_expr_iter_destroy(ei);
	}
	nftnl_rule_list_iter_destroy(it);
}

static void coverage_text(const struct report_ctx *c, FILE *f)
{
	const struct vm *vm = c->r->vm;
	size_t n = 0, unhit = 0;
	struct origin_cov *v = coverage_rules(vm, &n);

	fprintf(f, "\ncoverage: policy rules no packet matched:\n");
	for (size_t i = 0; v && i < n; i++) {
		if (v[i].matched)
			continue;
		unhit++;
		fprintf(f, "  %-50s %s\n", v[i].origin,
			v[i].evaluated ? "reached, never matched" : "never reached");
	}
	if (!unhit)
		fprintf(f, "  (none: every rule matched at least one packet)\n");
	free(v);

	fprintf(f, "coverage: set elements no lookup hit:\n");
	unhit = 0;
	for (size_t s = 0; s < vm_set_count(vm); s++) {
		size_t ne = vm_set_nelems(vm, s), listed = 0, missing = 0, total = 0;
		struct strbuf sb = { 0 };
		struct set_ends se;

		set_ends_collect(vm, s, &se);
		for (size_t j = 0; j < ne; j++) {
			const struct nftnl_set_elem *e = vm_set_elem(vm, s, j);
			char key[2 * INET6_ADDRSTRLEN + 8];

			if (!e || elem_is_end(e) || vm_set_elem_ignored(vm, s, j))
				continue;
			total++;
			if (vm_set_elem_hits(vm, s, j))
				continue;
			missing++;
			if (listed < TEXT_LIST_MAX) {
				elem_format(e, &se, key, sizeof(key));
				sb_printf(&sb, "%s%s", listed ? ", " : "", key);
				listed++;
			}
		}
		if (missing) {
			char user[160], name[200];

			set_user(c->r->rs, vm_set_name(vm, s), user, sizeof(user));
			snprintf(name, sizeof(name), "%s%s%s%s", vm_set_name(vm, s), user[0] ? " (" : "",
				 user, user[0] ? ")" : "");
			unhit++;
			fprintf(f, "  %-40s %zu of %zu: %s%s\n", name, missing, total,
				sb_str(&sb), missing > listed ? ", ..." : "");
		}
		sb_free(&sb);
		free(se.v);
	}
	if (!unhit)
		fprintf(f, "  (none)\n");
}

static json_t *coverage_json(const struct report_ctx *c)
{
	const struct vm *vm = c->r->vm;
	json_t *o = json_object(), *rules = json_array(), *sets = json_array();
	size_t n = 0;
	struct origin_cov *v = coverage_rules(vm, &n);

	for (size_t i = 0; v && i < n; i++) {
		json_t *ro = json_object();

		json_object_set_new(ro, "origin", jtext(v[i].origin));
		json_object_set_new(ro, "nft_rules", json_integer((json_int_t)v[i].nrules));
		json_object_set_new(ro, "evaluated", json_integer((json_int_t)v[i].evaluated));
		json_object_set_new(ro, "matched", json_integer((json_int_t)v[i].matched));
		json_array_append_new(rules, ro);
	}
	free(v);
	for (size_t s = 0; s < vm_set_count(vm); s++) {
		size_t ne = vm_set_nelems(vm, s), total = 0, missing = 0;
		json_t *so = json_object(), *un = json_array();
		struct set_ends se;

		set_ends_collect(vm, s, &se);
		for (size_t j = 0; j < ne; j++) {
			const struct nftnl_set_elem *e = vm_set_elem(vm, s, j);
			char key[2 * INET6_ADDRSTRLEN + 8];

			if (!e || elem_is_end(e) || vm_set_elem_ignored(vm, s, j))
				continue;
			total++;
			if (vm_set_elem_hits(vm, s, j))
				continue;
			if (missing++ < JSON_ELEMS_MAX) {
				elem_format(e, &se, key, sizeof(key));
				json_array_append_new(un, jtext(key));
			}
		}
		free(se.v);
		json_object_set_new(so, "set", jtext(vm_set_name(vm, s)));
		{
			char user[160];

			set_user(c->r->rs, vm_set_name(vm, s), user, sizeof(user));
			if (user[0])
				json_object_set_new(so, "rule", jtext(user));
		}
		json_object_set_new(so, "elements", json_integer((json_int_t)total));
		json_object_set_new(so, "unhit", json_integer((json_int_t)missing));
		json_object_set_new(so, "unhit_elements", un);
		json_array_append_new(sets, so);
	}
	json_object_set_new(o, "rules", rules);
	json_object_set_new(o, "sets", sets);
	return o;
}

/* ---- text ------------------------------------------------------------------ */

static void local_text(const struct replay *r, FILE *f)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (r->local_inferred) {
		fprintf(f, "host addresses: %s\n", r->local_note);
		return;
	}
	fprintf(f, "host addresses (--local):");
	for (int fi = 0; fi < 2; fi++) {
		const struct pset *s = fi ? &r->local6 : &r->local4;

		for (size_t i = 0; i < s->n; i++) {
			interval_format(s->family, &s->v[i], buf, sizeof(buf));
			fprintf(f, " %s", buf);
		}
	}
	fprintf(f, "\n");
}

/* ---- the flow table's rows -------------------------------------------------
 * One row a flow, written without printf: a million-packet capture has a
 * hundred thousand rows, and printf's parsing and padding cost more than the
 * replay of the flow's packets.  The layout is
 *   "%5zu  %-3s  %-6s  %-30s  %-30s  %-7s  %-40s  %7llu  %s%s\n". */
struct row {
	char *p, *end;		/* end: ROW_SLACK bytes before the buffer's end */
};

/* Every row is written into a buffer with ROW_SLACK bytes to spare beyond
 * w->end: padding is one fixed 64-byte store of spaces (the cursor then
 * advances by what was needed), and an address or number is formatted in
 * place, with no length known beforehand and no copy. */
#define ROW_SLACK 128
static const char spaces64[64] = "                                                                ";

static void row_str(struct row *w, const char *s, size_t n)
{
	if (n > (size_t)(w->end - w->p))
		n = (size_t)(w->end - w->p);
	memcpy(w->p, s, n);
	w->p += n;
}

static void row_sep(struct row *w)	/* the two spaces between columns */
{
	memcpy(w->p, "  ", 2);
	w->p += 2;
}

static void row_pad(struct row *w, size_t used, size_t width)
{
	size_t n = used < width ? width - used : 0;

	if (n > (size_t)(w->end - w->p))
		n = (size_t)(w->end - w->p);
	if (n <= sizeof(spaces64))
		memcpy(w->p, spaces64, sizeof(spaces64));
	else
		memset(w->p, ' ', n);
	w->p += n;
}

static void row_left(struct row *w, const char *s, size_t width)	/* %-Ns */
{
	size_t n = strlen(s);

	row_str(w, s, n);
	row_pad(w, n, width);
}

static size_t fmt_ull(char *out, unsigned long long v)
{
	char t[24];
	size_t n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = t[n - 1 - i];
	return n;
}

static void row_right_ull(struct row *w, unsigned long long v, size_t width)	/* %Nllu */
{
	char t[24];
	size_t n = fmt_ull(t, v);

	row_pad(w, n, width);
	row_str(w, t, n);
}

/* "10.0.1.4:443", "[fd00::4]:443", "10.0.1.4", written in place (at most
 * ADDR_TEXT_MAX + 8 bytes, within the slack past w->end) */
static void row_endpoint(struct row *w, const struct flow *f, bool dst, size_t width)
{
	char *start = w->p, *o = w->p;
	struct addr a;
	bool v6 = f->k.nfproto == NFPROTO_IPV6;

	memcpy(a.b, dst ? f->k.dst : f->k.src, 16);
	if (f->k.ports && v6)
		*o++ = '[';
	o += addr_format_fast(v6 ? AF_INET6 : AF_INET, &a, o);
	if (f->k.ports) {
		if (v6)
			*o++ = ']';
		*o++ = ':';
		o += fmt_ull(o, dst ? f->k.dport : f->k.sport);
	}
	w->p = o < w->end ? o : w->end;		/* (cut as row_str cuts) */
	row_pad(w, (size_t)(w->p - start), width);
}

static size_t flow_row(const struct replay *r, size_t i, char *buf)
{
	const struct flow *fl = &r->flows[i];
	struct row w = { buf, buf + 511 };	/* the caller leaves ROW_SLACK more */
	char t[24];

	row_right_ull(&w, i + 1, 5);
	row_sep(&w);
	row_left(&w, flow_dir_name(fl->dir), 3);
	row_sep(&w);
	row_left(&w, l4_name_buf(fl->k.proto, t), 6);
	row_sep(&w);
	row_endpoint(&w, fl, false, 30);
	row_sep(&w);
	row_endpoint(&w, fl, true, 30);
	row_sep(&w);
	row_left(&w, verdict_word(fl), 7);
	row_sep(&w);
	row_left(&w, fl->decided, 40);
	row_sep(&w);
	row_right_ull(&w, fl->packets, 7);
	row_sep(&w);
	if (r->ncaps > 1) {
		row_str(&w, t, fmt_ull(t, fl->capture));
		row_str(&w, ":", 1);
	}
	row_str(&w, t, fmt_ull(t, fl->first_frame));
	if (fl->midstream)
		row_left(&w, " mid-stream", 0);
	if (fl->no_ct)
		row_left(&w, fl->bad_checksum ? " no-conntrack (bad checksum)" : " no-conntrack", 0);
	if (fl->incomplete)
		row_left(&w, " UNDECIDABLE", 0);
	if (fl->expect_line >= 0 && !fl->expect_ok)
		row_left(&w, " EXPECTATION-FAILED", 0);
	*w.p++ = '\n';
	return (size_t)(w.p - buf);
}

/* Rows [a, b) into buf (room for (b - a) * ROW_MAX bytes); their length. */
#define ROW_MAX (512 + ROW_SLACK)
static size_t flow_rows_fmt(const struct replay *r, size_t a, size_t b, char *buf)
{
	size_t used = 0;

	for (size_t i = a; i < b; i++)
		used += flow_row(r, i, buf + used);
	return used;
}

/* The flow table of a large capture takes a tenth of the replay's time to
 * format, and the reader thread's CPU is idle by then: a second thread
 * formats every other chunk of ROWS_CHUNK rows into a small ring of buffers
 * while this one formats the others and writes all of them in order. */
#define ROWS_CHUNK 1024
#define ROWS_RING 4

struct rows_job {
	const struct replay *r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf[ROWS_RING];
	size_t len[ROWS_RING];
	bool ready[ROWS_RING];
};

static void *rows_helper(void *arg)
{
	struct rows_job *j = arg;
	size_t n = j->r->nflows;

	/* odd chunks: k = 1, 3, 5, ... into slot (k / 2) % ROWS_RING */
	for (size_t k = 1; k * ROWS_CHUNK < n; k += 2) {
		unsigned s = (unsigned)(k / 2 % ROWS_RING);
		size_t a = k * ROWS_CHUNK, b = a + ROWS_CHUNK < n ? a + ROWS_CHUNK : n, len;

		pthread_mutex_lock(&j->mu);
		while (j->ready[s])
			pthread_cond_wait(&j->cv, &j->mu);
		pthread_mutex_unlock(&j->mu);
		len = flow_rows_fmt(j->r, a, b, j->buf[s]);
		pthread_mutex_lock(&j->mu);
		j->len[s] = len;
		j->ready[s] = true;
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->mu);
	}
	return NULL;
}

static void flow_rows(const struct replay *r, FILE *f)
{
	static char own[ROWS_CHUNK * ROW_MAX];
	struct rows_job j = { .r = r };
	size_t n = r->nflows;
	pthread_t th;
	bool helper = false;

	if (n > 2 * ROWS_CHUNK && sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		helper = true;
		for (unsigned s = 0; s < ROWS_RING; s++)
			helper &= (j.buf[s] = malloc(ROWS_CHUNK * ROW_MAX)) != NULL;
		if (helper) {
			pthread_mutex_init(&j.mu, NULL);
			pthread_cond_init(&j.cv, NULL);
			if (pthread_create(&th, NULL, rows_helper, &j) != 0) {
				pthread_mutex_destroy(&j.mu);
				pthread_cond_destroy(&j.cv);
				helper = false;
			}
		}
	}
	for (size_t k = 0; k * ROWS_CHUNK < n; k++) {
		size_t a = k * ROWS_CHUNK, b = a + ROWS_CHUNK < n ? a + ROWS_CHUNK : n;

		if (!helper || k % 2 == 0) {
			fwrite(own, 1, flow_rows_fmt(r, a, b, own), f);
			continue;
		}
		unsigned s = (unsigned)(k / 2 % ROWS_RING);

		pthread_mutex_lock(&j.mu);
		while (!j.ready[s])
			pthread_cond_wait(&j.cv, &j.mu);
		pthread_mutex_unlock(&j.mu);
		fwrite(j.buf[s], 1, j.len[s], f);
		pthread_mutex_lock(&j.mu);
		j.ready[s] = false;
		pthread_cond_broadcast(&j.cv);
		pthread_mutex_unlock(&j.mu);
	}
	if (helper) {
		pthread_join(th, NULL);
		pthread_mutex_destroy(&j.mu);
		pthread_cond_destroy(&j.cv);
	}
	for (unsigned s = 0; s < ROWS_RING; s++)
		free(j.buf[s]);
}

void report_text(const struct report_ctx *c, FILE *f)
{
	const struct replay *r = c->r;
	const struct totals *t = &r->t;

	fprintf(f, "ruleset: %s\n", c->ruleset_desc);
	for (size_t i = 0; i < r->ncaps; i++) {
		char lt[128];

		fprintf(f, "capture %zu: %s (%s, %llu packets)\n", i + 1, r->caps[i].path,
			capinfo_linktype(&r->caps[i], lt, sizeof(lt)),
			(unsigned long long)r->caps[i].packets);
	}
	local_text(r, f);
	if (r->fqdn)
		fqdn_replay_text(r->fqdn, f);

	fprintf(f, "\n%5s  %-3s  %-6s  %-30s  %-30s  %-7s  %-40s  %7s  %s\n", "flow", "dir",
		"proto", "source", "destination", "verdict", "decided by", "packets", "first");
	flow_rows(r, f);

	fprintf(f, "\ntotals: %llu packets, %zu flow%s (%llu accepted, %llu dropped",
		(unsigned long long)t->packets, r->nflows, r->nflows == 1 ? "" : "s",
		(unsigned long long)t->flows_accepted, (unsigned long long)t->flows_dropped);
	if (t->flows_undecidable)
		fprintf(f, ", %llu undecidable", (unsigned long long)t->flows_undecidable);
	fprintf(f, ")\n");
	/* (an undecidable packet has a verdict here too: it is among the
	 * accepted or dropped ones, which together make the judged) */
	fprintf(f, "  judged packets: %llu (%llu accepted, %llu dropped; of them %llu undecidable)\n",
		(unsigned long long)t->judged, (unsigned long long)t->accepted,
		(unsigned long long)t->dropped, (unsigned long long)t->incomplete);
	fprintf(f, "  not judged: %llu not IP, %llu unsupported link type, %llu transit "
		"(neither end is this host), %llu malformed/truncated before the hooks, "
		"%llu fragments held, %llu fragments dropped\n",
		(unsigned long long)t->not_ip, (unsigned long long)t->unsupported_link,
		(unsigned long long)t->foreign, (unsigned long long)t->not_judged_bad,
		(unsigned long long)t->frags_held, (unsigned long long)t->frags_dropped);
	if (t->clock_back_max_us >= 1000000)
		fprintf(f, "  WARNING: the capture time goes back, by up to %.1f s (capture %u frame %llu; "
			"%llu packets earlier than one before them): conntrack's clock held at its latest "
			"time -- are the captures given in time order?\n", t->clock_back_max_us / 1e6,
			t->clock_back_capture, (unsigned long long)t->clock_back_frame,
			(unsigned long long)t->clock_back);
	if (t->martian)
		fprintf(f, "  not judged: %llu martian (IPv4 from the wire with this host's address or a loopback address as "
			"its source: the kernel drops them before the hooks)\n",
			(unsigned long long)t->martian);
	fprintf(f, "  malformed: %llu, truncated: %llu, reassembled datagrams: %llu, "
		"conntrack drops (table full): %llu\n",
		(unsigned long long)t->malformed, (unsigned long long)t->truncated,
		(unsigned long long)t->reassembled, (unsigned long long)t->ct_drops);
	if (r->o->verify_checksums) {
		struct ct_stats st;

		ct_table_stats(r->ct, &st);
		fprintf(f, "  transport checksums verified (--verify-checksums): %llu bad (ct state "
			"invalid), %llu the capture cut (undecidable)\n",
			(unsigned long long)st.bad_checksum, (unsigned long long)st.checksum_cut);
	}
	if (t->flows_over_cap)
		fprintf(f, "  WARNING: %llu packets of flows beyond --max-listed-flows %zu were not "
			"accounted to a listed flow\n", (unsigned long long)t->flows_over_cap,
			r->o->max_listed);
	if (r->nbad) {
		char buf[16];

		fprintf(f, "  malformed/truncated frames:");
		for (size_t i = 0; i < r->nbad && i < TEXT_LIST_MAX; i++)
			fprintf(f, "%s %s%llu %s (%s%s)", i ? "," : "",
				frame_prefix(r, r->bad[i].capture, buf, sizeof(buf)),
				(unsigned long long)r->bad[i].frame, r->bad[i].cls, r->bad[i].why,
				r->bad[i].judged ? "; still judged" : "");
		fprintf(f, "%s\n", r->nbad > TEXT_LIST_MAX ? ", ... (--format json lists all)" : "");
	}

	if (c->e) {
		struct expect_outcome eo;

		expect_outcome(c, &eo);
		fprintf(f, "\nexpectations (%s): %zu line%s\n", c->e->file, c->e->n,
			c->e->n == 1 ? "" : "s");
		for (size_t i = 0; i < c->e->n; i++) {
			const struct expect_line *l = &c->e->v[i];
			const char *st = l->failures ? "FAIL" :
					 l->matched ? "ok" : c->require_match ? "FAIL" : "unmatched";

			fprintf(f, "  %-9s line %d: %s  (%llu flow%s", st, l->line, l->text,
				(unsigned long long)l->matched, l->matched == 1 ? "" : "s");
			if (l->failures)
				fprintf(f, ", %llu failed", (unsigned long long)l->failures);
			if (l->unlisted)
				fprintf(f, "; %llu of them not listed", (unsigned long long)l->unlisted);
			fprintf(f, ")\n");
			if (!l->failures)
				continue;
			size_t shown = 0;

			if (l->unlisted_bad_frame)
				fprintf(f, "      a flow not listed (beyond --max-listed-flows), first packet "
					"capture %u frame %llu, and maybe more\n", l->unlisted_bad_capture,
					(unsigned long long)l->unlisted_bad_frame);
			for (size_t j = 0; j < r->nflows; j++) {
				char fl[512];

				if (r->flows[j].expect_line != (long)i || r->flows[j].expect_ok)
					continue;
				if (shown++ == TEXT_LIST_MAX) {
					fprintf(f, "      ...\n");
					break;
				}
				flow_line(r, j, fl, sizeof(fl));
				fprintf(f, "      %s\n", fl);
			}
		}
		if (eo.flows_unmatched) {
			size_t shown = 0;

			fprintf(f, "  %zu flow%s matched no line%s\n", eo.flows_unmatched,
				eo.flows_unmatched == 1 ? "" : "s",
				c->require_all ? " (FAIL: --require-all)" : " (not judged)");
			for (size_t j = 0; j < r->nflows; j++) {
				char fl[512];

				if (!judged_flow(&r->flows[j]) || r->flows[j].expect_line >= 0)
					continue;
				if (shown++ == TEXT_LIST_MAX) {
					fprintf(f, "      ...\n");
					break;
				}
				flow_line(r, j, fl, sizeof(fl));
				fprintf(f, "      %s\n", fl);
			}
		}
		for (size_t i = 0; i < c->nproblems; i++)
			fprintf(f, "  %-9s %s\n", c->problems[i].error ? "ERROR" : "FAIL",
				c->problems[i].text);
		fprintf(f, "result: %s\n", eo.errored ? "ERROR" : eo.failed ? "FAIL" : "PASS");
	}
	if (c->coverage)
		coverage_text(c, f);
}

/* ---- JSON --------------------------------------------------------------------- */

/* The "flows" array, written as it goes: a capture of a million packets has
 * a hundred thousand flows, and a jansson tree of them took 300 MiB and four
 * times the replay's own time.  The text is what json_dumpf(JSON_INDENT(2) |
 * JSON_PRESERVE_ORDER) makes of the same objects at depth 2; strings that may
 * need escaping (the deciding rule's name comes from the policy) are escaped
 * by jansson itself, once per distinct text. */
struct jstr_cache {
	const char *key[64];
	char *val[64];
};

/* s as a JSON string literal (quotes included), or NULL when jansson refuses
 * it (not UTF-8: the key is left out, as json_object_set_new does). */
static const char *jstr(struct jstr_cache *c, const char *s)
{
	size_t h = ((uintptr_t)s >> 4) % 64;
	json_t *j;

	if (c->key[h] == s)
		return c->val[h];
	free(c->val[h]);
	c->key[h] = s;
	c->val[h] = NULL;
	j = jtext(s);
	if (j) {
		c->val[h] = json_dumps(j, JSON_ENCODE_ANY);
		json_decref(j);
	}
	return c->val[h];
}

static void jkv_str(struct row *w, const char *key, const char *lit, bool last)
{
	if (!lit)
		return;
	row_str(w, "      \"", 7);
	row_str(w, key, strlen(key));
	row_str(w, "\": ", 3);
	row_str(w, lit, strlen(lit));
	row_str(w, last ? "\n" : ",\n", last ? 1 : 2);
}

static void jkv_raw(struct row *w, const char *key, const char *val)	/* safe text */
{
	row_str(w, "      \"", 7);
	row_str(w, key, strlen(key));
	row_str(w, "\": \"", 4);
	row_str(w, val, strlen(val));
	row_str(w, "\",\n", 3);
}

static void jkv_u(struct row *w, const char *key, unsigned long long v, bool last)
{
	char t[24];

	row_str(w, "      \"", 7);
	row_str(w, key, strlen(key));
	row_str(w, "\": ", 3);
	row_str(w, t, fmt_ull(t, v));
	row_str(w, last ? "\n" : ",\n", last ? 1 : 2);
}

static void jkv_b(struct row *w, const char *key, bool v, bool last)
{
	row_str(w, "      \"", 7);
	row_str(w, key, strlen(key));
	row_str(w, v ? "\": true" : "\": false", v ? 7 : 8);
	row_str(w, last ? "\n" : ",\n", last ? 1 : 2);
}

/* One flow object, "    {" to "    }" (no comma, no newline after). */
static size_t flow_json_text(const struct report_ctx *c, size_t i, struct jstr_cache *jc,
			     char *buf, size_t len)
{
	const struct replay *r = c->r;
	const struct flow *fl = &r->flows[i];
	struct row w = { buf, buf + len };
	char a[ADDR_TEXT_MAX];
	struct addr x;
	int fam = fl->k.nfproto == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
	bool exp = fl->expect_line >= 0;

	row_str(&w, "    {\n", 6);
	jkv_u(&w, "id", i + 1, false);
	jkv_raw(&w, "dir", flow_dir_name(fl->dir));
	jkv_raw(&w, "proto", l4_name(fl->k.proto));
	memcpy(x.b, fl->k.src, 16);
	a[addr_format_fast(fam, &x, a)] = '\0';
	jkv_raw(&w, "src", a);
	memcpy(x.b, fl->k.dst, 16);
	a[addr_format_fast(fam, &x, a)] = '\0';
	jkv_raw(&w, "dst", a);
	if (fl->k.ports) {
		jkv_u(&w, "sport", fl->k.sport, false);
		jkv_u(&w, "dport", fl->k.dport, false);
	}
	if (fl->k.proto == IPPROTO_ICMP || fl->k.proto == IPPROTO_ICMPV6)
		jkv_u(&w, "icmp_id", fl->k.icmp_id, false);
	jkv_raw(&w, "verdict", fl->accepted ? "accept" : "drop");
	jkv_str(&w, "decided_by", jstr(jc, fl->decided), false);
	jkv_b(&w, "undecidable", fl->incomplete, false);
	jkv_b(&w, "conntrack", !fl->no_ct, false);
	jkv_b(&w, "bad_checksum", fl->bad_checksum, false);
	jkv_b(&w, "midstream", fl->midstream, false);
	jkv_u(&w, "packets", fl->packets, false);
	jkv_u(&w, "packets_accepted", fl->pkts_accepted, false);
	jkv_u(&w, "packets_dropped", fl->pkts_dropped, false);
	jkv_u(&w, "related", fl->related, false);
	jkv_u(&w, "capture", fl->capture, false);
	jkv_u(&w, "first_frame", fl->first_frame, !exp);
	if (exp) {
		jkv_b(&w, "expect_ok", fl->expect_ok, false);
		jkv_u(&w, "expect_line", c->e ? (unsigned long long)c->e->v[fl->expect_line].line : 0,
		      true);
	}
	row_str(&w, "    }", 5);
	return (size_t)(w.p - buf);
}

/* Writes the flows array's value ("[...]" at depth 1), 64 KiB at a time. */
static void flows_json(const struct report_ctx *c, FILE *f)
{
	static char buf[65536];
	struct jstr_cache jc = { 0 };
	size_t used = 0;

	if (!c->r->nflows) {
		fputs("[]", f);
		return;
	}
	fputs("[\n", f);
	for (size_t i = 0; i < c->r->nflows; i++) {
		if (used > sizeof(buf) - 4096) {	/* a flow is < 2.5 KiB: a 255-byte rule text escaped */
			fwrite(buf, 1, used, f);
			used = 0;
		}
		used += flow_json_text(c, i, &jc, buf + used, sizeof(buf) - used - 4);
		if (i + 1 < c->r->nflows)
			buf[used++] = ',';
		buf[used++] = '\n';
	}
	fwrite(buf, 1, used, f);
	fputs("  ]", f);
	for (size_t i = 0; i < 64; i++)
		free(jc.val[i]);
}

#define JI(v) json_integer((json_int_t)(v))

int report_json(const struct report_ctx *c, FILE *f)
{
	const struct replay *r = c->r;
	const struct totals *t = &r->t;
	json_t *root = json_object(), *caps = json_array(), *flows = json_array();
	json_t *tot = json_object(), *bad = json_array(), *local = json_object();
	json_t *addrs = json_array();
	char buf[INET6_ADDRSTRLEN + 8];
	int rc;

	json_object_set_new(root, "ruleset", jtext(c->ruleset_desc));
	for (size_t i = 0; i < r->ncaps; i++) {
		json_t *o = json_object();
		char lt[128];

		json_object_set_new(o, "path", jtext(r->caps[i].path));
		json_object_set_new(o, "linktype", jtext(capinfo_linktype(&r->caps[i], lt,
									   sizeof(lt))));
		json_object_set_new(o, "packets", JI(r->caps[i].packets));
		if (r->caps[i].read_error)
			json_object_set_new(o, "error", jtext(r->caps[i].err));
		json_array_append_new(caps, o);
	}
	json_object_set_new(root, "captures", caps);
	for (int fi = 0; fi < 2; fi++) {
		const struct pset *s = fi ? &r->local6 : &r->local4;

		for (size_t i = 0; i < s->n; i++) {
			interval_format(s->family, &s->v[i], buf, sizeof(buf));
			json_array_append_new(addrs, jtext(buf));
		}
	}
	json_object_set_new(local, "addresses", addrs);
	json_object_set_new(local, "inferred", json_boolean(r->local_inferred));
	if (r->local_inferred)
		json_object_set_new(local, "note", jtext(r->local_note));
	json_object_set_new(root, "host", local);

	/* a placeholder: the flows are written in its place (flows_json) */
	json_object_set_new(root, "flows", flows);

	json_object_set_new(tot, "packets", JI(t->packets));
	json_object_set_new(tot, "flows", JI(r->nflows));
	json_object_set_new(tot, "flows_accepted", JI(t->flows_accepted));
	json_object_set_new(tot, "flows_dropped", JI(t->flows_dropped));
	json_object_set_new(tot, "flows_undecidable", JI(t->flows_undecidable));
	json_object_set_new(tot, "judged", JI(t->judged));
	json_object_set_new(tot, "accepted", JI(t->accepted));
	json_object_set_new(tot, "dropped", JI(t->dropped));
	json_object_set_new(tot, "undecidable", JI(t->incomplete));
	/* how the judged packets' hook evaluations were decided */
	json_object_set_new(tot, "bytecode_runs", JI(r->evaluations));
	json_object_set_new(tot, "flow_cache_hits", JI(r->memo_hits));
	json_object_set_new(tot, "not_ip", JI(t->not_ip));
	json_object_set_new(tot, "unsupported_link", JI(t->unsupported_link));
	json_object_set_new(tot, "transit", JI(t->foreign));
	json_object_set_new(tot, "martian", JI(t->martian));
	json_object_set_new(tot, "clock_back_packets", JI(t->clock_back));
	json_object_set_new(tot, "clock_back_max_s", json_real(t->clock_back_max_us / 1e6));
	json_object_set_new(tot, "malformed", JI(t->malformed));
	json_object_set_new(tot, "truncated", JI(t->truncated));
	json_object_set_new(tot, "not_judged_malformed", JI(t->not_judged_bad));
	json_object_set_new(tot, "fragments_held", JI(t->frags_held));
	json_object_set_new(tot, "fragments_dropped", JI(t->frags_dropped));
	json_object_set_new(tot, "reassembled", JI(t->reassembled));
	json_object_set_new(tot, "conntrack_drops", JI(t->ct_drops));
	json_object_set_new(tot, "flows_over_cap_packets", JI(t->flows_over_cap));
	json_object_set_new(tot, "unlisted_flows_unmatched", JI(t->unlisted_unmatched));
	{
		struct ct_stats st;

		ct_table_stats(r->ct, &st);
		json_object_set_new(tot, "checksums_verified", json_boolean(r->o->verify_checksums));
		json_object_set_new(tot, "bad_checksums", JI(st.bad_checksum));
		json_object_set_new(tot, "checksums_cut", JI(st.checksum_cut));
	}
	json_object_set_new(root, "totals", tot);
	if (c->kcheck) {
		json_t *kc = json_object();

		json_object_set_new(kc, "packets", JI(c->kcheck->agree + c->kcheck->undecidable +
						       c->kcheck->disagree));
		json_object_set_new(kc, "agree", JI(c->kcheck->agree));
		json_object_set_new(kc, "undecidable", JI(c->kcheck->undecidable));
		json_object_set_new(kc, "disagreements", JI(c->kcheck->disagree));
		json_object_set_new(root, "kernel_check", kc);
	}

	for (size_t i = 0; i < r->nbad; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "capture", JI(r->bad[i].capture));
		json_object_set_new(o, "frame", JI(r->bad[i].frame));
		json_object_set_new(o, "class", jtext(r->bad[i].cls));
		json_object_set_new(o, "why", jtext(r->bad[i].why));
		json_object_set_new(o, "judged", json_boolean(r->bad[i].judged));
		json_array_append_new(bad, o);
	}
	json_object_set_new(root, "bad_frames", bad);

	if (c->e) {
		struct expect_outcome eo;
		json_t *eobj = json_object(), *lines = json_array(), *um = json_array();

		expect_outcome(c, &eo);
		for (size_t i = 0; i < c->e->n; i++) {
			const struct expect_line *l = &c->e->v[i];
			json_t *o = json_object(), *fails = json_array();

			json_object_set_new(o, "line", JI(l->line));
			json_object_set_new(o, "text", jtext(l->text));
			json_object_set_new(o, "matched", JI(l->matched));
			json_object_set_new(o, "failures", JI(l->failures));
			if (l->unlisted)
				json_object_set_new(o, "unlisted_flows", JI(l->unlisted));
			if (l->unlisted_bad_frame) {
				json_object_set_new(o, "unlisted_failed_capture", JI(l->unlisted_bad_capture));
				json_object_set_new(o, "unlisted_failed_frame", JI(l->unlisted_bad_frame));
			}
			json_object_set_new(o, "status", jtext(
				l->failures ? "fail" : l->matched ? "ok" :
				c->require_match ? "fail" : "unmatched"));
			for (size_t j = 0; j < r->nflows; j++)
				if (r->flows[j].expect_line == (long)i && !r->flows[j].expect_ok)
					json_array_append_new(fails, JI(j + 1));
			json_object_set_new(o, "failed_flows", fails);
			json_array_append_new(lines, o);
		}
		for (size_t j = 0; j < r->nflows; j++)
			if (judged_flow(&r->flows[j]) && r->flows[j].expect_line < 0)
				json_array_append_new(um, JI(j + 1));
		json_object_set_new(eobj, "file", jtext(c->e->file));
		json_object_set_new(eobj, "lines", lines);
		json_object_set_new(eobj, "unmatched_flows", um);
		json_object_set_new(eobj, "require_all", json_boolean(c->require_all));
		json_object_set_new(eobj, "require_match", json_boolean(c->require_match));
		json_t *probs = json_array();

		for (size_t i = 0; i < c->nproblems; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "kind", jtext(c->problems[i].error ? "error" :
								     "failure"));
			json_object_set_new(o, "what", jtext(c->problems[i].what));
			json_object_set_new(o, "text", jtext(c->problems[i].text));
			json_array_append_new(probs, o);
		}
		json_object_set_new(eobj, "problems", probs);
		json_object_set_new(eobj, "result", jtext(expect_result_name(&eo)));
		json_object_set_new(root, "expectations", eobj);
	}
	if (r->traces)
		json_object_set(root, "traces", r->traces);
	if (c->coverage)
		json_object_set_new(root, "coverage", coverage_json(c));
	if (r->fqdn)
		json_object_set_new(root, "fqdn", fqdn_replay_json(r->fqdn));

	{
		static const char mark[] = "\n  \"flows\": []";
		char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		char *at = text ? strstr(text, mark) : NULL;

		rc = -1;
		if (at) {
			/* top-level keys are the only ones at two spaces, and a
			 * string's newlines are escaped: this is the placeholder */
			at += strlen(mark) - 2;
			fwrite(text, 1, (size_t)(at - text), f);
			flows_json(c, f);
			fputs(at + 2, f);
			fputc('\n', f);
			rc = 0;
		}
		free(text);
	}
	json_decref(root);
	return rc;
}

/* ---- JUnit ------------------------------------------------------------------ */

/* n bytes of text into XML: U+FFFD for bytes that are not UTF-8 and for
 * U+FFFE/U+FFFF, valid UTF-8 that XML 1.0 has no character for. */
static void xml_chars(struct strbuf *sb, const char *s, size_t n)
{
	const char *p;

	while ((p = memmem(s, n, "\xef\xbf", 2)) && (size_t)(p - s) + 2 < n) {
		size_t k = (size_t)(p - s);

		if ((unsigned char)p[2] == 0xbe || (unsigned char)p[2] == 0xbf) {
			sb_put_utf8(sb, s, k);
			sb_puts(sb, "\xef\xbf\xbd");
		} else {
			sb_put_utf8(sb, s, k + 3);
		}
		s += k + 3;
		n -= k + 3;
	}
	sb_put_utf8(sb, s, n);
}

static void xml_escape(struct strbuf *sb, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "<>&\"'\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0d\x0e\x0f"
				      "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");

		xml_chars(sb, s, n);	/* a run that needs no escape */
		s += n;
		switch (*s) {
		case '\0': return;
		case '<': sb_puts(sb, "&lt;"); break;
		case '>': sb_puts(sb, "&gt;"); break;
		case '&': sb_puts(sb, "&amp;"); break;
		case '"': sb_puts(sb, "&quot;"); break;
		case '\'': sb_puts(sb, "&apos;"); break;
		default: sb_puts(sb, "?"); break;	/* a control character XML 1.0 lacks */
		}
		s++;
	}
}

/* The JUnit document around its test cases (cases: their XML), written whole. */
static int junit_write(const char *path, const char *suite, size_t tests, size_t failures,
		       size_t errors, size_t skipped, const struct strbuf *cases, char *err,
		       size_t errlen)
{
	struct strbuf doc = { 0 };
	FILE *f;
	int rc = -1;

	sb_puts(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
		"  <testsuite name=\"pcap-replay ");
	xml_escape(&doc, suite);
	sb_printf(&doc, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\">\n",
		  tests, failures, errors, skipped);
	sb_puts(&doc, sb_str(cases));
	sb_puts(&doc, "  </testsuite>\n</testsuites>\n");
	if (doc.oom || cases->oom) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* every write checked: a full disk or a file size limit left a cut
	 * document behind and the run exited 0 */
	if (fputs(sb_str(&doc), f) == EOF || fflush(f) != 0 || ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sb_free(&doc);
	return rc;
}

int report_junit(const struct report_ctx *c, const char *path, char *err, size_t errlen)
{
	const struct replay *r = c->r;
	struct expect_outcome eo;
	struct strbuf sb = { 0 };
	size_t tests = 0, failures = 0, skipped = 0, errors = 0;
	char tmp[4096];
	int rc = -1;

	expect_outcome(c, &eo);
	if (c->e) {
		for (size_t i = 0; i < c->e->n; i++) {
			const struct expect_line *l = &c->e->v[i];

			tests++;
			sb_puts(&sb, "    <testcase classname=\"");
			xml_escape(&sb, c->e->file);
			snprintf(tmp, sizeof(tmp), "line %d: %s", l->line, l->text);
			sb_puts(&sb, "\" name=\"");
			xml_escape(&sb, tmp);
			sb_puts(&sb, "\">\n");
			if (l->failures) {
				struct strbuf body = { 0 };

				failures++;
				snprintf(tmp, sizeof(tmp), "line %d: expected %s, %llu of %llu flows "
					 "broke it", l->line, expect_verdict_name(l->verdict),
					 (unsigned long long)l->failures,
					 (unsigned long long)l->matched);
				for (size_t j = 0; j < r->nflows; j++) {
					char fl[512];

					if (r->flows[j].expect_line != (long)i || r->flows[j].expect_ok)
						continue;
					flow_line(r, j, fl, sizeof(fl));
					sb_printf(&body, "%s\n", fl);
				}
				if (l->unlisted_bad_frame)
					sb_printf(&body, "a flow not listed (beyond --max-listed-flows), first "
						  "packet capture %u frame %llu, and maybe more\n",
						  l->unlisted_bad_capture,
						  (unsigned long long)l->unlisted_bad_frame);
				sb_puts(&sb, "      <failure message=\"");
				xml_escape(&sb, tmp);
				sb_puts(&sb, "\" type=\"verdict\">");
				xml_escape(&sb, sb_str(&body));
				sb_puts(&sb, "</failure>\n");
				sb_free(&body);
			} else if (!l->matched) {
				if (c->require_match) {
					failures++;
					snprintf(tmp, sizeof(tmp), "line %d matched no flow "
						 "(--require-match)", l->line);
					sb_puts(&sb, "      <failure message=\"");
					xml_escape(&sb, tmp);
					sb_puts(&sb, "\" type=\"unmatched\"/>\n");
				} else {
					skipped++;
					sb_puts(&sb, "      <skipped message=\"matched no flow\"/>\n");
				}
			}
			sb_puts(&sb, "    </testcase>\n");
		}
		if (c->require_all) {
			tests++;
			sb_puts(&sb, "    <testcase classname=\"");
			xml_escape(&sb, c->e->file);
			sb_puts(&sb, "\" name=\"every flow matched by a line (--require-all)\">\n");
			if (eo.flows_unmatched) {
				struct strbuf body = { 0 };

				failures++;
				for (size_t j = 0; j < r->nflows; j++) {
					char fl[512];

					if (!judged_flow(&r->flows[j]) || r->flows[j].expect_line >= 0)
						continue;
					flow_line(r, j, fl, sizeof(fl));
					sb_printf(&body, "%s\n", fl);
				}
				snprintf(tmp, sizeof(tmp), "%zu flow%s matched no line",
					 eo.flows_unmatched, eo.flows_unmatched == 1 ? "" : "s");
				sb_puts(&sb, "      <failure message=\"");
				xml_escape(&sb, tmp);
				sb_puts(&sb, "\" type=\"unmatched\">");
				xml_escape(&sb, sb_str(&body));
				sb_puts(&sb, "</failure>\n");
				sb_free(&body);
			}
			sb_puts(&sb, "    </testcase>\n");
		}
	}
	for (size_t i = 0; i < c->nproblems; i++) {
		const struct run_problem *pr = &c->problems[i];

		tests++;
		if (pr->error)
			errors++;
		else
			failures++;
		sb_puts(&sb, "    <testcase classname=\"pcap-replay\" name=\"");
		xml_escape(&sb, pr->what);
		sb_puts(&sb, pr->error ? "\">\n      <error message=\"" :
			"\">\n      <failure message=\"");
		xml_escape(&sb, pr->text);
		sb_puts(&sb, pr->error ? "\" type=\"input\"/>\n" : "\" type=\"unchecked\"/>\n");
		sb_puts(&sb, "    </testcase>\n");
	}
	rc = junit_write(path, c->e ? c->e->file : "pcap-replay", tests, failures, errors, skipped,
			 &sb, err, errlen);
	sb_free(&sb);
	return rc;
}

int report_junit_error(const char *path, const char *expect_file, const char *why, char *err,
		       size_t errlen)
{
	struct strbuf sb = { 0 };
	char first[640];
	int rc;

	snprintf(first, sizeof(first), "%.*s", (int)strcspn(why, "\n"), why);
	sb_puts(&sb, "    <testcase classname=\"pcap-replay\" name=\"run\">\n      <error message=\"");
	xml_escape(&sb, first);
	sb_puts(&sb, "\" type=\"input\">");
	xml_escape(&sb, why);
	sb_puts(&sb, "</error>\n    </testcase>\n");
	rc = junit_write(path, expect_file ? expect_file : "pcap-replay", 1, 0, 1, 0, &sb, err,
			 errlen);
	sb_free(&sb);
	return rc;
}
