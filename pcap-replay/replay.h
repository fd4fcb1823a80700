/* pcap-replay — internal interfaces of the offline matcher.
 *
 *   main.c    options, loading the ruleset (policy, saved dump or live kernel),
 *             the expectation file, exit status
 *   replay.c  the per-packet pipeline: decode, direction, defrag, conntrack,
 *             evaluation, flow accounting, traces
 *   report.c  text and JSON reports, coverage, JUnit
 *
 * Errors: replay_*() return -1 with a message in the struct replay's err
 * buffer; nothing here exits. */
#ifndef PCAP_REPLAY_H
#define PCAP_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "conntrack.h"
#include "expect.h"
#include "fqdn.h"
#include "fqdn_map.h"
#include "prefix.h"
#include "ruleset.h"
#include "vm.h"
#include "reader.h"
#include "region.h"
#include "jsonutil.h"

#define REPLAY_DEFAULT_MAX_FLOWS 1000000
#define REPLAY_MAX_BAD_FRAMES 10000	/* malformed/truncated frames listed */

enum flow_dir { FLOW_IN, FLOW_OUT, FLOW_LO };

struct trace_sel {
	unsigned capture;	/* 1-based; 0: every capture */
	uint64_t frame;
};

#define REPLAY_CT_TIMEOUTS 64

struct replay_opts {
	char **captures;		/* as given: names in reports and messages */
	char **open_paths;		/* what to open: captures[i], or its temporary
					 * copy when it was a pipe or stdin (reader_spool) */
	size_t ncaptures;
	struct pset local4, local6;	/* --local */
	bool have_local;
	size_t max_flows;		/* --max-flows: conntrack entries at once (nf_conntrack_max) */
	size_t max_listed;		/* --max-listed-flows: rows of the flow table */
	struct trace_sel *trace;
	size_t ntrace;
	bool json;
	bool no_flow_cache;		/* --no-flow-cache: evaluate every packet */
	bool no_rule_index;		/* --no-rule-index: every rule's expressions run */
	bool single_thread;		/* --single-thread: no reader thread (reader.c) */
	bool read_with_libpcap;		/* --read-with-libpcap: no block reader (reader.c) */
	bool verify_checksums;		/* --verify-checksums: nf_conntrack_checksum=1 */
	struct pcapng_walk *walk;	/* the captures' pcapng directions, walked ahead */
	/* conntrack timeouts other than the kernel's defaults (--ct-timeout,
	 * --ct-timeouts-from-host), applied in order: a later one wins */
	struct replay_ct_timeout {
		char name[64];		/* as ct_table_set_timeout takes it */
		int64_t secs;
	} ct_timeouts[REPLAY_CT_TIMEOUTS];
	size_t nct_timeouts;
};

/* The path to open for capture i: its temporary copy when it was a pipe,
 * else the name as given (open_paths may be NULL: no copies). */
static inline const char *replay_open_path(const struct replay_opts *o, size_t i)
{
	return o->open_paths && o->open_paths[i] ? o->open_paths[i] : o->captures[i];
}

/* Flow key: a conntrack tuple in the orientation of the flow's first packet;
 * ICMP type/code are left out so that both directions share one key. */
struct flow_key {
	uint8_t nfproto, proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport, icmp_id;
	bool ports;
};

struct flow {
	struct flow_key k;
	enum flow_dir dir;
	unsigned capture;		/* 1-based */
	uint64_t first_frame;
	bool accepted;			/* verdict of the first packet */
	bool incomplete;		/* the vm needed bytes the capture lacks */
	bool no_ct;			/* first packet had no conntrack (invalid/untracked) */
	bool bad_checksum;		/* ... for its transport checksum (--verify-checksums) */
	bool midstream;			/* TCP picked up after its SYN */
	bool closed;			/* its conntrack entry left the table */
	const char *decided;		/* "user:AllowAzureMachineLearning", "chain policy (input)";
					 * owned by the replay's decision table */
	uint64_t packets, pkts_accepted, pkts_dropped, related;
	long expect_line;		/* deciding expectation line, -1: none */
	bool expect_ok;
};

struct bad_frame {
	unsigned capture;
	uint64_t frame;
	const char *cls;		/* "malformed", "truncated" */
	const char *why;		/* static */
	bool judged;			/* the hooks still saw it */
};

