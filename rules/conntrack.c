/* conntrack — the kernel's connection tracking, re-expressed for offline replay.
 *
 * Semantics follow net/netfilter/nf_conntrack_core.c (nf_conntrack_in,
 * resolve_normal_ct, __nf_conntrack_alloc/early_drop, nf_conntrack_confirm),
 * nf_conntrack_proto_{tcp,udp,icmp,icmpv6,generic}.c and nf_defrag_ipv4/ipv6.
 * Written from reading those, not copied: each block names what it mirrors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>

#include "conntrack.h"
#include "csum.h"
#include "region.h"
#include "zalloc.h"

#define USEC		1000000LL
#define SECS(x)		((int64_t)(x) * USEC)

/* ---- TCP tracker constants ------------------------------------------------ */

enum tcp_state {	/* enum tcp_conntrack */
	TS_NONE, TS_SYN_SENT, TS_SYN_RECV, TS_ESTABLISHED, TS_FIN_WAIT, TS_CLOSE_WAIT,
	TS_LAST_ACK, TS_TIME_WAIT, TS_CLOSE, TS_SYN_SENT2, TS_MAX, TS_IGNORE,
	TS_RETRANS = TS_MAX, TS_UNACK, TS_TIMEOUT_MAX,
};

static const char *const tcp_state_names[TS_MAX] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
	"LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
};

/* nf_conntrack_proto_tcp.c tcp_timeouts[] defaults (a table's own may differ:
 * ct_table_set_timeout) */
static const int64_t tcp_timeout_default[TS_TIMEOUT_MAX] = {
	[TS_SYN_SENT] = SECS(120), [TS_SYN_RECV] = SECS(60),
	[TS_ESTABLISHED] = SECS(5 * 24 * 3600), [TS_FIN_WAIT] = SECS(120),
	[TS_CLOSE_WAIT] = SECS(60), [TS_LAST_ACK] = SECS(30),
	[TS_TIME_WAIT] = SECS(120), [TS_CLOSE] = SECS(10),
	[TS_SYN_SENT2] = SECS(120), [TS_RETRANS] = SECS(300), [TS_UNACK] = SECS(300),
};
#define UDP_TIMEOUT		SECS(30)	/* UDP_CT_UNREPLIED */
#define UDP_TIMEOUT_STREAM	SECS(120)	/* UDP_CT_REPLIED */
#define ICMP_TIMEOUT		SECS(30)	/* nf_ct_icmp_timeout, nf_ct_icmpv6_timeout */
#define GENERIC_TIMEOUT		SECS(600)	/* nf_ct_generic_timeout */
#define GRE_TIMEOUT		SECS(30)	/* GRE_CT_UNREPLIED */
#define GRE_TIMEOUT_STREAM	SECS(180)	/* GRE_CT_REPLIED */
#define GRE_PROTO_PPP		0x880b
#define TCP_MAX_RETRANS		3
#define FRAG4_TIMEOUT		SECS(30)	/* ipfrag_time */
#define FRAG6_TIMEOUT		SECS(60)	/* nf_conntrack_frag6_timeout */
#define FRAG_MAX		65535
/* IPv4: the furthest a fragment can end (offset 65528 + up to 65515 bytes) */
#define FRAG_DATA_MAX		(65528 + 65535)

/* Which row of the state table a segment selects (get_conntrack_index):
 * RST wins, then SYN (with or without ACK), FIN, ACK. */
enum tcp_index { TI_SYN, TI_SYNACK, TI_FIN, TI_ACK, TI_RST, TI_NONE, TI_MAX };

/* The state transition table of nf_conntrack_proto_tcp.c (tcp_conntracks),
 * [dir][index][old state] = new state, with the kernel's abbreviations:
 * sNO none, sSS syn_sent, sSR syn_recv, sES established, sFW fin_wait,
 * sCW close_wait, sLA last_ack, sTW time_wait, sCL close, sS2 syn_sent2,
 * sIV invalid, sIG ignore.  The new state itself is stored, so a lookup is
 * one load; rows padded to powers of two make its index shifts. */
#define sNO TS_NONE
#define sSS TS_SYN_SENT
#define sSR TS_SYN_RECV
#define sES TS_ESTABLISHED
#define sFW TS_FIN_WAIT
#define sCW TS_CLOSE_WAIT
#define sLA TS_LAST_ACK
#define sTW TS_TIME_WAIT
#define sCL TS_CLOSE
#define sS2 TS_SYN_SENT2
#define sIV TS_MAX
#define sIG TS_IGNORE
static const uint8_t tcp_table[2][8][16] = {
	{	/* ORIGINAL */
	/*		     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		[TI_SYN]    = { sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
		[TI_SYNACK] = { sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR },
		[TI_FIN]    = { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		[TI_ACK]    = { sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
		[TI_RST]    = { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		[TI_NONE]   = { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	},
	{	/* REPLY */
	/*		     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		[TI_SYN]    = { sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
		[TI_SYNACK] = { sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
		[TI_FIN]    = { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		[TI_ACK]    = { sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
		[TI_RST]    = { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		[TI_NONE]   = { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	},
};
_Static_assert(TI_MAX <= 8 && TS_MAX <= 16, "tcp_table rows are padded to 8 x 16");
#undef sNO
#undef sSS
#undef sSR
#undef sES
#undef sFW
#undef sCW
#undef sLA
#undef sTW
#undef sCL
#undef sS2
#undef sIV
#undef sIG

static inline enum tcp_state tcp_next(int dir, enum tcp_index idx, enum tcp_state old)
{
	return (enum tcp_state)tcp_table[dir][idx][old];	/* TS_MAX: invalid */
}

/* struct ip_ct_tcp_state flags */
#define TF_WINDOW_SCALE		0x01
#define TF_SACK_PERM		0x02
#define TF_CLOSE_INIT		0x04
#define TF_BE_LIBERAL		0x08
#define TF_DATA_UNACK		0x10
#define TF_MAXACK_SET		0x20
#define TF_CHALLENGE_ACK	0x40	/* IP_CT_EXP_CHALLENGE_ACK (last_flags) */
#define TF_SIMULTANEOUS_OPEN	0x80	/* IP_CT_TCP_SIMULTANEOUS_OPEN (last_flags) */

struct tcp_side {		/* struct ip_ct_tcp_state */
	uint32_t td_end, td_maxend, td_maxwin, td_maxack;
	uint8_t td_scale, flags;
};

struct tcp_ct {			/* struct ip_ct_tcp */
	struct tcp_side seen[2];
	uint8_t state, last_dir, retrans, last_index, last_wscale, last_flags;
	uint8_t opts_cut;		/* not the kernel's: a SYN's options were cut by the
					 * capture (window scale, SACK-permitted unknown) */
	uint32_t last_seq, last_ack, last_end;
	uint16_t last_win;
};

/* The hash (nf_conntrack_tuple_hash): open addressing, linear probing, one
 * slot per direction of a confirmed entry.  A slot keeps the tuple's full
 * hash, so a probe that does not match ends without touching the entry: a
 * lookup reads the entry it finds and no other (the kernel's chained buckets
 * read every entry on the chain; entries of closed connections in TIME_WAIT
 * are cold and would cost a cache miss each). */
struct ct_slot {
	struct ct_entry *e;		/* NULL: empty */
	uint32_t h;			/* tuple_hash() of e->tuple[dir] */
	uint32_t dir : 1;
	uint32_t user : 31;		/* e->user when hashed, if it fits (else 0): a
					 * hint for prefetching (ct_prefetch_entry) */
};

/* SCTP: the tracker's states (enum sctp_conntrack); SC_MAX stands for "invalid". */
enum sctp_state {
	SC_NONE, SC_CLOSED, SC_COOKIE_WAIT, SC_COOKIE_ECHOED, SC_ESTABLISHED,
	SC_SHUTDOWN_SENT, SC_SHUTDOWN_RECD, SC_SHUTDOWN_ACK_SENT, SC_HEARTBEAT_SENT,
	SC_MAX
};

static const char *const sctp_state_names[SC_MAX] = {
	"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED",
	"SHUTDOWN_SENT", "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT",
};

/* SCTP (struct ip_ct_sctp): the association's state, each direction's
 * verification tag (as read, network order kept as a plain number), whether
 * each side has sent an INIT, and the heartbeat vtag-failure flag */
struct sctp_ct {
	uint32_t vtag[2];
	uint8_t state, last_dir, flags, init[2];
};

struct ct_entry {
	struct ct_tuple tuple[2];	/* ORIGINAL, REPLY */
	uint32_t hash[2];		/* tuple_hash() of each (made once, at creation) */
	struct ct_entry *prev, *next;	/* all confirmed entries, creation order */
	uint32_t status;		/* IPS_* */
	uint32_t id, mark;
	int64_t timeout;		/* unconfirmed: relative; confirmed: absolute */
	int64_t udp_stream_ts;
	uint64_t first_frame;
	uint64_t packets[2], bytes[2];
	bool began_before_capture;
	union {				/* by tuple[0].proto */
		struct tcp_ct tcp;
		struct sctp_ct sctp;
	};
	uint64_t user;			/* the caller's (ct_entry_set_user) */
	_Alignas(8) uint8_t ext[CT_EXT_SIZE];	/* the caller's (ct_entry_ext) */
};

struct frag_range { uint32_t start, end; };

/* inet_frag_queue_insert()'s outcomes */
enum { FI_OK, FI_DUP, FI_OVERLAP, FI_FULL };

struct frag_queue {
	bool used;
	uint8_t nfproto, proto;
	uint8_t src[16], dst[16];
	uint32_t id;
	int64_t expires, created;
	uint32_t total;			/* datagram payload length once the last is in */
	bool last_in, first_in;
	struct frag_range *r;		/* runs of contiguous fragments (disjoint) */
	unsigned nr, rcap;
	unsigned tail_run;		/* the run that holds the fragment ending last */
	uint32_t tail_end;		/* where that fragment ends */
	uint32_t meat;			/* bytes queued */
	uint8_t *head;			/* link header + unfragmentable part of offset 0 */
	size_t ll_len, head_len, head_cap;
	uint8_t ecn;			/* IPFRAG_ECN_* of the fragments seen (ip4/6_frag_ecn) */
	uint32_t max_size, max_df_size;	/* IPv4: the largest fragment, the largest with DF */
	uint32_t rid;			/* IPv4: its source's fragment count at its last fragment */
	int linktype;
	size_t prevnh;			/* IPv6: offset in head of the field naming the frag header */
	uint8_t nexthdr;		/* IPv6: fragment header's next header */
	uint8_t *data;			/* data_cap bytes, grown to FRAG_MAX at most */
	size_t data_cap;
	bool cut;			/* a fragment's bytes were cut by the capture */
};

/* The timeouts, microseconds (net.netfilter.nf_conntrack_*timeout*). */
struct ct_timeouts {
	int64_t tcp[TS_TIMEOUT_MAX], sctp[SC_MAX];
	int64_t udp, udp_stream, icmp, icmpv6, generic, gre, gre_stream;
	int64_t frag4, frag6;		/* reassembly queues (defrag) */
};

struct ct_table {
	size_t max, count, nslots;	/* count: confirmed + pending; nslots: 2^k */
	struct ct_slot *slot;
	struct ct_entry *head, *tail;	/* confirmed, creation order */
	struct ct_entry *pending;	/* unconfirmed, between ct_in and ct_confirm */
	struct ct_entry *zombie;	/* killed while a packet refers to it (list via prev) */
	int64_t now;
	bool have_now;
	int64_t full_gc_at;		/* last sweep forced by a full table */
	bool full_gc_done;
	uint32_t next_id;
	ct_reaper_fn reaper;
	void *reaper_arg;
	struct ct_stats st;
	struct frag_queue fq[CT_FRAG_QUEUES];
	unsigned fq_hi;			/* no queue at or above this index is in use */
	uint8_t *out;			/* reassembled frame (out_cap bytes) */
	size_t out_cap;
	struct ct_chunk *chunks;	/* entries come from these (entry_alloc) */
	struct region rg;		/* ... or from this, first (region.h) */
	/* IPv4 fragment counts per source address (inet_peer's rid), for
	 * ipfrag_max_dist: open addressing, npeers a power of two */
	struct frag_peer { uint32_t addr, rid; bool used; } *peers;
	size_t npeers, peers_used;
	struct ct_entry *free_entries;	/* released ones, via next */
	/* the kernel's defaults unless set as a host's sysctls set them */
	struct ct_timeouts to;
	bool checksum;			/* nf_conntrack_checksum (ct_table_set_checksum) */
};

static void timeouts_default(struct ct_timeouts *to);

/* Entries are carved from chunks and recycled through a free list: a capture
 * makes and drops an entry per flow (and one per refused first packet), and
 * malloc/free cost more than the rest of a new flow's conntrack work.  Under
 * AddressSanitizer each entry is its own allocation, so a use after release
 * is still caught. */
#define CT_CHUNK_ENTRIES 256
struct ct_chunk {
	struct ct_chunk *next;
	struct ct_entry e[CT_CHUNK_ENTRIES];
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CT_ENTRY_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CT_ENTRY_MALLOC 1
#endif
#endif

static struct ct_entry *entry_alloc(struct ct_table *t)
{
	struct ct_entry *e;

#ifdef CT_ENTRY_MALLOC
	(void)t;
	return calloc(1, sizeof(*e));
#else
	if (!t->free_entries) {
		/* chunks in the region are freed with it, the others one by one */
		struct ct_chunk *c = region_take(&t->rg, sizeof(*c));

		if (!c) {
			if (!(c = malloc(sizeof(*c))))
				return NULL;
			c->next = t->chunks;
			t->chunks = c;
		}
		for (size_t i = CT_CHUNK_ENTRIES; i-- > 0;) {
			c->e[i].next = t->free_entries;
			t->free_entries = &c->e[i];
		}
	}
	e = t->free_entries;
	t->free_entries = e->next;
	memset(e, 0, sizeof(*e));
	return e;
#endif
}

static void entry_release(struct ct_table *t, struct ct_entry *e)
{
#ifdef CT_ENTRY_MALLOC
	(void)t;
	free(e);
#else
	e->next = t->free_entries;
	t->free_entries = e;
#endif
}

static void reap_zombie(struct ct_table *t);

/* ---- table -------------------------------------------------------------- */

static bool get_l4_pkt(const struct pkt *p, uint8_t *proto, size_t *off);
static struct view pkt_view(const struct pkt *p);
static bool get_tuple_pkt(const struct pkt *p, uint8_t proto, size_t off, struct ct_tuple *k);

struct ct_table *ct_table_new(size_t max_entries)
{
	struct ct_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->max = max_entries ? max_entries : 262144;
	/* the slot array grows with the table (hash_reserve): a small table
	 * stays in the CPU caches */
	t->nslots = 4096;
	t->slot = calloc(t->nslots, sizeof(*t->slot));
	if (!t->slot) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->next_id = 1;
	timeouts_default(&t->to);
	/* room for a full table's entries; those beyond (pending, dying)
	 * come from malloc */
	(void)region_init(&t->rg, (t->max + CT_CHUNK_ENTRIES - 1) / CT_CHUNK_ENTRIES *
				  sizeof(struct ct_chunk));
	return t;
}

void ct_table_set_checksum(struct ct_table *t, bool on)
{
	t->checksum = on;
}

size_t ct_table_prefault(struct ct_table *t, size_t ahead, size_t step)
{
	return region_prefault(&t->rg, ahead, step);
}

uint64_t ct_table_prefaulted(const struct ct_table *t)
{
	return region_prefaulted(&t->rg);
}

void ct_table_set_reaper(struct ct_table *t, ct_reaper_fn fn, void *arg)
{
	t->reaper = fn;
	t->reaper_arg = arg;
}

_Static_assert(sizeof(struct ct_tuple) == 42, "ct_tuple is hashed and compared as 42 bytes");

/* Unaligned little loads for hashing and comparing tuples as words (memcpy:
 * no aliasing or alignment assumptions; each compiles to one load). */
static inline uint64_t ld64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, 8);
	return v;
}

