/* replay — the per-packet pipeline of pcap-replay.
 *
 * For each frame, in capture order, as the kernel would see it:
 *   pkt_decode           non-IP and unsupported links are counted, not judged;
 *                        headers ip_rcv would drop are listed by frame number
 *   direction            the capture's own (SLL/SLL2 packet type, else the pcapng
 *                        Enhanced Packet Block's epb_flags) when present,
 *                        else this host's addresses: src local → output hook,
 *                        dst local (or multicast/broadcast) → input hook, both →
 *                        loopback (output then input, "lo"), neither → not for
 *                        this host: counted as transit and not judged (the
 *                        forward chain needs interface names a capture lacks)
 *   ct_defrag, ct_in     nf_defrag / nf_conntrack_in run before the filter
 *   vm_eval              every base chain of the hook
 *   ct_confirm           the unconfirmed entry lives on only if accepted
 * A flow is a conntrack tuple: its verdict is that of its first packet.  A
 * tuple whose entry expired or was killed starts a new flow when seen again;
 * an entry discarded because its first packet was dropped does not (the
 * retransmissions belong to the same flow). */
#include "replay.h"

#include <errno.h>
#include <stdlib.h>
#include <endian.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <netinet/in.h>
#include <pcap/pcap.h>

#include "packet.h"
#include "reader.h"
#include "region.h"
#include "zalloc.h"

/* A conntrack entry's packets are counted in the entry itself (its lines are
 * in the cache: conntrack and the memo have just read them) and added to
 * their flow's row when the entry goes (reaper, whatever the reason), when its
 * packets start counting for another flow (judge), and when the replay ends
 * (replay_run): a flow row is then touched once a connection, not once a
 * packet.  A packet whose entry is dying (the reaper has flushed it) counts
 * in the row at once. */
struct flow_acc {
	uint32_t flow;			/* index + 1 of the flow counted for; 0: none */
	uint32_t accepted, dropped, related;
};
#define FLOW_ACC_OFF (2 * sizeof(struct vm_memo))
_Static_assert(FLOW_ACC_OFF + sizeof(struct flow_acc) <= CT_EXT_SIZE,
	       "two flow memos and the flow counts fit in a conntrack entry");

static struct flow_acc *flow_acc(const struct ct_entry *e)
{
	/* the entry is the caller's to change (the ext area is ours) */
	return (struct flow_acc *)((char *)ct_entry_ext((struct ct_entry *)e) + FLOW_ACC_OFF);
}

static void flow_acc_flush(struct replay *r, struct flow_acc *a)
{
	if (a->flow && a->flow <= r->nflows) {
		struct flow *f = &r->flows[a->flow - 1];

		f->packets += (uint64_t)a->accepted + a->dropped;
		f->pkts_accepted += a->accepted;
		f->pkts_dropped += a->dropped;
		f->related += a->related;
	}
	memset(a, 0, sizeof(*a));
}

static void flow_acc_flush_entry(const struct ct_entry *e, void *arg)
{
	flow_acc_flush(arg, flow_acc(e));
}

static bool flow_closed(const struct replay *r, uint64_t u)
{
	return r->closed_bits[(u - 1) >> 6] >> ((u - 1) & 63) & 1;
}

static void flow_close(struct replay *r, struct flow *f)
{
	size_t i = (size_t)(f - r->flows);

	f->closed = true;
	r->closed_bits[i >> 6] |= 1ull << (i & 63);
}

const char *flow_dir_name(enum flow_dir d)
{
	switch (d) {
	case FLOW_IN: return "in";
	case FLOW_OUT: return "out";
	case FLOW_LO: return "lo";
	}
	return "?";
}

const char *l4_name(uint8_t proto)
{
	static char buf[8][8];
	static unsigned next;

	/* a few slots so that several calls fit in one printf */
	return l4_name_buf(proto, buf[next++ % 8]);
}

const char *l4_name_buf(uint8_t proto, char buf[8])
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_AH: return "ah";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_DCCP: return "dccp";
	case IPPROTO_GRE: return "gre";
	case 255: return "?";
	}
	snprintf(buf, 8, "%u", proto);
	return buf;
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

void flow_format_addr(const struct flow *f, bool dst, char *buf, size_t len)
{
	struct addr a;
	char txt[INET6_ADDRSTRLEN];
	int fam = f->k.nfproto == NFPROTO_IPV6 ? AF_INET6 : AF_INET;

	memcpy(a.b, dst ? f->k.dst : f->k.src, 16);
	addr_format(fam, &a, txt, sizeof(txt));
	if (!f->k.ports)
		snprintf(buf, len, "%s", txt);
	else if (fam == AF_INET6)
		snprintf(buf, len, "[%s]:%u", txt, dst ? f->k.dport : f->k.sport);
	else
		snprintf(buf, len, "%s:%u", txt, dst ? f->k.dport : f->k.sport);
}

/* ---- flow table ------------------------------------------------------------ */

static uint64_t key_hash(const struct flow_key *k)
{
	/* word-wise multiplicative hash of the fields that make the key */
	uint64_t w[4], tail, h;

	memcpy(w, k->src, 16);
	memcpy(w + 2, k->dst, 16);
	tail = (uint64_t)k->nfproto | (uint64_t)k->proto << 8 | (uint64_t)k->sport << 16 |
	       (uint64_t)k->dport << 32 | (uint64_t)k->icmp_id << 48;
	h = (w[0] * 0x9e3779b97f4a7c15ull) ^ (w[1] * 0xbf58476d1ce4e5b9ull) ^
	    (w[2] * 0x94d049bb133111ebull) ^ (w[3] * 0xff51afd7ed558ccdull) ^
	    (tail * 0xc4ceb9fe1a85ec53ull);
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

static bool key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return a->nfproto == b->nfproto && a->proto == b->proto && a->sport == b->sport &&
	       a->dport == b->dport && a->icmp_id == b->icmp_id &&
	       memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0;
}

static void key_reverse(const struct flow_key *k, struct flow_key *r)
{
	*r = *k;
	memcpy(r->src, k->dst, 16);
	memcpy(r->dst, k->src, 16);
	r->sport = k->dport;
	r->dport = k->sport;
}

/* Open flow with key k of hash h (closed flows are skipped), or NULL. */
static struct flow *flow_find1(struct replay *r, const struct flow_key *k, uint32_t h)
{
	if (!r->hcap)
		return NULL;
	for (size_t i = h & (r->hcap - 1);; i = (i + 1) & (r->hcap - 1)) {
		const struct flow_slot *s = &r->hash[i];

		if (!s->f)
			return NULL;
		if (s->h == h && !r->flows[s->f - 1].closed && key_eq(&r->flows[s->f - 1].k, k))
			return &r->flows[s->f - 1];
	}
}

/* A key in both orientations, with their hashes: a new connection's is made
 * as soon as conntrack has created its entry, and the hash slots it will probe
 * are prefetched then, so that the misses overlap the evaluation. */
struct key2 {
	struct flow_key k, rk;
	uint32_t h, rh;
};

static void key2_make(const struct replay *r, const struct flow_key *k, struct key2 *k2)
{
	k2->k = *k;
	key_reverse(k, &k2->rk);
	k2->h = (uint32_t)key_hash(&k2->k);
	k2->rh = (uint32_t)key_hash(&k2->rk);
	if (r->hcap) {
		__builtin_prefetch(&r->hash[k2->h & (r->hcap - 1)]);
		__builtin_prefetch(&r->hash[k2->rh & (r->hcap - 1)]);
	}
}

/* Finds the flow of k2 in either orientation; *reply tells which. */
static struct flow *flow_find2(struct replay *r, const struct key2 *k2, bool *reply)
{
	struct flow *f = flow_find1(r, &k2->k, k2->h);

	*reply = false;
	if (f)
		return f;
	f = flow_find1(r, &k2->rk, k2->rh);
	if (f)
		*reply = true;
	return f;
}

static struct flow *flow_find(struct replay *r, const struct flow_key *k, bool *reply)
{
	struct key2 k2;

	key2_make(r, k, &k2);
	return flow_find2(r, &k2, reply);
}

static int hash_grow(struct replay *r)
{
	size_t ncap = r->hcap ? 2 * r->hcap : 1024;
	struct flow_slot *nh = zalloc(ncap, sizeof(*nh));

	if (!nh)
		return -1;
	for (size_t j = 0; j < r->hcap; j++) {
		size_t i;

		if (!r->hash[j].f)
			continue;
		for (i = r->hash[j].h & (ncap - 1); nh[i].f; i = (i + 1) & (ncap - 1))
			;
		nh[i] = r->hash[j];
	}
	free(r->hash);
	r->hash = nh;
	r->hcap = ncap;
	return 0;
}

/* The matcher's view of a flow of key k in direction dir. */
static void expect_flow_of(const struct flow_key *k, enum flow_dir dir, struct expect_flow *ef)
{
	memset(ef, 0, sizeof(*ef));
	ef->dir = dir == FLOW_IN ? EXPECT_IN : EXPECT_OUT;
	ef->family = k->nfproto == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
	ef->proto = k->proto;
	memcpy(ef->src.b, k->src, 16);
	memcpy(ef->dst.b, k->dst, 16);
	ef->has_ports = k->ports;
	ef->sport = k->sport;
	ef->dport = k->dport;
}

/* The flows past --max-listed-flows already checked, by the 64-bit hash of
 * their key in the orientation of their first packet: 8 bytes a flow instead
 * of a row.  Returns whether h was there; adds it when add is set (false,
 * and nothing added, when memory is out: the flow is then checked again). */
static bool unlisted_seen(struct replay *r, uint64_t h, bool add)
{
	h |= 1;	/* 0 marks a free slot */
	if (add && (r->unl_n + 1) * 2 > r->unl_cap) {
		size_t ncap = r->unl_cap ? 2 * r->unl_cap : 1024;
		uint64_t *nv = calloc(ncap, sizeof(*nv));

		if (!nv)
			return false;
		for (size_t j = 0; j < r->unl_cap; j++) {
			if (!r->unl[j])
				continue;
			size_t i = r->unl[j] & (ncap - 1);
			while (nv[i])
				i = (i + 1) & (ncap - 1);
			nv[i] = r->unl[j];
		}
		free(r->unl);
		r->unl = nv;
		r->unl_cap = ncap;
	}
	if (!r->unl_cap)
		return false;
	for (size_t i = h & (r->unl_cap - 1);; i = (i + 1) & (r->unl_cap - 1)) {
		if (r->unl[i] == h)
			return true;
		if (!r->unl[i]) {
			if (add) {
				r->unl[i] = h;
				r->unl_n++;
			}
			return false;
		}
	}
}