struct capinfo {
	const char *path;
	int dlt;			/* the file's (its first interface's) */
	/* the link types of its packets (a pcapng file's interfaces may
	 * differ; see reader.h) */
	int dlts[READER_MAX_DLTS];
	unsigned ndlts;
	bool more_dlts;
	uint64_t packets, unsupported;
	bool read_error;
	char err[512];
	/* pcapng epb_flags directions by frame - 1 (0 unknown, 1 in, 2 out) */
	bool dirs_loaded;
	uint8_t *dirs;
	size_t ndirs, ndirs_known;
};

/* The link type names of a capture's packets ("EN10MB", "EN10MB+RAW"). */
const char *capinfo_linktype(const struct capinfo *ci, char *buf, size_t len);

struct totals {
	uint64_t packets;		/* frames read */
	uint64_t not_ip, unsupported_link;
	uint64_t malformed, truncated;	/* all of them, judged or not */
	uint64_t not_judged_bad;	/* malformed/truncated the hooks never see */
	uint64_t foreign;		/* neither end is this host */
	uint64_t martian;		/* IPv4 from the wire with this host's address as source */
	/* packets earlier than one judged before them, the longest step back */
	uint64_t clock_back, clock_back_max_us, clock_back_frame;
	unsigned clock_back_capture;
	uint64_t foreign_v6;		/* of them IPv6 */
	uint64_t otherhost4, otherhost6;	/* of them, received for another host
					 * (PACKET_OTHERHOST in the capture: a
					 * forwarded drop in filterd's capture) */
	uint64_t frags_held, frags_dropped, reassembled;
	uint64_t ct_drops;		/* conntrack table full */
	uint64_t judged, accepted, dropped, incomplete;
	uint64_t flows_over_cap;	/* packets of flows past --max-listed-flows */
	uint64_t unlisted_unmatched;	/* of their first packets, those no line matched */
	uint64_t flows_accepted, flows_dropped, flows_undecidable;
	/* flagged outgoing (pcapng, SLL) on a device other than lo, to a host
	 * address: judged as loopback traffic, which never leaves by such a
	 * device -- --local or the flags are likely wrong */
	uint64_t dir_contradicted, dir_contradicted_frame;
	unsigned dir_contradicted_capture;
};

/* What the pipeline did with one frame, for --kernel-check (kernel_check.c),
 * which replays the same frames through a real kernel and compares. */
enum replay_pkt_kind {
	RP_NOT_HOOKED,		/* not IP, unsupported link, or ip_rcv would drop it */
	RP_TRANSIT,		/* neither end is this host: no filter hook */
	RP_FRAG_HELD,		/* fragment queued by defrag */
	RP_FRAG_DROPPED,	/* fragment dropped by defrag */
	RP_CT_DROP,		/* dropped by conntrack (table full) */
	RP_OPT_DROP,		/* received; its IPv4 options drop it after prerouting */
	RP_JUDGED,		/* evaluated: v holds the verdict (loopback: input's) */
};

struct replay_pkt {
	unsigned capture;
	uint64_t frame;
	enum replay_pkt_kind kind;
	enum flow_dir dir;		/* all kinds but RP_NOT_HOOKED, RP_TRANSIT */
	const struct pkt *p;		/* as decoded (judged: after defrag, with ct) */
	const struct vm_verdict *v;	/* RP_JUDGED only */
	bool incomplete;		/* the capture lacks bytes a rule or conntrack needed */
	const char *why;		/* static reason, may be NULL */
};

typedef void (*replay_pkt_fn)(const struct replay_pkt *rp, void *arg);

/* What a refused first packet leaves for its retransmissions, which come
 * with new conntrack entries of the same tuple (the refused one's entry is
 * discarded): its memo and its flow, by tuple (replay.c). */
#define REPLAY_REFUSED_MEMOS 4096
#define REPLAY_LOCAL_FAST 8

struct refused_memo {
	struct ct_tuple t;	/* all zero: empty */
	struct vm_memo m;	/* m.o NULL: none */
	uint32_t flow;		/* flow index + 1; 0: none */
};

struct flow_slot {
	uint32_t f;			/* flow index + 1; 0: empty */
	uint32_t h;			/* key_hash(): most misses end without reading the flow */
};

struct decision {
	const struct nftnl_rule *rule;	/* of the deciding rule; the slot is empty when text is NULL */
	const char *chain;
	int rule_index;
	unsigned kind;			/* 1 rule, 2 policy, 3 no chain */
	char *text;
};