static inline uint16_t ld16(const uint8_t *b)
{
	uint16_t v;

	memcpy(&v, b, 2);
	return v;
}

/* Word-wise multiplicative hash of the 42 tuple bytes (tuples are zeroed
 * before they are filled, so every byte is defined). */
static inline uint32_t tuple_hash(const struct ct_tuple *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint16_t tail = ld16(b + 40);
	uint64_t h;

	h = (ld64(b) * 0x9e3779b97f4a7c15ull) ^ (ld64(b + 8) * 0xbf58476d1ce4e5b9ull) ^
	    (ld64(b + 16) * 0x94d049bb133111ebull) ^ (ld64(b + 24) * 0xff51afd7ed558ccdull) ^
	    ((ld64(b + 32) ^ ((uint64_t)tail << 48 | tail)) * 0xc4ceb9fe1a85ec53ull);
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

uint32_t ct_tuple_hash(const struct ct_tuple *k)
{
	return tuple_hash(k);
}

/* Straight from the bytes: copying the tuples to word arrays first made gcc
 * spill both to the stack on every probe. */
static inline bool tuple_eq(const struct ct_tuple *a, const struct ct_tuple *b)
{
	const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;

	return ((ld64(x) ^ ld64(y)) | (ld64(x + 8) ^ ld64(y + 8)) |
		(ld64(x + 16) ^ ld64(y + 16)) | (ld64(x + 24) ^ ld64(y + 24)) |
		(ld64(x + 32) ^ ld64(y + 32)) | (uint64_t)(ld16(x + 40) ^ ld16(y + 40))) == 0;
}

static void slot_put(struct ct_slot *slot, size_t nslots, struct ct_slot s)
{
	size_t m = nslots - 1, i = s.h & m;

	while (slot[i].e)
		i = (i + 1) & m;
	slot[i] = s;
}

/* Makes room for one more entry before it is created: the slot array keeps a
 * load of at most 1/2 (two slots an entry); when it cannot grow, up to 7/8.
 * false: no room (the caller drops the packet as "table full"). */
static bool hash_reserve(struct ct_table *t)
{
	size_t need = 2 * (t->count + 1), n;
	struct ct_slot *ns;

	if (need * 2 <= t->nslots)
		return true;
	n = t->nslots * 2;
	ns = n > t->nslots ? zalloc(n, sizeof(*ns)) : NULL;
	if (!ns)
		return need * 8 <= t->nslots * 7;
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slot[i].e)
			slot_put(ns, n, t->slot[i]);
	free(t->slot);
	t->slot = ns;
	t->nslots = n;
	return true;
}

/* Hashes a confirmed entry (room was reserved when it was created). */
static void hash_insert(struct ct_table *t, struct ct_entry *e)
{
	/* A tuple that is its own reverse (a packet to itself, same address,
	 * no ports or equal ones): __nf_conntrack_hash_insert() puts the
	 * reply at the head of the bucket, after the original, so every later
	 * packet is found as a reply.  Probing finds the first slot put. */
	bool self = tuple_eq(&e->tuple[0], &e->tuple[1]);

	for (uint32_t i = 0; i < 2; i++) {
		uint32_t d = self ? 1 - i : i;
		slot_put(t->slot, t->nslots, (struct ct_slot){
				 .e = e, .h = e->hash[d], .dir = d & 1,
				 .user = e->user < (1u << 31) ? (uint32_t)e->user : 0 });
	}
	e->prev = t->tail;
	e->next = NULL;
	if (t->tail)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
}

/* Linear probing deletion by backward shift: every later slot of the run
 * whose home is not between the hole and itself moves into the hole. */
static void slot_delete(struct ct_table *t, size_t i)
{
	size_t m = t->nslots - 1, j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & m;
		if (!t->slot[j].e)
			break;
		home = t->slot[j].h & m;
		/* is home cyclically in (i, j]? then slot j stays */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slot[i] = t->slot[j];
		i = j;
	}
	t->slot[i].e = NULL;
}

static void hash_remove(struct ct_table *t, struct ct_entry *e)
{
	size_t m = t->nslots - 1;

	for (uint32_t d = 0; d < 2; d++) {
		uint32_t h = e->hash[d];

		for (size_t i = h & m; t->slot[i].e; i = (i + 1) & m) {
			if (t->slot[i].e == e && t->slot[i].dir == d) {
				slot_delete(t, i);
				break;
			}
		}
	}
	if (e->prev)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		t->tail = e->prev;
}

static void entry_free(struct ct_table *t, struct ct_entry *e, enum ct_gone why)
{
	if (t->reaper)
		t->reaper(e, why, t->reaper_arg);
	t->count--;
	entry_release(t, e);
}

/* Removes a confirmed entry (nf_ct_kill / expiry). */
static void entry_kill(struct ct_table *t, struct ct_entry *e, enum ct_gone why)
{
	hash_remove(t, e);
	entry_free(t, e, why);
}

static bool expired(const struct ct_table *t, const struct ct_entry *e)
{
	return (e->status & IPS_CONFIRMED) && e->timeout <= t->now;
}

/* __nf_conntrack_find_get: an expired entry is reaped, never returned.
 * Inline: it runs for every packet.  Hashed entries are all confirmed, so
 * expiry is the timeout alone. */
static inline struct ct_entry *lookup_h(struct ct_table *t, const struct ct_tuple *k,
					uint32_t h, int *dir)
{
	const struct ct_slot *slot = t->slot;
	size_t m = t->nslots - 1;

	for (size_t i = h & m; slot[i].e; i = (i + 1) & m) {
		const struct ct_slot *s = &slot[i];
		struct ct_entry *e = s->e;

		if (s->h != h || !tuple_eq(&e->tuple[s->dir], k))
			continue;
		if (e->timeout <= t->now) {
			entry_kill(t, e, CT_GONE_EXPIRED);
			return NULL;
		}
		*dir = (int)s->dir;
		return e;
	}
	return NULL;
}

static struct ct_entry *lookup(struct ct_table *t, const struct ct_tuple *k, int *dir)
{
	return lookup_h(t, k, tuple_hash(k), dir);
}

static void gc_expired(struct ct_table *t)
{
	for (struct ct_entry *e = t->head, *n; e; e = n) {
		n = e->next;
		if (expired(t, e))
			entry_kill(t, e, CT_GONE_EXPIRED);
	}
}

/* early_drop(): evict an entry that is not ASSURED (early_drop_list skips
 * every ASSURED one, closing or not: tcp_can_early_drop is the gc worker's,
 * above 95 % of the table, not the allocation's).  The kernel looks at the
 * entries of 8 hash buckets near the new tuple (NF_CT_EVICTION_RANGE), an
 * unpredictable sample; here the oldest unassured entry among the
 * CT_EARLY_DROP_SCAN oldest is taken, which is deterministic and bounds the
 * work per new flow when a capture floods a full table.  Expired entries met
 * on the way go, as nf_ct_gc_expired does in that walk, without counting as
 * a drop.  Returns false when it evicted none. */
#define CT_EARLY_DROP_SCAN 1024
static bool early_drop(struct ct_table *t)
{
	unsigned scanned = 0;

	for (struct ct_entry *e = t->head, *n; e && scanned++ < CT_EARLY_DROP_SCAN; e = n) {
		n = e->next;
		if (expired(t, e)) {	/* nf_ct_gc_expired: gone, but no drop counted */
			entry_kill(t, e, CT_GONE_EXPIRED);
			continue;
		}
		if (!(e->status & IPS_ASSURED)) {
			entry_kill(t, e, CT_GONE_EVICTED);
			t->st.early_drops++;
			return true;
		}
	}
	/* early_drop() is true only when it dropped one: the kernel drops the
	 * new packet even when its walk reaped expired entries */
	return false;
}

static void discard_pending(struct ct_table *t)
{
	if (t->pending) {
		struct ct_entry *e = t->pending;

		t->pending = NULL;
		entry_free(t, e, CT_GONE_DISCARDED);
	}
}

void ct_table_free(struct ct_table *t)
{
	if (!t)
		return;
	discard_pending(t);
	reap_zombie(t);
	/* the whole table goes: no need to unhash entry by entry */
	while (t->head) {
		struct ct_entry *e = t->head;

		t->head = e->next;
		entry_free(t, e, CT_GONE_FLUSHED);
	}
	t->tail = NULL;
	for (int i = 0; i < CT_FRAG_QUEUES; i++) {
		free(t->fq[i].data);
		free(t->fq[i].head);
		free(t->fq[i].r);
	}
	free(t->out);
	free(t->peers);
	free(t->slot);
	while (t->chunks) {
		struct ct_chunk *c = t->chunks;

		t->chunks = c->next;
		free(c);
	}
	region_fini(&t->rg);
	free(t);
}

/* ---- per-packet helpers ----------------------------------------------------- */

static inline uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static inline uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline bool before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool after(uint32_t a, uint32_t b) { return before(b, a); }

/* A view of one IP packet inside p->data: [nh, lim) is readable, klim is
 * where the kernel's skb would end (lim <= klim). */
struct view {
	const uint8_t *d;
	size_t nh, lim, klim;
	uint8_t nfproto;
};

static bool readable(const struct view *v, size_t off, size_t n)
{
	return off <= v->lim && n <= v->lim - off;
}

/* ipv4_get_l4proto / ipv6_get_l4proto (nf_conntrack_core.c): the transport
 * offset as conntrack finds it.  Unlike nft's ipv6_find_hdr walk, AH is
 * skipped (ipv6_skip_exthdr) and any non-first fragment fails. */
static bool get_l4(const struct view *v, uint8_t *proto, size_t *off)
{
	if (v->nfproto == NFPROTO_IPV4) {
		size_t dataoff;

		if (!readable(v, v->nh, 20))
			return false;
		if (rd16(v->d + v->nh + 6) & 0x1fff)
			return false;
		dataoff = v->nh + (size_t)(v->d[v->nh] & 15) * 4;
		if (dataoff > v->klim)
			return false;
		*proto = v->d[v->nh + 9];
		*off = dataoff;
		return true;
	}
	if (!readable(v, v->nh, 40))
		return false;

	uint8_t nh = v->d[v->nh + 6];
	size_t start = v->nh + 40;

	for (;;) {
		size_t hl;

		if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 59 && nh != 60)
			break;
		if (nh == 59 || !readable(v, start, 2))
			return false;
		if (nh == 44) {
			if (!readable(v, start, 4) || (rd16(v->d + start + 2) & ~7u))
				return false;
			hl = 8;
		} else if (nh == 51) {
			hl = ((size_t)v->d[start + 1] + 2) * 4;
		} else {
			hl = ((size_t)v->d[start + 1] + 1) * 8;
		}
		nh = v->d[start];
		start += hl;
	}
	*proto = nh;
	*off = start;
	return true;
}

/* DCCP is not here: its conntrack tracker left the kernel with DCCP itself
 * (6.16), so nf_ct_get_tuple() now takes DCCP as a generic protocol whose
 * tuple is the addresses alone, as for any protocol without a tracker. */
static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

bool ct_tuple_has_ports(uint8_t proto)
{
	return has_ports(proto);
}

/* ICMP in IPv4, ICMPv6 in IPv6 (ICMPv6 in IPv4 is generic to conntrack). */
static bool is_icmp(uint8_t nfproto, uint8_t proto)
{
	return (proto == IPPROTO_ICMP && nfproto == NFPROTO_IPV4) ||
	       (proto == IPPROTO_ICMPV6 && nfproto == NFPROTO_IPV6);
}

bool ct_is_icmp(uint8_t nfproto, uint8_t proto)
{
	return is_icmp(nfproto, proto);
}

/* Could the kernel read n bytes at off (the packet's own length, whatever the
 * capture kept)? */
static bool kreadable(const struct view *v, size_t off, size_t n)
{
	return off <= v->klim && n <= v->klim - off;
}

/* gre_pkt_to_tuple (nf_conntrack_proto_gre.c): the keys (kept in sport and
 * dport, which GRE has not) are 0 but for PPTP, enhanced GRE version 1, whose
 * call ID is the destination key; the source key comes from the keymap the
 * PPTP helper fills, and filterd's rulesets assign no helper: 0.  A version 1
 * packet that does not carry PPP has no tuple (no conntrack: invalid).  The
 * kernel reads what the packet holds; bytes it holds that the capture cut off:
 * no tuple here (undecidable, as for a truncated port). */
static bool gre_tuple(const struct view *v, size_t off, struct ct_tuple *k)
{
	if (!kreadable(v, off, 4))
		return true;			/* "try to behave like generic" */
	if (!readable(v, off, 4))
		return false;
	if ((rd16(v->d + off) & 7) != 1)	/* GRE_VERSION != GRE_VERSION_1 */
		return true;
	if (!kreadable(v, off, 8))
		return true;
	if (!readable(v, off, 8))
		return false;
	if (rd16(v->d + off + 2) != GRE_PROTO_PPP)
		return false;			/* "Unsupported GRE proto" */
	k->dport = rd16(v->d + off + 6);	/* call_id */
	return true;
}

/* nf_ct_get_tuple */
static bool get_tuple(const struct view *v, uint8_t proto, size_t off, struct ct_tuple *k)
{
	memset(k, 0, sizeof(*k));
	k->nfproto = v->nfproto;
	k->proto = proto;
	if (v->nfproto == NFPROTO_IPV4) {
		memcpy(k->src, v->d + v->nh + 12, 4);
		memcpy(k->dst, v->d + v->nh + 16, 4);
	} else {
		memcpy(k->src, v->d + v->nh + 8, 16);
		memcpy(k->dst, v->d + v->nh + 24, 16);
	}
	if (has_ports(proto)) {
		if (!readable(v, off, 4))
			return false;
		k->sport = rd16(v->d + off);
		k->dport = rd16(v->d + off + 2);
	} else if (is_icmp(v->nfproto, proto)) {
		if (!readable(v, off, 8))
			return false;
		k->icmp_type = v->d[off];
		k->icmp_code = v->d[off + 1];
		k->icmp_id = rd16(v->d + off + 4);
	} else if (proto == IPPROTO_GRE) {
		return gre_tuple(v, off, k);
	}
	return true;
}

/* nf_ct_invert_tuple; ICMP types invert through icmp/icmpv6 invmap[] and
 * the others cannot be inverted (no conntrack then). */
