/* filterd: FQDN rules at run time.
 *
 * The compiled table has, per FQDN rule, sets fqdn_<rule>_v4/_v6 (flags
 * timeout, comment "fqdn=<name>") and, first in input, a rule that queues DNS
 * answers from the configured resolvers (NFQUEUE cfg.dns_queue, bypass).  Two
 * sources fill the sets, both through learn():
 *
 *   1. exact names are resolved here with c-ares, asynchronously (its sockets
 *      are in the daemon's epoll loop, its timeouts on our timerfd), A and
 *      AAAA, again before the TTL runs out;
 *   2. every DNS answer the host receives from a configured resolver is queued
 *      to us: we parse it (rules/dns.c), add the addresses it gives for any
 *      FQDN rule's name (wildcards included) and only THEN — once the kernel
 *      has ACKed the element batch — give the verdict NF_ACCEPT.  The
 *      application cannot use an address before it is in the set.
 *
 * Elements carry timeout = TTL clamped to [fqdn_ttl_min, fqdn_ttl_max]; the
 * kernel expires them.  A set holds at most fqdn_max_addresses live
 * addresses; the rest of an answer is left out, with a log line.
 *
 * The host's queries to the resolvers are queued too, over UDP and TCP (a
 * chain after the output chain, so only queries the policy lets out; the
 * host's TCP streams are reassembled as the resolvers' are): each is
 * recorded with its endpoints, DNS ID and question (rules/dns_asked.c), and
 * an answer is learned from only when it answers a recorded query over the
 * same protocol; an answer nobody asked for is accepted unlearned
 * (event=fqdn-unasked-answer, at most one log line a second).
 *
 * Fail modes: an answer from anywhere but the configured resolvers is never
 * queued (kernel rule) and never learned from (checked again here).  With
 * filterd down, the queue's bypass flag lets answers through unlearned (DNS
 * keeps working; connections to names not already in a set are denied).  A
 * full queue (NFQA_CFG_F_FAIL_OPEN) likewise passes answers unlearned.  An
 * answer we cannot parse, or whose batch the kernel refuses, is accepted
 * unlearned.  So every failure closes FQDN destinations, never opens one. */
#include "daemon.h"
#include "jsonutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <jansson.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include "dns.h"
#include "fqdn.h"
#include "rsdiff.h"
#include "strbuf.h"

#define FQ_MAX_FDS 16

struct fq_addr {
	uint8_t a[16];
	double expires;		/* monotonic seconds */
};

struct fq_set {
	char *set, *fqdn;
	int family;
	struct fq_addr *v;
	size_t n, cap;
	uint64_t capped;	/* addresses left out because of the cap */
};

struct fq_name {		/* an exact name resolved by us */
	char *name;
	double next;		/* monotonic: resolve again at */
	unsigned inflight;
	double ttl_seen;	/* smallest clamped TTL of this round */
	bool got_any;
	char last_error[320];
	uint64_t resolves, errors;
};

struct fqdn_state {
	struct fq_set *sets;
	size_t nsets;
	struct fq_name *names;
	size_t nnames;
	struct fqdn_info info;	/* from the ruleset in force */
	/* compile options: resolvers from cfg.dns_servers */
	struct prefix res[FQDN_MAX_RESOLVERS];
	size_t nres;
	/* NFQUEUE */
	struct mnl_socket *nfq;
	int nfq_fd;
	uint16_t queue;
	/* c-ares */
	bool ares_ok;
	char servers[FQDN_MAX_RESOLVERS * 48];	/* what c-ares was given ("" : resolv.conf at init) */
	bool servers_pending;		/* to be given once no query is in flight */
	bool no_servers;		/* the table names no resolver: nothing is asked */
	ares_channel ch;
	int fds[FQ_MAX_FDS];
	size_t nfds;
	int timer_fd;
	bool started;
	bool use_xt;		/* queue with the xtables NFQUEUE target */
	bool queue_probed;	/* use_xt asked of the kernel (kernel_lacks_nft_queue) */
	/* counters */
	uint64_t n_queued, n_learned_answers, n_added, n_capped, n_bad, n_batch_fail,
		 n_foreign, n_resolve_errors;
	/* answers over TCP: the resolvers' streams, reassembled (dns_tcp.h) */
	struct dns_tcp *tcp;
	uint64_t n_tcp_logged_gaps;
	/* the host's queries, queued from the chain FQDN_QUERY_CHAIN: an answer
	 * is learned from only when it answers one (dns_asked.h); qtcp
	 * reassembles the host's TCP streams to the resolvers */
	struct dns_asked *asked;
	struct dns_tcp *qtcp;
	uint64_t n_queries, n_unasked;
	double unasked_logged_at;	/* monotonic: the last event=fqdn-unasked-answer */
	uint64_t unasked_unlogged;	/* since then, not logged */
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Kernels built without CONFIG_NFT_QUEUE refuse the queue expression
 * (ENOENT); the xtables NFQUEUE target through nft_compat does the same.
 * Asked of the kernel itself (nl_probe_queue: a scratch table created and
 * deleted in one batch), which also covers a module that cannot be loaded.
 * When the probe cannot run, the queue expression is used, and an apply the
 * kernel refuses says so. */
static bool kernel_lacks_nft_queue(void)
{
	char err[512] = "";
	int r = nl_probe_queue(err, sizeof(err));

	if (r < 0)
		dlog("event=fqdn-queue-probe result=error err=\"%s\" note=\"using the nf_tables queue expression\"",
		     err);
	return r == 0;
}

static struct fqdn_state *fq(struct daemon *d)
{
	if (!d->fqdn) {
		d->fqdn = calloc(1, sizeof(*d->fqdn));
		if (d->fqdn) {
			d->fqdn->nfq_fd = -1;
			d->fqdn->timer_fd = -1;
			/* without it (no memory) answers over TCP pass unlearned */
			d->fqdn->tcp = dns_tcp_new();
			/* without them (no memory) no answer is learned from */
			d->fqdn->asked = dns_asked_new();
			d->fqdn->qtcp = dns_tcp_new();
		}
	}
	return d->fqdn;
}

static unsigned clamp_ttl(struct daemon *d, uint32_t ttl)
{
	unsigned lo = d->cfg.fqdn_ttl_min, hi = d->cfg.fqdn_ttl_max;
	if (hi < lo)
		hi = lo;
	if (ttl < lo)
		return lo ? lo : 1;
	return ttl > hi ? hi : ttl;
}

static void fmt_addr(int family, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}


/* A resolver whose address is one of this host's (dnsmasq on the NIC's
 * address, say) answers over lo: the compiler gives those a queue rule on lo
 * of their own (compile_opts.addr_is_local).  The namespace's addresses now. */
static bool host_addr_is_local(int family, const void *addr)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			found = memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, 4) == 0;
		else
			found = memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr, 16) == 0;
	}
	freeifaddrs(ifa);
	return found;
}

