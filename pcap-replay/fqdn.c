/* fqdn — FQDN outbound rules in pcap-replay (issue 7, offline half).
 *
 * On the host, filterd fills the sets fqdn_<rule>_v4/_v6 (comment
 * "fqdn=<name>") from the DNS answers the input chain's first rule queues to
 * it (answers from the resolvers of dns_resolvers_v4/_v6), and only then
 * accepts the answer.  Offline the same happens on capture time: when the
 * evaluator's verdict for a packet says "queued" (queue expression, or the
 * xtables NFQUEUE target), the answer in it is parsed (rules/dns.c), every
 * address it gives for a name an FQDN set serves (rules/fqdn_learn.c, the
 * matching filterd uses) is added to that set with
 *     expires = capture time of the answer + TTL clamped to [ttl_min, ttl_max]
 * (filterd's defaults 30..3600 s), at most max_addresses live addresses a set,
 * and the packet is accepted.  The connection that follows is judged against
 * the sets as they are at its own capture time: an address no answer
 * justified (or whose TTL ran out) is denied, as on the host.
 *
 * Only answers from resolvers are learned from: the queue rule's sets decide
 * which answers are queued at all, and the source is checked again against
 * them and --resolver (filterd checks again too).  --fqdn-map entries are
 * added when the first packet is judged: without a TTL they stay for the whole
 * replay, with one they expire like an answer received then. */
#include "replay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "dns.h"
#include "fqdn.h"

struct fr_addr {
	uint8_t a[16];
	int64_t expires;
};

struct fr_set {
	const char *set, *fqdn;		/* into info */
	int family;
	size_t vm_index;		/* index in the vm's sets, or SIZE_MAX */
	struct fr_addr *v;
	size_t n, cap;
	uint64_t capped, learned;
};

static int64_t clamp_us(const struct fqdn_replay *f, uint32_t ttl)
{
	unsigned lo = f->o.ttl_min, hi = f->o.ttl_max;
	uint64_t t = ttl;

	if (hi < lo)
		hi = lo;
	if (t < lo)
		t = lo ? lo : 1;
	if (t > hi)
		t = hi;
	return (int64_t)t * 1000000;
}

static void fmt_addr(int family, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static int add_event(struct fqdn_replay *f, const char *name, const struct fr_set *s,
		     int family, const uint8_t *addr, uint32_t ttl, int64_t expires,
		     unsigned cap, uint64_t frame, int map_line, const char *source, bool capped)
{
	struct fqdn_event *e;

	if (f->nev == f->evcap) {
		size_t nc = f->evcap ? f->evcap * 2 : 32;
		struct fqdn_event *nv = realloc(f->ev, nc * sizeof(*nv));

		if (!nv)
			return -1;
		f->ev = nv;
		f->evcap = nc;
	}
	e = &f->ev[f->nev];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	if (!e->name)
		return -1;
	e->set = s->set;
	e->fqdn = s->fqdn;
	e->family = family;
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	e->ttl = ttl;
	e->expires = expires;
	e->at = f->now;
	e->capture = cap;
	e->frame = frame;
	e->map_line = map_line;
	e->capped = capped;
	snprintf(e->source, sizeof(e->source), "%s", source);
	f->nev++;
	return 0;
}

/* Adds addr to set s until expires (refreshing never shortens, as filterd).
 * Returns 1 added/refreshed, 0 left out by the cap, -1 error (f->err). */
static int set_learn(struct fqdn_replay *f, struct fr_set *s, const uint8_t *addr,
		     int64_t expires)
{
	size_t alen = s->family == AF_INET ? 4 : 16, j = 0;
	struct fr_addr *slot = NULL;

	for (size_t i = 0; i < s->n; i++)	/* prune what expired */
		if (s->v[i].expires > f->now)
			s->v[j++] = s->v[i];
	s->n = j;
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->v[i].a, addr, alen) == 0)
			slot = &s->v[i];
	if (!slot) {
		if (s->n >= f->o.max_addresses) {
			s->capped++;
			f->n_capped++;
			return 0;
		}
		if (s->n == s->cap) {
			size_t nc = s->cap ? s->cap * 2 : 8;
			struct fr_addr *nv = realloc(s->v, nc * sizeof(*nv));

			if (!nv) {
				snprintf(f->err, sizeof(f->err), "out of memory");
				return -1;
			}
			s->v = nv;
			s->cap = nc;
		}
		slot = &s->v[s->n++];
		memset(slot, 0, sizeof(*slot));
		memcpy(slot->a, addr, alen);
		slot->expires = 0;
	}
	if (expires > slot->expires)
		slot->expires = expires;
	if (vm_set_add_elem(f->vm, s->set, addr, alen, slot->expires) < 0) {
		snprintf(f->err, sizeof(f->err), "fqdn set %s: adding an element: %s", s->set,
			 strerror(errno));
		return -1;
	}
	s->learned++;
	return 1;
}