static bool invert_tuple(const struct ct_tuple *k, struct ct_tuple *r)
{
	*r = *k;
	memcpy(r->src, k->dst, 16);
	memcpy(r->dst, k->src, 16);
	r->sport = k->dport;
	r->dport = k->sport;
	if (k->proto == IPPROTO_ICMP && k->nfproto == NFPROTO_IPV4) {
		switch (k->icmp_type) {
		case 8: r->icmp_type = 0; break;	/* echo <-> echo reply */
		case 0: r->icmp_type = 8; break;
		case 13: r->icmp_type = 14; break;	/* timestamp */
		case 14: r->icmp_type = 13; break;
		case 15: r->icmp_type = 16; break;	/* info request */
		case 16: r->icmp_type = 15; break;
		case 17: r->icmp_type = 18; break;	/* address mask */
		case 18: r->icmp_type = 17; break;
		default: return false;
		}
	} else if (k->proto == IPPROTO_ICMPV6 && k->nfproto == NFPROTO_IPV6) {
		switch (k->icmp_type) {
		case 128: r->icmp_type = 129; break;
		case 129: r->icmp_type = 128; break;
		case 139: r->icmp_type = 140; break;	/* node information */
		case 140: r->icmp_type = 139; break;
		default: return false;
		}
	}
	return true;
}

static void refresh(struct ct_table *t, struct ct_entry *e, int64_t extra)
{
	e->timeout = (e->status & IPS_CONFIRMED) ? t->now + extra : extra;
}

/* PK_INVALID_UNSURE: invalid by a window check that options the capture cut
 * (a SYN's window scale or SACK-permitted, this segment's SACK blocks) could
 * have changed: the kernel, which saw them, may have found it in window. */
enum pk { PK_ACCEPT, PK_ACCEPT_NOACCT, PK_INVALID, PK_INVALID_UNSURE, PK_REPEAT, PK_DROP,
	  PK_KILLED };

/* ---- TCP (nf_conntrack_proto_tcp.c) ---------------------------------------- */

/* conntrack.h: the reader thread parses it ahead (ct_packet_hint) */
#define tcpseg ct_tcpseg

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

/* The walk both option readers of nf_conntrack_proto_tcp.c make: the next
 * option that is not a NOP into *kind and *len (its bytes at *at), false at the
 * end-of-list option, at the end, or at a malformed length. */
static bool tcp_opt_next(const uint8_t **o, size_t *n, uint8_t *kind, uint8_t *len,
			 const uint8_t **at)
{
	while (*n > 0) {
		*kind = **o;
		if (*kind == 0)
			return false;
		if (*kind == 1) {
			(*o)++;
			(*n)--;
			continue;
		}
		if (*n < 2)
			return false;
		*len = (*o)[1];
		if (*len < 2 || *len > *n)
			return false;
		*at = *o;
		*o += *len;
		*n -= *len;
		return true;
	}
	return false;
}

/* tcp_options(): window scale and SACK-permitted.  Only ever given a SYN,
 * whose options tcp_parse has read already. */
static void tcp_options(const struct tcpseg *s, struct tcp_side *side)
{
	if (!s->opt || !s->optlen)
		return;
	side->td_scale = s->syn_scale;
	/* "state->flags &= IP_CT_TCP_FLAG_BE_LIBERAL": a side picked up
	 * mid-stream stays liberal through a SYN's options (found comparing
	 * with the kernel: a resync from a SYN/ACK lost it here) */
	side->flags = (uint8_t)((side->flags & TF_BE_LIBERAL) | s->syn_flags);
}

/* tcp_sack(): the highest right edge of the SACK blocks (into s->sack, which
 * holds ack); and in a SYN, the only segment tcp_options() reads, its window
 * scale and SACK-permitted options as tcp_options() keeps them.  One walk for
 * both (tcp_parse, on the reader's side). */
static void tcp_read_options(struct tcpseg *s)
{
	const uint8_t *o = s->opt, *at;
	size_t n = s->optlen;
	uint8_t kind, len;
	bool syn = s->flags & F_SYN, sack_done = false;

	while (tcp_opt_next(&o, &n, &kind, &len, &at)) {
		if (kind == 5 && !sack_done && len >= 10 && (len - 2) % 8 == 0) {
			for (size_t i = 2; i < len; i += 8) {
				uint32_t edge = rd32(at + i + 4);

				if (after(edge, s->sack))
					s->sack = edge;
			}
			sack_done = true;	/* tcp_sack() reads the first */
			if (!syn)
				return;
		} else if (syn && kind == 4 && len == 2) {
			s->syn_flags |= TF_SACK_PERM;
		} else if (syn && kind == 3 && len == 3) {
			s->syn_scale = at[2] > 14 ? 14 : at[2];
			s->syn_flags |= TF_WINDOW_SCALE;
		}
	}
}

static void tcp_init_sender(struct tcp_side *snd, struct tcp_side *rcv,
			    const struct tcpseg *s, int dir)
{
	snd->td_end = snd->td_maxend = s->end;
	snd->td_maxwin = s->win ? s->win : 1;
	tcp_options(s, snd);
	/* RFC 1323: scaling only when both sides offered it */
	if (dir == IP_CT_DIR_REPLY &&
	    !((snd->flags & TF_WINDOW_SCALE) && (rcv->flags & TF_WINDOW_SCALE)))
		snd->td_scale = rcv->td_scale = 0;
}

enum win_res { W_ACCEPT, W_IGNORE, W_INVALID };

static uint32_t maxackwindow(const struct tcp_side *snd)
{
	return snd->td_maxwin > 66000 ? snd->td_maxwin : 66000;
}

/* tcp_in_window() of kernels >= 6.1 (ternary result): SEQ over the upper
 * bound and ACK over the upper bound are INVALID; SEQ under the lower bound
 * (old retransmission) and ACK under the lower bound are IGNOREd (the packet
 * keeps its conntrack, no state change).  Liberal senders always pass. */
/* Kept out of line: inlined into ct_in (whose register pressure it adds
 * to) it costs more instructions than the call. */
static __attribute__((noinline)) enum win_res
tcp_in_window(struct tcp_ct *st, int dir, const struct tcpseg *s)
{
	struct tcp_side *snd = &st->seen[dir], *rcv = &st->seen[!dir];
	bool liberal = snd->flags & TF_BE_LIBERAL;
	uint32_t seq = s->seq, ack = s->ack, end = s->end;
	uint32_t sack = (rcv->flags & TF_SACK_PERM) ? s->sack : s->ack;	/* tcp_sack() */
	uint32_t win = s->win, swin;

	if (snd->td_maxwin == 0) {
		if (s->flags & F_SYN) {
			tcp_init_sender(snd, rcv, s, dir);
			if (!(s->flags & F_ACK))
				return W_ACCEPT;	/* simultaneous open */
		} else {
			/* mid-connection: take what the packet says */
			snd->td_end = end;
			swin = win << snd->td_scale;
			snd->td_maxwin = swin ? swin : 1;
			snd->td_maxend = end + snd->td_maxwin;
			if (rcv->td_maxwin == 0)
				rcv->td_end = rcv->td_maxend = sack;
			else if (sack == rcv->td_end + 1)
				rcv->td_end++;		/* keepalive reply */
		}
	} else if ((s->flags & F_SYN) && after(end, snd->td_end) &&
		   (st->state == TS_SYN_SENT || st->state == TS_SYN_RECV)) {
		tcp_init_sender(snd, rcv, s, dir);	/* RFC 793 reinitialised */
		if (dir == IP_CT_DIR_REPLY && !(s->flags & F_ACK))
			return W_ACCEPT;
	}

	if (!(s->flags & F_ACK)) {
		ack = sack = rcv->td_end;
	} else if ((s->flags & (F_ACK | F_RST)) == (F_ACK | F_RST) && ack == 0) {
		ack = sack = rcv->td_end;	/* broken stacks */
	}
	if ((s->flags & F_RST) && seq == 0 && st->state == TS_SYN_SENT)
		seq = end = snd->td_end;	/* RST answering a SYN */

	if (!before(seq, snd->td_maxend + 1)) {
		uint32_t overshot = end - snd->td_maxend + 1;
		bool ack_ok = after(sack, rcv->td_end - maxackwindow(snd) - 1);
		bool in_recv = rcv->td_maxwin && after(end, snd->td_end - rcv->td_maxwin - 1);

		if (in_recv && ack_ok && overshot <= rcv->td_maxwin &&
		    before(sack, rcv->td_end + 1)) {
			/* peer sent more than the window ("%u bytes more than
			 * expected"): track its end, so that the ACK of it is
			 * in window, but ignore the packet (NFCT_TCP_IGNORE: no
			 * state change, no refresh) unless liberal */
			snd->td_end = end;
			snd->flags |= TF_DATA_UNACK;
			return liberal ? W_ACCEPT : W_IGNORE;
		}
		return liberal ? W_ACCEPT : W_INVALID;	/* SEQ over upper bound */
	}
	if (!before(sack, rcv->td_end + 1))
		return liberal ? W_ACCEPT : W_INVALID;	/* ACK over upper bound */
	if (rcv->td_maxwin && !after(end, snd->td_end - rcv->td_maxwin - 1))
		return liberal ? W_ACCEPT : W_IGNORE;	/* SEQ under lower bound */
	if (!after(sack, rcv->td_end - maxackwindow(snd) - 1))
		return liberal ? W_ACCEPT : W_IGNORE;	/* ACK under lower bound */

	if (!(s->flags & F_SYN))
		win <<= snd->td_scale;
	swin = win + (sack - ack);
	if (snd->td_maxwin < swin)
		snd->td_maxwin = swin;
	if (after(end, snd->td_end)) {
		snd->td_end = end;
		snd->flags |= TF_DATA_UNACK;
	}
	if (s->flags & F_ACK) {
		if (!(snd->flags & TF_MAXACK_SET)) {
			snd->td_maxack = ack;
			snd->flags |= TF_MAXACK_SET;
		} else if (after(ack, snd->td_maxack)) {
			snd->td_maxack = ack;
		}
	}
	if (rcv->td_maxwin != 0 && after(end, snd->td_maxend))
		rcv->td_maxwin += end - snd->td_maxend;
	if (after(sack + win, rcv->td_maxend - 1)) {
		rcv->td_maxend = sack + win;
		if (win == 0)
			rcv->td_maxend++;
	}
	if (ack == rcv->td_end)
		rcv->flags &= ~TF_DATA_UNACK;
	if (s->idx == TI_ACK) {
		if (st->last_dir == dir && st->last_seq == seq && st->last_ack == ack &&
		    st->last_end == end && st->last_win == s->win) {
			st->retrans++;
		} else {
			st->last_dir = (uint8_t)dir;
			st->last_seq = seq;
			st->last_ack = ack;
			st->last_end = end;
			st->last_win = s->win;
			st->retrans = 0;
		}
	}
	return W_ACCEPT;
}

/* tcp_error(): header length and the valid flag combinations (ECE, CWR and
 * PSH ignored): SYN, SYN|URG, SYN|ACK, RST, RST|ACK, FIN|ACK, FIN|ACK|URG,
 * ACK, ACK|URG. */
static bool tcp_flags_valid(uint8_t f)
{
	f &= (uint8_t)~(0x40 | 0x80 | 0x08);
	switch (f) {
	case 0x02: case 0x22: case 0x12: case 0x04: case 0x14:
	case 0x11: case 0x31: case 0x10: case 0x30:
		return true;
	default:
		return false;
	}
}

static bool tcp_parse(const struct view *v, size_t off, struct tcpseg *s)
{
	const uint8_t *th;

	if (!readable(v, off, 20))
		return false;
	th = v->d + off;
	s->doff = (uint8_t)((th[12] >> 4) * 4);
	if (s->doff < 20 || v->klim - off < s->doff)
		return false;			/* "truncated packet" */
	if (!tcp_flags_valid(th[13]))
		return false;			/* "invalid tcp flag combination" */
	s->flags = th[13];
	s->seq = rd32(th + 4);
	s->ack = rd32(th + 8);
	s->win = rd16(th + 14);
	s->end = s->seq + (uint32_t)(v->klim - off - s->doff) + ((s->flags & F_SYN) ? 1 : 0) +
		 ((s->flags & F_FIN) ? 1 : 0);
	s->optlen = (uint8_t)(s->doff - 20u);
	s->opt = readable(v, off + 20, s->optlen) ? th + 20 : NULL;
	/* tcp_sack(), used when the receiver allowed SACK: parsed here, with
	 * the rest (in pcap-replay's reader thread) */
	s->sack = s->ack;
	s->syn_scale = s->syn_flags = 0;
	if (s->opt && s->optlen)
		tcp_read_options(s);
	if (s->flags & F_RST)
		s->idx = TI_RST;
	else if (s->flags & F_SYN)
		s->idx = (s->flags & F_ACK) ? TI_SYNACK : TI_SYN;
	else if (s->flags & F_FIN)
		s->idx = TI_FIN;
	else if (s->flags & F_ACK)
		s->idx = TI_ACK;
	else
		s->idx = TI_NONE;
	return true;
}

/* tcp_new(): only a SYN starts a tracked connection, or (nf_conntrack_tcp_loose
 * = 1) an ACK picks one up mid-stream with liberal window checking. */
static bool tcp_new(struct ct_entry *e, const struct tcpseg *s)
{
	enum tcp_state ns = tcp_next(0, s->idx, TS_NONE);
	struct tcp_side *o = &e->tcp.seen[0];

	if (ns >= TS_MAX)
		return false;			/* "invalid new" */
	memset(&e->tcp, 0, sizeof(e->tcp));
	o->td_end = s->end;
	o->td_maxwin = s->win ? s->win : 1;
	if (ns == TS_SYN_SENT) {
		o->td_maxend = o->td_end;
		tcp_options(s, o);
	} else {
		o->td_maxend = o->td_end + o->td_maxwin;
		e->tcp.seen[0].flags = e->tcp.seen[1].flags = TF_SACK_PERM | TF_BE_LIBERAL;
		e->began_before_capture = true;
	}
	e->tcp.last_index = TI_NONE;
	return true;
}

static bool tcp_established(const struct ct_entry *e)
{
	return e->tcp.state == TS_ESTABLISHED && (e->status & IPS_ASSURED);
}