/* ---- compile options --------------------------------------------------- */

void fqdn_compile_opts(struct daemon *d, struct compile_opts *co)
{
	struct fqdn_state *s = fq(d);
	char buf[1024], *save = NULL;

	co->dns_queue = (uint16_t)d->cfg.dns_queue;
	if (!s)
		return;
	s->nres = 0;
	snprintf(buf, sizeof(buf), "%s", d->cfg.dns_servers ? d->cfg.dns_servers : "");
	for (char *t = strtok_r(buf, ", ", &save); t && s->nres < FQDN_MAX_RESOLVERS;
	     t = strtok_r(NULL, ", ", &save)) {
		struct prefix *p = &s->res[s->nres];
		memset(p, 0, sizeof(*p));
		/* "addr" or "addr:port"/"[v6]:port" as c-ares takes them: the
		 * address alone matters to the kernel rule */
		char a[128];
		snprintf(a, sizeof(a), "%s", t[0] == '[' ? t + 1 : t);
		char *e = strchr(a, ']');
		if (e)
			*e = '\0';
		if (inet_pton(AF_INET6, a, p->a.b) == 1) {
			p->family = AF_INET6;
			p->len = 128;
		} else {
			char *colon = strchr(a, ':');
			if (colon)
				*colon = '\0';
			if (inet_pton(AF_INET, a, p->a.b) != 1) {
				dlog("event=warning what=dns_servers value=\"%s\" error=\"not an address\"", t);
				continue;
			}
			p->family = AF_INET;
			p->len = 32;
		}
		s->nres++;
	}
	if (!s->queue_probed) {
		/* a queue rule may be compiled -- for the resolvers of dns_servers
		 * or, without them, of /etc/resolv.conf: which kind, asked once
		 * (a first version asked only for dns_servers, and the default
		 * configuration's rule, the nf_tables queue, was refused by a
		 * kernel without it: no policy in force) */
		s->queue_probed = true;
		s->use_xt = kernel_lacks_nft_queue();
		if (s->use_xt)
			dlog("event=fqdn-queue-mode mode=xt note=\"the kernel refused the nf_tables queue expression (a probe batch; CONFIG_NFT_QUEUE is not set): DNS answers are queued by the xtables NFQUEUE target\"");
	}
	co->dns_queue_xt = s->use_xt;
	co->addr_is_local = host_addr_is_local;
	if (s->nres) {
		co->resolvers = s->res;
		co->nresolvers = s->nres;
	} else {
		co->resolv_conf = "/etc/resolv.conf";
	}
}

/* ---- learning ---------------------------------------------------------- */

struct learn_ctx {
	struct daemon *d;
	struct fqdn_state *s;
	const char *source;
	struct nftnl_set **hdr;	/* per fq_set: elements to add, or NULL */
	size_t *nadd;
	double now;
	bool oom;
};

static void prune(struct fq_set *fs, double now)
{
	size_t j = 0;
	for (size_t i = 0; i < fs->n; i++)
		if (fs->v[i].expires > now)
			fs->v[j++] = fs->v[i];
	fs->n = j;
}

static struct nftnl_set *elem_hdr(struct daemon *d, const struct fq_set *fs)
{
	struct nftnl_set *h = nftnl_set_alloc();
	if (!h)
		return NULL;
	nftnl_set_set_str(h, NFTNL_SET_TABLE, d->cfg.table);
	nftnl_set_set_str(h, NFTNL_SET_NAME, fs->set);
	nftnl_set_set_u32(h, NFTNL_SET_FAMILY, NFPROTO_INET);
	return h;
}

static void learn_addr(const char *const *chain, size_t n, int family, const uint8_t *addr,
		       uint32_t ttl, void *arg)
{
	struct learn_ctx *lc = arg;
	struct fqdn_state *s = lc->s;
	unsigned t = clamp_ttl(lc->d, ttl);
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < s->nsets; i++) {
		struct fq_set *fs = &s->sets[i];
		if (fs->family != family || !fqdn_match_chain(fs->fqdn, chain, n))
			continue;
		/* refresh or add, within the cap */
		struct fq_addr *slot = NULL;
		for (size_t k = 0; k < fs->n; k++)
			if (memcmp(fs->v[k].a, addr, alen) == 0)
				slot = &fs->v[k];
		if (!slot) {
			if (fs->n >= lc->d->cfg.fqdn_max_addresses) {
				fs->capped++;
				s->n_capped++;
				lc->nadd[i] |= (size_t)1 << (sizeof(size_t) * 8 - 1);	/* mark: capped */
				continue;
			}
			if (fs->n == fs->cap) {
				size_t nc = fs->cap ? fs->cap * 2 : 8;
				struct fq_addr *nv = realloc(fs->v, nc * sizeof(*nv));
				if (!nv) {
					lc->oom = true;
					continue;
				}
				fs->v = nv;
				fs->cap = nc;
			}
			slot = &fs->v[fs->n++];
			memset(slot, 0, sizeof(*slot));
			memcpy(slot->a, addr, alen);
			slot->expires = 0;
		}
		double exp = lc->now + t;
		if (exp > slot->expires)
			slot->expires = exp;
		if (!lc->hdr[i] && !(lc->hdr[i] = elem_hdr(lc->d, fs))) {
			lc->oom = true;
			continue;
		}
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		if (!e) {
			lc->oom = true;
			continue;
		}
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, addr, (uint32_t)alen);
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, (uint64_t)(slot->expires - lc->now + 0.5) * 1000);
		nftnl_set_elem_add(lc->hdr[i], e);
		lc->nadd[i]++;
	}
}