/* ---- setup ----------------------------------------------------------------- */

int fqdn_replay_init(struct fqdn_replay *f, const struct fqdn_replay_opts *o,
		     const struct ruleset *rs, struct vm *vm, FILE *notes)
{
	char a[INET6_ADDRSTRLEN];

	memset(f, 0, sizeof(*f));
	f->o = *o;
	f->vm = vm;
	if (!f->o.max_addresses)
		f->o.max_addresses = FQDN_REPLAY_MAX_ADDRESSES;
	if (fqdn_info_from_ruleset(rs, &f->info) < 0) {
		snprintf(f->err, sizeof(f->err), "out of memory");
		return -1;
	}
	f->ruleset_nres = f->info.nres;
	f->tcp = dns_tcp_new();
	f->qtcp = dns_tcp_new();
	f->asked = dns_asked_new();
	if (!f->tcp || !f->qtcp || !f->asked) {
		snprintf(f->err, sizeof(f->err), "out of memory");
		return -1;
	}
	for (size_t i = 0; i < o->nres; i++) {
		fmt_addr(o->res_family[i], o->res_addr[i], a, sizeof(a));
		if (!fqdn_is_resolver(&f->info, o->res_family[i], o->res_addr[i]) &&
		    f->info.n && notes)
			fprintf(notes, "pcap-replay: warning: --resolver %s: the ruleset's "
				"dns_resolvers_%s set does not hold it: its answers are not queued "
				"and not learned from, as on the host\n", a,
				o->res_family[i] == AF_INET ? "v4" : "v6");
		if (fqdn_add_resolver(&f->info, o->res_family[i], o->res_addr[i]) < 0) {
			snprintf(f->err, sizeof(f->err), "--resolver: more than %d resolvers",
				 FQDN_MAX_RESOLVERS);
			return -1;
		}
	}
	f->sets = calloc(f->info.n ? f->info.n : 1, sizeof(*f->sets));
	if (!f->sets) {
		snprintf(f->err, sizeof(f->err), "out of memory");
		return -1;
	}
	f->nsets = f->info.n;
	for (size_t i = 0; i < f->info.n; i++) {
		struct fr_set *s = &f->sets[i];

		s->set = f->info.v[i].set;
		s->fqdn = f->info.v[i].fqdn;
		s->family = f->info.v[i].family;
		s->vm_index = SIZE_MAX;
		for (size_t j = 0; j < vm_set_count(vm); j++)
			if (strcmp(vm_set_name(vm, j), s->set) == 0)
				s->vm_index = j;
	}
	if (o->map) {
		for (size_t i = 0; i < o->map->n; i++) {
			const struct fqdn_map_entry *m = &o->map->v[i];
			bool any = false;

			for (size_t j = 0; j < f->nsets && !any; j++)
				any = f->sets[j].family == m->family &&
				      fqdn_match_name(f->sets[j].fqdn, m->name);
			if (!any && notes)
				fprintf(notes, "%s:%d:1: warning: '%s' (%s) matches no FQDN rule of "
					"the ruleset\n", o->map->file, m->line, m->name,
					m->family == AF_INET ? "IPv4" : "IPv6");
		}
	}
	if (f->nsets && !f->ruleset_nres && !o->map && notes)
		fprintf(notes, "pcap-replay: note: the ruleset has FQDN rules but no resolver "
			"(dns_resolvers_v4/_v6; with --policy: --resolver ADDR) and there is no "
			"--fqdn-map: no DNS answer is learned from, every flow to an FQDN "
			"destination is denied\n");
	return 0;
}