/* The flow of hash h has ended (its conntrack entry went): a later connection
 * on its tuple is a new flow, as a closed row makes one.  Linear probing's
 * deletion: later entries of the run move back into the hole. */
static void unlisted_forget(struct replay *r, uint64_t h)
{
	size_t m = r->unl_cap - 1, i, j;

	h |= 1;
	if (!r->unl_cap)
		return;
	for (i = h & m; r->unl[i] && r->unl[i] != h; i = (i + 1) & m)
		;
	if (!r->unl[i])
		return;
	for (j = (i + 1) & m; r->unl[j]; j = (j + 1) & m) {
		size_t home = r->unl[j] & m;
		/* it may fill the hole when its home is not cyclically in (i, j] */
		bool in_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!in_between) {
			r->unl[i] = r->unl[j];
			i = j;
		}
	}
	r->unl[i] = 0;
	r->unl_n--;
}

/* A flow past --max-listed-flows, at its first packet: checked against the
 * expectations now, as replay_judge checks a listed flow by its first
 * packet's verdict (a review found such flows passed any assertion).  Its
 * later packets -- retransmissions, replies, a reply that came in as a new
 * entry because the request was dropped -- are the same flow, found by key
 * in either orientation as flow_find2 finds a row. */
static void judge_unlisted(struct replay *r, const struct key2 *k2, enum flow_dir dir,
			   bool accepted, bool incomplete, unsigned cap, uint64_t frame)
{
	struct expect *e = r->ex;
	struct expect_flow ef;
	const struct flow_key *k = &k2->k;
	long l;

	if (unlisted_seen(r, key_hash(&k2->rk), false) || unlisted_seen(r, key_hash(k), true))
		return;

	expect_flow_of(k, dir, &ef);
	l = expect_match(e, &ef);
	if (l < 0) {
		r->t.unlisted_unmatched++;
		return;
	}
	bool ok;
	e->v[l].unlisted++;
	if (incomplete) {
		e->v[l].matched++;
		e->v[l].failures++;
		ok = false;
	} else {
		ok = expect_record(e, (size_t)l, accepted);
	}
	if (!ok && !e->v[l].unlisted_bad_frame) {
		e->v[l].unlisted_bad_capture = cap;
		e->v[l].unlisted_bad_frame = frame;
	}
}

/* Makes room for more flows: *ncap, the new capacity.  The rows grow in
 * place in their region, which holds --max-listed-flows rows (region.h: no
 * copy, and the reader thread faults the next pages in while it waits), by
 * FLOW_STEP rows (a multiple of 64, so each take follows the last one
 * exactly); by doubling with realloc where there is no region.  0, or -1
 * when memory is out. */
#define FLOW_STEP 4096u
static int flows_grow(struct replay *r, size_t *ncap)
{
	struct flow *nf;

	if (r->flows_rg.base) {
		size_t n = r->o->max_listed - r->fcap;

		n = n < FLOW_STEP ? n : FLOW_STEP;
		if (!(nf = region_take(&r->flows_rg, n * sizeof(*nf))))
			return -1;
		if (!r->flows)
			r->flows = nf;
		*ncap = r->fcap + n;
		return 0;
	}
	*ncap = r->fcap ? 2 * r->fcap : 256;
	if (!(nf = realloc(r->flows, *ncap * sizeof(*nf))))
		return -1;
	r->flows = nf;
	return 0;
}

/* A new flow of key k, whose key_hash is h, or NULL when the cap is reached
 * or memory is out. */
static struct flow *flow_new(struct replay *r, const struct flow_key *k, uint32_t h)
{
	struct flow *f;
	size_t i;

	if (r->nflows >= r->o->max_listed)
		return NULL;
	if (r->nflows == r->fcap) {
		size_t ncap, ow = (r->fcap + 63) / 64, nw;
		uint64_t *nb;

		if (flows_grow(r, &ncap) < 0)
			return NULL;
		nw = (ncap + 63) / 64;
		nb = realloc(r->closed_bits, nw * sizeof(*nb));
		if (!nb)
			return NULL;
		memset(nb + ow, 0, (nw - ow) * sizeof(*nb));
		r->closed_bits = nb;
		r->fcap = ncap;
	}
	if ((r->nflows + 1) * 2 > r->hcap && hash_grow(r) < 0)
		return NULL;
	f = &r->flows[r->nflows];
	memset(f, 0, sizeof(*f));
	f->k = *k;
	f->expect_line = -1;
	f->decided = "";
	for (i = h & (r->hcap - 1); r->hash[i].f; i = (i + 1) & (r->hcap - 1))
		;
	r->hash[i].f = (uint32_t)++r->nflows;
	r->hash[i].h = h;
	return f;
}

static void key_from_tuple(const struct ct_tuple *t, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->nfproto = t->nfproto;
	k->proto = t->proto;
	memcpy(k->src, t->src, 16);
	memcpy(k->dst, t->dst, 16);
	k->ports = proto_has_ports(t->proto);
	if (k->ports) {
		k->sport = t->sport;
		k->dport = t->dport;
	}
	if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6)
		k->icmp_id = t->icmp_id;
}

static inline uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

/* The key of a packet that got no conntrack (invalid, untracked). */
static void key_from_packet(const struct pkt *p, struct flow_key *k)
{
	const uint8_t *ip = p->data + p->nh_off;
	size_t end = p->nh_off + p->avail;

	memset(k, 0, sizeof(*k));
	k->nfproto = p->nfproto;
	if (p->nfproto == NFPROTO_IPV4) {
		memcpy(k->src, ip + 12, 4);
		memcpy(k->dst, ip + 16, 4);
	} else {
		memcpy(k->src, ip + 8, 16);
		memcpy(k->dst, ip + 24, 16);
	}
	k->proto = p->tprot_set ? p->l4proto : 255;
	if (!p->tprot_set || p->fragoff)
		return;
	if (proto_has_ports(k->proto) && p->th_off + 4 <= end && p->th_off + 4 <= p->caplen) {
		k->ports = true;
		k->sport = rd16(p->data + p->th_off);
		k->dport = rd16(p->data + p->th_off + 2);
	} else if ((k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6) &&
		   p->th_off + 6 <= end && p->th_off + 6 <= p->caplen) {
		uint8_t type = p->data[p->th_off];

		if (type == 0 || type == 8 || type == 13 || type == 14 || type == 128 || type == 129)
			k->icmp_id = rd16(p->data + p->th_off + 4);
	}
}

static void reaper(const struct ct_entry *e, enum ct_gone why, void *arg)
{
	struct replay *r = arg;
	struct ct_tuple t;
	struct flow_key k;
	struct flow *f;
	bool reply;

	flow_acc_flush(r, flow_acc(e));
	/* a dropped first packet's entry: retransmissions stay in the flow */
	if (why == CT_GONE_DISCARDED || why == CT_GONE_FLUSHED)
		return;
	if (ct_entry_user(e) && ct_entry_user(e) <= r->nflows &&
	    !r->flows[ct_entry_user(e) - 1].closed) {
		flow_close(r, &r->flows[ct_entry_user(e) - 1]);
		return;
	}
	ct_entry_tuple(e, IP_CT_DIR_ORIGINAL, &t);
	key_from_tuple(&t, &k);
	f = flow_find(r, &k, &reply);
	if (f)
		flow_close(r, f);
	else if (r->unl_n)	/* a flow past --max-listed-flows ended */
		unlisted_forget(r, key_hash(&k));
}

/* ---- setup ---------------------------------------------------------------- */

int replay_init(struct replay *r, const struct replay_opts *o, const struct ruleset *rs,
		struct vm *vm)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->rs = rs;
	r->vm = vm;
	r->trace_out = stdout;
	pset_init(&r->local4, AF_INET);
	pset_init(&r->local6, AF_INET6);
	if (o->have_local &&
	    (pset_copy(&r->local4, &o->local4) < 0 || pset_copy(&r->local6, &o->local6) < 0))
		goto oom;
	r->ct = ct_table_new(o->max_flows);
	if (!r->ct)
		goto oom;
	/* room for every row (flows_grow), or none: then they are realloc'd */
	if (o->max_listed && o->max_listed <= (SIZE_MAX - 64) / sizeof(struct flow) &&
	    region_init(&r->flows_rg, o->max_listed * sizeof(struct flow) + 64) &&
	    r->flows_rg.size < o->max_listed * sizeof(struct flow) + 64)
		region_fini(&r->flows_rg);	/* (capped at REGION_MAX) */
	/* (main checked the names and values) */
	for (size_t i = 0; i < o->nct_timeouts; i++)
		if (ct_table_set_timeout(r->ct, o->ct_timeouts[i].name, o->ct_timeouts[i].secs) < 0) {
			snprintf(r->err, sizeof(r->err), "conntrack timeout %s: %s",
				 o->ct_timeouts[i].name, strerror(errno));
			return -1;
		}
	ct_table_set_checksum(r->ct, o->verify_checksums);
	r->flow_cache = !o->no_flow_cache;
	vm_set_rule_index(vm, !o->no_rule_index);
	r->refused = calloc(REPLAY_REFUSED_MEMOS, sizeof(*r->refused));
	r->refused_tag = calloc(REPLAY_REFUSED_MEMOS, sizeof(*r->refused_tag));
	if (!r->refused || !r->refused_tag)
		goto oom;
	ct_table_set_reaper(r->ct, reaper, r);
	r->caps = calloc(o->ncaptures ? o->ncaptures : 1, sizeof(*r->caps));
	if (!r->caps)
		goto oom;
	r->ncaps = o->ncaptures;
	for (size_t i = 0; i < o->ncaptures; i++)
		r->caps[i].path = o->captures[i];
	if (o->json && o->ntrace) {
		r->traces = json_array();
		if (!r->traces)
			goto oom;
	}
	return 0;