/* Adds what m says to the sets; returns once the kernel has ACKed the batch
 * (or refused it).  Returns the number of elements sent. */
static size_t learn(struct daemon *d, const struct dns_msg *m, const char *source)
{
	struct fqdn_state *s = fq(d);
	struct learn_ctx lc = { .d = d, .s = s, .source = source, .now = mono() };
	struct rs_delta delta = {0};
	struct nl_report rep;
	size_t total = 0;
	const size_t capbit = (size_t)1 << (sizeof(size_t) * 8 - 1);

	if (!s || !s->nsets)
		return 0;
	lc.hdr = calloc(s->nsets, sizeof(*lc.hdr));
	lc.nadd = calloc(s->nsets, sizeof(*lc.nadd));
	delta.v = calloc(s->nsets, sizeof(*delta.v));
	if (!lc.hdr || !lc.nadd || !delta.v)
		goto out;
	for (size_t i = 0; i < s->nsets; i++)
		prune(&s->sets[i], lc.now);
	dns_msg_walk(m, learn_addr, &lc);
	for (size_t i = 0; i < s->nsets; i++) {
		size_t n = lc.nadd[i] & ~capbit;
		if (lc.nadd[i] & capbit)
			dlog("event=fqdn-capped set=%s fqdn=%s name=%s source=%s max_addresses=%u note=\"the answer has more addresses than the set may hold; the rest stay closed\"",
			     s->sets[i].set, s->sets[i].fqdn, m->qname, source, d->cfg.fqdn_max_addresses);
		if (!lc.hdr[i])
			continue;
		delta.v[delta.n++] = (struct rs_set_delta){ .name = s->sets[i].set, .add = lc.hdr[i],
							    .nadd = n };
		delta.nadd += n;
		total += n;
	}
	if (!delta.n)
		goto out;
	if (nl_apply_delta(d->nl, &delta, &rep) < 0) {
		s->n_batch_fail++;
		dlog("event=fqdn-update-failed name=%s source=%s error=\"%s\" note=\"the answer passes unlearned\"",
		     m->qname, source, rep.msg);
		total = 0;
	} else {
		s->n_added += total;
		s->n_learned_answers++;
		for (size_t i = 0; i < delta.n; i++) {
			char list[512] = "";
			size_t o = 0;
			struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(delta.v[i].add);
			struct nftnl_set_elem *e;
			while (it && (e = nftnl_set_elems_iter_next(it)) && o < sizeof(list) - 64) {
				uint32_t kl = 0;
				const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &kl);
				char a[INET6_ADDRSTRLEN];
				fmt_addr(kl == 4 ? AF_INET : AF_INET6, k, a, sizeof(a));
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? "," : "", a);
			}
			if (it)
				nftnl_set_elems_iter_destroy(it);
			dlog("event=fqdn-learned set=%s name=%s source=%s addresses=%s count=%zu ms=%.2f",
			     delta.v[i].name, m->qname, source, list, delta.v[i].nadd, rep.ms);
		}
	}
out:
	for (size_t i = 0; lc.hdr && i < s->nsets; i++)
		if (lc.hdr[i])
			nftnl_set_free(lc.hdr[i]);
	free(lc.hdr);
	free(lc.nadd);
	free(delta.v);
	return total;
}

/* ---- NFQUEUE ----------------------------------------------------------- */

static struct nlmsghdr *nfq_hdr(char *buf, uint8_t type, uint16_t queue)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(queue);
	return nlh;
}

static int nfq_open(struct daemon *d, struct fqdn_state *s)
{
	char buf[512];
	struct nlmsghdr *nlh;

	s->queue = (uint16_t)d->cfg.dns_queue;
	s->nfq = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!s->nfq || mnl_socket_bind(s->nfq, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	int one = 1, big = 1 << 21;
	setsockopt(mnl_socket_get_fd(s->nfq), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(s->nfq), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));

	nlh = nfq_hdr(buf, NFQNL_MSG_CONFIG, s->queue);
	struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
	mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
	if (mnl_socket_sendto(s->nfq, nlh, nlh->nlmsg_len) < 0)
		goto fail;
	nlh = nfq_hdr(buf, NFQNL_MSG_CONFIG, s->queue);
	struct nfqnl_msg_config_params params = { .copy_range = htonl(0xffff),
						  .copy_mode = NFQNL_COPY_PACKET };
	mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
	/* a full queue passes answers unlearned rather than dropping DNS */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	if (mnl_socket_sendto(s->nfq, nlh, nlh->nlmsg_len) < 0)
		goto fail;
	s->nfq_fd = mnl_socket_get_fd(s->nfq);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = s->nfq_fd };
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->nfq_fd, &ev) < 0)
		goto fail;
	dlog("event=fqdn-queue queue=%u note=\"the host's queries to the configured resolvers are recorded; answers to a recorded query are learned from before they are accepted\"",
	     s->queue);
	return 0;
fail:
	dlog("event=error what=nfqueue queue=%u error=\"%s\" note=\"DNS answers pass unlearned (bypass); only names filterd resolves itself are opened\"",
	     s->queue, strerror(errno));
	if (s->nfq)
		mnl_socket_close(s->nfq);
	s->nfq = NULL;
	s->nfq_fd = -1;
	return -1;
}