/* nf_conntrack_tcp_packet() */
static enum pk tcp_packet(struct ct_table *t, struct ct_entry *e, int dir,
			  const struct pkt *p, size_t off, const struct ct_hint *hint)
{
	struct tcp_ct *st = &e->tcp;
	enum tcp_state old, ns;
	const struct tcpseg *s;		/* the hint's, read in place, or seg */
	struct tcpseg seg;
	int64_t timeout;
	enum win_res wr;

	if (hint) {			/* parsed by ct_packet_hint */
		if (!hint->tcp_ok)
			return PK_INVALID;
		s = &hint->tcp;
	} else {
		struct view v = pkt_view(p);

		if (!tcp_parse(&v, off, &seg))
			return PK_INVALID;
		s = &seg;
	}
	if (!(e->status & IPS_CONFIRMED) && !tcp_new(e, s))
		return PK_INVALID;
	if ((s->flags & F_SYN) && s->optlen && !s->opt)
		st->opts_cut = 1;

	old = st->state;
	ns = tcp_next(dir, s->idx, old);

	switch (ns) {
	case TS_SYN_SENT:
		if (old < TS_TIME_WAIT)
			break;
		/* reopening a closed/aborted connection: kill, look up again */
		if (((st->seen[dir].flags | st->seen[!dir].flags) & TF_CLOSE_INIT) ||
		    (st->last_dir == dir && st->last_index == TI_RST))
			return PK_REPEAT;
		/* fall through */
	case TS_IGNORE:
		if (s->idx == TI_SYNACK && st->last_index == TI_SYN &&
		    st->last_dir != dir && s->ack == st->last_end) {
			/* the SYN/ACK answers a SYN we ignored: resync from it */
			struct tcp_side *l = &st->seen[st->last_dir];

			old = TS_SYN_SENT;
			ns = TS_SYN_RECV;
			l->td_end = l->td_maxend = st->last_end;
			l->td_maxwin = st->last_win ? st->last_win : 1;
			l->td_scale = st->last_wscale;
			st->last_flags &= (uint8_t)~TF_CHALLENGE_ACK;
			l->flags = st->last_flags;
			/* nf_ct_tcp_state_reset(): all but BE_LIBERAL */
			{
				uint8_t lib = st->seen[dir].flags & TF_BE_LIBERAL;

				memset(&st->seen[dir], 0, sizeof(st->seen[dir]));
				st->seen[dir].flags = lib;
			}
			break;
		}
		st->last_index = (uint8_t)s->idx;
		st->last_dir = (uint8_t)dir;
		st->last_seq = s->seq;
		st->last_end = s->end;
		st->last_win = s->win;
		if (s->idx == TI_SYN && dir == IP_CT_DIR_ORIGINAL) {
			struct tcp_side seen = { 0 };

			st->last_flags = st->last_wscale = 0;
			tcp_options(s, &seen);
			if (seen.flags & TF_WINDOW_SCALE) {
				st->last_flags |= TF_WINDOW_SCALE;
				st->last_wscale = seen.td_scale;
			}
			if (seen.flags & TF_SACK_PERM)
				st->last_flags |= TF_SACK_PERM;
			if (old == TS_LAST_ACK)
				st->last_flags |= TF_CHALLENGE_ACK;
		}
		/* possible challenge ACK answering our SYN: remembered, so
		 * that the RST it draws passes (TS_CLOSE below) */
		if (old == TS_SYN_SENT && s->idx == TI_ACK && dir == IP_CT_DIR_REPLY)
			st->last_ack = s->ack;
		return PK_ACCEPT_NOACCT;	/* ignored: ct kept, no state change */
	case TS_MAX:
		return PK_INVALID;		/* "invalid state" */
	case TS_TIME_WAIT:
		if (old == TS_LAST_ACK && s->idx == TI_ACK && st->last_dir != dir &&
		    st->last_index == TI_SYN && (st->last_flags & TF_CHALLENGE_ACK)) {
			st->last_flags &= (uint8_t)~TF_CHALLENGE_ACK;
			return PK_ACCEPT_NOACCT;	/* RFC 5961 challenge ACK */
		}
		break;
	case TS_SYN_SENT2:
		st->last_flags |= TF_SIMULTANEOUS_OPEN;
		break;
	case TS_SYN_RECV:
		if (dir == IP_CT_DIR_REPLY && s->idx == TI_ACK &&
		    (st->last_flags & TF_SIMULTANEOUS_OPEN))
			ns = TS_ESTABLISHED;
		break;
	case TS_CLOSE:
		if (s->idx != TI_RST)
			break;
		if (old == TS_FIN_WAIT || old == TS_LAST_ACK || old == TS_TIME_WAIT ||
		    old == TS_CLOSE || old == TS_CLOSE_WAIT)
			goto in_window;			/* tcp_can_early_drop: skip checks */
		if ((st->seen[!dir].flags & TF_MAXACK_SET) && st->last_index != TI_SYN) {
			/* not established and SEQ 0: most likely the answer to
			 * a SYN let through (the window check follows) */
			if (s->seq == 0 && !tcp_established(e))
				break;
			if (before(s->seq, st->seen[!dir].td_maxack))
				return PK_INVALID;	/* "invalid rst" */
			if (!tcp_established(e) || s->seq == st->seen[!dir].td_maxack)
				break;
			if (st->last_index == TI_ACK && st->last_dir == dir &&
			    s->seq == st->last_end)
				break;			/* RST in a train */
			ns = old;	/* inexact RST: keep state for a challenge ACK */
		}
		/* RST to a SYN or ACK we let through; the SYN's only from the
		 * other side (the kernel's "do not force CLOSE on invalid-seq
		 * RST without direction check", 2026, in 6.18.y: found
		 * comparing with the kernel -- a side's own RST with ack 0
		 * matched last_end 0 after its SYN and closed the entry) */
		if ((((e->status & IPS_SEEN_REPLY) && st->last_index == TI_SYN &&
		      st->last_dir != dir) ||
		     (!(e->status & IPS_ASSURED) && st->last_index == TI_ACK)) &&
		    s->ack == st->last_end)
			goto in_window;
		/* RST answering a challenge ACK let through earlier */
		if (old == TS_SYN_SENT && st->last_index == TI_ACK &&
		    st->last_dir == IP_CT_DIR_REPLY && s->seq == st->last_ack)
			goto in_window;
		break;
	default:
		break;
	}

	wr = tcp_in_window(st, dir, s);
	if (wr == W_IGNORE)
		return PK_ACCEPT_NOACCT;
	if (wr == W_INVALID) {
		/* nf_tcp_handle_invalid: on an assured connection, an
		 * out-of-window FIN or RST answering one from the other side
		 * (a close conntrack lost track of) shortens a timeout of more
		 * than 120 s to the unacknowledged one, if longer; a first one
		 * is only remembered */
		if ((e->status & IPS_ASSURED) && (s->idx == TI_FIN || s->idx == TI_RST)) {
			if (st->last_dir != dir &&
			    (st->last_index == TI_FIN || st->last_index == TI_RST)) {
				int64_t left = e->timeout - t->now;

				if (left >= SECS(120) && left > t->to.tcp[TS_UNACK])
					e->timeout = t->now + t->to.tcp[TS_UNACK];
			} else {
				st->last_index = (uint8_t)s->idx;
				st->last_dir = (uint8_t)dir;
			}
		}
		return st->opts_cut || (s->optlen && !s->opt) ? PK_INVALID_UNSURE : PK_INVALID;
	}
in_window:
	st->last_index = (uint8_t)s->idx;
	st->last_dir = (uint8_t)dir;
	st->state = (uint8_t)ns;
	if (old != ns && ns == TS_FIN_WAIT)
		st->seen[dir].flags |= TF_CLOSE_INIT;

	if (st->retrans >= TCP_MAX_RETRANS && t->to.tcp[ns] > t->to.tcp[TS_RETRANS])
		timeout = t->to.tcp[TS_RETRANS];
	else if (s->idx == TI_RST)
		timeout = t->to.tcp[TS_CLOSE];
	else if (((st->seen[0].flags | st->seen[1].flags) & TF_DATA_UNACK) &&
		 t->to.tcp[ns] > t->to.tcp[TS_UNACK])
		timeout = t->to.tcp[TS_UNACK];
	else if (st->last_win == 0 && t->to.tcp[ns] > t->to.tcp[TS_RETRANS])
		timeout = t->to.tcp[TS_RETRANS];
	else
		timeout = t->to.tcp[ns];

	if (!(e->status & IPS_SEEN_REPLY)) {
		if (s->flags & F_RST)
			return PK_KILLED;	/* only reply was a RST: drop the entry */
		if (s->idx == TI_SYN && old == TS_SYN_SENT)
			return PK_ACCEPT;	/* SYN retransmit does not renew */
		if (ns == TS_ESTABLISHED && timeout > t->to.tcp[TS_UNACK])
			timeout = t->to.tcp[TS_UNACK];	/* picked up, unreplied */
	} else if (!(e->status & IPS_ASSURED) &&
		   (old == TS_SYN_RECV || old == TS_ESTABLISHED) && ns == TS_ESTABLISHED) {
		e->status |= IPS_ASSURED;
	}
	refresh(t, e, timeout);
	return PK_ACCEPT;
}

/* ---- SCTP (nf_conntrack_proto_sctp.c) --------------------------------------- */

/* chunk types (RFC 9260 section 3.2) and the T bit of ABORT/SHUTDOWN_COMPLETE */
#define CH_DATA			0
#define CH_INIT			1
#define CH_INIT_ACK		2
#define CH_HEARTBEAT		4
#define CH_HEARTBEAT_ACK	5
#define CH_ABORT		6
#define CH_SHUTDOWN		7
#define CH_SHUTDOWN_ACK		8
#define CH_ERROR		9
#define CH_COOKIE_ECHO		10
#define CH_COOKIE_ACK		11
#define CH_SHUTDOWN_COMPLETE	14
#define CH_FLAG_T		0x01

#define SCTP_HB_VTAG_FAILED	1	/* a HEARTBEAT's vtag differed: a path change? */

/* nf_conntrack_sctp_timeout_* defaults; NONE takes CLOSED's (timeouts[0]) */
static const int64_t sctp_timeout_default[SC_MAX] = {
	[SC_NONE] = SECS(10), [SC_CLOSED] = SECS(10),
	[SC_COOKIE_WAIT] = SECS(3), [SC_COOKIE_ECHOED] = SECS(3),
	[SC_ESTABLISHED] = SECS(210),
	[SC_SHUTDOWN_SENT] = SECS(3), [SC_SHUTDOWN_RECD] = SECS(3),
	[SC_SHUTDOWN_ACK_SENT] = SECS(3), [SC_HEARTBEAT_SENT] = SECS(30),
};

static void timeouts_default(struct ct_timeouts *to)
{
	memcpy(to->tcp, tcp_timeout_default, sizeof(to->tcp));
	memcpy(to->sctp, sctp_timeout_default, sizeof(to->sctp));
	to->udp = UDP_TIMEOUT;
	to->udp_stream = UDP_TIMEOUT_STREAM;
	to->icmp = to->icmpv6 = ICMP_TIMEOUT;
	to->generic = GENERIC_TIMEOUT;
	to->gre = GRE_TIMEOUT;
	to->gre_stream = GRE_TIMEOUT_STREAM;
	to->frag4 = FRAG4_TIMEOUT;
	to->frag6 = FRAG6_TIMEOUT;
}

/* The sysctls (net.netfilter.nf_conntrack_<name>, nf_conntrack_standalone.c)
 * and the timeout each sets.  SYN_SENT2 has none (it keeps 120 s); SCTP's
 * "closed" sets CLOSED only, as the sysctl does.  The reassembly queues'
 * lifetimes: nf_defrag_ipv4 queues in the namespace's IPv4 fragment directory
 * (net.ipv4.ipfrag_time, ip_fragment.c), nf_defrag_ipv6 in conntrack's own
 * (net.netfilter.nf_conntrack_frag6_timeout, nf_conntrack_reasm.c). */
#define TO(field) offsetof(struct ct_timeouts, field)
static const struct {
	const char *name;
	size_t off;
	const char *path;	/* NULL: /proc/sys/net/netfilter/nf_conntrack_<name> */
} timeout_names[] = {
	{ "generic_timeout", TO(generic), NULL },
	{ "tcp_timeout_syn_sent", TO(tcp[TS_SYN_SENT]), NULL },
	{ "tcp_timeout_syn_recv", TO(tcp[TS_SYN_RECV]), NULL },
	{ "tcp_timeout_established", TO(tcp[TS_ESTABLISHED]), NULL },
	{ "tcp_timeout_fin_wait", TO(tcp[TS_FIN_WAIT]), NULL },
	{ "tcp_timeout_close_wait", TO(tcp[TS_CLOSE_WAIT]), NULL },
	{ "tcp_timeout_last_ack", TO(tcp[TS_LAST_ACK]), NULL },
	{ "tcp_timeout_time_wait", TO(tcp[TS_TIME_WAIT]), NULL },
	{ "tcp_timeout_close", TO(tcp[TS_CLOSE]), NULL },
	{ "tcp_timeout_max_retrans", TO(tcp[TS_RETRANS]), NULL },
	{ "tcp_timeout_unacknowledged", TO(tcp[TS_UNACK]), NULL },
	{ "udp_timeout", TO(udp), NULL },
	{ "udp_timeout_stream", TO(udp_stream), NULL },
	{ "icmp_timeout", TO(icmp), NULL },
	{ "icmpv6_timeout", TO(icmpv6), NULL },
	{ "sctp_timeout_closed", TO(sctp[SC_CLOSED]), NULL },
	{ "sctp_timeout_cookie_wait", TO(sctp[SC_COOKIE_WAIT]), NULL },
	{ "sctp_timeout_cookie_echoed", TO(sctp[SC_COOKIE_ECHOED]), NULL },
	{ "sctp_timeout_established", TO(sctp[SC_ESTABLISHED]), NULL },
	{ "sctp_timeout_shutdown_sent", TO(sctp[SC_SHUTDOWN_SENT]), NULL },
	{ "sctp_timeout_shutdown_recd", TO(sctp[SC_SHUTDOWN_RECD]), NULL },
	{ "sctp_timeout_shutdown_ack_sent", TO(sctp[SC_SHUTDOWN_ACK_SENT]), NULL },
	{ "sctp_timeout_heartbeat_sent", TO(sctp[SC_HEARTBEAT_SENT]), NULL },
	{ "gre_timeout", TO(gre), NULL },
	{ "gre_timeout_stream", TO(gre_stream), NULL },
	{ "frag6_timeout", TO(frag6), NULL },
	{ "ipfrag_time", TO(frag4), "/proc/sys/net/ipv4/ipfrag_time" },
};
#undef TO

const char *ct_timeout_name(size_t i)
{
	return i < sizeof(timeout_names) / sizeof(timeout_names[0]) ? timeout_names[i].name : NULL;
}

int64_t ct_timeout_default(size_t i)
{
	struct ct_timeouts d;
	int64_t v;

	if (i >= sizeof(timeout_names) / sizeof(timeout_names[0]))
		return -1;
	timeouts_default(&d);
	memcpy(&v, (const char *)&d + timeout_names[i].off, sizeof(v));
	return v / USEC;
}

int ct_timeout_index(const char *name)
{
	/* as sysctl -a prints it, or without the directory part */
	if (strncmp(name, "net.netfilter.", 14) == 0)
		name += 14;
	else if (strncmp(name, "net.ipv4.", 9) == 0 || strncmp(name, "net.ipv6.", 9) == 0)
		name += 9;
	if (strncmp(name, "nf_conntrack_", 13) == 0)
		name += 13;
	for (size_t i = 0; i < sizeof(timeout_names) / sizeof(timeout_names[0]); i++)
		if (strcmp(name, timeout_names[i].name) == 0)
			return (int)i;
	errno = ENOENT;
	return -1;
}

int ct_timeout_path(const char *name, char *buf, size_t len)
{
	int i = ct_timeout_index(name);

	if (i < 0)
		return -1;
	if (timeout_names[i].path)
		snprintf(buf, len, "%s", timeout_names[i].path);
	else
		snprintf(buf, len, "/proc/sys/net/netfilter/nf_conntrack_%s", timeout_names[i].name);
	return 0;
}

int ct_table_set_timeout(struct ct_table *t, const char *name, int64_t secs)
{
	int i = ct_timeout_index(name);

	if (i < 0)
		return -1;
	if (secs < 0 || secs > INT32_MAX) {
		errno = ERANGE;
		return -1;
	}
	memcpy((char *)&t->to + timeout_names[i].off, &(int64_t){ SECS(secs) }, sizeof(int64_t));
	return 0;
}

/* The transitions (sctp_conntracks), one string per direction and chunk type
 * that moves the state, one letter per current state in enum order (NONE ..
 * HEARTBEAT_SENT): N none, C closed, W cookie wait, E cookie echoed,
 * S established, s shutdown sent, r shutdown received, a shutdown ack sent,
 * H heartbeat sent, x invalid.  Other chunk types (DATA, SACK, ...) keep it. */