oom:
	snprintf(r->err, sizeof(r->err), "out of memory");
	return -1;
}

void replay_free(struct replay *r)
{
	/* the reaper looks at flows: free the table first */
	ct_table_free(r->ct);
	r->ct = NULL;
	free(r->refused);
	free(r->refused_tag);
	if (!r->flows_rg.base)
		free(r->flows);
	region_fini(&r->flows_rg);
	free(r->closed_bits);
	free(r->hash);
	for (size_t i = 0; i < r->deccap; i++)
		free(r->dec[i].text);
	free(r->dec);
	free(r->bad);
	for (size_t i = 0; r->caps && i < r->ncaps; i++)
		free(r->caps[i].dirs);
	free(r->caps);
	free(r->unl);
	pset_free(&r->local4);
	pset_free(&r->local6);
	json_decref(r->traces);
	json_decref(r->cur_events);
}

const char *capinfo_linktype(const struct capinfo *ci, char *buf, size_t len)
{
	unsigned n = ci->ndlts ? ci->ndlts : 1;
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && off < len; i++) {
		int dlt = ci->ndlts ? ci->dlts[i] : ci->dlt;
		const char *name = pcap_datalink_val_to_name(dlt);

		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "+" : "",
					name ? name : "?");
	}
	if (ci->more_dlts && off < len)
		snprintf(buf + off, len - off, "+...");
	return buf;
}

static int open_capture(struct replay *r, size_t i, struct capnext *cn)
{
	char errbuf[PCAP_ERRBUF_SIZE + 64];

	if (capnext_open(cn, replay_open_path(r->o, i), errbuf, sizeof(errbuf)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s: cannot read capture: %s",
			 r->o->captures[i], errbuf);
		return -1;
	}
	return 0;
}

/* The pcapng directions of capture i, read once (see pcapng.c). */
static void load_dirs(struct replay *r, size_t i)
{
	struct capinfo *c = &r->caps[i];
	char warn[256];

	if (c->dirs_loaded)
		return;
	c->dirs_loaded = true;
	if (pcapng_walk_take(r->o->walk, i, replay_open_path(r->o, i), &c->dirs, &c->ndirs,
			     &c->ndirs_known, warn, sizeof(warn)) < 0)
		fprintf(stderr, "pcap-replay: warning: %s: pcapng: %s: packet directions "
			"(epb_flags) not used\n", c->path, warn);
	else if (c->dirs)
		fprintf(stderr, "pcap-replay: note: %s: direction of %zu of %zu packets from "
			"pcapng epb_flags (before --local)\n", c->path, c->ndirs_known, c->ndirs);
}

/* The capture's direction for frame (1-based) when the link header has none. */
static inline void apply_dir(const struct capinfo *c, struct pkt *p, uint64_t frame)
{
	if (!p->pcap_dir && c->dirs && frame <= c->ndirs)
		p->pcap_dir = c->dirs[frame - 1];
}

/* ---- this host's addresses -------------------------------------------------- */

static bool addr_is_loopback(int fam, const uint8_t *a)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	return fam == AF_INET ? a[0] == 127 : memcmp(a, lo6, 16) == 0;
}

/* Multicast, limited broadcast, unspecified: never "the host's address". */
static bool addr_is_special(int fam, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (fam == AF_INET)
		return a[0] >= 224 || a[0] == 0 ||
		       (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
	return a[0] == 0xff || memcmp(a, zero, 16) == 0;
}

static bool addr_is_mcast_bcast(int fam, const uint8_t *a)
{
	if (fam == AF_INET)
		return (a[0] >= 224 && a[0] < 240) ||
		       (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
	return a[0] == 0xff;
}

static uint32_t be32(const uint8_t *a)
{
	uint32_t v;

	memcpy(&v, a, 4);
	return be32toh(v);
}

static unsigned __int128 be128(const uint8_t *a)
{
	uint64_t h, l;

	memcpy(&h, a, 8);
	memcpy(&l, a + 8, 8);
	return (unsigned __int128)be64toh(h) << 64 | be64toh(l);
}

/* r->lf from r->local4/local6 (which --local, the inference and the kernel
 * check set before a capture is read). */
static void local_fast_build(struct replay *r)
{
	r->lf.ok4 = r->local4.n <= REPLAY_LOCAL_FAST;
	r->lf.ok6 = r->local6.n <= REPLAY_LOCAL_FAST;
	r->lf.n4 = r->lf.ok4 ? (unsigned)r->local4.n : 0;
	r->lf.n6 = r->lf.ok6 ? (unsigned)r->local6.n : 0;
	for (unsigned i = 0; i < r->lf.n4; i++) {
		r->lf.lo4[i] = be32(r->local4.v[i].lo.b);
		r->lf.hi4[i] = be32(r->local4.v[i].hi.b);
	}
	for (unsigned i = 0; i < r->lf.n6; i++) {
		r->lf.lo6[i] = be128(r->local6.v[i].lo.b);
		r->lf.hi6[i] = be128(r->local6.v[i].hi.b);
	}
}

/* is_local() of an address as the integer r->lf holds (few addresses, the
 * usual case): the loopback test too is made on it. */
static inline bool local4(const struct replay *r, uint32_t v)
{
	if (v >> 24 == 127)		/* addr_is_loopback */
		return true;
	for (unsigned i = 0; i < r->lf.n4; i++)
		if (v >= r->lf.lo4[i] && v <= r->lf.hi4[i])
			return true;
	return false;
}

static inline bool local6(const struct replay *r, unsigned __int128 v)
{
	if (v == 1)			/* ::1, addr_is_loopback */
		return true;
	for (unsigned i = 0; i < r->lf.n6; i++)
		if (v >= r->lf.lo6[i] && v <= r->lf.hi6[i])
			return true;
	return false;
}

/* Many addresses: the set itself. */
static bool is_local_set(const struct replay *r, int fam, const uint8_t *a)
{
	struct addr x;

	if (addr_is_loopback(fam, a))
		return true;
	memset(&x, 0, sizeof(x));
	memcpy(x.b, a, family_bytes(fam));
	return pset_contains(fam == AF_INET ? &r->local4 : &r->local6, &x);
}

static inline bool is_local(const struct replay *r, int fam, const uint8_t *a)
{
	if (fam == AF_INET && r->lf.ok4)
		return local4(r, be32(a));
	if (fam == AF_INET6 && r->lf.ok6)
		return local6(r, be128(a));
	return is_local_set(r, fam, a);
}

struct acount {
	int fam;		/* 0: empty slot */
	uint8_t a[16];
	uint64_t n;
};

struct acounts {
	struct acount *v;
	size_t cap, n;
};

/* RFC 1918 / RFC 6598 IPv4, ULA IPv6: where a pool host's own address lies */
static bool addr_is_private(int fam, const uint8_t *a)
{
	if (fam == AF_INET6)
		return (a[0] & 0xfe) == 0xfc;
	return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	       (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64);
}

/* Inference order: more packets; on a tie a private address, then the lower. */
static bool acount_before(const struct acount *x, const struct acount *y)
{
	bool px, py;

	if (x->n != y->n)
		return x->n > y->n;
	px = addr_is_private(x->fam, x->a);
	py = addr_is_private(y->fam, y->a);
	if (px != py)
		return px;
	return memcmp(x->a, y->a, 16) < 0;
}

static uint64_t addr_hash(int fam, const uint8_t *a)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)fam;

	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 1099511628211ull;
	return h;
}

static int acount_add(struct acounts *c, int fam, const uint8_t *a16)
{
	size_t i;

	if ((c->n + 1) * 2 > c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 1024;
		struct acount *nv = zalloc(ncap, sizeof(*nv));

		if (!nv)
			return -1;
		for (size_t j = 0; j < c->cap; j++) {
			if (!c->v[j].fam)
				continue;
			i = addr_hash(c->v[j].fam, c->v[j].a) & (ncap - 1);
			while (nv[i].fam)
				i = (i + 1) & (ncap - 1);
			nv[i] = c->v[j];
		}
		free(c->v);
		c->v = nv;
		c->cap = ncap;
	}
	for (i = addr_hash(fam, a16) & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		if (!c->v[i].fam) {
			c->v[i].fam = fam;
			memcpy(c->v[i].a, a16, 16);
			c->v[i].n = 1;
			c->n++;
			return 0;
		}
		if (c->v[i].fam == fam && memcmp(c->v[i].a, a16, 16) == 0) {
			c->v[i].n++;
			return 0;
		}
	}
}

/* Source and destination of a decoded IP packet, when its header is there. */
static inline bool packet_addrs(const struct pkt *p, int *fam, const uint8_t **src,
				const uint8_t **dst)
{
	const uint8_t *ip = p->data + p->nh_off;

	if (p->nfproto == NFPROTO_IPV4 && p->nh_off + 20 <= p->caplen) {
		*fam = AF_INET;
		*src = ip + 12;
		*dst = ip + 16;
		return true;
	}
	if (p->nfproto == NFPROTO_IPV6 && p->nh_off + 40 <= p->caplen) {
		*fam = AF_INET6;
		*src = ip + 8;
		*dst = ip + 24;
		return true;
	}
	return false;
}