void fqdn_replay_free(struct fqdn_replay *f)
{
	for (size_t i = 0; i < f->nsets; i++)
		free(f->sets[i].v);
	free(f->sets);
	for (size_t i = 0; i < f->nev; i++)
		free(f->ev[i].name);
	free(f->ev);
	fqdn_info_free(&f->info);
	dns_tcp_free(f->tcp);
	dns_tcp_free(f->qtcp);
	dns_asked_free(f->asked);
	memset(f, 0, sizeof(*f));
}

/* ---- run time -------------------------------------------------------------- */

int fqdn_replay_clock(struct fqdn_replay *f, int64_t now)
{
	f->now = now;
	if (f->map_done || !f->o.map)
		return 0;
	f->map_done = true;
	for (size_t i = 0; i < f->o.map->n; i++) {
		const struct fqdn_map_entry *m = &f->o.map->v[i];
		int64_t exp = m->has_ttl ? now + clamp_us(f, m->ttl) : INT64_MAX;
		char src[64];

		snprintf(src, sizeof(src), "map line %d", m->line);
		for (size_t j = 0; j < f->nsets; j++) {
			struct fr_set *s = &f->sets[j];
			int rc;

			if (s->family != m->family || !fqdn_match_name(s->fqdn, m->name))
				continue;
			rc = set_learn(f, s, m->addr, exp);
			if (rc < 0)
				return -1;
			if (add_event(f, m->name, s, m->family, m->addr, m->has_ttl ? m->ttl : 0,
				      exp, 0, 0, m->line, src, rc == 0) < 0) {
				snprintf(f->err, sizeof(f->err), "out of memory");
				return -1;
			}
			f->n_map++;
		}
	}
	return 0;
}

struct walk_ctx {
	struct fqdn_replay *f;
	const char *qname;
	unsigned cap;
	uint64_t frame;
	const char *source;
	size_t added;
	int rc;
};

static void walk_cb(const char *const *chain, size_t n, int family, const uint8_t *addr,
		    uint32_t ttl, void *arg)
{
	struct walk_ctx *w = arg;
	struct fqdn_replay *f = w->f;

	if (w->rc < 0)
		return;
	for (size_t i = 0; i < f->nsets; i++) {
		struct fr_set *s = &f->sets[i];
		int64_t exp = f->now + clamp_us(f, ttl);
		int rc;

		if (s->family != family || !fqdn_match_chain(s->fqdn, chain, n))
			continue;
		rc = set_learn(f, s, addr, exp);
		if (rc < 0 || add_event(f, w->qname, s, family, addr, ttl, exp, w->cap, w->frame,
					0, w->source, rc == 0) < 0) {
			if (rc >= 0)
				snprintf(f->err, sizeof(f->err), "out of memory");
			w->rc = -1;
			return;
		}
		w->added += rc > 0;
	}
}

/* One DNS message from a resolver (a UDP answer, or one dns_tcp reassembled). */
struct answer_ctx {
	struct fqdn_replay *f;
	unsigned cap;
	uint64_t frame;
	const char *from;
	const struct dns_ends *ends;	/* the packet's ends */
	int rc;
};