static const char sctp_moves[2][15][10] = {
	{	/* ORIGINAL */
		[CH_INIT] = "CCWESCCaW",	[CH_INIT_ACK] = "CCWESsraC",
		[CH_ABORT] = "CCCCCCCCC",	[CH_SHUTDOWN] = "CCWEssraC",
		[CH_SHUTDOWN_ACK] = "aCWESaaaa", [CH_ERROR] = "CCWESsraC",
		[CH_COOKIE_ECHO] = "CCEESsraC", [CH_COOKIE_ACK] = "CCWSSsraC",
		[CH_SHUTDOWN_COMPLETE] = "CCWESsrCC", [CH_HEARTBEAT] = "HCWESsraH",
		[CH_HEARTBEAT_ACK] = "CCWESsraH",
	},
	{	/* REPLY */
		[CH_INIT] = "xCWESsrax",	[CH_INIT_ACK] = "xWWESsrax",
		[CH_ABORT] = "xCCCCCCCx",	[CH_SHUTDOWN] = "xCWErsrax",
		[CH_SHUTDOWN_ACK] = "xCWESaaax", [CH_ERROR] = "xCWCSsrax",
		[CH_COOKIE_ECHO] = "xCEESsrax", [CH_COOKIE_ACK] = "xCWSSsrax",
		[CH_SHUTDOWN_COMPLETE] = "xCWESsrCx", [CH_HEARTBEAT] = "xCWESsraH",
		[CH_HEARTBEAT_ACK] = "xCWESsraS",
	},
};

static enum sctp_state sctp_next(int dir, enum sctp_state cur, uint8_t type)
{
	static const char letters[] = "NCWESsraH";
	const char *row, *at;

	if (type >= 15 || !sctp_moves[dir][type][0] || cur >= SC_MAX)
		return cur;
	row = sctp_moves[dir][type];
	at = strchr(letters, row[cur]);
	return at && row[cur] ? (enum sctp_state)(at - letters) : SC_MAX;
}

/* The chunk walk (for_each_sctp_chunk): from the end of the common header,
 * while the offset is inside the packet (skb->len) and a chunk header fits
 * there; each chunk's length rounded up to 4 bytes.  A chunk header inside
 * the packet but beyond the captured bytes ends the walk with trunc set. */
struct sctp_walk {
	size_t off;
	bool trunc;
};

static const uint8_t *sctp_chunk(const struct view *v, struct sctp_walk *w)
{
	const uint8_t *ch;
	size_t len;

	if (w->off >= v->klim || !kreadable(v, w->off, 4))
		return NULL;
	if (!readable(v, w->off, 4)) {
		w->trunc = true;
		return NULL;
	}
	ch = v->d + w->off;
	len = rd16(ch + 2);
	/* a zero length (invalid: the first walk stops there) ends the walk */
	w->off = len ? w->off + ((len + 3) & ~(size_t)3) : v->klim;
	return ch;
}

static bool map_has(const uint64_t map[4], uint8_t type)
{
	return map[type >> 6] >> (type & 63) & 1;
}

/* The INIT/INIT_ACK header's initiate tag: the kernel reads the 16-byte
 * sctp_inithdr (it must be in the packet) and uses only the tag, the capture
 * must hold those 4 bytes.  false: the kernel's read fails, or the capture
 * lacks the tag. */
static bool sctp_init_tag(const struct view *v, const uint8_t *ch, uint32_t *tag)
{
	size_t at = (size_t)(ch - v->d) + 4;

	if (!kreadable(v, at, 16) || !readable(v, at, 4))
		return false;
	*tag = rd32(ch + 4);
	return true;
}

/* sctp_new(): which chunks may open an entry, and the tags they teach */
static bool sctp_new(struct ct_entry *e, const struct view *v, size_t off, uint32_t vtag)
{
	struct sctp_ct *sc = &e->sctp;
	struct sctp_walk w = { .off = off + 12 };
	const uint8_t *ch;

	memset(sc, 0, sizeof(*sc));
	while ((ch = sctp_chunk(v, &w))) {
		enum sctp_state ns = sctp_next(IP_CT_DIR_ORIGINAL, SC_NONE, ch[0]);

		if (ns == SC_NONE || ns == SC_MAX)
			return false;		/* "invalid new" */
		if (ch[0] == CH_INIT) {
			if (vtag)
				return false;	/* RFC 9260 8.5.1 (A) */
			if (!sctp_init_tag(v, ch, &sc->vtag[IP_CT_DIR_REPLY]))
				return false;
		} else if (ch[0] == CH_HEARTBEAT) {
			sc->vtag[IP_CT_DIR_ORIGINAL] = vtag;	/* a secondary path */
		} else if (ch[0] == CH_SHUTDOWN_ACK) {
			sc->vtag[IP_CT_DIR_REPLY] = vtag;	/* out of the blue */
		}
	}
	return true;	/* (do_basic_checks walked the same chunks whole) */
}

/* nf_conntrack_sctp_packet(): sctp_error's length check (the checksum is not
 * emulated, see conntrack.h), do_basic_checks, the verification tags
 * (RFC 9260 8.5) and the state machine, chunk by chunk.  A packet found
 * invalid midway keeps the changes of the chunks before it, as in the kernel.
 * Out of line: inlined into ct_in, it cost every TCP packet ~12 instructions. */
static __attribute__((noinline)) enum pk
sctp_packet(struct ct_table *t, struct ct_entry *e, int dir, const struct pkt *p, size_t off)
{
	const struct view view = pkt_view(p), *v = &view;
	struct sctp_ct *sc = &e->sctp;
	struct sctp_walk w = { .off = off + 12 };
	enum sctp_state old, ns = SC_NONE;
	uint64_t map[4] = { 0, 0, 0, 0 };
	bool alone = false, ignore = false;
	const uint8_t *ch;
	unsigned count = 0;
	uint32_t vtag;

	/* the ports and the tag (the checksum is not read) */
	if (!kreadable(v, off, 12) || !readable(v, off, 8))
		return PK_INVALID;		/* "short packet" */
	vtag = rd32(v->d + off + 4);

	/* do_basic_checks: COOKIE_ECHO/ACK only first, INIT, INIT_ACK and
	 * SHUTDOWN_COMPLETE only alone, no zero-length chunk, at least one */
	while ((ch = sctp_chunk(v, &w))) {
		if (ch[0] == CH_INIT || ch[0] == CH_INIT_ACK || ch[0] == CH_SHUTDOWN_COMPLETE)
			alone = true;
		if (((ch[0] == CH_COOKIE_ACK || ch[0] == CH_COOKIE_ECHO || alone) && count) ||
		    rd16(ch + 2) == 0)
			return PK_INVALID;
		map[ch[0] >> 6] |= 1ull << (ch[0] & 63);
		count++;
	}
	if (w.trunc || !count)
		return PK_INVALID;

	if (!(e->status & IPS_CONFIRMED)) {
		/* out of the blue with these: discarded (RFC 9260 8.4) */
		if (map_has(map, CH_ABORT) || map_has(map, CH_SHUTDOWN_COMPLETE) ||
		    map_has(map, CH_COOKIE_ACK))
			return PK_INVALID;
		if (!sctp_new(e, v, off, vtag))
			return PK_INVALID;
	}

	if (!map_has(map, CH_INIT) && !map_has(map, CH_SHUTDOWN_COMPLETE) &&
	    !map_has(map, CH_COOKIE_ECHO) && !map_has(map, CH_ABORT) &&
	    !map_has(map, CH_SHUTDOWN_ACK) && !map_has(map, CH_HEARTBEAT) &&
	    !map_has(map, CH_HEARTBEAT_ACK) && vtag != sc->vtag[dir])
		return PK_INVALID;		/* "verification tag check failed" */

	w = (struct sctp_walk){ .off = off + 12 };
	while ((ch = sctp_chunk(v, &w))) {
		uint8_t type = ch[0];
		uint32_t tag;

		/* the verification tag's special cases (RFC 9260 8.5.1) */
		switch (type) {
		case CH_INIT:
			if (vtag)
				return PK_INVALID;
			break;
		case CH_ABORT:
		case CH_SHUTDOWN_COMPLETE:
			/* the sender's own tag, or with T the peer's */
			if (vtag != sc->vtag[(ch[1] & CH_FLAG_T) ? !dir : dir])
				return PK_INVALID;
			break;
		case CH_COOKIE_ECHO:
			if (vtag != sc->vtag[dir])
				return PK_INVALID;
			break;
		case CH_COOKIE_ACK:
			sc->init[0] = sc->init[1] = 0;
			break;
		case CH_HEARTBEAT:
		case CH_HEARTBEAT_ACK:
			if (!sc->vtag[dir]) {
				sc->vtag[dir] = vtag;
			} else if (vtag != sc->vtag[dir]) {
				if (map_has(map, CH_DATA) || ignore)
					return PK_INVALID;
				if (type == CH_HEARTBEAT) {
					/* perhaps another path: let it pass, unrenewed */
					sc->flags |= SCTP_HB_VTAG_FAILED;
					sc->last_dir = (uint8_t)dir;
					ignore = true;
					continue;
				}
				/* the answer from the other side: the new tags */
				if (!(sc->flags & SCTP_HB_VTAG_FAILED) || sc->last_dir == dir)
					return PK_INVALID;
				sc->flags &= (uint8_t)~SCTP_HB_VTAG_FAILED;
				sc->vtag[dir] = vtag;
				sc->vtag[!dir] = 0;
			} else {
				sc->flags &= (uint8_t)~SCTP_HB_VTAG_FAILED;
			}
			break;
		default:
			break;
		}

		old = (enum sctp_state)sc->state;
		ns = sctp_next(dir, old, type);
		if (ns == SC_MAX)
			return PK_INVALID;	/* "invalid" for this state */

		if (type == CH_INIT) {
			if (!sctp_init_tag(v, ch, &tag))
				return PK_INVALID;
			/* a retransmitted or stale INIT (the peer's tag) is not a new one */
			if (old == SC_NONE || sc->vtag[!dir] != tag) {
				if (sc->init[dir] && sc->init[!dir])
					sc->init[!dir] = 0;
				sc->init[dir] = 1;
			}
			sc->vtag[!dir] = tag;
			/* an INIT retransmit on a closed entry does not renew it */
			if (ns == SC_CLOSED && old == SC_CLOSED && (e->status & IPS_CONFIRMED))
				ignore = true;
		} else if (type == CH_INIT_ACK) {
			uint32_t known = sc->vtag[!dir];

			if (!sctp_init_tag(v, ch, &tag))
				return PK_INVALID;
			if (!sc->init[!dir] && known && known != tag)
				return PK_INVALID;
			if (sc->init[dir] && sc->init[!dir] && known != tag)
				return PK_INVALID;	/* INIT collision */
			sc->vtag[!dir] = tag;
		}

		sc->state = (uint8_t)ns;
		if (old != ns && ns == SC_ESTABLISHED)
			e->status |= IPS_ASSURED;
	}
	/* (a truncated walk cannot happen: do_basic_checks walked it whole) */
	if (ignore)
		return PK_ACCEPT_NOACCT;	/* let through, timeout not renewed */
	refresh(t, e, t->to.sctp[ns]);
	return PK_ACCEPT;
}

/* ---- UDP, ICMP, generic ----------------------------------------------------- */

/* udp_error() / udplite_error(): the length checks (any thread may ask). */
static bool udp_len_ok(const struct view *v, uint8_t proto, size_t off)
{
	size_t udplen = v->klim - off;

	if (!readable(v, off, 8) || udplen < 8)
		return false;
	if (proto == IPPROTO_UDP) {
		size_t ulen = rd16(v->d + off + 4);

		return ulen <= udplen && ulen >= 8;
	}
	/* UDP-Lite: the length field is the checksum coverage (0: the whole
	 * datagram), and UDP-Lite mandates a checksum: a zero one is "checksum
	 * missing", invalid (checked whatever nf_conntrack_checksum says). */
	size_t cscov = rd16(v->d + off + 4);

	if (cscov != 0 && (cscov < 8 || cscov > udplen))
		return false;
	return rd16(v->d + off + 6) != 0;
}

/* udp_error() length checks (hint: their answer, found beforehand), then
 * nf_conntrack_udp_packet(): replied traffic still alive 2 s after the first
 * packet becomes a stream (120 s, ASSURED). */
static enum pk udp_packet(struct ct_table *t, struct ct_entry *e, const struct pkt *p,
			  size_t off, const struct ct_hint *hint)
{
	if (hint) {
		if (!hint->udp_ok)
			return PK_INVALID;
	} else {
		const struct view v = pkt_view(p);

		if (!udp_len_ok(&v, e->tuple[0].proto, off))
			return PK_INVALID;
	}
	if (!(e->status & IPS_CONFIRMED))
		e->udp_stream_ts = t->now + SECS(2);
	if (e->status & IPS_SEEN_REPLY) {
		int64_t extra = t->to.udp;
		bool stream = false;

		if (t->now > e->udp_stream_ts) {
			extra = t->to.udp_stream;
			stream = !(e->status & IPS_ASSURED);
		}
		refresh(t, e, extra);
		if (stream)
			e->status |= IPS_ASSURED;
	} else {
		refresh(t, e, t->to.udp);
	}
	return PK_ACCEPT;
}

/* nf_conntrack_gre_packet: 30 s until replied, then 180 s and ASSURED (both
 * families since the kernel dropped its IPv4-only check, 5.12). */
static enum pk gre_packet(struct ct_table *t, struct ct_entry *e)
{
	if (e->status & IPS_SEEN_REPLY) {
		refresh(t, e, t->to.gre_stream);
		e->status |= IPS_ASSURED;
	} else {
		refresh(t, e, t->to.gre);
	}
	return PK_ACCEPT;
}

/* nf_conntrack_icmp_packet / nf_conntrack_icmpv6_packet: only queries may
 * create an entry (echo, timestamp, info, address mask; echo and node info
 * for ICMPv6). */
static enum pk icmp_packet(struct ct_table *t, struct ct_entry *e)
{
	uint8_t type = e->tuple[0].icmp_type;

	if (e->tuple[0].nfproto == NFPROTO_IPV4) {
		if (type != 8 && type != 13 && type != 15 && type != 17)
			return PK_INVALID;
	} else if (!(e->status & IPS_CONFIRMED) && type != 128 && type != 139) {
		return PK_INVALID;
	}
	refresh(t, e, e->tuple[0].nfproto == NFPROTO_IPV4 ? t->to.icmp : t->to.icmpv6);
	return PK_ACCEPT;
}

/* ---- nf_conntrack_checksum ---------------------------------------------------- */

enum csum_res { CSUM_GOOD, CSUM_BAD, CSUM_CUT };

/* Is the packet's checksum conntrack's to verify?  Only with
 * nf_conntrack_checksum=1 and at PRE_ROUTING (every protocol's error check:
 * "we skip checking packets on the outgoing path"), i.e. for a packet the
 * host receives; not for one on lo (the sender's stack filled in a checksum
 * the capture may not show: CHECKSUM_PARTIAL, which nf_checksum does not
 * recompute; and a looped packet carries the conntrack its LOCAL_OUT pass
 * attached, which nf_conntrack_in takes as it is). */
static bool csum_wanted(const struct ct_table *t, const struct pkt *p)
{
	return t->checksum && p->hook != NF_INET_LOCAL_OUT && p->hook != NF_INET_POST_ROUTING &&
	       !(p->iifname && strcmp(p->iifname, "lo") == 0);
}