int replay_infer_local(struct replay *r)
{
	struct acounts c = { 0 };
	uint64_t fam_packets[2] = { 0, 0 }, dir_packets = 0;
	int rc = -1;

	if (r->o->have_local)
		return 0;
	for (size_t i = 0; i < r->o->ncaptures; i++) {
		struct pcap_pkthdr *h;
		const u_char *data;
		struct capnext cn;
		uint64_t frame = 0;

		if (open_capture(r, i, &cn) < 0)
			goto out;
		load_dirs(r, i);
		while (capnext_next(&cn, &h, &data) == 1) {
			struct pkt p;
			const uint8_t *s, *d;
			uint8_t a16[16];
			int fam;

			frame++;
			if (pkt_decode(&p, cn.dlt, data, h->caplen, h->len) < 0)
				continue;
			apply_dir(&r->caps[i], &p, frame);
			if (p.pcap_dir) {
				dir_packets++;
				continue;
			}
			if (!packet_addrs(&p, &fam, &s, &d))
				continue;
			fam_packets[fam == AF_INET6]++;
			for (int k = 0; k < 2; k++) {
				const uint8_t *a = k ? d : s;

				if (addr_is_special(fam, a) || addr_is_loopback(fam, a))
					continue;
				/* a packet to its own source counts once: shares are
				 * of packets (one said "in 200% of the IPv6 packets") */
				if (k && memcmp(s, d, family_bytes(fam)) == 0)
					continue;
				memset(a16, 0, sizeof(a16));
				memcpy(a16, a, family_bytes(fam));
				if (acount_add(&c, fam, a16) < 0) {
					capnext_done(&cn);
					snprintf(r->err, sizeof(r->err), "out of memory");
					goto out;
				}
			}
		}
		capnext_done(&cn);
	}

	r->local_inferred = true;
	{
		size_t off = 0;

		off += (size_t)snprintf(r->local_note, sizeof(r->local_note), "%s",
					"inferred (no --local): ");
		bool any = false;

		for (int fi = 0; fi < 2; fi++) {
			int fam = fi ? AF_INET6 : AF_INET;
			const struct acount *best = NULL, *second = NULL;

			/* the busiest address; on a tie (a capture of one conversation
			 * has two addresses in every packet) a private one (a pool
			 * host's VNet address) before a public one, else the lower --
			 * and the inference says it could not tell */
			for (size_t j = 0; j < c.cap; j++) {
				const struct acount *a = &c.v[j];

				if (a->fam != fam)
					continue;
				if (!best || acount_before(a, best)) {
					second = best;
					best = a;
				} else if (!second || acount_before(a, second)) {
					second = a;
				}
			}
			if (!best)
				continue;
			struct prefix pf = { .family = fam, .len = fam == AF_INET ? 32 : 128 };
			char txt[INET6_ADDRSTRLEN], txt2[INET6_ADDRSTRLEN];
			unsigned pct = (unsigned)(100 * best->n / (fam_packets[fi] ? fam_packets[fi] : 1));
			bool tie = second && second->n == best->n;

			memcpy(pf.a.b, best->a, 16);
			if (pset_add_prefix(fi ? &r->local6 : &r->local4, &pf) < 0) {
				snprintf(r->err, sizeof(r->err), "out of memory");
				goto out;
			}
			addr_format(fam, &pf.a, txt, sizeof(txt));
			if (tie) {
				memcpy(pf.a.b, second->a, 16);
				addr_format(fam, &pf.a, txt2, sizeof(txt2));
			}
			if (off < sizeof(r->local_note))
				off += (size_t)snprintf(r->local_note + off, sizeof(r->local_note) - off,
							"%s%s (in %u%% of the IPv%c packets%s%s%s)",
							any ? ", " : "", txt, pct, fi ? '6' : '4',
							tie ? "; so is " : "", tie ? txt2 : "",
							tie ? ": ambiguous, pass --local" :
							pct < 50 ? "; ambiguous, pass --local" : "");
			if ((tie || pct < 50) && !r->local_ambiguity[0]) {
				if (tie)
					snprintf(r->local_ambiguity, sizeof(r->local_ambiguity),
						 "%s and %s are each in %u%% of the IPv%c packets",
						 txt, txt2, pct, fi ? '6' : '4');
				else
					snprintf(r->local_ambiguity, sizeof(r->local_ambiguity),
						 "the busiest address, %s, is in only %u%% of the "
						 "IPv%c packets", txt, pct, fi ? '6' : '4');
			}
			any = true;
		}
		if (!any)
			snprintf(r->local_note, sizeof(r->local_note), "%s",
				 dir_packets ? "none needed: every IP packet's direction is in the "
				 "capture (no --local; only loopback is local)" :
				 "none found in the captures (no --local): only loopback is local");
		pset_normalize(&r->local4);
		pset_normalize(&r->local6);
	}
	rc = 0;
out:
	free(c.v);
	return rc;
}

/* ---- the pipeline ------------------------------------------------------------ */

static void add_bad(struct replay *r, unsigned cap, const struct pkt *p, bool judged)
{
	if (p->cls == PKT_TRUNCATED)
		r->t.truncated++;
	else
		r->t.malformed++;
	if (!judged)
		r->t.not_judged_bad++;
	if (r->nbad >= REPLAY_MAX_BAD_FRAMES)
		return;
	if (r->nbad == r->badcap) {
		size_t ncap = r->badcap ? 2 * r->badcap : 64;
		struct bad_frame *nb = realloc(r->bad, ncap * sizeof(*nb));

		if (!nb)
			return;
		r->bad = nb;
		r->badcap = ncap;
	}
	r->bad[r->nbad++] = (struct bad_frame){
		.capture = cap, .frame = p->frame,
		.cls = p->cls == PKT_TRUNCATED ? "truncated" : "malformed",
		.why = p->why ? p->why : "", .judged = judged,
	};
}

static bool trace_selected(const struct replay *r, unsigned cap, uint64_t frame)
{
	for (size_t i = 0; i < r->o->ntrace; i++)
		if (r->o->trace[i].frame == frame &&
		    (r->o->trace[i].capture == 0 || r->o->trace[i].capture == cap))
			return true;
	return false;
}

/* The rule's text for traces: its comment, else its expression names. */
static void rule_text(const struct nftnl_rule *rule, char *buf, size_t len)
{
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	size_t off = 0;

	rule_comment(rule, buf, len);
	if (buf[0])
		return;
	it = nftnl_expr_iter_create(rule);
	if (!it)
		return;
	while ((e = nftnl_expr_iter_next(it)) && off < len) {
		const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " " : "[ ",
					n ? n : "?");
	}
	if (off && off < len)
		snprintf(buf + off, len - off, " ]");
	nftnl_expr_iter_destroy(it);
}

/* Control bytes (ESC, CR, ...) of s as '?', in place. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void trace_cb(const struct vm_trace_event *ev, void *arg)
{
	struct replay *r = arg;
	char text[512] = "";
	const char *verdict = vm_verdict_name(ev->verdict);

	if (ev->rule)
		rule_text(ev->rule, text, sizeof(text));
	if (r->cur_events) {
		json_t *o = json_object();

		if (!o)
			return;
		json_object_set_new(o, "type", jtext(ev->type == VM_TRACE_RULE ? "rule" :
					ev->type == VM_TRACE_RETURN ? "return" : "policy"));
		json_object_set_new(o, "chain", jtext(ev->chain ? ev->chain : ""));
		if (ev->type == VM_TRACE_RULE) {
			json_object_set_new(o, "rule_index", json_integer(ev->rule_index));
			json_object_set_new(o, "rule", jtext(text));
			json_object_set_new(o, "matched", json_boolean(ev->matched));
		}
		if (ev->type != VM_TRACE_RULE || ev->matched) {
			json_object_set_new(o, "verdict", jtext(verdict));
			if (ev->target)
				json_object_set_new(o, "target", jtext(ev->target));
		}
		json_array_append_new(r->cur_events, o);
		return;
	}
	/* names and comments come from a dump: no control bytes to the terminal */
	char chain[256], target[256];

	printable(text);
	snprintf(chain, sizeof(chain), "%s", ev->chain ? ev->chain : "");
	printable(chain);
	snprintf(target, sizeof(target), "%s", ev->target ? ev->target : "");
	printable(target);
	switch (ev->type) {
	case VM_TRACE_RULE:
		if (ev->matched)
			/* counted from 1, as filterctl show and verify count */
			fprintf(r->trace_out, "  %s rule %d: %s  -> match, verdict %s%s%s\n",
				chain, ev->rule_index + 1, text, verdict,
				ev->target ? " " : "", target);
		else
			fprintf(r->trace_out, "  %s rule %d: %s  -> no match\n", chain,
				ev->rule_index + 1, text);
		break;
	case VM_TRACE_RETURN:
		fprintf(r->trace_out, "  %s: end of chain, return\n", chain);
		break;
	case VM_TRACE_POLICY:
		fprintf(r->trace_out, "  %s: policy %s\n", chain, verdict);
		break;
	}
}

static const char *hook_name(int hook)
{
	switch (hook) {
	case NF_INET_PRE_ROUTING: return "prerouting";
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	case NF_INET_POST_ROUTING: return "postrouting";
	}
	return "?";
}

static void set_iface(struct pkt *p, int hook, bool lo)
{
	/* per packet: plain copies, no formatting */
	static const char lo_name[16] = "lo", eth_name[16] = "eth0";

	p->hook = hook;
	p->iif = p->oif = 0;
	if (hook == NF_INET_LOCAL_IN) {
		p->iifname = lo ? lo_name : eth_name;
		p->oifname = NULL;
		p->iif = lo ? 1 : 2;
	} else {
		p->oifname = lo ? lo_name : eth_name;
		p->iifname = NULL;
		p->oif = lo ? 1 : 2;
	}
}

/* Does a copy of this outgoing packet come back to the input hook?  The
 * kernel loops every IPv4 multicast and broadcast it sends back through its
 * receive path (ip_mc_output(), dev_loopback_xmit()); the copy passes
 * routing to the input hook for the limited broadcast and for groups the
 * host has joined; IPv6 loops only such groups (ip6_finish_output2()).
 * Joined by every host without asking: 224.0.0.1; ff01::1, ff02::1 and the
 * solicited-node group of each of its addresses.  Other groups are host
 * state (an application's joins) and not assumed. */