static bool on_answer(const uint8_t *msg, size_t dlen, void *arg)
{
	struct answer_ctx *ac = arg;
	struct fqdn_replay *f = ac->f;
	char errbuf[256];
	struct dns_msg m;

	if (ac->rc < 0)
		return true;
	if (dns_msg_parse(&m, msg, dlen, errbuf, sizeof(errbuf)) < 0) {
		f->n_bad++;
		if (!f->bad_frame) {
			f->bad_capture = ac->cap;
			f->bad_frame = ac->frame;
			snprintf(f->bad_why, sizeof(f->bad_why), "%s", errbuf);
		}
		return false;
	}
	if (f->info.queries_queued &&
	    !dns_asked_answer(f->asked, ac->ends, &m, f->now)) {
		/* as filterd: an answer to no query the capture holds */
		if (!f->n_unasked++) {
			f->unasked_capture = ac->cap;
			f->unasked_frame = ac->frame;
		}
		dns_msg_free(&m);
		return true;
	}
	struct walk_ctx w = { .f = f, .qname = m.qname, .cap = ac->cap, .frame = ac->frame,
			      .source = ac->from };

	dns_msg_walk(&m, walk_cb, &w);
	dns_msg_free(&m);
	if (w.rc < 0) {
		ac->rc = -1;
		return true;
	}
	f->n_answers++;
	if (w.added)
		f->n_learned_answers++;
	return true;
}

struct query_ctx {
	struct fqdn_replay *f;
	const struct dns_ends *ends;
	int rc;
};

/* One DNS message the host sent (a UDP payload, or a message of its TCP
 * stream): recorded when it is a query.  false when it does not parse. */
static bool on_query_msg(const uint8_t *msg, size_t len, void *arg)
{
	struct query_ctx *qc = arg;
	struct dns_msg m;
	char err[256];
	int rc;

	if (dns_msg_parse(&m, msg, len, err, sizeof(err)) < 0)
		return false;
	rc = dns_asked_query(qc->f->asked, qc->ends, &m, qc->f->now);
	dns_msg_free(&m);
	if (rc < 0) {
		snprintf(qc->f->err, sizeof(qc->f->err), "out of memory");
		qc->rc = -1;
		return true;
	}
	qc->f->n_queries += rc > 0;
	return true;
}

/* A packet the host sent to a resolver's port 53, queued at output
 * (FQDN_QUERY_CHAIN): a UDP query is recorded, a TCP segment goes to the
 * host's stream, as filterd does.  One the capture cut is not (filterd saw
 * all of it: counted, its answer is then not learned from offline; a cut TCP
 * segment leaves a gap that gives its stream up). */
static int on_query(struct fqdn_replay *f, const struct pkt *p)
{
	const uint8_t *ip = p->data + p->nh_off;
	struct dns_ends e;
	struct dns_tcp_seg seg;
	struct query_ctx qc = { .f = f, .ends = &e };
	int kind;

	if (p->cls == PKT_TRUNCATED) {
		f->n_queries_cut++;
		return 0;
	}
	kind = fqdn_packet_ends(ip, p->avail, &e, &seg);
	if (kind == FQDN_NOT_DNS || e.dport != 53 || !fqdn_is_resolver(&f->info, e.family, e.dst))
		return 0;
	if (kind == FQDN_UDP) {
		on_query_msg(seg.tcp, seg.len, &qc);
	} else if (dns_tcp_feed(f->qtcp, &seg, (int64_t)p->ts.tv_sec * 1000000 + p->ts.tv_usec,
				on_query_msg, &qc) < 0 && qc.rc == 0) {
		snprintf(f->err, sizeof(f->err), "out of memory");
		return -1;
	}
	return qc.rc;
}