static void nfq_verdict(struct fqdn_state *s, uint32_t id, uint32_t verdict)
{
	char buf[128];
	struct nlmsghdr *nlh = nfq_hdr(buf, NFQNL_MSG_VERDICT, s->queue);
	struct nfqnl_msg_verdict_hdr vh = { .verdict = htonl(verdict), .id = htonl(id) };

	mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(vh), &vh);
	if (mnl_socket_sendto(s->nfq, nlh, nlh->nlmsg_len) < 0)
		dlog("event=error what=nfqueue-verdict id=%u error=\"%s\"", id, strerror(errno));
}

/* One DNS message from a configured resolver: parsed and learned from. */
struct answer_ctx {
	struct daemon *d;
	struct fqdn_state *s;
	const char *from;
	const char *proto;
	const struct dns_ends *ends;	/* the packet's ends */
};

static bool on_answer(const uint8_t *msg, size_t dlen, void *arg)
{
	struct answer_ctx *ac = arg;
	struct dns_msg m;
	char err[256], source[80];

	if (dns_msg_parse(&m, msg, dlen, err, sizeof(err)) < 0) {
		ac->s->n_bad++;
		dlog("event=fqdn-bad-answer from=%s proto=%s error=\"%s\" note=\"passes unlearned\"",
		     ac->from, ac->proto, err);
		return false;
	}
	if (ac->s->info.queries_queued &&
	    (!ac->s->asked ||
	     !dns_asked_answer(ac->s->asked, ac->ends, &m, (int64_t)(mono() * 1e6)))) {
		double now = mono();

		ac->s->n_unasked++;
		if (now - ac->s->unasked_logged_at >= 1.0) {
			dlog("event=fqdn-unasked-answer from=%s proto=%s id=%u qname=\"%s\" unlogged_before=%llu note=\"answers no query the host sent (endpoints, DNS ID and question): passes unlearned\"",
			     ac->from, ac->proto, m.id, m.qname, (unsigned long long)ac->s->unasked_unlogged);
			ac->s->unasked_logged_at = now;
			ac->s->unasked_unlogged = 0;
		} else {
			ac->s->unasked_unlogged++;
		}
		dns_msg_free(&m);
		return true;
	}
	snprintf(source, sizeof(source), "answer:%s", ac->from);
	learn(ac->d, &m, source);
	dns_msg_free(&m);
	return true;
}

struct query_ctx {
	struct fqdn_state *s;
	const struct dns_ends *ends;
};

/* One DNS message the host sent (a UDP payload, or a message of its TCP
 * stream): recorded when it is a query.  false when it does not parse (no
 * query of ours to match: its answer is not learned from). */
static bool on_query_msg(const uint8_t *msg, size_t len, void *arg)
{
	struct query_ctx *qc = arg;
	struct dns_msg m;
	char err[256];

	if (dns_msg_parse(&m, msg, len, err, sizeof(err)) < 0)
		return false;
	if (dns_asked_query(qc->s->asked, qc->ends, &m, (int64_t)(mono() * 1e6)) > 0)
		qc->s->n_queries++;
	dns_msg_free(&m);
	return true;
}

/* A packet the host sent to a resolver's port 53: a UDP query is recorded,
 * a TCP segment goes to the host's stream (its queries recorded as the
 * stream completes them); anything else queued at output is ignored. */
static void on_query(struct fqdn_state *s, const struct nlattr *payload)
{
	struct dns_ends e;
	struct dns_tcp_seg seg;
	struct query_ctx qc = { .s = s, .ends = &e };
	int kind;

	if (!payload || !s->asked)
		return;
	kind = fqdn_packet_ends(mnl_attr_get_payload(payload), mnl_attr_get_payload_len(payload),
				&e, &seg);
	if (kind == FQDN_NOT_DNS || e.dport != 53 || !fqdn_is_resolver(&s->info, e.family, e.dst))
		return;
	if (kind == FQDN_UDP)
		on_query_msg(seg.tcp, seg.len, &qc);
	else if (s->qtcp && dns_tcp_feed(s->qtcp, &seg, (int64_t)(mono() * 1e6), on_query_msg, &qc) < 0)
		dlog("event=error what=fqdn-tcp-query-stream error=\"out of memory\" note=\"the answers on this stream pass unlearned\"");
}

/* A queued packet: a UDP answer, or a segment of a TCP stream whose messages
 * dns_tcp reassembles (fqdn_dns_packet, rules/fqdn_learn.c, shared with
 * pcap-replay).  The verdict comes after: the segment that completes an
 * answer is held until its addresses are in the kernel's sets. */
static void on_packet(struct daemon *d, struct fqdn_state *s, const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *tb[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		uint16_t t = mnl_attr_get_type(a);
		if (t <= NFQA_MAX)
			tb[t] = a;
	}
	if (!tb[NFQA_PACKET_HDR] || mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) < sizeof(*ph))
		return;
	ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	uint32_t id = ntohl(ph->packet_id);
	if (ph->hook == NF_INET_LOCAL_OUT) {
		/* a query the host sends (the chain FQDN_QUERY_CHAIN) */
		on_query(s, tb[NFQA_PAYLOAD]);
		nfq_verdict(s, id, NF_ACCEPT);
		return;
	}
	s->n_queued++;
	if (tb[NFQA_PAYLOAD]) {
		const uint8_t *pkt = mnl_attr_get_payload(tb[NFQA_PAYLOAD]);
		size_t plen = mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]);
		struct dns_tcp_seg seg;
		struct dns_ends ends;
		int kind = fqdn_dns_packet(pkt, plen, &seg, &ends);
		char from[INET6_ADDRSTRLEN] = "?";
		struct answer_ctx ac = { .d = d, .s = s, .from = from,
					 .proto = kind == FQDN_TCP ? "tcp" : "udp", .ends = &ends };

		if (kind != FQDN_NOT_DNS)
			fmt_addr(seg.family, seg.src, from, sizeof(from));
		if (kind != FQDN_NOT_DNS && !fqdn_is_resolver(&s->info, seg.family, seg.src)) {
			/* the kernel rule should make this impossible */
			s->n_foreign++;
			dlog("event=fqdn-foreign-answer from=%s note=\"not a configured resolver; not learned from\"", from);
		} else if (kind == FQDN_UDP) {
			on_answer(seg.tcp, seg.len, &ac);
		} else if (kind == FQDN_TCP && s->tcp) {
			struct dns_tcp_stats st;

			if (dns_tcp_feed(s->tcp, &seg, (int64_t)(mono() * 1e6), on_answer, &ac) < 0)
				dlog("event=error what=fqdn-tcp-stream from=%s error=\"out of memory\" note=\"this stream passes unlearned\"",
				     from);
			dns_tcp_get_stats(s->tcp, &st);
			if (st.gaps > s->n_tcp_logged_gaps) {
				s->n_tcp_logged_gaps = st.gaps;
				dlog("event=fqdn-tcp-gap from=%s note=\"a segment of a DNS answer stream never reached filterd: its later answers pass unlearned\"",
				     from);
			}
		}
	}
	/* only now: the addresses are in the kernel's sets */
	nfq_verdict(s, id, NF_ACCEPT);
}