struct replay {
	const struct replay_opts *o;
	int64_t last_ts;		/* latest capture time judged (us) */
	bool have_last_ts;
	/* the expectations, when given: a flow past --max-listed-flows has no
	 * row for replay_judge, so its first packet is checked as it is judged */
	struct expect *ex;
	uint64_t *unl;			/* judge_unlisted's set of flows checked */
	size_t unl_n, unl_cap;
	replay_pkt_fn on_packet;	/* called once per frame, in order; may be NULL */
	void *on_packet_arg;
	const struct ruleset *rs;
	struct vm *vm;
	struct ct_table *ct;

	struct pset local4, local6;	/* this host's addresses as used */
	/* the same as integers when there are few (local_fast_build), for the
	 * two tests every packet takes */
	struct {
		bool ok4, ok6;
		unsigned n4, n6;
		uint32_t lo4[REPLAY_LOCAL_FAST], hi4[REPLAY_LOCAL_FAST];
		unsigned __int128 lo6[REPLAY_LOCAL_FAST], hi6[REPLAY_LOCAL_FAST];
	} lf;
	bool local_inferred;
	char local_note[512];
	/* why the inference could not tell ("" when it could): a tie between
	 * the busiest addresses, or the busiest in under half of its family's
	 * packets (--expect makes it an error: directions would be guesses) */
	char local_ambiguity[256];

	struct flow *flows;
	size_t nflows, fcap;
	struct region flows_rg;		/* where flows are, when it could be reserved */
	uint64_t *closed_bits;		/* flows[i].closed, a bit each: read per packet */
	struct flow_slot *hash;		/* open addressing over flows */
	size_t hcap;

	/* the text of each decision seen, made once: (rule, chain, index, kind)
	 * → "category:rule" (open addressing; bounded by rules + chains) */
	struct decision *dec;
	size_t ndec, deccap;

	/* flow memos (vm_eval_memo), two in each conntrack entry (ct_entry_ext);
	 * off with --no-flow-cache */
	bool flow_cache;
	struct refused_memo *refused;	/* REPLAY_REFUSED_MEMOS, by tuple hash */
	uint32_t *refused_tag;		/* per slot: its tuple's hash | 1; 0: empty */
	struct refused_memo *cur_refused;	/* the current packet's slot, when it holds its tuple */
	bool cur_first;			/* the current packet is NEW and unconfirmed */
	uint32_t cur_first_h;		/* ... and its tuple's hash */
	uint64_t memo_hits, evaluations;
	struct reader_stats rstats;	/* summed over the captures (--stats) */

	struct totals t;
	struct bad_frame *bad;
	size_t nbad, badcap;
	struct capinfo *caps;
	size_t ncaps;
	bool table_full_warned, early_drop_warned;

	/* trace of the current packet */
	bool tracing;
	unsigned cur_capture;
	uint64_t cur_frame;
	json_t *traces;			/* JSON: array of {capture, frame, events} */
	json_t *cur_events;
	FILE *trace_out;		/* text: where trace lines go */

	struct fqdn_replay *fqdn;	/* FQDN rules (fqdn.c); NULL when none */

	char err[1024];
};

/* Sets up r over a loaded vm (r->on_packet may be set afterwards) (the ruleset must outlive r).  0, or -1. */
int replay_init(struct replay *r, const struct replay_opts *o, const struct ruleset *rs,
		struct vm *vm);
void replay_free(struct replay *r);
/* Without --local: picks this host's addresses from the captures (the address
 * in the most packets, per family).  0, or -1 when a capture cannot be read. */
int replay_infer_local(struct replay *r);
/* Replays every capture, one after the other in command-line order (frame
 * numbers are per capture; conntrack time runs on).  Returns 0, or -1 when a
 * capture cannot be opened (r->err).  Read errors inside a capture are kept in
 * r->caps[i] and the replay goes on with the next capture. */
int replay_run(struct replay *r);
/* Judges every in/out flow against e (flows' expect_line / expect_ok set).
 * Returns the number of failed flows. */
size_t replay_judge(struct replay *r, struct expect *e);

void flow_format_addr(const struct flow *f, bool dst, char *buf, size_t len);
const char *flow_dir_name(enum flow_dir d);
const char *l4_name(uint8_t proto);	/* (a few static buffers: one thread) */
const char *l4_name_buf(uint8_t proto, char buf[8]);	/* static text, or buf */