int fqdn_replay_queued(struct fqdn_replay *f, unsigned cap, const struct pkt *p, int hook)
{
	const uint8_t *ip = p->data + p->nh_off;
	char from[INET6_ADDRSTRLEN + 16];
	struct dns_tcp_seg seg;
	struct dns_ends ends;
	int kind;

	if (hook == NF_INET_LOCAL_OUT)
		return on_query(f, p);
	f->n_queued++;
	if (p->cls == PKT_TRUNCATED) {
		/* cut by the capture's snap length: whatever it held is not
		 * learned (filterd on the host saw all of it) */
		bool v6 = p->avail >= 40 && (ip[0] >> 4) == 6;

		if (!(v6 || (p->avail >= 20 && (ip[0] >> 4) == 4))) {
			f->n_not_dns++;
		} else if (!fqdn_is_resolver(&f->info, v6 ? AF_INET6 : AF_INET, ip + (v6 ? 8 : 12))) {
			f->n_foreign++;
		} else if (!f->n_cut++) {
			f->cut_capture = cap;
			f->cut_frame = p->frame;
		}
		return 0;
	}
	kind = fqdn_dns_packet(ip, p->avail, &seg, &ends);
	if (kind == FQDN_NOT_DNS) {
		f->n_not_dns++;
		return 0;
	}
	fmt_addr(seg.family, seg.src, from, sizeof(from));
	if (!fqdn_is_resolver(&f->info, seg.family, seg.src)) {
		f->n_foreign++;
		return 0;
	}
	struct answer_ctx ac = { .f = f, .cap = cap, .frame = p->frame, .from = from,
				 .ends = &ends };

	if (kind == FQDN_UDP) {
		on_answer(seg.tcp, seg.len, &ac);
	} else {
		/* on capture time, as filterd on its clock */
		f->n_tcp_segments++;
		if (dns_tcp_feed(f->tcp, &seg, (int64_t)p->ts.tv_sec * 1000000 + p->ts.tv_usec,
				 on_answer, &ac) < 0 && ac.rc == 0) {
			snprintf(f->err, sizeof(f->err), "out of memory");
			return -1;
		}
	}
	return ac.rc;
}

/* ---- report ---------------------------------------------------------------- */

static bool same_group(const struct fqdn_event *a, const struct fqdn_event *b)
{
	return a->capture == b->capture && a->frame == b->frame && a->map_line == b->map_line &&
	       a->set == b->set && strcmp(a->name, b->name) == 0;
}

/* Events of one answer are consecutive: groups are searched within that run. */
static size_t run_end(const struct fqdn_replay *f, size_t i)
{
	size_t j = i + 1;

	while (j < f->nev && f->ev[j].capture == f->ev[i].capture &&
	       f->ev[j].frame == f->ev[i].frame && f->ev[j].map_line == f->ev[i].map_line)
		j++;
	return j;
}