static void on_nfq(struct daemon *d, struct fqdn_state *s)
{
	static char buf[0xffff + 4096];

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nfq, buf, sizeof(buf));
		if (n <= 0)
			break;
		int len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_QUEUE &&
			    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFQNL_MSG_PACKET)
				on_packet(d, s, nlh);
		}
	}
}

/* ---- c-ares ------------------------------------------------------------ */

static void rearm(struct daemon *d);

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct daemon *d = data;
	struct fqdn_state *s = d->fqdn;
	size_t i;

	for (i = 0; i < s->nfds && s->fds[i] != fd; i++)
		;
	if (!readable && !writable) {
		if (i < s->nfds) {
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
			s->fds[i] = s->fds[--s->nfds];
		}
		return;
	}
	struct epoll_event ev = { .events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0),
				  .data.fd = fd };
	if (i < s->nfds) {
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev);
	} else if (s->nfds < FQ_MAX_FDS) {
		s->fds[s->nfds++] = fd;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

struct qctx {
	struct daemon *d;
	int type;
	char name[];
};

/* (resync moves names out, leaving NULL: a second name looked up after a
 * first was moved crashed filterd on every reload of a policy with two
 * FQDN names) */
static struct fq_name *find_name(struct fqdn_state *s, const char *name)
{
	for (size_t i = 0; i < s->nnames; i++)
		if (s->names[i].name && strcmp(s->names[i].name, name) == 0)
			return &s->names[i];
	return NULL;
}

static void min_ttl_cb(const char *const *chain, size_t n, int family, const uint8_t *addr,
		       uint32_t ttl, void *arg)
{
	uint32_t *t = arg;
	(void)chain, (void)n, (void)family, (void)addr;
	if (ttl < *t)
		*t = ttl;
}

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct qctx *q = arg;
	struct daemon *d = q->d;
	struct fqdn_state *s = d->fqdn;
	struct fq_name *fn = status == ARES_EDESTRUCTION || !s ? NULL : find_name(s, q->name);

	(void)timeouts;
	if (!fn) {
		free(q);
		return;
	}
	if (fn->inflight)
		fn->inflight--;
	if (status == ARES_SUCCESS && abuf && alen > 0) {
		struct dns_msg m;
		char err[256];
		if (dns_msg_parse(&m, abuf, (size_t)alen, err, sizeof(err)) == 0) {
			uint32_t t = UINT32_MAX;
			if (dns_msg_walk(&m, min_ttl_cb, &t) > 0) {
				fn->got_any = true;
				double c = clamp_ttl(d, t);
				if (c < fn->ttl_seen)
					fn->ttl_seen = c;
			}
			learn(d, &m, "resolve");
			dns_msg_free(&m);
		} else {
			snprintf(fn->last_error, sizeof(fn->last_error), "%s", err);
		}
	} else if (status != ARES_ENODATA) {
		snprintf(fn->last_error, sizeof(fn->last_error), "%s %s: %s", q->type == 1 ? "A" : "AAAA",
			 q->name, ares_strerror(status));
		fn->errors++;
		s->n_resolve_errors++;
	}
	if (!fn->inflight) {
		/* both answers in: again at 80% of the TTL (clamped), or soon after an error */
		double now = mono();
		if (fn->got_any) {
			double ttl = fn->ttl_seen;
			fn->next = now + (ttl * 0.8 > 1 ? ttl * 0.8 : 1);
			fn->last_error[0] = '\0';
		} else {
			fn->next = now + (fn->last_error[0] ? 5 : clamp_ttl(d, 0));
			dlog("event=fqdn-resolve-empty name=%s error=\"%s\" retry_in=%.0f", fn->name,
			     fn->last_error[0] ? fn->last_error : "no address", fn->next - now);
		}
	}
	free(q);
}

static void resolve(struct daemon *d, struct fq_name *fn)
{
	struct fqdn_state *s = d->fqdn;
	static const int types[] = { 1 /* A */, 28 /* AAAA */ };

	if (!s->ares_ok || fn->inflight)
		return;
	if (s->no_servers) {
		/* resolv.conf names no resolver: c-ares would fall back to
		 * its own default (127.0.0.1), whose answers the table does
		 * not trust -- not asked; looked at again in a minute */
		snprintf(fn->last_error, sizeof(fn->last_error), "no resolver (resolv.conf names none)");
		fn->next = mono() + 60;
		return;
	}
	fn->ttl_seen = 1e18;
	fn->got_any = false;
	fn->last_error[0] = '\0';
	fn->resolves++;
	fn->next = mono() + 3600;	/* rescheduled by the callback */
	for (int i = 0; i < 2; i++) {
		struct qctx *q = malloc(sizeof(*q) + strlen(fn->name) + 1);
		if (!q)
			continue;
		q->d = d;
		q->type = types[i];
		strcpy(q->name, fn->name);
		fn->inflight++;
		ares_query(s->ch, fn->name, 1 /* IN */, types[i], query_cb, q);
	}
}