static bool looped_locally(const struct replay *r, const struct pkt *p)
{
	const uint8_t *d;

	if (p->nfproto == NFPROTO_IPV4) {
		d = p->data + p->nh_off + 16;
		return (d[0] == 224 && d[1] == 0 && d[2] == 0 && d[3] == 1) ||
		       (d[0] == 255 && d[1] == 255 && d[2] == 255 && d[3] == 255);
	}
	static const uint8_t all1[16] = { 0xff, 0x01, [15] = 1 }, all2[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t sol[13] = { 0xff, 0x02, [11] = 1, [12] = 0xff };

	d = p->data + p->nh_off + 24;
	if (d[0] != 0xff)
		return false;
	if (memcmp(d, all1, 16) == 0 || memcmp(d, all2, 16) == 0)
		return true;
	if (memcmp(d, sol, 13) != 0)
		return false;
	for (size_t i = 0; i < r->local6.n; i++) {
		const uint8_t *lo = r->local6.v[i].lo.b;

		if (memcmp(lo, r->local6.v[i].hi.b, 16) == 0 && memcmp(lo + 13, d + 13, 3) == 0)
			return true;
	}
	return false;
}

/* The refused-memo slot of the current first packet, taken over for it
 * (its conntrack entry is still there: called before ct_confirm). */
static struct refused_memo *refused_claim(struct replay *r, const struct pkt *p)
{
	uint32_t i = r->cur_first_h & (REPLAY_REFUSED_MEMOS - 1);

	if (r->cur_refused || !r->cur_first || !p->ct)
		return r->cur_refused;
	memset(&r->refused[i], 0, sizeof(r->refused[i]));
	ct_entry_tuple(p->ct, IP_CT_DIR_ORIGINAL, &r->refused[i].t);
	r->refused_tag[i] = r->cur_first_h | 1;
	r->cur_refused = &r->refused[i];
	return r->cur_refused;
}

/* Evaluates one hook, with tracing when selected.  Returns -1 on vm error. */
static int eval_hook_run(struct replay *r, struct pkt *p, int hook, bool lo, struct vm_verdict *v);

/* reject with tcp reset: nf_send_reset() (nf_reject_ipv4.c; nf_send_reset6)
 * sends a reset for a TCP segment that is not a fragment, not a reset, and
 * whose checksum is right (nf_reject_ip_tcphdr_get checks it whatever
 * nf_conntrack_checksum says; a segment the host sends has its checksum
 * left to the NIC and passes), to a destination that is not broadcast or
 * multicast (IPv6: source and destination unicast), and then sets the
 * connection closing (nf_ct_set_closing): its entry goes to CLOSE for 10 s
 * and a later segment is no longer ESTABLISHED.  A review found the entry
 * left ESTABLISHED offline.  A segment the capture cut cannot be summed: the
 * outcome is undecidable. */
static bool v6_unicast(const uint8_t *a)
{
	static const uint8_t unspec[16];

	return a[0] != 0xff && memcmp(a, unspec, 16) != 0;
}

static void reject_closes(struct replay *r, struct pkt *p, int hook, struct vm_verdict *v)
{
	const uint8_t *ip = p->data + p->nh_off;

	if (v->verdict != NF_DROP || !v->rejected || v->reject_type != NFT_REJECT_TCP_RST ||
	    !p->ct_present || !p->ct || p->l4proto != IPPROTO_TCP || !p->tprot_set ||
	    p->fragoff || p->csum_bad)
		return;
	if (p->th_off + 14 > p->caplen || (p->nfproto == NFPROTO_IPV6 && p->nh_off + 40 > p->caplen)) {
		v->incomplete = true;
		return;
	}
	if (p->data[p->th_off + 13] & 0x04)	/* a reset gets none */
		return;
	if (p->nfproto == NFPROTO_IPV4) {
		const uint8_t *d = ip + 16;
		if ((d[0] & 0xf0) == 0xe0 || (d[0] == 255 && d[1] == 255 && d[2] == 255 && d[3] == 255))
			return;
	} else if (!v6_unicast(ip + 8) || !v6_unicast(ip + 24)) {
		return;
	}
	if (hook == NF_INET_LOCAL_IN) {
		int ok = ct_transport_checksum(p);

		if (ok < 0)
			v->incomplete = true;
		if (ok <= 0)
			return;
	}
	ct_entry_set_closing(r->ct, p->ct);
}

/* Queued to filterd at hook: it records a query (output) or learns from an
 * answer (input), then accepts. */
static int to_fqdn(struct replay *r, unsigned cap, const struct pkt *p, const struct vm_verdict *v,
		   int hook)
{
	if (!v->queued || !r->fqdn)
		return 0;
	if (fqdn_replay_queued(r->fqdn, cap, p, hook) < 0) {
		snprintf(r->err, sizeof(r->err), "capture %u frame %llu: %s", cap,
			 (unsigned long long)p->frame, r->fqdn->err);
		return -1;
	}
	return 0;
}

static int eval_hook(struct replay *r, struct pkt *p, int hook, bool lo, struct vm_verdict *v)
{
	if (eval_hook_run(r, p, hook, lo, v) < 0)
		return -1;
	reject_closes(r, p, hook, v);
	return 0;
}

static int eval_hook_run(struct replay *r, struct pkt *p, int hook, bool lo, struct vm_verdict *v)
{
	/* replay_one set the packet's own hook already (set_iface is the only
	 * writer of these fields): only loopback's second hook changes it */
	if (p->hook != hook || p->iif + p->oif != (lo ? 1u : 2u))
		set_iface(p, hook, lo);
	if (r->tracing) {
		const char *iif = p->iifname ? p->iifname : "", *oif = p->oifname ? p->oifname : "";

		if (r->cur_events) {
			json_t *o = json_object();

			json_object_set_new(o, "type", jtext("hook"));
			json_object_set_new(o, "hook", jtext(hook_name(hook)));
			json_object_set_new(o, "iifname", jtext(iif));
			json_object_set_new(o, "oifname", jtext(oif));
			json_array_append_new(r->cur_events, o);
		} else {
			fprintf(r->trace_out, " hook %s%s%s%s%s\n", hook_name(hook), *iif ? " iif " : "",
				iif, *oif ? " oif " : "", oif);
		}
	}
	/* run-time elements (FQDN sets) live on capture time */
	int64_t now = (int64_t)p->ts.tv_sec * 1000000 + p->ts.tv_usec;

	vm_set_clock(r->vm, now);
	if (r->fqdn && fqdn_replay_clock(r->fqdn, now) < 0) {
		snprintf(r->err, sizeof(r->err), "frame %llu: %s", (unsigned long long)p->frame,
			 r->fqdn->err);
		return -1;
	}
	if (r->flow_cache && p->ct_present && p->ct) {
		/* the entry's memo for this direction and hook (input, output; a
		 * loopback packet is judged at both: it alternates) */
		struct vm_memo *m = (struct vm_memo *)ct_entry_ext(p->ct) + (p->ct_dir ? 1 : 0);
		struct refused_memo *rf = r->cur_refused;
		int rc;

		/* a retransmission of a refused first packet: its memo */
		if (rf && !m->o && rf->m.o)
			*m = rf->m;
		rc = vm_eval_memo(r->vm, p, v, m);
		if (rc < 0) {
			snprintf(r->err, sizeof(r->err), "frame %llu: evaluator error: %s",
				 (unsigned long long)p->frame, strerror(errno));
			return -1;
		}
		if (v->verdict != NF_ACCEPT && m->o && (rf = refused_claim(r, p)))
			rf->m = *m;
		if (rc)
			r->memo_hits++;
		else
			r->evaluations++;
		return 0;
	}
	r->evaluations++;
	if (vm_eval(r->vm, p, v) < 0) {
		snprintf(r->err, sizeof(r->err), "frame %llu: evaluator error: %s",
			 (unsigned long long)p->frame, strerror(errno));
		return -1;
	}
	return 0;
}

static void describe_decision(const struct vm_verdict *v, char *buf, size_t len)
{
	enum rule_category cat;
	char dir[16], name[160];

	if (v->no_chain)
		snprintf(buf, len, "no base chain (netfilter accepts)");
	else if (v->policy || !v->rule)
		snprintf(buf, len, "chain policy (%s)", v->chain ? v->chain : "?");
	else if (rule_origin(v->rule, &cat, dir, sizeof(dir), name, sizeof(name)) == 0)
		snprintf(buf, len, "%s:%s", category_name(cat), name);
	else
		snprintf(buf, len, "chain %s rule %d", v->chain ? v->chain : "?", v->rule_index + 1);
}

static unsigned decision_kind(const struct vm_verdict *v)
{
	return v->no_chain ? 3 : v->policy || !v->rule ? 2 : 1;
}

static size_t decision_hash(const struct vm_verdict *v, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)v->rule * 0x9e3779b97f4a7c15ull ^
		     (uint64_t)(uintptr_t)v->chain * 0xbf58476d1ce4e5b9ull ^
		     (uint64_t)(unsigned)v->rule_index * 0x94d049bb133111ebull ^ decision_kind(v);

	h ^= h >> 29;
	return (size_t)h & (cap - 1);
}

static bool decision_is(const struct decision *d, const struct vm_verdict *v)
{
	return d->rule == v->rule && d->chain == v->chain && d->rule_index == v->rule_index &&
	       d->kind == decision_kind(v);
}

/* The text of v's decision, made on its first use (rule_origin parses the
 * rule's comment): a flow keeps a pointer to it.  "?" when memory is out. */
static const char *decision_text(struct replay *r, const struct vm_verdict *v)
{
	char buf[256];
	size_t i;

	if ((r->ndec + 1) * 2 > r->deccap) {
		size_t ncap = r->deccap ? 2 * r->deccap : 64;
		struct decision *nd = calloc(ncap, sizeof(*nd));

		if (!nd)
			return "?";
		for (size_t j = 0; j < r->deccap; j++) {
			struct vm_verdict k = { .rule = r->dec[j].rule, .chain = r->dec[j].chain,
						.rule_index = r->dec[j].rule_index,
						.no_chain = r->dec[j].kind == 3,
						.policy = r->dec[j].kind == 2 };

			if (!r->dec[j].text)
				continue;
			for (i = decision_hash(&k, ncap); nd[i].text; i = (i + 1) & (ncap - 1))
				;
			nd[i] = r->dec[j];
		}
		free(r->dec);
		r->dec = nd;
		r->deccap = ncap;
	}
	for (i = decision_hash(v, r->deccap); r->dec[i].text; i = (i + 1) & (r->deccap - 1))
		if (decision_is(&r->dec[i], v))
			return r->dec[i].text;
	describe_decision(v, buf, sizeof(buf));
	r->dec[i].text = strdup(buf);
	if (!r->dec[i].text)
		return "?";
	r->dec[i].rule = v->rule;
	r->dec[i].chain = v->chain;
	r->dec[i].rule_index = v->rule_index;
	r->dec[i].kind = decision_kind(v);
	r->ndec++;
	return r->dec[i].text;
}