/* kernel_check.c: pcap-replay --kernel-check (root).  Replays the captures
 * through the evaluator and through a real kernel in scratch namespaces
 * PREFIX-host / PREFIX-peer, compares each packet, prints disagreements and
 * "agreement: ..." on stdout.  Returns the exit status: 0 all agree (or are
 * undecidable offline), 1 a disagreement, 2 setup error. */
struct kcheck_opts {
	const char *prefix;		/* netns name prefix; NULL: "kc<pid>" */
	bool verbose;			/* a line for every agreeing packet too */
	bool timing;			/* play the capture's spacing in real time */
	FILE *out;			/* its lines (agree/DISAGREE/agreement); NULL: stdout */
	/* filled when it ran to its end (exit 0 or 1, or 2 for a capture
	 * not read whole after the agreement over what was read) */
	bool done;
	uint64_t agree, undecidable, disagree;
};
int kernel_check(const struct replay_opts *o, const struct ruleset *rs,
		 struct kcheck_opts *ko);

/* fqdn.c: FQDN rules offline — sets filled from the capture's DNS answers
 * (queued by the ruleset's queue rule) and --fqdn-map, on capture time. */
#define FQDN_REPLAY_TTL_MIN 30		/* filterd's fqdn_ttl_min default */
#define FQDN_REPLAY_TTL_MAX 3600	/* fqdn_ttl_max */
#define FQDN_REPLAY_MAX_ADDRESSES 256	/* fqdn_max_addresses */

struct fqdn_replay_opts {
	unsigned ttl_min, ttl_max, max_addresses;
	int res_family[FQDN_MAX_RESOLVERS];	/* --resolver */
	uint8_t res_addr[FQDN_MAX_RESOLVERS][16];
	size_t nres;
	const struct fqdn_map *map;		/* --fqdn-map, may be NULL */
};

struct fqdn_event {		/* one address learned (or left out) for one set */
	char *name;		/* question name, or the map's name */
	const char *set, *fqdn;
	int family;
	uint8_t addr[16];
	uint32_t ttl;
	int64_t at, expires;	/* capture time, µs; INT64_MAX: whole replay */
	unsigned capture;
	uint64_t frame;
	int map_line;		/* > 0: from --fqdn-map */
	bool capped;		/* left out: the set is full */
	char source[64];	/* the resolver's address */
};

struct fr_set;
struct fqdn_replay {
	struct fqdn_replay_opts o;
	struct vm *vm;
	struct fqdn_info info;		/* ruleset's sets and resolvers + --resolver */
	size_t ruleset_nres;		/* resolvers from the ruleset itself */
	struct fr_set *sets;
	size_t nsets;
	int64_t now;
	bool map_done;
	unsigned ncaptures;
	struct fqdn_event *ev;
	size_t nev, evcap;
	uint64_t n_queued, n_answers, n_learned_answers, n_foreign, n_bad, n_not_dns,
		 n_capped, n_map, n_tcp_segments;
	uint64_t n_cut;			/* answers the capture cut (snap length) */
	unsigned cut_capture;
	uint64_t cut_frame;		/* the first of them */
	struct dns_tcp *tcp;		/* answers over TCP, reassembled as filterd does */
	struct dns_tcp *qtcp;		/* the host's queries over TCP, likewise */
	struct dns_asked *asked;	/* the host's queries (info.queries_queued) */
	uint64_t n_queries, n_queries_cut, n_unasked;
	unsigned unasked_capture;
	uint64_t unasked_frame;		/* the first answer to no recorded query */
	unsigned bad_capture;
	uint64_t bad_frame;
	char bad_why[256];
	char err[512];
};

/* Notes and warnings (resolvers the ruleset does not queue, map names no
 * rule serves) go to notes when not NULL.  0, or -1 with f->err. */
int fqdn_replay_init(struct fqdn_replay *f, const struct fqdn_replay_opts *o,
		     const struct ruleset *rs, struct vm *vm, FILE *notes);
void fqdn_replay_free(struct fqdn_replay *f);
/* The capture time (µs) of the packet about to be judged; the first call adds
 * the map's entries.  0, or -1 with f->err. */
int fqdn_replay_clock(struct fqdn_replay *f, int64_t now);
/* A packet the evaluator queued (vm_verdict.queued) at hook: at input,
 * learns from the DNS answer in it; at output, records the query in it.  0,
 * or -1 with f->err. */