/* What conntrack sums to verify a packet's transport checksum (each
 * protocol's error function, on a CHECKSUM_NONE skb, the transport header at
 * off), or false when it verifies nothing for this packet.  The protocol's
 * other checks are left to it: a packet they find invalid is invalid whatever
 * the sum says, so a header too short to read verifies nothing here. */
struct csum_spec {
	bool crc;		/* SCTP's CRC32c over [off, end), else the Internet checksum */
	size_t field;		/* offset of the checksum field in the packet */
	size_t end;		/* the sum covers up to here */
	uint64_t pseudo;	/* the pseudo header's length and protocol words */
	bool addrs;		/* ... and its addresses */
	bool zero_is_none;	/* UDP: a field of 0 means no checksum */
};

static bool csum_spec_of(const struct view *v, uint8_t proto, size_t off, struct csum_spec *c)
{
	size_t len = v->klim - off;		/* skb->len - dataoff */
	bool v4 = v->nfproto == NFPROTO_IPV4;

	memset(c, 0, sizeof(*c));
	c->end = v->klim;
	c->addrs = true;
	switch (proto) {
	case IPPROTO_TCP:
		/* tcp_error(): nf_checksum(..., IPPROTO_TCP, pf) */
		if (len < 20)
			return false;
		c->field = off + 16;
		c->pseudo = len + IPPROTO_TCP;
		return true;
	case IPPROTO_UDP:
		/* udp_error(): a zero checksum is "no checksum" (IPv6 too:
		 * conntrack leaves that to the UDP layer) */
		if (len < 8)
			return false;
		c->field = off + 6;
		c->pseudo = len + IPPROTO_UDP;
		c->zero_is_none = true;
		return true;
	case IPPROTO_UDPLITE: {
		/* udplite_error(): nf_checksum_partial(skb, hook, dataoff, cscov,
		 * IPPROTO_UDP, pf) -- the kernel passes UDP's protocol number,
		 * not UDP-Lite's, so a right UDP-Lite checksum fails there; and
		 * for IPv4 nf_ip_checksum_partial() hands csum_tcpudp_nofold()
		 * the protocol as the length and the length (cut to 8 bits) as
		 * the protocol.  Mirrored as the kernel computes it. */
		size_t cscov;

		if (len < 8 || !readable(v, off, 8))
			return false;
		cscov = rd16(v->d + off + 4);
		if (cscov == 0)
			cscov = len;
		if (cscov < 8 || cscov > len)
			return false;		/* udplite_error's own invalid case */
		c->field = off + 6;
		c->end = off + cscov;
		c->pseudo = v4 ? IPPROTO_UDP + (len & 0xff) : len + IPPROTO_UDP;
		return true;
	}
	case IPPROTO_ICMP:
		/* nf_conntrack_icmpv4_error(): nf_ip_checksum(..., IPPROTO_ICMP):
		 * no pseudo header */
		if (!v4 || len < 8)
			return false;
		c->field = off + 2;
		c->addrs = false;
		return true;
	case IPPROTO_ICMPV6:
		/* nf_conntrack_icmpv6_error(): nf_ip6_checksum(..., IPPROTO_ICMPV6) */
		if (v4 || len < 8)
			return false;
		c->field = off + 2;
		c->pseudo = len + IPPROTO_ICMPV6;
		return true;
	case IPPROTO_SCTP:
		/* sctp_error(): for a CHECKSUM_NONE skb (what a packet from the
		 * wire is unless its NIC verified it), sctp_compute_cksum() over
		 * dataoff..end with the checksum field as zero */
		if (len < 12)
			return false;
		c->crc = true;
		c->field = off + 8;
		return true;
	}
	return false;	/* GRE and the generic tracker verify nothing */
}

/* The sum of c over the packet with its checksum field as zero: the ones'
 * complement sum nf_ip_checksum() / nf_ip6_checksum() and their _partial
 * variants make (the pseudo header, then the bytes from the start of the skb
 * -- IPv4: the IP header, which its own valid checksum makes neutral; IPv6:
 * the header is summed and subtracted again -- to c->end), folded; or SCTP's
 * CRC32c, complemented.  The caller made sure the bytes are there. */
static uint32_t csum_compute(const struct view *v, size_t off, const struct csum_spec *c)
{
	static const uint8_t zero[4];
	bool v4 = v->nfproto == NFPROTO_IPV4;
	size_t from = c->crc || !v4 ? off : v->nh;
	size_t flen = c->crc ? 4 : 2;
	uint64_t s = c->pseudo;

	if (c->crc) {
		uint32_t crc = crc32c(~0u, v->d + from, c->field - from);

		crc = crc32c(crc, zero, flen);
		return ~crc32c(crc, v->d + c->field + flen, c->end - c->field - flen);
	}
	/* the source and destination are adjacent in both headers */
	if (c->addrs)
		s = csum_add(s, v->d + v->nh + (v4 ? 12 : 8), v4 ? 8 : 32);
	s = csum_add(s, v->d + from, c->field - from);
	s = csum_add(s, v->d + c->field + flen, c->end - c->field - flen);
	return csum_fold(s);
}

static uint32_t csum_field(const uint8_t *f, bool crc)
{
	return crc ? (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 24 :
		     rd16(f);
}

/* The checksum check of p's protocol: CSUM_CUT when the capture lacks bytes
 * it sums. */
static enum csum_res l4_checksum(const struct view *v, uint8_t proto, size_t off)
{
	struct csum_spec c;
	uint32_t field, sum;

	if (!csum_spec_of(v, proto, off, &c))
		return CSUM_GOOD;
	/* UDP without a checksum is so whatever the capture cut after it */
	if (c.zero_is_none && readable(v, c.field, 2) && rd16(v->d + c.field) == 0)
		return CSUM_GOOD;
	if (c.end > v->lim)
		return CSUM_CUT;
	field = csum_field(v->d + c.field, c.crc);
	sum = csum_compute(v, off, &c);
	if (c.crc)
		return sum == field ? CSUM_GOOD : CSUM_BAD;
	/* with the field: sum + field folds to 0xffff */
	return csum_fold((uint64_t)sum + field) == 0xffff ? CSUM_GOOD : CSUM_BAD;
}

bool ct_checksum_fix(uint8_t *ip, size_t len, size_t have, uint8_t nfproto)
{
	struct view v = { .d = ip, .nh = 0, .lim = len, .klim = len, .nfproto = nfproto };
	struct csum_spec c;
	uint8_t proto;
	size_t off;
	uint32_t sum;

	if (!get_l4(&v, &proto, &off) || off > len || !csum_spec_of(&v, proto, off, &c))
		return false;
	if (c.zero_is_none && csum_field(ip + c.field, false) == 0)
		return false;		/* none: nothing to verify */
	if (c.end <= have)
		return false;		/* all there: the evaluator judged the sum as it is */
	sum = csum_compute(&v, off, &c);
	if (c.crc) {
		ip[c.field] = (uint8_t)sum;
		ip[c.field + 1] = (uint8_t)(sum >> 8);
		ip[c.field + 2] = (uint8_t)(sum >> 16);
		ip[c.field + 3] = (uint8_t)(sum >> 24);
	} else {
		uint16_t f = (uint16_t)(0xffffu - sum);

		if (f == 0)		/* the same in ones' complement; 0 is "none" for UDP */
			f = 0xffff;
		ip[c.field] = (uint8_t)(f >> 8);
		ip[c.field + 1] = (uint8_t)f;
	}
	return true;
}

/* The check for p: true when the packet is invalid for its checksum (counted);
 * a checksum the capture cut marks the packet undecidable (p->ct_unsure). */
static bool csum_bad(struct ct_table *t, struct pkt *p, uint8_t proto, size_t off)
{
	struct view v = pkt_view(p);
	struct csum_spec c;
	enum csum_res res;

	/* reassembled from a fragment the capture cut: its zeros may stand for
	 * bytes the sum covers (whether they do is not tracked), nothing to sum */
	if (p->frag_cut)
		res = csum_spec_of(&v, proto, off, &c) ? CSUM_CUT : CSUM_GOOD;
	else
		res = l4_checksum(&v, proto, off);
	switch (res) {
	case CSUM_BAD:
		t->st.bad_checksum++;
		p->csum_bad = true;
		return true;
	case CSUM_CUT:
		t->st.checksum_cut++;
		p->ct_unsure = true;
		return false;
	case CSUM_GOOD:
		break;
	}
	return false;
}

/* ---- nf_conntrack_in ---------------------------------------------------------- */

/* NF_CT_STATE_BIT(ctinfo) = 1 << (ctinfo % IP_CT_IS_REPLY + 1), tabulated:
 * no division per packet */
static const uint8_t ct_state_bit[IP_CT_NUMBER] = {
	[IP_CT_ESTABLISHED] = CT_STATE_ESTABLISHED, [IP_CT_RELATED] = CT_STATE_RELATED,
	[IP_CT_NEW] = CT_STATE_NEW, [IP_CT_ESTABLISHED_REPLY] = CT_STATE_ESTABLISHED,
	[IP_CT_RELATED_REPLY] = CT_STATE_RELATED,
};

static void set_ct(struct pkt *p, struct ct_entry *e, unsigned ctinfo, bool own_tuple)
{
	p->ct_own_tuple = own_tuple;
	p->ct_present = true;
	p->ct = e;
	p->ctinfo = (uint8_t)ctinfo;
	p->ct_state = ct_state_bit[ctinfo];
	p->ct_dir = ctinfo >= IP_CT_IS_REPLY ? IP_CT_DIR_REPLY : IP_CT_DIR_ORIGINAL;
	p->ct_status = e->status;
}

static enum ct_verdict no_ct(struct ct_table *t, struct pkt *p)
{
	t->st.invalid++;
	p->ct_state = CT_STATE_INVALID;
	return CT_ACCEPT;
}

/* nf_conntrack_inet_error(): an ICMP error quoting one of our connections is
 * RELATED to it, in the direction of the connection the outer packet goes. */
static enum ct_verdict icmp_error(struct ct_table *t, struct pkt *p, const struct view *outer,
				  size_t inner_nh)
{
	struct view in = *outer;
	struct ct_tuple orig, inv;
	struct ct_entry *e;
	uint8_t proto;
	size_t off;
	int dir;

	in.nh = inner_nh;
	if (in.nfproto == NFPROTO_IPV4 ? !readable(&in, inner_nh, 20) : !readable(&in, inner_nh, 40))
		return no_ct(t, p);
	if (!get_l4(&in, &proto, &off) || !get_tuple(&in, proto, off, &orig) ||
	    !invert_tuple(&orig, &inv))
		return no_ct(t, p);
	e = lookup(t, &inv, &dir);
	if (!e)
		return no_ct(t, p);
	/* the outer destination must be the one this direction goes to */
	if (memcmp(outer->nfproto == NFPROTO_IPV4 ? outer->d + outer->nh + 16 :
		   outer->d + outer->nh + 24, e->tuple[dir].dst,
		   outer->nfproto == NFPROTO_IPV4 ? 4 : 16) != 0)
		return no_ct(t, p);
	set_ct(p, e, dir == IP_CT_DIR_REPLY ? IP_CT_RELATED_REPLY : IP_CT_RELATED, false);
	return CT_ACCEPT;
}

/* Capture time in microseconds.  pcapng timestamps are 64-bit and a crafted
 * file can hold any value: clamp to +-2^40 s (tens of millennia) so that the
 * conversion and every timeout added to it stay far from int64 overflow. */
static int64_t pkt_time_us(const struct pkt *p)
{
	int64_t s = (int64_t)p->ts.tv_sec, us = (int64_t)p->ts.tv_usec;
	const int64_t lim = (int64_t)1 << 40;

	if (s > lim)
		s = lim;
	else if (s < -lim)
		s = -lim;
	if (us < 0 || us >= USEC)
		us = 0;
	return s * USEC + us;
}

/* The transport header, tuple and hash ct_in starts from (get_l4,
 * resolve_normal_ct's first steps), or false when the packet has none;
 * pure, any thread may call it. */
bool ct_packet_hint(const struct pkt *p, struct ct_hint *hint)
{
	size_t off = 0;

	hint->valid = (p->nfproto == NFPROTO_IPV4 || p->nfproto == NFPROTO_IPV6) &&
		      get_l4_pkt(p, &hint->proto, &off) &&
		      get_tuple_pkt(p, hint->proto, off, &hint->k);
	hint->off = (uint32_t)off;
	hint->tcp_ok = hint->udp_ok = false;
	if (hint->valid) {
		const struct view v = pkt_view(p);

		hint->h = tuple_hash(&hint->k);
		if (hint->proto == IPPROTO_TCP)
			hint->tcp_ok = tcp_parse(&v, hint->off, &hint->tcp);
		else if (hint->proto == IPPROTO_UDP || hint->proto == IPPROTO_UDPLITE)
			hint->udp_ok = udp_len_ok(&v, hint->proto, hint->off);
	}
	return hint->valid;
}

/* Cache hints for a packet a few ahead: its slot, and (once the slot is in
 * the cache, a step later) the entry it holds.  Reads nothing it relies on. */
void ct_prefetch_slot(const struct ct_table *t, uint32_t h)
{
	__builtin_prefetch(&t->slot[h & (t->nslots - 1)]);
}

uint64_t ct_prefetch_entry(const struct ct_table *t, uint32_t h)
{
	const struct ct_slot *s = &t->slot[h & (t->nslots - 1)];

	if (!s->e || s->h != h)
		return 0;
	__builtin_prefetch(s->e);
	__builtin_prefetch((const char *)s->e + 64);
	__builtin_prefetch((const char *)s->e + 128);
	__builtin_prefetch((const char *)s->e + 192);
	__builtin_prefetch(s->e->ext);
	__builtin_prefetch(s->e->ext + CT_EXT_SIZE - 1);	/* (the caller's area spans two lines) */
	return s->user;
}

enum ct_verdict ct_in(struct ct_table *t, struct pkt *p)
{
	return ct_in_hint(t, p, NULL);
}

enum ct_verdict ct_in_hint(struct ct_table *t, struct pkt *p, const struct ct_hint *hint)
{
	int64_t ts = pkt_time_us(p);
	struct ct_tuple k, r;
	const struct ct_tuple *kp;	/* the packet's tuple: the hint's, or k */
	struct ct_entry *e;
	unsigned ctinfo;
	uint8_t proto;
	size_t off;
	enum pk res;
	uint32_t h;
	int dir, tries = 0;

	discard_pending(t);
	reap_zombie(t);
	p->ct_present = false;
	p->ct = NULL;
	p->ctinfo = 0;
	p->ct_dir = 0;
	p->ct_status = 0;
	p->ct_state = CT_STATE_INVALID;
	p->ct_unsure = false;
	p->csum_bad = false;
	if (!t->have_now || ts > t->now)
		t->now = ts;
	t->have_now = true;

	if (p->nfproto != NFPROTO_IPV4 && p->nfproto != NFPROTO_IPV6)
		return no_ct(t, p);
	if (hint && !hint->valid)
		hint = NULL;
	/* the packet's view is built where it is read: a hinted TCP packet
	 * needs none */
	if (hint) {
		proto = hint->proto;
		off = hint->off;
	} else {
		struct view v = pkt_view(p);

		if (!get_l4(&v, &proto, &off))
			return no_ct(t, p);
	}

	/* nf_conntrack_handle_icmp: errors and ICMPv6 ND/MLD first */
	if (is_icmp(p->nfproto, proto)) {
		struct view v = pkt_view(p);
		uint8_t type;

		/* a valid hint's tuple holds the type (get_tuple read 8 bytes) */
		if (!hint && !readable(&v, off, 8))
			return no_ct(t, p);		/* "short packet" */
		/* the checksum next, before the type tells error from query */
		if (csum_wanted(t, p) && csum_bad(t, p, proto, off))
			return no_ct(t, p);
		type = hint ? hint->k.icmp_type : v.d[off];
		if (v.nfproto == NFPROTO_IPV4) {
			if (type > 18)
				return no_ct(t, p);	/* "invalid icmp type" */
			if (type == 3 || type == 4 || type == 5 || type == 11 || type == 12)
				return icmp_error(t, p, &v, off + 8);
		} else {
			/* noct_valid_new[]: ND, MLD and (since 2024, "fix
			 * ct-state for ICMPv6 Multicast Router Discovery")
			 * MRD advertisements and solicitations */
			if ((type >= 130 && type <= 136) || type == 143 || type == 151 ||
			    type == 152) {
				p->ctinfo = PKT_CTINFO_UNTRACKED;
				p->ct_state = CT_STATE_UNTRACKED;
				t->st.untracked++;
				return CT_ACCEPT;
			}
			if (type < 128)
				return icmp_error(t, p, &v, off + 8);
		}
	}

repeat:
	/* resolve_normal_ct */
	if (hint && tries == 0) {
		kp = &hint->k;		/* read in place: no copy */
		h = hint->h;
	} else {
		struct view v = pkt_view(p);

		if (!get_tuple(&v, proto, off, &k))
			return no_ct(t, p);
		kp = &k;
		h = tuple_hash(&k);
	}
	e = lookup_h(t, kp, h, &dir);
	if (!e) {
		uint32_t rh;

		if (!invert_tuple(kp, &r))
			return no_ct(t, p);
		if (t->count >= t->max) {
			/* the kernel's gc worker runs in the background; a sweep per new
			 * flow would make a flood of new flows quadratic: at most one
			 * sweep per second of capture time while the table is full */
			if (!t->full_gc_done || t->now - t->full_gc_at >= USEC) {
				gc_expired(t);
				t->full_gc_done = true;
				t->full_gc_at = t->now;
			}
			if (t->count >= t->max && !early_drop(t)) {
				t->st.table_full_drops++;
				t->st.table_full_warning = true;
				return CT_DROP;	/* "table full, dropping packet" */
			}
		}
		if (!hash_reserve(t)) {
			t->st.table_full_drops++;
			return CT_DROP;
		}
		e = entry_alloc(t);
		if (!e) {
			t->st.table_full_drops++;
			return CT_DROP;
		}
		e->tuple[0] = *kp;
		e->tuple[1] = r;
		/* kept for hash_insert / hash_remove, which then hash nothing */
		rh = tuple_hash(&r);
		e->hash[0] = h;
		e->hash[1] = rh;
		e->id = t->next_id++;
		/* the reply direction's slot, which ct_confirm will fill after
		 * the evaluation: on its way to the cache meanwhile */
		__builtin_prefetch(&t->slot[rh & (t->nslots - 1)], 1);

		e->first_frame = p->frame;
		t->count++;
		t->st.created++;
		t->pending = e;
		dir = IP_CT_DIR_ORIGINAL;
	}
	if (dir == IP_CT_DIR_REPLY)
		ctinfo = IP_CT_ESTABLISHED_REPLY;
	else if (e->status & IPS_SEEN_REPLY)
		ctinfo = IP_CT_ESTABLISHED;
	else
		ctinfo = IP_CT_NEW;

	/* nf_conntrack_handle_packet: each protocol's error function checks
	 * the checksum first (ICMP's ran above) */
	if (!is_icmp(p->nfproto, proto) && csum_wanted(t, p) && csum_bad(t, p, proto, off))
		res = PK_INVALID;
	else if (proto == IPPROTO_TCP)
		res = tcp_packet(t, e, dir, p, off, hint);
	else if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)
		res = udp_packet(t, e, p, off, hint);
	else if (is_icmp(p->nfproto, proto))
		res = icmp_packet(t, e);
	else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		res = PK_INVALID;	/* nf_conntrack_icmp(v6)_packet: the other family's */
	else if (proto == IPPROTO_GRE)
		res = gre_packet(t, e);
	else if (proto == IPPROTO_SCTP)
		res = sctp_packet(t, e, dir, p, off);
	else {
		refresh(t, e, t->to.generic);
		res = PK_ACCEPT;
	}

	switch (res) {
	case PK_REPEAT:
		/* TCP reopen of a closed connection: kill it and start over */
		if (e == t->pending)
			discard_pending(t);
		else
			entry_kill(t, e, CT_GONE_KILLED);
		if (++tries > 1)
			return CT_DROP;
		goto repeat;
	case PK_INVALID_UNSURE:
		p->ct_unsure = true;
		/* fall through */
	case PK_INVALID:
		if (e == t->pending)
			discard_pending(t);
		return no_ct(t, p);
	case PK_DROP:
		if (e == t->pending)
			discard_pending(t);
		return CT_DROP;
	case PK_ACCEPT:
	case PK_ACCEPT_NOACCT:
	case PK_KILLED:
		break;
	}
	if (res != PK_ACCEPT_NOACCT) {
		e->packets[dir]++;
		e->bytes[dir] += p->len;
	}
	if (ctinfo == IP_CT_ESTABLISHED_REPLY)
		e->status |= IPS_SEEN_REPLY;
	/* nf_ct_delete set IPS_DYING inside the tracker, before the filter
	 * hooks: the packet's own `ct status dying` matches */
	if (res == PK_KILLED)
		e->status |= IPS_DYING;
	/* e->tuple[dir] is the tuple just looked up, made from these bytes */
	set_ct(p, e, ctinfo, (proto == p->l4proto) & (off == p->th_off));
	if (res == PK_KILLED) {
		/* nf_ct_kill_acct: out of the table now, the packet keeps it */
		if (e == t->pending) {
			t->pending = NULL;
		} else {
			hash_remove(t, e);
		}
		if (t->reaper)
			t->reaper(e, CT_GONE_KILLED, t->reaper_arg);
		t->count--;
		e->next = NULL;
		e->prev = t->zombie;
		t->zombie = e;
	}
	return CT_ACCEPT;
}