static void ares_start(struct daemon *d, struct fqdn_state *s)
{
	struct ares_options o = {
		.sock_state_cb = sock_state_cb, .sock_state_cb_data = d,
		.timeout = 2000, .tries = 2,
	};
	int rc = ares_library_init(ARES_LIB_INIT_ALL);

	if (rc == ARES_SUCCESS)
		rc = ares_init_options(&s->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc == ARES_SUCCESS && d->cfg.dns_servers && d->cfg.dns_servers[0])
		rc = ares_set_servers_csv(s->ch, d->cfg.dns_servers);
	if (rc != ARES_SUCCESS) {
		dlog("event=error what=c-ares error=\"%s\" note=\"FQDN names are only learned from answers the host receives\"",
		     ares_strerror(rc));
		return;
	}
	s->ares_ok = true;
}

/* ---- scheduling -------------------------------------------------------- */

static void rearm(struct daemon *d)
{
	struct fqdn_state *s = d->fqdn;
	double now = mono(), next = now + 60;
	struct itimerspec its = {0};

	if (!s || s->timer_fd < 0)
		return;
	for (size_t i = 0; i < s->nnames; i++)
		if (!s->names[i].inflight && s->names[i].next < next)
			next = s->names[i].next;
	if (s->ares_ok) {
		struct timeval tv, *tvp = ares_timeout(s->ch, NULL, &tv);
		if (tvp) {
			double t = now + tvp->tv_sec + tvp->tv_usec / 1e6;
			if (t < next)
				next = t;
		}
	}
	double dt = next - now;
	if (dt < 0.001)
		dt = 0.001;
	its.it_value.tv_sec = (time_t)dt;
	its.it_value.tv_nsec = (long)((dt - (double)(time_t)dt) * 1e9);
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1000000;
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

/* With dns_servers empty, c-ares read /etc/resolv.conf once, at its start,
 * while the table's resolvers follow the file (a change recompiles): filterd's
 * own queries go to the resolvers the table names -- those it learns answers
 * from -- given to c-ares again whenever they change (it kept asking the
 * servers of start-up, and timed out once they were gone). */
static void ares_follow_resolvers(struct daemon *d, struct fqdn_state *s)
{
	char csv[sizeof(s->servers)] = "", a[INET6_ADDRSTRLEN];
	size_t off = 0;
	int rc;

	if (!s->ares_ok || (d->cfg.dns_servers && d->cfg.dns_servers[0]))
		return;
	if (!s->info.nres && !s->nsets)
		return;			/* no FQDN rule: nothing to resolve */
	if (!s->info.nres) {
		if (!s->no_servers)
			dlog("event=fqdn-resolvers servers=none%s%s note=\"resolv.conf names no "
			     "resolver: names are not resolved\"", s->servers[0] ? " was=" : "",
			     s->servers);
		s->no_servers = true;
		s->servers[0] = '\0';
		s->servers_pending = false;
		return;
	}
	s->no_servers = false;
	for (size_t i = 0; i < s->info.nres && off + sizeof(a) + 2 < sizeof(csv); i++) {
		fmt_addr(s->info.res_family[i], s->info.res_addr[i], a, sizeof(a));
		off += (size_t)snprintf(csv + off, sizeof(csv) - off, "%s%s", off ? "," : "", a);
	}
	if (strcmp(csv, s->servers) == 0) {
		s->servers_pending = false;
		return;
	}
	rc = ares_set_servers_csv(s->ch, csv);
	if (rc != ARES_SUCCESS) {
		/* (c-ares refuses while queries are pending: again later) */
		s->servers_pending = true;
		return;
	}
	s->servers_pending = false;
	dlog("event=fqdn-resolvers servers=%s%s%s", csv, s->servers[0] ? " was=" : "", s->servers);
	snprintf(s->servers, sizeof(s->servers), "%s", csv);
	for (size_t i = 0; i < s->nnames; i++)	/* asked of the new ones at once */
		if (!s->names[i].inflight)
			s->names[i].next = mono();
}

static void run_due(struct daemon *d)
{
	struct fqdn_state *s = d->fqdn;
	double now = mono();

	if (s->servers_pending)
		ares_follow_resolvers(d, s);

	for (size_t i = 0; i < s->nnames; i++)
		if (!s->names[i].inflight && s->names[i].next <= now)
			resolve(d, &s->names[i]);
}

/* ---- policy changes ---------------------------------------------------- */

static void free_sets(struct fqdn_state *s)
{
	for (size_t i = 0; i < s->nsets; i++) {
		free(s->sets[i].set);
		free(s->sets[i].fqdn);
		free(s->sets[i].v);
	}
	free(s->sets);
	s->sets = NULL;
	s->nsets = 0;
}

/* Rebuilds the set list from the ruleset in force, keeping what was learned
 * for sets that serve the same name, and puts those addresses back (a whole
 * table replace empties the kernel's sets). */
static void resync(struct daemon *d, struct fqdn_state *s)
{
	struct fqdn_info info;
	struct fq_set *nv = NULL;
	struct fq_name *nn = NULL;
	size_t nnn = 0;
	double now = mono();

	if (!d->current || fqdn_info_from_ruleset(d->current->rs, &info) < 0)
		memset(&info, 0, sizeof(info));
	nv = calloc(info.n + 1, sizeof(*nv));
	nn = calloc(info.n + 1, sizeof(*nn));
	if (!nv || !nn) {
		free(nv);
		free(nn);
		fqdn_info_free(&info);
		return;
	}
	for (size_t i = 0; i < info.n; i++) {
		struct fq_set *f = &nv[i];
		f->set = strdup(info.v[i].set);
		f->fqdn = strdup(info.v[i].fqdn);
		f->family = info.v[i].family;
		for (size_t j = 0; j < s->nsets; j++) {
			struct fq_set *o = &s->sets[j];
			if (strcmp(o->set, f->set) == 0 && strcmp(o->fqdn, f->fqdn) == 0 &&
			    o->family == f->family) {
				prune(o, now);
				f->v = o->v;
				f->n = o->n;
				f->cap = o->cap;
				f->capped = o->capped;
				o->v = NULL;
			}
		}
		if (f->fqdn && strncmp(f->fqdn, "*.", 2) != 0) {
			bool dup = false;
			for (size_t k = 0; k < nnn; k++)
				dup |= strcmp(nn[k].name, f->fqdn) == 0;
			if (!dup) {
				struct fq_name *old = find_name(s, f->fqdn);
				if (old) {
					nn[nnn] = *old;
					old->name = NULL;
					/* resolve at once when the set came back empty */
					if (!f->n)
						nn[nnn].next = now;
				} else {
					nn[nnn].name = strdup(f->fqdn);
					nn[nnn].next = now;
				}
				nnn++;
			}
		}
	}
	free_sets(s);
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i].name);
	free(s->names);
	s->sets = nv;
	s->nsets = info.n;
	s->names = nn;
	s->nnames = nnn;
	fqdn_info_free(&s->info);
	s->info = info;
	ares_follow_resolvers(d, s);

	/* put back the live addresses: a full apply replaced the sets */
	struct rs_delta delta = { .v = calloc(s->nsets + 1, sizeof(*delta.v)) };
	struct nl_report rep;
	for (size_t i = 0; delta.v && i < s->nsets; i++) {
		struct fq_set *f = &s->sets[i];
		if (!f->n)
			continue;
		struct nftnl_set *h = elem_hdr(d, f);
		if (!h)
			continue;
		for (size_t k = 0; k < f->n; k++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			if (!e)
				continue;
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, f->v[k].a, f->family == AF_INET ? 4 : 16);
			nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT,
					       (uint64_t)(f->v[k].expires - now + 1) * 1000);
			nftnl_set_elem_add(h, e);
		}
		delta.v[delta.n++] = (struct rs_set_delta){ .name = f->set, .add = h, .nadd = f->n };
		delta.nadd += f->n;
	}
	if (delta.n && nl_apply_delta(d->nl, &delta, &rep) < 0)
		dlog("event=fqdn-restore-failed error=\"%s\"", rep.msg);
	else if (delta.n)
		dlog("event=fqdn-restored sets=%zu elements=%zu", delta.n, delta.nadd);
	for (size_t i = 0; i < delta.n; i++)
		nftnl_set_free(delta.v[i].add);
	free(delta.v);
}