void fqdn_replay_text(const struct fqdn_replay *f, FILE *out)
{
	char a[INET6_ADDRSTRLEN];
	size_t shown = 0;

	fprintf(out, "\nfqdn: %zu FQDN set%s", f->nsets, f->nsets == 1 ? "" : "s");
	for (size_t i = 0; i < f->nsets; i++)
		fprintf(out, "%s%s (%s)", i ? ", " : ": ", f->sets[i].fqdn, f->sets[i].set);
	fprintf(out, "\n  resolvers:");
	for (size_t i = 0; i < f->info.nres; i++) {
		fmt_addr(f->info.res_family[i], f->info.res_addr[i], a, sizeof(a));
		fprintf(out, " %s", a);
	}
	fprintf(out, "%s; TTL clamped to %u..%u s, at most %u addresses a set%s%s\n",
		f->info.nres ? "" : " none", f->o.ttl_min, f->o.ttl_max, f->o.max_addresses,
		f->o.map ? "; map " : "", f->o.map ? f->o.map->file : "");
	for (size_t i = 0; i < f->nsets; i++) {
		size_t vi = f->sets[i].vm_index, ign = vi == SIZE_MAX ? 0 : vm_set_ignored(f->vm, vi);

		if (ign)
			fprintf(out, "  fqdn set %s: %zu element%s of the dump ignored; learned from "
				"the capture instead\n", f->sets[i].set, ign, ign == 1 ? "" : "s");
	}
	struct dns_tcp_stats ts;

	dns_tcp_get_stats(f->tcp, &ts);
	fprintf(out, "  answers: %llu packets queued, %llu answers parsed, %llu gave addresses "
		"for FQDN rules, %llu not from a resolver, %llu unparsable, %llu not DNS, "
		"%llu cut by the capture; %llu addresses left out (cap)\n",
		(unsigned long long)f->n_queued, (unsigned long long)f->n_answers,
		(unsigned long long)f->n_learned_answers, (unsigned long long)f->n_foreign,
		(unsigned long long)f->n_bad, (unsigned long long)f->n_not_dns,
		(unsigned long long)f->n_cut, (unsigned long long)f->n_capped);
	if (f->info.queries_queued)
		fprintf(out, "  queries: %llu recorded (the host's), %llu cut by the "
			"capture; %llu answer%s answered none of them (not learned from)\n",
			(unsigned long long)f->n_queries, (unsigned long long)f->n_queries_cut,
			(unsigned long long)f->n_unasked, f->n_unasked == 1 ? "" : "s");
	if (f->n_unasked)
		fprintf(out, "  first answer to no recorded query: capture %u frame %llu\n",
			f->unasked_capture, (unsigned long long)f->unasked_frame);
	if (f->n_cut)
		fprintf(out, "  first answer cut by the capture: capture %u frame %llu (not learned "
			"from: flows to the addresses it held are judged without them)\n",
			f->cut_capture, (unsigned long long)f->cut_frame);
	if (f->n_tcp_segments)
		fprintf(out, "  over TCP: %llu segments, %llu answers reassembled, %llu stream%s "
			"given up at a missing segment (its later answers not learned)\n",
			(unsigned long long)f->n_tcp_segments, (unsigned long long)ts.messages,
			(unsigned long long)ts.gaps, ts.gaps == 1 ? "" : "s");
	if (f->n_bad)
		fprintf(out, "  first unparsable answer: capture %u frame %llu: %s\n",
			f->bad_capture, (unsigned long long)f->bad_frame, f->bad_why);
	if (!f->nev) {
		fprintf(out, "  learned: nothing\n");
		return;
	}
	fprintf(out, "  learned (name -> addresses, frame):\n");
	bool *done = calloc(f->nev, sizeof(*done));
	if (!done)
		return;
	for (size_t i = 0; i < f->nev; i++) {
		if (done[i])
			continue;
		size_t end = run_end(f, i);
		const struct fqdn_event *e = &f->ev[i];

		if (shown++ == 200) {
			fprintf(out, "    ... (--format json lists all)\n");
			break;
		}
		fprintf(out, "    %s ->", e->name);
		unsigned capped = 0;
		for (size_t j = i; j < end; j++) {
			if (done[j] || !same_group(e, &f->ev[j]))
				continue;
			done[j] = true;
			if (f->ev[j].capped) {
				capped++;
				continue;
			}
			fmt_addr(f->ev[j].family, f->ev[j].addr, a, sizeof(a));
			fprintf(out, " %s", a);
		}
		if (capped)
			fprintf(out, " (+%u left out: cap)", capped);
		fprintf(out, "  [%s %s]", e->set, e->fqdn);
		if (e->map_line)
			fprintf(out, " %s:%d%s", f->o.map->file, e->map_line,
				e->expires == INT64_MAX ? ", whole replay" : "");
		else if (f->ncaptures > 1)
			fprintf(out, " capture %u frame %llu", e->capture, (unsigned long long)e->frame);
		else
			fprintf(out, " frame %llu", (unsigned long long)e->frame);
		if (e->expires != INT64_MAX)
			fprintf(out, ", ttl %u s -> %lld s", e->ttl,
				(long long)((e->expires - e->at) / 1000000));
		if (!e->map_line)
			fprintf(out, ", from %s", e->source);
		fprintf(out, "\n");
	}
	free(done);
}