static void trace_begin(struct replay *r, unsigned cap, const struct pkt *p, bool held)
{
	char s[INET6_ADDRSTRLEN + 8] = "?", d[INET6_ADDRSTRLEN + 8] = "?";
	const uint8_t *sa, *da;
	struct addr a;
	int fam;

	if (packet_addrs(p, &fam, &sa, &da)) {
		memset(&a, 0, sizeof(a));
		memcpy(a.b, sa, family_bytes(fam));
		addr_format(fam, &a, s, sizeof(s));
		memcpy(a.b, da, family_bytes(fam));
		addr_format(fam, &a, d, sizeof(d));
	}
	if (r->traces) {
		json_t *o = json_object();

		r->cur_events = json_array();
		json_object_set_new(o, "capture", json_integer(cap));
		json_object_set_new(o, "frame", json_integer((json_int_t)p->frame));
		json_object_set_new(o, "src", jtext(s));
		json_object_set_new(o, "dst", jtext(d));
		json_object_set_new(o, "events", json_incref(r->cur_events));
		if (held)
			json_object_set_new(o, "note", jtext("fragment held for reassembly"));
		json_array_append_new(r->traces, o);
	} else {
		fprintf(r->trace_out, "trace capture %u frame %llu: %s -> %s %s%s\n", cap,
			(unsigned long long)p->frame, s, d,
			p->tprot_set ? l4_name(p->l4proto) : "",
			held ? " (fragment held for reassembly: judged when complete)" : "");
	}
}

static void trace_end_pkt(struct replay *r, const struct pkt *p, const char *what)
{
	if (r->cur_events) {
		json_t *o = json_object();

		json_object_set_new(o, "type", jtext("result"));
		json_object_set_new(o, "result", jtext(what));
		json_object_set_new(o, "ct_state", json_integer(p->ct_state));
		json_array_append_new(r->cur_events, o);
		json_decref(r->cur_events);
		r->cur_events = NULL;
	} else {
		fprintf(r->trace_out, " => %s\n", what);
	}
	r->tracing = false;
	vm_set_trace(r->vm, NULL, NULL);
}

static void emit(struct replay *r, unsigned cap, const struct pkt *p, uint64_t frame,
		 enum replay_pkt_kind kind, enum flow_dir dir, const struct vm_verdict *v,
		 bool incomplete, const char *why)
{
	if (r->on_packet) {
		struct replay_pkt rp = {
			.capture = cap, .frame = frame, .kind = kind, .dir = dir, .p = p,
			.v = v, .incomplete = incomplete, .why = why,
		};

		r->on_packet(&rp, r->on_packet_arg);
	}
}

/* A packet the host sends itself (loopback, or the looped copy of a
 * multicast or broadcast), accepted at output: nf_confirm() at postrouting
 * confirms its new entry before the receive path runs, and prerouting keeps
 * the conntrack the skb carries ("previously seen (loopback or untracked)?
 * Ignore." in nf_conntrack_in()). */
static void lo_out_confirm(struct replay *r, struct pkt *p)
{
	if (!p->ct_present || !p->ct || ct_entry_confirmed(p->ct))
		return;
	ct_confirm(r->ct, p, true);
	if (p->ct)
		p->ct_status = ct_entry_status(p->ct);
}

/* One decoded IP packet with its hook context decided. */
static int judge(struct replay *r, unsigned cap, struct pkt *p, enum flow_dir dir,
		 const struct ct_hint *hint)
{
	struct vm_verdict v;
	struct flow_key k;
	struct key2 k2;
	struct flow *f;
	bool reply = false, accepted, ct_dropped = false, opt_dropped = false, have_k2 = false;
	bool lo_opt_dropped = false;
	const char *decided = NULL;
	enum ct_frag_result fr;

	/* a capture clock that goes back (captures given out of order, or a
	 * clock stepped while capturing): conntrack's clock holds at its
	 * latest time, so an old packet is judged as if it came then */
	{
		int64_t ts = (int64_t)p->ts.tv_sec * 1000000 + p->ts.tv_usec;

		if (r->have_last_ts && ts < r->last_ts) {
			r->t.clock_back++;
			if ((uint64_t)(r->last_ts - ts) > r->t.clock_back_max_us) {
				r->t.clock_back_max_us = (uint64_t)(r->last_ts - ts);
				r->t.clock_back_capture = cap;
				r->t.clock_back_frame = p->frame;
			}
		} else {
			r->last_ts = ts;
			r->have_last_ts = true;
		}
	}
	if (dir == FLOW_LO && p->pcap_dir == 2 && p->nonlo && !r->t.dir_contradicted++) {
		r->t.dir_contradicted_capture = cap;
		r->t.dir_contradicted_frame = p->frame;
	}
	fr = ct_defrag(r->ct, p);
	if (fr == CT_FRAG_HELD || fr == CT_FRAG_DROPPED) {
		if (fr == CT_FRAG_HELD)
			r->t.frags_held++;
		else
			r->t.frags_dropped++;
		if (r->tracing)
			trace_end_pkt(r, p, fr == CT_FRAG_HELD ? "fragment held for reassembly" :
				      "fragment dropped by defragmentation");
		emit(r, cap, p, p->frame, fr == CT_FRAG_HELD ? RP_FRAG_HELD : RP_FRAG_DROPPED,
		     dir, NULL, false, NULL);
		return 0;
	}
	if (fr == CT_FRAG_DONE) {
		r->t.reassembled++;
		/* the re-decoded datagram lost our hook context */
		set_iface(p, dir == FLOW_IN ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT, dir == FLOW_LO);
		if (dir == FLOW_OUT)
			p->mc_loop = looped_locally(r, p);
	}

	if (!r->early_drop_warned) {
		if (ct_table_early_drops(r->ct)) {
			r->early_drop_warned = true;
			fprintf(stderr, "pcap-replay: warning: conntrack table full (--max-flows %zu) "
				"before capture %u frame %llu: unreplied entries are evicted from "
				"here on, as the kernel's early drop does\n", r->o->max_flows, cap,
				(unsigned long long)p->frame);
		}
	}
	r->cur_refused = NULL;
	r->cur_first = false;
	if (ct_in_hint(r->ct, p, fr == CT_FRAG_DONE ? NULL : hint) == CT_DROP) {
		struct ct_stats st;

		ct_dropped = true;
		memset(&v, 0, sizeof(v));	/* (eval_hook fills it otherwise) */
		r->t.ct_drops++;
		ct_table_stats(r->ct, &st);
		if (st.table_full_warning && !r->table_full_warned) {
			r->table_full_warned = true;
			fprintf(stderr, "pcap-replay: warning: conntrack table full (--max-flows %zu) "
				"at capture %u frame %llu: new flows are dropped from here on, as "
				"the kernel would (\"nf_conntrack: table full, dropping packet\")\n",
				r->o->max_flows, cap, (unsigned long long)p->frame);
		}
		accepted = false;
	} else if (p->opt_drop && dir == FLOW_IN) {
		/* its IPv4 options drop it after prerouting (conntrack has seen
		 * it, as above), before the input hook: no rule sees it */
		opt_dropped = true;
		memset(&v, 0, sizeof(v));
		v.verdict = NF_DROP;
		accepted = false;
	} else {
		/* A first packet: what a refused one of its tuple left, found by
		 * the slot's tag (a small array that stays in the caches); the
		 * slot itself is read only on a match and written only when this
		 * packet is refused too (refused_claim). */
		if (p->ct_present && p->ct && p->ctinfo == IP_CT_NEW &&
		    !ct_entry_confirmed(p->ct)) {
			struct ct_tuple t;
			uint32_t h, i;

			ct_entry_tuple(p->ct, IP_CT_DIR_ORIGINAL, &t);
			h = ct_entry_tuple_hash(p->ct, IP_CT_DIR_ORIGINAL);
			i = h & (REPLAY_REFUSED_MEMOS - 1);
			r->cur_first = true;
			r->cur_first_h = h;
			if (r->refused_tag[i] == (h | 1) &&
			    memcmp(&r->refused[i].t, &t, sizeof(t)) == 0)
				r->cur_refused = &r->refused[i];
			/* its flow is looked up after the evaluation: the key
			 * now, and its hash slots on their way to the cache */
			if (!ct_entry_user(p->ct)) {
				key_from_tuple(&t, &k);
				key2_make(r, &k, &k2);
				have_k2 = true;
			}
		}
		/* loopback: output on lo, then input on lo */
		if (eval_hook(r, p, dir == FLOW_IN ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT,
			      dir == FLOW_LO, &v) < 0 ||
		    to_fqdn(r, cap, p, &v, dir == FLOW_IN ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT) < 0)
			return -1;
		if (dir == FLOW_LO && v.verdict == NF_ACCEPT && p->opt_drop) {
			/* lo's receive path checks the options as any other
			 * (accept_source_route is 0 for lo too): dropped
			 * before the input hook */
			lo_opt_dropped = true;
			v.verdict = NF_DROP;
		} else if (dir == FLOW_LO && v.verdict == NF_ACCEPT) {
			struct vm_verdict v2;

			/* postrouting confirmed its entry before lo handed it
			 * back; prerouting keeps the conntrack it carries: the
			 * input hook sees it CONFIRMED, and an input drop
			 * leaves it in the table */
			lo_out_confirm(r, p);
			if (eval_hook(r, p, NF_INET_LOCAL_IN, true, &v2) < 0 ||
			    to_fqdn(r, cap, p, &v2, NF_INET_LOCAL_IN) < 0)
				return -1;
			v2.incomplete = v2.incomplete || v.incomplete;
			v = v2;
		} else if (p->mc_loop && v.verdict == NF_ACCEPT) {
			/* its looped copy, received on the same interface as
			 * PACKET_LOOPBACK: the input hook judges the local
			 * delivery; the packet on the wire keeps its verdict */
			struct vm_verdict v2;
			uint8_t pt = p->pkttype;

			p->pkttype = PACKET_LOOPBACK;
			lo_out_confirm(r, p);	/* the copy shares the entry (as above) */
			if (eval_hook(r, p, NF_INET_LOCAL_IN, false, &v2) < 0 ||
			    to_fqdn(r, cap, p, &v2, NF_INET_LOCAL_IN) < 0)
				return -1;
			p->pkttype = pt;
			v.incomplete = v.incomplete || v2.incomplete;
		}
		accepted = v.verdict == NF_ACCEPT;
	}

	r->t.judged++;
	if (accepted)
		r->t.accepted++;
	else
		r->t.dropped++;
	/* conntrack judged a packet cut short: with the whole packet the kernel
	 * may have tracked it */
	if (p->cls == PKT_TRUNCATED && !p->ct_present && p->ct_state == CT_STATE_INVALID)
		v.incomplete = true;
	/* the kernel may have dropped it on the hop-by-hop options the capture cut */
	if (p->hbh_cut)
		v.incomplete = true;
	/* reassembled from a fragment the capture cut: the rules and conntrack
	 * read zeros where the datagram had bytes */
	if (p->frag_cut)
		v.incomplete = true;
	/* conntrack's window check lacked TCP options the capture cut (set
	 * only when it found the packet invalid), or its checksum check
	 * bytes the capture cut */
	if (p->ct_unsure)
		v.incomplete = true;
	if (v.incomplete)
		r->t.incomplete++;

	/* the decision's text: only for a new flow or a trace (it is not cheap) */
	if (ct_dropped)
		decided = "conntrack (table full)";
	else if (opt_dropped || lo_opt_dropped)
		decided = pkt_opt_drop_text(p->opt_drop);
	/* the flow, before ct_confirm can free a discarded entry; the conntrack
	 * entry remembers its flow (index + 1), which spares the lookup for all
	 * but the first packet of a tracked connection */
	f = NULL;
	if (p->ct_present && p->ct) {
		uint64_t u = ct_entry_user(p->ct);

		if (!u && r->cur_refused)	/* a refused first packet's flow */
			u = r->cur_refused->flow;
		/* a packet that killed its entry (a RST as the only reply)
		 * closed the entry's flow, and still belongs to it */
		if (u && u <= r->nflows && (!flow_closed(r, u) || ct_entry_dying(p->ct)))
			f = &r->flows[u - 1];
	}
	if (!f) {
		if (!have_k2) {
			if (p->ct_present && p->ct) {
				struct ct_tuple t;

				ct_entry_tuple(p->ct, IP_CT_DIR_ORIGINAL, &t);
				key_from_tuple(&t, &k);
			} else {
				key_from_packet(p, &k);
			}
			key2_make(r, &k, &k2);
			have_k2 = true;
		}
		f = flow_find2(r, &k2, &reply);
	}
	if (!f) {
		f = flow_new(r, &k2.k, k2.h);
		if (f) {
			if (!decided)
				decided = decision_text(r, &v);
			f->dir = dir;
			f->capture = cap;
			f->first_frame = p->frame;
			f->accepted = accepted;
			f->incomplete = v.incomplete;
			f->no_ct = !p->ct_present;
			f->bad_checksum = p->csum_bad;
			f->midstream = p->ct_present && p->ct &&
				       ct_entry_began_before_capture(p->ct);
			f->decided = decided;
			if (v.incomplete)
				r->t.flows_undecidable++;	/* neither: the capture cannot tell */
			else if (accepted)
				r->t.flows_accepted++;
			else
				r->t.flows_dropped++;
		} else {
			if (!r->t.flows_over_cap)
				fprintf(stderr, "pcap-replay: warning: --max-listed-flows %zu reached at "
					"capture %u frame %llu: further flows are judged and checked "
					"against the expectations by their first packet, but not "
					"listed\n", r->o->max_listed, cap,
					(unsigned long long)p->frame);
			r->t.flows_over_cap++;
			/* (a packet that killed its entry belongs to the flow the
			 * reaper has just ended, as it stays in a listed row) */
			if (r->ex && dir != FLOW_LO && !(p->ct_present && p->ct && ct_entry_dying(p->ct)))
				judge_unlisted(r, &k2, dir, accepted, v.incomplete, cap, p->frame);
			if (!accepted)
				refused_claim(r, p);
		}
	}
	if (f) {
		if (p->ct_present && p->ct)
			ct_entry_set_user(p->ct, (uint64_t)(f - r->flows) + 1);
		if (!accepted && refused_claim(r, p))
			r->cur_refused->flow = (uint32_t)(f - r->flows) + 1;
		bool related = p->ct_present && (p->ctinfo == IP_CT_RELATED ||
						 p->ctinfo == IP_CT_RELATED_REPLY);

		if (p->ct_present && p->ct && !ct_entry_dying(p->ct)) {
			/* counted in the entry (see struct flow_acc); a dying
			 * one has met the reaper already */
			struct flow_acc *a = flow_acc(p->ct);
			uint32_t fi = (uint32_t)(f - r->flows) + 1;

			if (a->flow != fi || a->accepted == UINT32_MAX ||
			    a->dropped == UINT32_MAX) {
				flow_acc_flush(r, a);
				a->flow = fi;
			}
			if (accepted)
				a->accepted++;
			else
				a->dropped++;
			a->related += related;
		} else {
			f->packets++;
			if (accepted)
				f->pkts_accepted++;
			else
				f->pkts_dropped++;
			f->related += related;
		}
	}
	emit(r, cap, p, p->frame, ct_dropped ? RP_CT_DROP : opt_dropped ? RP_OPT_DROP : RP_JUDGED,
	     dir, ct_dropped || opt_dropped ? NULL : &v, v.incomplete, opt_dropped ? decided : NULL);
	/* (a loopback packet lo's receive path dropped was confirmed on its
	 * way out, at postrouting) */
	if (!ct_dropped)
		ct_confirm(r->ct, p, accepted || lo_opt_dropped);

	if (r->tracing) {
		char res[320];

		if (!decided)
			decided = decision_text(r, &v);

		snprintf(res, sizeof(res), "%s by %s%s (ct state %s)",
			 accepted ? "accept" : "drop", decided,
			 v.incomplete ? ", UNDECIDABLE: the capture lacks bytes a rule needed" : "",
			 !p->ct_present ? (p->ct_state == CT_STATE_UNTRACKED ? "untracked" :
					   p->csum_bad ? "invalid: bad checksum" : "invalid") :
			 p->ct_state & CT_STATE_NEW ? "new" :
			 p->ct_state & CT_STATE_RELATED ? "related" : "established");
		trace_end_pkt(r, p, res);
	}
	return 0;
}