void fqdn_policy_applied(struct daemon *d)
{
	struct fqdn_state *s = fq(d);

	if (!s)
		return;
	resync(d, s);
	if (s->started) {
		run_due(d);
		rearm(d);
	}
}

int fqdn_init(struct daemon *d)
{
	struct fqdn_state *s = fq(d);

	if (!s)
		return -1;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = s->timer_fd };
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->timer_fd, &ev);
	}
	nfq_open(d, s);
	ares_start(d, s);
	s->started = true;
	resync(d, s);
	run_due(d);
	rearm(d);
	return 0;
}

bool fqdn_event(struct daemon *d, int fd, uint32_t events)
{
	struct fqdn_state *s = d->fqdn;

	if (!s || fd < 0)
		return false;
	if (fd == s->nfq_fd) {
		on_nfq(d, s);
		rearm(d);
		return true;
	}
	if (fd == s->timer_fd) {
		uint64_t x;
		if (read(fd, &x, sizeof(x)) < 0) {
			/* spurious */
		}
		if (s->ares_ok)
			ares_process_fd(s->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		run_due(d);
		rearm(d);
		return true;
	}
	for (size_t i = 0; i < s->nfds; i++) {
		if (s->fds[i] != fd)
			continue;
		ares_process_fd(s->ch, (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
				(events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
		rearm(d);
		return true;
	}
	return false;
}

void fqdn_free(struct daemon *d)
{
	struct fqdn_state *s = d->fqdn;

	if (!s)
		return;
	if (s->ares_ok) {
		ares_destroy(s->ch);
		ares_library_cleanup();
	}
	if (s->nfq)
		mnl_socket_close(s->nfq);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	free_sets(s);
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i].name);
	free(s->names);
	fqdn_info_free(&s->info);
	dns_tcp_free(s->tcp);
	dns_tcp_free(s->qtcp);
	dns_asked_free(s->asked);
	free(s);
	d->fqdn = NULL;
}

/* ---- status and metrics ------------------------------------------------ */

json_t *fqdn_status_json(struct daemon *d)
{
	struct fqdn_state *s = d->fqdn;
	json_t *o, *sets, *names, *res;
	double now = mono();
	char a[INET6_ADDRSTRLEN];

	if (!s || !s->nsets)
		return json_null();
	o = json_object();
	sets = json_array();
	names = json_array();
	res = json_array();
	for (size_t i = 0; i < s->info.nres; i++) {
		fmt_addr(s->info.res_family[i], s->info.res_addr[i], a, sizeof(a));
		json_array_append_new(res, jtext(a));
	}
	for (size_t i = 0; i < s->nsets; i++) {
		struct fq_set *f = &s->sets[i];
		json_t *addrs = json_array();
		prune(f, now);
		for (size_t k = 0; k < f->n; k++) {
			fmt_addr(f->family, f->v[k].a, a, sizeof(a));
			json_array_append_new(addrs, json_pack("{s:s,s:I}", "address", a, "expires_in",
							       (json_int_t)(f->v[k].expires - now + 0.5)));
		}
		json_array_append_new(sets, json_pack("{s:s,s:s,s:o,s:I}", "fqdn", f->fqdn, "set", f->set,
						      "addresses", addrs, "capped", (json_int_t)f->capped));
	}
	for (size_t i = 0; i < s->nnames; i++) {
		struct fq_name *n = &s->names[i];
		json_array_append_new(names, json_pack("{s:s,s:I,s:I,s:s}", "name", n->name,
			"next_resolve_in", (json_int_t)(n->inflight ? 0 : n->next - now + 0.5),
			"resolves", (json_int_t)n->resolves, "last_error", n->last_error));
	}
	json_object_set_new(o, "queue", s->nfq ? json_integer(s->queue) : json_null());
	json_object_set_new(o, "resolvers", res);
	json_object_set_new(o, "sets", sets);
	json_object_set_new(o, "resolved_names", names);
	struct dns_tcp_stats ts = { 0 };

	if (s->tcp)
		dns_tcp_get_stats(s->tcp, &ts);
	json_object_set_new(o, "counters", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"queries_recorded", (json_int_t)s->n_queries, "answers_unasked", (json_int_t)s->n_unasked,
		"answers_queued", (json_int_t)s->n_queued, "answers_learned", (json_int_t)s->n_learned_answers,
		"elements_added", (json_int_t)s->n_added, "addresses_capped", (json_int_t)s->n_capped,
		"bad_answers", (json_int_t)s->n_bad, "update_failures", (json_int_t)s->n_batch_fail,
		"resolve_errors", (json_int_t)s->n_resolve_errors,
		"tcp_answers", (json_int_t)ts.messages, "tcp_streams", (json_int_t)ts.streams,
		"tcp_streams_lost", (json_int_t)ts.gaps));
	return o;
}

void fqdn_metrics(struct daemon *d, struct strbuf *sb)
{
	struct fqdn_state *s = d->fqdn;
	double now = mono();

	if (!s || !s->nsets)
		return;
	sb_puts(sb, "# HELP filterd_fqdn_addresses Addresses an FQDN rule's set holds now.\n"
		    "# TYPE filterd_fqdn_addresses gauge\n");
	for (size_t i = 0; i < s->nsets; i++) {
		prune(&s->sets[i], now);
		sb_printf(sb, "filterd_fqdn_addresses{set=\"%s\",fqdn=\"%s\"} %zu\n", s->sets[i].set,
			  s->sets[i].fqdn, s->sets[i].n);
	}
	sb_puts(sb, "# HELP filterd_fqdn_next_expiry_seconds Seconds until the first address of the set expires.\n"
		    "# TYPE filterd_fqdn_next_expiry_seconds gauge\n");
	for (size_t i = 0; i < s->nsets; i++) {
		double m = -1;
		for (size_t k = 0; k < s->sets[i].n; k++)
			if (m < 0 || s->sets[i].v[k].expires - now < m)
				m = s->sets[i].v[k].expires - now;
		sb_printf(sb, "filterd_fqdn_next_expiry_seconds{set=\"%s\",fqdn=\"%s\"} %.0f\n",
			  s->sets[i].set, s->sets[i].fqdn, m < 0 ? 0 : m);
	}
	sb_printf(sb, "# HELP filterd_fqdn_dns_answers_total DNS answers queued to filterd.\n"
		      "# TYPE filterd_fqdn_dns_answers_total counter\n"
		      "filterd_fqdn_dns_answers_total %llu\n"
		      "# HELP filterd_fqdn_dns_queries_total The host's DNS queries to the resolvers, recorded to match their answers.\n"
		      "# TYPE filterd_fqdn_dns_queries_total counter\n"
		      "filterd_fqdn_dns_queries_total %llu\n"
		      "# HELP filterd_fqdn_dns_answers_unasked_total DNS answers that answered no recorded query (not learned from).\n"
		      "# TYPE filterd_fqdn_dns_answers_unasked_total counter\n"
		      "filterd_fqdn_dns_answers_unasked_total %llu\n"
		      "# HELP filterd_fqdn_elements_added_total Set elements added or refreshed.\n"
		      "# TYPE filterd_fqdn_elements_added_total counter\n"
		      "filterd_fqdn_elements_added_total %llu\n"
		      "# HELP filterd_fqdn_addresses_capped_total Addresses left out by fqdn_max_addresses.\n"
		      "# TYPE filterd_fqdn_addresses_capped_total counter\n"
		      "filterd_fqdn_addresses_capped_total %llu\n"
		      "# HELP filterd_fqdn_errors_total Bad answers, refused updates, failed resolutions.\n"
		      "# TYPE filterd_fqdn_errors_total counter\n"
		      "filterd_fqdn_errors_total{kind=\"bad_answer\"} %llu\n"
		      "filterd_fqdn_errors_total{kind=\"update\"} %llu\n"
		      "filterd_fqdn_errors_total{kind=\"resolve\"} %llu\n",
		      (unsigned long long)s->n_queued, (unsigned long long)s->n_queries,
		      (unsigned long long)s->n_unasked, (unsigned long long)s->n_added,
		      (unsigned long long)s->n_capped, (unsigned long long)s->n_bad,
		      (unsigned long long)s->n_batch_fail, (unsigned long long)s->n_resolve_errors);
	struct dns_tcp_stats ts = { 0 };

	if (s->tcp)
		dns_tcp_get_stats(s->tcp, &ts);
	sb_printf(sb, "# HELP filterd_fqdn_tcp_answers_total DNS answers reassembled from resolvers' TCP streams.\n"
		      "# TYPE filterd_fqdn_tcp_answers_total counter\n"
		      "filterd_fqdn_tcp_answers_total %llu\n"
		      "# HELP filterd_fqdn_tcp_streams_lost_total TCP answer streams given up at a missing segment.\n"
		      "# TYPE filterd_fqdn_tcp_streams_lost_total counter\n"
		      "filterd_fqdn_tcp_streams_lost_total %llu\n",
		      (unsigned long long)ts.messages, (unsigned long long)ts.gaps);
}