json_t *fqdn_replay_json(const struct fqdn_replay *f)
{
	json_t *o = json_object(), *sets = json_array(), *res = json_array(),
	       *learned = json_array(), *cnt = json_object();
	char a[INET6_ADDRSTRLEN];
	bool *done = calloc(f->nev ? f->nev : 1, sizeof(*done));

	for (size_t i = 0; i < f->nsets; i++) {
		json_t *s = json_object();
		size_t vi = f->sets[i].vm_index;

		json_object_set_new(s, "set", jtext(f->sets[i].set));
		json_object_set_new(s, "fqdn", jtext(f->sets[i].fqdn));
		json_object_set_new(s, "family", jtext(f->sets[i].family == AF_INET ?
							     "ipv4" : "ipv6"));
		json_object_set_new(s, "dump_elements_ignored",
				    json_integer((json_int_t)(vi == SIZE_MAX ? 0 :
							      vm_set_ignored(f->vm, vi))));
		json_object_set_new(s, "addresses_learned",
				    json_integer((json_int_t)f->sets[i].learned));
		json_object_set_new(s, "addresses_capped",
				    json_integer((json_int_t)f->sets[i].capped));
		json_array_append_new(sets, s);
	}
	for (size_t i = 0; i < f->info.nres; i++) {
		fmt_addr(f->info.res_family[i], f->info.res_addr[i], a, sizeof(a));
		json_array_append_new(res, jtext(a));
	}
	for (size_t i = 0; done && i < f->nev; i++) {
		if (done[i])
			continue;
		size_t end = run_end(f, i);
		const struct fqdn_event *e = &f->ev[i];
		json_t *l = json_object(), *addrs = json_array(), *left = json_array();

		for (size_t j = i; j < end; j++) {
			if (done[j] || !same_group(e, &f->ev[j]))
				continue;
			done[j] = true;
			fmt_addr(f->ev[j].family, f->ev[j].addr, a, sizeof(a));
			json_array_append_new(f->ev[j].capped ? left : addrs, jtext(a));
		}
		json_object_set_new(l, "name", jtext(e->name));
		json_object_set_new(l, "set", jtext(e->set));
		json_object_set_new(l, "fqdn", jtext(e->fqdn));
		json_object_set_new(l, "addresses", addrs);
		if (json_array_size(left))
			json_object_set_new(l, "left_out_cap", left);
		else
			json_decref(left);
		if (e->map_line) {
			json_object_set_new(l, "map", jtext(f->o.map->file));
			json_object_set_new(l, "line", json_integer(e->map_line));
		} else {
			json_object_set_new(l, "capture", json_integer(e->capture));
			json_object_set_new(l, "frame", json_integer((json_int_t)e->frame));
			json_object_set_new(l, "from", jtext(e->source));
		}
		if (e->expires != INT64_MAX) {
			json_object_set_new(l, "ttl", json_integer(e->ttl));
			json_object_set_new(l, "valid_s",
					    json_integer((json_int_t)((e->expires - e->at) / 1000000)));
		}
		json_array_append_new(learned, l);
	}
	free(done);
	json_object_set_new(cnt, "queued", json_integer((json_int_t)f->n_queued));
	json_object_set_new(cnt, "parsed", json_integer((json_int_t)f->n_answers));
	json_object_set_new(cnt, "learned_from", json_integer((json_int_t)f->n_learned_answers));
	json_object_set_new(cnt, "not_from_resolver", json_integer((json_int_t)f->n_foreign));
	json_object_set_new(cnt, "unparsable", json_integer((json_int_t)f->n_bad));
	json_object_set_new(cnt, "not_dns", json_integer((json_int_t)f->n_not_dns));
	json_object_set_new(cnt, "cut", json_integer((json_int_t)f->n_cut));
	{
		struct dns_tcp_stats ts;

		dns_tcp_get_stats(f->tcp, &ts);
		json_object_set_new(cnt, "tcp_segments", json_integer((json_int_t)f->n_tcp_segments));
		json_object_set_new(cnt, "tcp_answers", json_integer((json_int_t)ts.messages));
		json_object_set_new(cnt, "tcp_streams_lost", json_integer((json_int_t)ts.gaps));
	}
	json_object_set_new(cnt, "addresses_capped", json_integer((json_int_t)f->n_capped));
	json_object_set_new(cnt, "queries_matched", json_boolean(f->info.queries_queued));
	json_object_set_new(cnt, "queries_recorded", json_integer((json_int_t)f->n_queries));
	json_object_set_new(cnt, "queries_cut", json_integer((json_int_t)f->n_queries_cut));
	json_object_set_new(cnt, "unasked", json_integer((json_int_t)f->n_unasked));
	if (f->n_unasked) {
		json_object_set_new(cnt, "first_unasked_capture", json_integer(f->unasked_capture));
		json_object_set_new(cnt, "first_unasked_frame",
				    json_integer((json_int_t)f->unasked_frame));
	}
	json_object_set_new(o, "sets", sets);
	json_object_set_new(o, "resolvers", res);
	json_object_set_new(o, "ttl_min", json_integer(f->o.ttl_min));
	json_object_set_new(o, "ttl_max", json_integer(f->o.ttl_max));
	json_object_set_new(o, "max_addresses", json_integer(f->o.max_addresses));
	if (f->o.map)
		json_object_set_new(o, "map", jtext(f->o.map->file));
	json_object_set_new(o, "answers", cnt);
	json_object_set_new(o, "learned", learned);
	return o;
}