static void reap_zombie(struct ct_table *t)
{
	while (t->zombie) {
		struct ct_entry *e = t->zombie;

		t->zombie = e->prev;
		entry_release(t, e);
	}
}

/* nf_conntrack_confirm / the unconfirmed entry's fate when the skb is freed */
void ct_confirm(struct ct_table *t, struct pkt *p, bool accepted)
{
	struct ct_entry *e = p->ct;

	if (!e || e != t->pending)
		return;
	t->pending = NULL;
	if (!accepted) {
		entry_free(t, e, CT_GONE_DISCARDED);
		p->ct = NULL;
		return;
	}
	e->status |= IPS_CONFIRMED;
	e->timeout += t->now;
	hash_insert(t, e);
	t->st.confirmed++;
}

static struct view pkt_view(const struct pkt *p)
{
	struct view v = { .d = p->data, .nh = p->nh_off, .nfproto = p->nfproto };

	v.lim = p->nh_off + p->avail;
	v.klim = p->nh_off + p->len;
	return v;
}

int ct_transport_checksum(const struct pkt *p)
{
	struct view v = pkt_view(p);

	if (p->frag_cut)
		return -1;
	switch (l4_checksum(&v, p->l4proto, p->th_off)) {
	case CSUM_GOOD: return 1;
	case CSUM_BAD: return 0;
	case CSUM_CUT: break;
	}
	return -1;
}

static bool get_l4_pkt(const struct pkt *p, uint8_t *proto, size_t *off)
{
	struct view v = pkt_view(p);

	return get_l4(&v, proto, off);
}

static bool get_tuple_pkt(const struct pkt *p, uint8_t proto, size_t off, struct ct_tuple *k)
{
	struct view v = pkt_view(p);

	return get_tuple(&v, proto, off, k);
}

/* ---- nf_defrag_ipv4 / nf_defrag_ipv6 ------------------------------------------ */

static void fq_release(struct frag_queue *q)
{
	q->used = false;
}

static struct frag_queue *fq_find(struct ct_table *t, const struct pkt *p, const uint8_t *src,
				  const uint8_t *dst, size_t alen, uint8_t proto)
{
	struct frag_queue *q, *free_q = NULL, *oldest = NULL;

	for (unsigned i = 0; i < t->fq_hi; i++) {
		q = &t->fq[i];
		if (q->used && q->expires <= t->now) {
			t->st.frags_expired++;
			fq_release(q);
		}
		if (!q->used) {
			if (!free_q)
				free_q = q;
			continue;
		}
		if (q->nfproto == p->nfproto && q->id == p->frag_id && q->proto == proto &&
		    !memcmp(q->src, src, alen) && !memcmp(q->dst, dst, alen))
			return q;
		if (!oldest || q->created < oldest->created)
			oldest = q;
	}
	while (t->fq_hi && !t->fq[t->fq_hi - 1].used)
		t->fq_hi--;
	if (free_q && free_q >= t->fq + t->fq_hi)
		free_q = NULL;		/* above the new mark: take the lowest below */
	q = free_q;
	if (!q && t->fq_hi < CT_FRAG_QUEUES)
		q = &t->fq[t->fq_hi];
	if (!q) {		/* over the memory limit: the oldest queue goes */
		t->st.frags_expired++;
		q = oldest;
	}
	if (q >= t->fq + t->fq_hi)
		t->fq_hi = (unsigned)(q - t->fq) + 1;
	/* the buffers stay with the slot (grown as datagrams need them) */
	uint8_t *data = q->data, *head = q->head;
	struct frag_range *r = q->r;
	size_t data_cap = q->data_cap, head_cap = q->head_cap;
	unsigned rcap = q->rcap;

	memset(q, 0, sizeof(*q));
	q->data = data;
	q->data_cap = data_cap;
	q->head = head;
	q->head_cap = head_cap;
	q->r = r;
	q->rcap = rcap;
	q->used = true;
	q->nfproto = p->nfproto;
	q->id = p->frag_id;
	q->proto = proto;
	memcpy(q->src, src, alen);
	memcpy(q->dst, dst, alen);
	q->created = t->now;
	q->expires = t->now + (p->nfproto == NFPROTO_IPV4 ? t->to.frag4 : t->to.frag6);
	return q;
}

/* ipv6frag_thdr_truncated() (include/net/ipv6_frag.h), which
 * nf_ct_frag6_gather() applies to every fragment before queueing it (RFC 8200
 * section 4.5): a FIRST fragment whose upper-layer header is cut (tcphdr 20,
 * udphdr 8, icmp6hdr 8 bytes, anything else 1) is not reassembled; gather
 * returns 0 and ipv6_defrag() lets it go on as it is.  The walk is
 * ipv6_skip_exthdr() from the fragment header, bounded by skb->len; a walk
 * that fails answers "not truncated". */
static bool ipv6_first_frag_truncated(const struct pkt *p)
{
	size_t end = p->nh_off + p->len, start = p->frag_hdr_off, need;
	uint8_t nh = 44;		/* NEXTHDR_FRAGMENT */
	uint16_t fo = 0;

	for (;;) {
		size_t hdrlen;

		if (nh == 59)
			return false;	/* ipv6_skip_exthdr fails on NEXTHDR_NONE: "not truncated" */
		if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60)
			break;		/* not an extension header */
		if (start + 2 > end)
			return false;
		if (nh == 44) {
			if (start + 4 > end)
				return false;
			fo = rd16(p->data + start + 2);
			if (fo & ~7u)
				break;
			hdrlen = 8;
		} else if (nh == 51) {
			hdrlen = ((size_t)p->data[start + 1] + 2) * 4;	/* ipv6_authlen */
		} else {
			hdrlen = ((size_t)p->data[start + 1] + 1) * 8;	/* ipv6_optlen */
		}
		nh = p->data[start];
		start += hdrlen;
	}
	if (fo & 0xfff8)
		return false;
	switch (nh) {
	case 6: need = 20; break;
	case 17: need = 8; break;
	case 58: need = 8; break;
	default: need = 1; break;
	}
	return start + need > end;
}

/* inet_frag_queue_insert(): fragments make runs of contiguous data.  One
 * that ends past the fragment ending last extends that fragment's run when it
 * starts where it ends, starts a run when it starts later, and overlaps it
 * when it starts earlier; any other lies inside a run (a duplicate: dropped,
 * the queue kept), overlaps one (the whole datagram goes), or starts a run of
 * its own between them.  Runs are not merged afterwards. */
static int frag_insert(struct frag_queue *q, uint32_t start, uint32_t end)
{
	if (q->nr && q->tail_end >= end) {
		for (unsigned i = 0; i < q->nr; i++) {
			if (end <= q->r[i].start || start >= q->r[i].end)
				continue;
			return start >= q->r[i].start && end <= q->r[i].end ? FI_DUP : FI_OVERLAP;
		}
	} else if (q->nr) {
		if (start < q->tail_end)
			return FI_OVERLAP;
		if (start == q->tail_end) {
			q->r[q->tail_run].end = end;
			q->tail_end = end;
			q->meat += end - start;
			return FI_OK;
		}
	}
	if (q->nr == q->rcap) {
		/* the kernel keeps runs in an rbtree: no count limit (at most
		 * one a fragment, 8,192 for 8-byte fragments) */
		unsigned ncap = q->rcap ? 2 * q->rcap : 8;
		struct frag_range *nr = realloc(q->r, ncap * sizeof(*nr));

		if (!nr)
			return FI_FULL;
		q->r = nr;
		q->rcap = ncap;
	}
	q->r[q->nr].start = start;
	q->r[q->nr].end = end;
	if (!q->nr || end > q->tail_end) {
		q->tail_run = q->nr;
		q->tail_end = end;
	}
	q->nr++;
	q->meat += end - start;
	return FI_OK;
}

static enum ct_frag_result defrag(struct ct_table *t, struct pkt *p);

/* net.ipv4.ipfrag_max_dist (default 64) */
#define FRAG_MAX_DIST 64

/* Fibonacci hashing: the product's high bits (the low ones depend on the
 * address's low bits alone) */
static size_t peer_slot(uint32_t a, size_t n)
{
	return (size_t)(((uint64_t)a * 11400714819323198485ull) >> 32) & (n - 1);
}

/* The source's fragment counter (inet_getpeer_v4's peer->rid), NULL when
 * memory runs out (the check is then skipped). */
static uint32_t *peer_rid(struct ct_table *t, const uint8_t *src)
{
	uint32_t a = (uint32_t)src[0] << 24 | (uint32_t)src[1] << 16 | (uint32_t)src[2] << 8 | src[3];

	if ((t->peers_used + 1) * 4 > t->npeers * 3) {
		size_t n = t->npeers ? 2 * t->npeers : 256;
		struct frag_peer *np = calloc(n, sizeof(*np));

		if (!np)
			return NULL;
		for (size_t i = 0; i < t->npeers; i++) {
			if (!t->peers[i].used)
				continue;
			size_t h = peer_slot(t->peers[i].addr, n);

			while (np[h].used)
				h = (h + 1) & (n - 1);
			np[h] = t->peers[i];
		}
		free(t->peers);
		t->peers = np;
		t->npeers = n;
	}
	size_t h = peer_slot(a, t->npeers);

	while (t->peers[h].used && t->peers[h].addr != a)
		h = (h + 1) & (t->npeers - 1);
	if (!t->peers[h].used) {
		t->peers[h] = (struct frag_peer){ .addr = a, .used = true };
		t->peers_used++;
	}
	return &t->peers[h].rid;
}