int fqdn_replay_queued(struct fqdn_replay *f, unsigned cap, const struct pkt *p, int hook);
void fqdn_replay_text(const struct fqdn_replay *f, FILE *out);
/* Options: --resolver ADDR[,ADDR...]; a number option; the resolvers as
 * prefixes for compile_opts (out holds FQDN_MAX_RESOLVERS).  -1 with err. */
int fqdn_opt_resolver(struct fqdn_replay_opts *o, const char *arg, char *err, size_t errlen);
int fqdn_opt_uint(const char *opt, const char *arg, unsigned max, unsigned *out, char *err,
		  size_t errlen);
size_t fqdn_opt_prefixes(const struct fqdn_replay_opts *o, struct prefix *out);
/* Compile options for --policy: the default ones (NULL) without --resolver,
 * else co with the resolvers (res: FQDN_MAX_RESOLVERS prefixes) for the queue
 * rule, as filterd's dns_servers. */
struct compile_opts;
const struct compile_opts *fqdn_compile_opts(const struct fqdn_replay_opts *o,
					     struct compile_opts *co, struct prefix *res);
json_t *fqdn_replay_json(const struct fqdn_replay *f);

/* pcapng.c: the direction of every packet of a pcapng capture from its
 * Enhanced Packet Blocks' epb_flags (libpcap does not expose them).  Returns
 * 0 with *dirs (malloc'ed, *n entries, 0 unknown / 1 in / 2 out, in libpcap's
 * packet order) when at least one packet has a direction (*nknown of them),
 * 0 with *dirs NULL when the file is not pcapng or no packet has one, and -1
 * with *dirs NULL and a reason in warn when the file is inconsistent (lengths
 * that do not add up, truncation): then nothing of it is used. */
int pcapng_directions(const char *path, uint8_t **dirs, size_t *n, size_t *nknown,
		      char *warn, size_t warnlen);
/* The same for every capture, in a thread started now (pcap-replay starts it
 * before loading the policy and tags, which take about as long as the walk
 * of a few hundred megabytes).  NULL when no thread could be started: then
 * pcapng_walk_take walks in the caller's thread. */
struct pcapng_walk;
struct pcapng_walk *pcapng_walk_start(char *const *paths, size_t n);
/* Capture i's answer (as pcapng_directions: *dirs is the caller's), once
 * the thread has walked it. */
int pcapng_walk_take(struct pcapng_walk *w, size_t i, const char *path, uint8_t **dirs,
		     size_t *n, size_t *nknown, char *warn, size_t warnlen);
void pcapng_walk_free(struct pcapng_walk *w);

/* report.c */
/* What makes a run's result an error (exit 2) or a failure (exit 1) besides
 * the expectation lines: a capture that could not be read to its end, a link
 * type nothing of was judged, host addresses that could only be guessed,
 * flows no line could check (main.c, run_problems). */
struct run_problem {
	bool error;			/* bad input (exit 2); else a failure (exit 1) */
	char what[80];			/* short: the JUnit test case's name */
	char text[640];
};
struct report_ctx {
	const struct replay *r;
	const struct expect *e;		/* may be NULL */
	const char *ruleset_desc;
	bool coverage;
	bool require_all, require_match;
	const struct run_problem *problems;
	size_t nproblems;
	const struct kcheck_opts *kcheck;	/* --kernel-check ran first: its figures */
};
/* Exit-relevant outcome of the expectations. */
struct expect_outcome {
	size_t lines_failed;		/* lines with failures (or unmatched with --require-match) */
	size_t lines_unmatched;
	size_t flows_unmatched;		/* in/out flows no line matched */
	size_t problems_failed, problems_error;
	bool failed, errored;
};
/* "pass", "fail" or "error" */
const char *expect_result_name(const struct expect_outcome *o);
void expect_outcome(const struct report_ctx *c, struct expect_outcome *out);
void report_text(const struct report_ctx *c, FILE *f);
int report_json(const struct report_ctx *c, FILE *f);

int report_junit(const struct report_ctx *c, const char *path, char *err, size_t errlen);
/* The JUnit file of a run that stopped before judging (exit 2): one test
 * case with an <error> carrying why. */
int report_junit_error(const char *path, const char *expect_file, const char *why, char *err,
		       size_t errlen);

#endif