/* Direction of a decoded packet: 0 and *dir, -1 for transit, or -2 for an
 * IPv4 martian (below).  is_local()
 * is asked only where the answer matters: a captured direction needs at most
 * the destination's (a loopback source is local). */
static int packet_dir(const struct replay *r, const struct pkt *p, enum flow_dir *dir)
{
	const uint8_t *s, *d;
	bool slo, sl, dl;
	int fam;

	if (!packet_addrs(p, &fam, &s, &d))
		return -1;
	slo = addr_is_loopback(fam, s);
	if (p->pcap_dir == 2) {		/* outgoing */
		*dir = slo || is_local(r, fam, d) ? FLOW_LO : FLOW_OUT;
		return 0;
	}
	if (p->pcap_dir == 1) {		/* incoming */
		if (p->pkttype == PACKET_OTHERHOST)
			return -1;
		/* IPv4 in on a real device with this host's own source (its
		 * address, or loopback): a martian, as below */
		if (fam == AF_INET && p->nonlo && (slo || is_local(r, fam, s)))
			return -2;
		/* received on lo (a cooked header's hardware type, or Ethernet
		 * addresses all zero): a packet this host sent itself, whatever
		 * its addresses.  libpcap shows a loopback packet once, as it
		 * comes in (linux_check_direction() drops the outgoing copy), so
		 * this is the packet's only record: output then input, on lo */
		*dir = slo || (!p->nonlo && (p->linktype == DLT_EN10MB ||
					     p->linktype == DLT_LINUX_SLL ||
					     p->linktype == DLT_LINUX_SLL2)) ? FLOW_LO : FLOW_IN;
		return 0;
	}
	sl = slo || is_local(r, fam, s);
	dl = is_local(r, fam, d);
	if (sl && dl && p->nonlo && (fam == AF_INET || !slo)) {
		/* both ends this host's, but the link layer shows a real device
		 * (lo's frames have all-zero MACs or lo's hardware type): it came
		 * from the wire.  IPv4 drops it as a martian before the hooks
		 * (fib_validate_source: a local source, accept_local off; a
		 * loopback source: route_localnet off); IPv6 takes it in on the
		 * device.  A review had such a frame judged as loopback traffic
		 * and accepted by the loopback rule. */
		if (fam == AF_INET)
			return -2;
		*dir = FLOW_IN;
	} else if (sl && dl)
		*dir = FLOW_LO;
	else if (sl)
		*dir = FLOW_OUT;
	else if (dl || addr_is_mcast_bcast(fam, d))
		*dir = FLOW_IN;
	else
		return -1;
	return 0;
}

/* A traced frame the hooks never see. */
static void trace_skip(struct replay *r, unsigned cap, uint64_t frame, const char *why)
{
	if (!r->o->ntrace || !trace_selected(r, cap, frame))
		return;
	if (r->traces) {
		json_t *o = json_object();

		json_object_set_new(o, "capture", json_integer(cap));
		json_object_set_new(o, "frame", json_integer((json_int_t)frame));
		json_object_set_new(o, "not_judged", jtext(why));
		json_array_append_new(r->traces, o);
	} else {
		fprintf(r->trace_out, "trace capture %u frame %llu: not judged: %s\n", cap,
			(unsigned long long)frame, why);
	}
}

/* What the reader does with each packet, in its thread when it has one
 * (reader.c): decoding and the direction read nothing the replay changes
 * (the host's addresses and the pcapng directions are fixed by now). */
struct prepared {
	struct pkt p;
	int8_t decoded;		/* pkt_decode's result */
	int8_t dir_rc;		/* packet_dir's result */
	uint8_t dir;		/* enum flow_dir */
	struct ct_hint ct;	/* ct_in's first steps, done here (prefetching uses its hash) */
};
/* Each line of it moves from the reader's CPU to the replay's, per packet
 * (an extra 128 bytes cost both threads ~12 %): four lines, no more. */
_Static_assert(sizeof(struct prepared) <= 256, "struct prepared grew past four cache lines");