/* ip_frag_too_far(): more than ipfrag_max_dist fragments from the same
 * source since this queue's last one (other datagrams of a busy or hostile
 * sender) -- ip_frag_reinit() throws away what the queue held, restarts its
 * timer, and the fragment starts it anew. */
static void frag_too_far(struct ct_table *t, struct frag_queue *q, const uint8_t *src)
{
	uint32_t *rid = peer_rid(t, src), start, end;

	if (!rid)
		return;
	start = q->rid;
	end = ++*rid;
	q->rid = end;
	if (q->nr && end - start > FRAG_MAX_DIST) {
		t->st.frags_expired++;
		q->nr = 0;
		q->meat = q->total = q->tail_end = 0;
		q->tail_run = 0;
		q->last_in = q->first_in = q->cut = false;
		q->ecn = 0;	/* ip_frag_reinit keeps max_size and max_df_size */
		q->head_len = q->ll_len = 0;
		q->expires = t->now + t->to.frag4;
	}
}

enum ct_frag_result ct_defrag(struct ct_table *t, struct pkt *p)
{
	return p->is_frag ? defrag(t, p) : CT_FRAG_NONE;
}

static enum ct_frag_result defrag(struct ct_table *t, struct pkt *p)
{
	int64_t ts = pkt_time_us(p);
	const uint8_t *ip = p->data + p->nh_off;
	size_t alen = p->nfproto == NFPROTO_IPV4 ? 4 : 16;
	const uint8_t *src = ip + (alen == 4 ? 12 : 8), *dst = ip + (alen == 4 ? 16 : 24);
	uint8_t proto = alen == 4 ? ip[9] : 0;
	size_t flen, unfrag;
	uint32_t start, end;
	struct frag_queue *q;

	if (!p->is_frag)
		return CT_FRAG_NONE;
	if (!t->have_now || ts > t->now)
		t->now = ts;
	t->have_now = true;
	/* a fragment the capture cut after its own headers is queued as the
	 * kernel queued it whole (its range is in its header); the datagram
	 * it completes has bytes nobody knows (p->frag_cut) */
	if (p->frag_data_off > p->nh_off + p->len || p->frag_data_off > p->nh_off + p->avail) {
		t->st.frags_dropped++;	/* cannot reassemble what was not captured */
		return CT_FRAG_DROPPED;
	}
	if (p->nfproto == NFPROTO_IPV6 && ipv6_first_frag_truncated(p))
		return CT_FRAG_NONE;	/* passes on unreassembled */
	flen = p->nh_off + p->len - p->frag_data_off;
	start = p->frag_offset;
	end = start + (uint32_t)flen;
	if (p->frag_mf) {
		if (end & 7) {
			if (p->nfproto == NFPROTO_IPV6) {
				/* nf_ct_frag6_queue: inet_frag_kill() + -EPROTO, which
				 * nf_ct_frag6_gather turns into 0: ipv6_defrag returns
				 * NF_ACCEPT and the fragment goes on, unreassembled
				 * (conntrack then finds no transport header for a
				 * non-first one: invalid).  Its queue is gone. */
				for (unsigned i = 0; i < t->fq_hi; i++) {
					struct frag_queue *k = &t->fq[i];

					if (k->used && k->nfproto == p->nfproto &&
					    k->id == p->frag_id && k->proto == proto &&
					    !memcmp(k->src, src, alen) && !memcmp(k->dst, dst, alen))
						fq_release(k);
				}
				return CT_FRAG_NONE;
			}
			end &= ~7u;		/* ip_frag_queue trims */
		}
	}
	/* no datagram over 65535 bytes: IPv6 bounds the fragmentable part as
	 * a fragment comes (nf_ct_frag6_queue: "offset is too large", the
	 * fragment dropped); IPv4 queues any fragment (its offset field can
	 * place it up to FRAG_DATA_MAX) and drops the datagram when it
	 * completes, counting the first fragment's header (ip_frag_reasm's
	 * out_oversize) */
	if (end > (p->nfproto == NFPROTO_IPV4 ? FRAG_DATA_MAX : FRAG_MAX)) {
		t->st.frags_dropped++;
		return CT_FRAG_DROPPED;
	}
	q = fq_find(t, p, src, dst, alen, proto);
	if (!q) {
		t->st.frags_dropped++;
		return CT_FRAG_DROPPED;
	}
	if (p->nfproto == NFPROTO_IPV4)
		frag_too_far(t, q, src);
	/* ip_frag_queue / nf_ct_frag6_queue: the queue's length is the largest
	 * end seen, the last fragment's once it is in.  A fragment that
	 * contradicts it, or holds no data, is corrupt: IPv4 throws the whole
	 * queue away (discard_qp), IPv6 drops the fragment alone (goto err),
	 * after the length and the last flag were updated */
	if (!p->frag_mf) {
		if (end < q->total || (q->last_in && end != q->total))
			goto corrupt;
		q->last_in = true;
		q->total = end;
	} else if (end > q->total) {
		if (q->last_in)
			goto corrupt;
		q->total = end;
	}
	if (end == start)
		goto corrupt;
	switch (frag_insert(q, start, end)) {
	case FI_DUP:			/* dropped alone, the queue kept */
		t->st.frags_dropped++;
		return CT_FRAG_DROPPED;
	case FI_OVERLAP:		/* RFC 5722: the whole datagram goes */
	case FI_FULL:
		goto discard;
	default:
		break;
	}
	if (q->data_cap < end) {
		size_t ncap = q->data_cap ? q->data_cap : 2048;
		uint8_t *nd;

		while (ncap < end)
			ncap *= 2;
		if (ncap > FRAG_DATA_MAX)
			ncap = FRAG_DATA_MAX;
		if (!(nd = realloc(q->data, ncap)))
			goto discard;
		q->data = nd;
		q->data_cap = ncap;
	}
	/* ECN of every fragment (ip4_frag_ecn / ip6_frag_ecn: 1 << the ECN
	 * bits) and, IPv4, the largest fragment and the largest with DF
	 * (ip_frag_queue's max_size and max_df_size: ihl + its data) */
	if (p->nfproto == NFPROTO_IPV4) {
		uint32_t fragsize = (uint32_t)(p->frag_data_off - p->nh_off) + (end - start);

		q->ecn |= (uint8_t)(1u << (ip[1] & 3));
		if (fragsize > q->max_size)
			q->max_size = fragsize;
		if ((ip[6] & 0x40) && fragsize > q->max_df_size)
			q->max_df_size = fragsize;
	} else {
		q->ecn |= (uint8_t)(1u << ((ip[1] >> 4) & 3));
	}
	{
		size_t have = p->nh_off + p->avail - p->frag_data_off;

		if (have < end - start) {
			memcpy(q->data + start, p->data + p->frag_data_off, have);
			memset(q->data + start + have, 0, end - start - have);
			q->cut = true;
		} else {
			memcpy(q->data + start, p->data + p->frag_data_off, end - start);
		}
	}
	if (start == 0) {
		unfrag = (p->nfproto == NFPROTO_IPV4 ? p->frag_data_off : p->frag_hdr_off) - p->nh_off;
		if (q->head_cap < p->nh_off + unfrag) {
			uint8_t *nh = realloc(q->head, p->nh_off + unfrag);

			if (!nh)
				goto discard;
			q->head = nh;
			q->head_cap = p->nh_off + unfrag;
		}
		memcpy(q->head, p->data, p->nh_off + unfrag);
		q->ll_len = p->nh_off;
		q->head_len = p->nh_off + unfrag;
		q->linktype = p->linktype;
		q->nexthdr = p->frag_nexthdr;
		q->first_in = true;
		if (p->nfproto == NFPROTO_IPV6) {
			/* find the next-header field that names the fragment header */
			size_t at = p->nh_off + 6, h = p->nh_off + 40;

			while (h < p->frag_hdr_off) {
				at = h;
				h += ((size_t)p->data[h + 1] + 1) * 8;
			}
			q->prevnh = at;
		}
	}
	t->st.frags_held++;
	if (!q->first_in || !q->last_in)
		return CT_FRAG_HELD;
	if (q->meat != q->total)		/* the runs are disjoint: all there? */
		return CT_FRAG_HELD;

	/* complete: link header + unfragmentable part + payload, fragment
	 * fields cleared as ip_frag_reasm / nf_ct_frag6_reasm leave them */
	/* ip_frag_ecn_table: CE with ECT marks the datagram CE; not-ECT mixed
	 * with ECT or CE drops it (RFC 3168 5.3) */
	uint8_t ecn_or = 0;

	if ((q->ecn & 1) && (q->ecn & ~1))
		goto discard;
	if ((q->ecn & 8) && (q->ecn & 6))
		ecn_or = 3;
	/* nf_ct_frag6_reasm: the payload (extension headers before the
	 * fragment header and the data) holds at most 65535 bytes;
	 * ip_frag_reasm: the header and the data */
	if (q->head_len - q->ll_len - (q->nfproto == NFPROTO_IPV6 ? 40 : 0) + q->total > FRAG_MAX)
		goto discard;
	if (t->out_cap < q->head_len + q->total) {
		uint8_t *no = realloc(t->out, q->head_len + FRAG_MAX);

		if (!no)
			goto discard;
		t->out = no;
		t->out_cap = q->head_len + FRAG_MAX;
	}
	{
		size_t n = q->head_len + q->total, iplen = n - q->ll_len;
		uint8_t *o = t->out, *h = o + q->ll_len;
		struct pkt np;
		struct pkt save = *p;
		bool cut = q->cut;

		memcpy(o, q->head, q->head_len);
		memcpy(o + q->head_len, q->data, q->total);
		if (q->nfproto == NFPROTO_IPV4) {
			uint32_t sum = 0;
			size_t ihl = (size_t)(h[0] & 15) * 4;

			h[1] |= ecn_or;
			h[2] = (uint8_t)(iplen >> 8);
			h[3] = (uint8_t)iplen;
			/* DF when the largest fragment had it (ip_frag_reasm) */
			h[6] = q->max_df_size == q->max_size ? 0x40 : 0;
			h[7] = 0;
			h[10] = h[11] = 0;
			for (size_t i = 0; i + 1 < ihl; i += 2)
				sum += (uint32_t)(h[i] << 8 | h[i + 1]);
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			h[10] = (uint8_t)(~sum >> 8);
			h[11] = (uint8_t)~sum;
		} else {
			o[q->prevnh] = q->nexthdr;
			h[1] |= (uint8_t)(ecn_or << 4);	/* ipv6_change_dsfield(, 0xff, ecn) */
			h[4] = (uint8_t)((iplen - 40) >> 8);
			h[5] = (uint8_t)(iplen - 40);
		}
		fq_release(q);
		t->st.reassembled++;
		if (pkt_decode(&np, q->linktype, o, n, n) < 0)
			return CT_FRAG_DROPPED;
		np.ts = save.ts;
		np.frame = save.frame;
		np.pcap_dir = save.pcap_dir;
		np.hook = save.hook;
		np.iifname = save.iifname;
		np.oifname = save.oifname;
		np.iif = save.iif;
		np.oif = save.oif;
		np.mark = save.mark;
		if (save.linktype == np.linktype && (np.pkttype == 0 || !np.has_ll))
			np.pkttype = save.pkttype;
		np.frag_cut = cut;
		*p = np;
		return CT_FRAG_DONE;
	}
corrupt:
	if (p->nfproto == NFPROTO_IPV6) {
		t->st.frags_dropped++;
		return CT_FRAG_DROPPED;
	}
	/* fall through: IPv4 discards the queue */
discard:
	t->st.frags_dropped++;
	fq_release(q);
	return CT_FRAG_DROPPED;
}

/* ---- accessors -------------------------------------------------------------- */

uint64_t ct_table_early_drops(const struct ct_table *t)
{
	return t->st.early_drops;
}

void ct_table_stats(const struct ct_table *t, struct ct_stats *st)
{
	*st = t->st;
	st->entries = t->count;
	st->max_entries = t->max;
}

void ct_table_foreach(const struct ct_table *t,
		      void (*fn)(const struct ct_entry *e, void *arg), void *arg)
{
	for (const struct ct_entry *e = t->head, *n; e; e = n) {
		n = e->next;
		fn(e, arg);
	}
}

void ct_entry_tuple(const struct ct_entry *e, int dir, struct ct_tuple *out)
{
	*out = e->tuple[dir ? 1 : 0];
}

uint32_t ct_entry_tuple_hash(const struct ct_entry *e, int dir)
{
	return e->hash[dir ? 1 : 0];
}

uint32_t ct_entry_status(const struct ct_entry *e) { return e->status; }
uint32_t ct_entry_id(const struct ct_entry *e) { return e->id; }
void *ct_entry_ext(struct ct_entry *e) { return e->ext; }
uint32_t ct_entry_mark(const struct ct_entry *e) { return e->mark; }
const struct ct_tuple *ct_entry_tuple_ref(const struct ct_entry *e, int dir) { return &e->tuple[dir ? 1 : 0]; }
void ct_entry_set_mark(struct ct_entry *e, uint32_t mark) { e->mark = mark; }
uint64_t ct_entry_first_frame(const struct ct_entry *e) { return e->first_frame; }
uint64_t ct_entry_packets(const struct ct_entry *e, int dir) { return e->packets[dir ? 1 : 0]; }
uint64_t ct_entry_bytes(const struct ct_entry *e, int dir) { return e->bytes[dir ? 1 : 0]; }
bool ct_entry_confirmed(const struct ct_entry *e) { return e->status & IPS_CONFIRMED; }

/* nf_conntrack_tcp_set_closing(), which nf_send_reset()/nf_send_reset6()
 * reach through nf_ct_set_closing() once they have sent a reset */
void ct_entry_set_closing(struct ct_table *t, struct ct_entry *e)
{
	uint8_t old;

	if (!(e->status & IPS_CONFIRMED) || e->tuple[0].proto != IPPROTO_TCP)
		return;
	old = e->tcp.state;
	e->tcp.state = TS_CLOSE;
	if (old == TS_CLOSE || (e->status & IPS_FIXED_TIMEOUT))
		return;
	e->timeout = t->now + t->to.tcp[TS_CLOSE];
}
bool ct_entry_dying(const struct ct_entry *e) { return e->status & IPS_DYING; }
bool ct_entry_began_before_capture(const struct ct_entry *e) { return e->began_before_capture; }
uint64_t ct_entry_user(const struct ct_entry *e) { return e->user; }
void ct_entry_set_user(struct ct_entry *e, uint64_t v) { e->user = v; }

uint32_t ct_entry_expiration_ms(const struct ct_table *t, const struct ct_entry *e)
{
	int64_t left = (e->status & IPS_CONFIRMED) ? e->timeout - t->now : e->timeout;

	return left > 0 ? (uint32_t)(left / 1000) : 0;
}

const char *ct_entry_sctp_state(const struct ct_entry *e)
{
	if (e->tuple[0].proto != IPPROTO_SCTP || e->sctp.state >= SC_MAX)
		return NULL;
	return sctp_state_names[e->sctp.state];
}

const char *ct_entry_tcp_state(const struct ct_entry *e)
{
	if (e->tuple[0].proto != IPPROTO_TCP || e->tcp.state >= TS_MAX)
		return NULL;
	return tcp_state_names[e->tcp.state];
}