/* ---- options --------------------------------------------------------------- */

int fqdn_opt_resolver(struct fqdn_replay_opts *o, const char *arg, char *err, size_t errlen)
{
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		uint8_t a[16] = { 0 };
		int fam;

		if (inet_pton(AF_INET, t, a) == 1) {
			fam = AF_INET;
		} else if (inet_pton(AF_INET6, t, a) == 1) {
			fam = AF_INET6;
		} else {
			snprintf(err, errlen, "--resolver: '%s' is not an IPv4 or IPv6 address", t);
			return -1;
		}
		bool dup = false;
		for (size_t i = 0; i < o->nres; i++)
			dup = dup || (o->res_family[i] == fam && memcmp(o->res_addr[i], a, 16) == 0);
		if (dup)
			continue;
		if (o->nres >= FQDN_MAX_RESOLVERS) {
			snprintf(err, errlen, "--resolver: at most %d resolvers", FQDN_MAX_RESOLVERS);
			return -1;
		}
		o->res_family[o->nres] = fam;
		memcpy(o->res_addr[o->nres], a, 16);
		o->nres++;
	}
	return 0;
}

int fqdn_opt_uint(const char *opt, const char *arg, unsigned max, unsigned *out, char *err,
		  size_t errlen)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end || end == arg || arg[0] == '-' || v > max) {
		snprintf(err, errlen, "%s: expected a number from 0 to %u, got '%s'", opt, max, arg);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

size_t fqdn_opt_prefixes(const struct fqdn_replay_opts *o, struct prefix *out)
{
	for (size_t i = 0; i < o->nres; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].family = o->res_family[i];
		out[i].len = o->res_family[i] == AF_INET ? 32 : 128;
		memcpy(out[i].a.b, o->res_addr[i], 16);
	}
	return o->nres;
}

const struct compile_opts *fqdn_compile_opts(const struct fqdn_replay_opts *o,
					     struct compile_opts *co, struct prefix *res)
{
	if (!o->nres)
		return NULL;
	compile_opts_default(co);
	co->resolvers = res;
	co->nresolvers = fqdn_opt_prefixes(o, res);
	return co;
}