/* What prepare reads, copied: the replay thread counts in the capinfo (its
 * packets), and a line written by one CPU per packet and read by the other
 * moves between them each time. */
struct prep_ctx {
	_Alignas(64) const struct replay *r;	/* whole lines of the replay's stack */
	struct capinfo ci;		/* dirs, ndirs */
};

/* The hint for the replay's cache hints: the conntrack hash | 1 << 32, or 0. */
static uint64_t prepare(void *arg, const struct pcap_pkthdr *h, const uint8_t *data,
			int dlt, uint64_t frame, void *area)
{
	const struct prep_ctx *c = arg;
	struct prepared *pp = area;
	struct pkt *p = &pp->p;

	pp->decoded = (int8_t)pkt_decode(p, dlt, data, h->caplen, h->len);
	p->ts = h->ts;
	/* pcapng timestamps are 64-bit: a crafted file can hold any value;
	 * +-2^40 s keeps every microsecond computation far from overflow */
	if (p->ts.tv_sec > (time_t)1 << 40 || p->ts.tv_sec < -((time_t)1 << 40))
		p->ts.tv_sec = p->ts.tv_sec < 0 ? -((time_t)1 << 40) : (time_t)1 << 40;
	p->frame = frame;
	if (pp->decoded < 0)
		return 0;
	apply_dir(&c->ci, p, frame);
	enum flow_dir dir = FLOW_IN;

	pp->dir_rc = (int8_t)packet_dir(c->r, p, &dir);
	pp->dir = (uint8_t)dir;
	pp->ct.valid = false;
	if (pp->dir_rc < 0)
		return 0;
	/* the hook the packet takes first (here: in the reader thread when
	 * there is one, which has time to spare) */
	set_iface(p, pp->dir == FLOW_IN ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT,
		  pp->dir == FLOW_LO);
	/* a packet this host sends is PACKET_HOST (an skb the stack made),
	 * whatever group address its frame's destination MAC has */
	if (pp->dir != FLOW_IN)
		p->pkttype = PACKET_HOST;
	/* decided here, where the packet's bytes are in this CPU's cache */
	if (pp->dir == FLOW_OUT)
		p->mc_loop = looped_locally(c->r, p);
	if (!p->is_frag && ct_packet_hint(p, &pp->ct))
		return (uint64_t)1 << 32 | pp->ct.h;
	return 0;
}

/* The reader thread's work while it waits for the replay (reader_set_idle):
 * faulting in the pages the next conntrack entries and flow rows will take,
 * 64 KiB at a time, up to 1 MiB ahead of each (a batch of 1,024 packets
 * takes at most ~0.4 MiB, ~30 KiB on the bench's mix). */
#define PREFAULT_AHEAD (1u << 20)
#define PREFAULT_STEP (64u << 10)
static bool replay_idle(void *arg)
{
	struct replay *r = arg;

	return ct_table_prefault(r->ct, PREFAULT_AHEAD, PREFAULT_STEP) ||
	       region_prefault(&r->flows_rg, PREFAULT_AHEAD, PREFAULT_STEP);
}

static int replay_one(struct replay *r, size_t ci)
{
	struct capinfo *ciw = &r->caps[ci];
	unsigned cap = (unsigned)ci + 1;
	uint64_t frame = 0;
	struct reader *rd;
	struct prep_ctx pc = { .r = r };
	char errbuf[PCAP_ERRBUF_SIZE + 64];
	void *area;
	int rc, ret = -1;

	if (reader_open(&rd, replay_open_path(r->o, ci),
			(r->o->single_thread ? READER_SINGLE_THREAD : 0) |
			(r->o->read_with_libpcap ? READER_LIBPCAP : 0), sizeof(struct prepared),
			prepare, &pc, errbuf, sizeof(errbuf)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s: cannot read capture: %s",
			 r->o->captures[ci], errbuf);
		return -1;
	}
	reader_set_idle(rd, replay_idle, r);
	load_dirs(r, ci);
	local_fast_build(r);
	ciw->dlt = reader_datalink(rd);
	pc.ci.dirs = ciw->dirs;
	pc.ci.ndirs = ciw->ndirs;
	/* prepare read the header and the bytes: the area has what the
	 * replay needs */
	while ((rc = reader_next(rd, NULL, NULL, &area)) == 1) {
		struct prepared *pp = area;
		struct pkt *pk = &pp->p;
		enum flow_dir dir = (enum flow_dir)pp->dir;
		uint64_t ah;

		/* conntrack lookups of the packets ahead, in steps: the slot
		 * twelve packets ahead, then the entry and its flow (the slot
		 * keeps a hint of the flow) eight ahead */
		if ((ah = reader_peek_hint(rd, 12)))
			ct_prefetch_slot(r->ct, (uint32_t)ah);
		if ((ah = reader_peek_hint(rd, 8))) {
			uint64_t u = ct_prefetch_entry(r->ct, (uint32_t)ah);

			/* the fields each packet reads and counts (closed ..
			 * related): the row's start is on another line, as
			 * the array is not line-aligned */
			if (!u) {
				/* likely a first packet: judge asks its tuple's
				 * refused-memo tag */
				__builtin_prefetch(&r->refused_tag[(uint32_t)ah &
								   (REPLAY_REFUSED_MEMOS - 1)]);
			}
		}

		frame++;
		ciw->packets++;
		r->t.packets++;
		if (pp->decoded < 0) {
			if (pk->cls == PKT_NOT_IP) {
				r->t.not_ip++;
			} else if (pk->cls == PKT_UNSUPPORTED_LINK) {
				r->t.unsupported_link++;
				ciw->unsupported++;
			} else {
				add_bad(r, cap, pk, false);
			}
			trace_skip(r, cap, frame, pk->why ? pk->why : "not an IP packet");
			emit(r, cap, pk, frame, RP_NOT_HOOKED, FLOW_IN, NULL, false,
			     pk->why ? pk->why : "not an IP packet");
			continue;
		}
		if (pk->cls == PKT_TRUNCATED || pk->cls == PKT_MALFORMED)
			add_bad(r, cap, pk, true);
		if (pp->dir_rc == -2) {
			r->t.martian++;
			trace_skip(r, cap, frame, "martian source: this host's address, from the wire "
						  "(IPv4 drops it before the hooks)");
			/* prerouting sees it (no filterd chain there), routing
			 * drops it: as a packet ip_rcv_options() drops */
			emit(r, cap, pk, frame, RP_OPT_DROP, FLOW_IN, NULL, false,
			     "martian source (this host's address, from the wire)");
			continue;
		}
		if (pp->dir_rc < 0) {
			bool other = pk->pcap_dir == 1 && pk->pkttype == PACKET_OTHERHOST;

			r->t.foreign++;
			r->t.foreign_v6 += pk->nfproto == NFPROTO_IPV6;
			r->t.otherhost6 += other && pk->nfproto == NFPROTO_IPV6;
			r->t.otherhost4 += other && pk->nfproto != NFPROTO_IPV6;
			trace_skip(r, cap, frame, other ? "transit: the capture says it was for another host"
						 : "transit: neither end is this host (--local)");
			emit(r, cap, pk, frame, RP_TRANSIT, FLOW_IN, NULL, false,
			     "transit: neither end is this host");
			continue;
		}
		if (r->o->ntrace && trace_selected(r, cap, frame)) {
			r->tracing = true;
			trace_begin(r, cap, pk, false);
			vm_set_trace(r->vm, trace_cb, r);
		}
		/* (prepare gave it its hook and interfaces) */
		if (judge(r, cap, pk, dir, &pp->ct) < 0)
			goto out;
	}
	if (ciw->dirs && frame != ciw->ndirs)
		fprintf(stderr, "pcap-replay: warning: %s: libpcap read %llu packets, the pcapng "
			"walk found %zu: directions from epb_flags may be misplaced\n", ciw->path,
			(unsigned long long)frame, ciw->ndirs);
	if (rc < 0) {
		ciw->read_error = true;
		snprintf(ciw->err, sizeof(ciw->err), "%s: read error after frame %llu: %s",
			 ciw->path, (unsigned long long)frame, reader_error(rd));
	}
	ret = 0;
out:
	{
		struct reader_stats st;

		reader_close(rd, &st);
		r->rstats.threaded |= st.threaded;
		r->rstats.thread_cpu_s += st.thread_cpu_s;
		r->rstats.batches += st.batches;
		r->rstats.reader_waits += st.reader_waits;
		r->rstats.consumer_waits += st.consumer_waits;
		r->rstats.reader_wait_s += st.reader_wait_s;
		r->rstats.idle_steps += st.idle_steps;
		r->rstats.idle_s += st.idle_s;
		r->rstats.consumer_wait_s += st.consumer_wait_s;
		r->rstats.block_records += st.block_records;
		r->rstats.ng_records += st.ng_records;
		memcpy(ciw->dlts, st.dlts, sizeof(ciw->dlts));
		ciw->ndlts = st.ndlts;
		ciw->more_dlts = st.more_dlts;
	}
	return ret;
}

static int replay_runs(struct replay *r)
{
	for (size_t i = 0; i < r->o->ncaptures; i++)
		if (replay_one(r, i) < 0)
			return -1;
	return 0;
}

int replay_run(struct replay *r)
{
	int rc = replay_runs(r);

	/* the flows' packet counts still kept in conntrack entries */
	ct_table_foreach(r->ct, flow_acc_flush_entry, r);
	return rc;
}


size_t replay_judge(struct replay *r, struct expect *e)
{
	size_t failed = 0;

	for (size_t i = 0; i < r->nflows; i++) {
		struct flow *f = &r->flows[i];
		struct expect_flow ef;
		long l;

		f->expect_line = -1;
		if (f->dir == FLOW_LO)
			continue;
		expect_flow_of(&f->k, f->dir, &ef);
		l = expect_match(e, &ef);
		f->expect_line = l;
		if (l < 0)
			continue;
		if (f->incomplete) {
			/* a verdict the capture cannot settle never passes an assertion */
			e->v[l].matched++;
			e->v[l].failures++;
			f->expect_ok = false;
		} else {
			f->expect_ok = expect_record(e, (size_t)l, f->accepted);
		}
		if (!f->expect_ok)
			failed++;
	}
	return failed;
}
