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

#include <jansson.h>

#include "conntrack.h"
#include "expect.h"
#include "prefix.h"
#include "ruleset.h"
#include "vm.h"

#define REPLAY_DEFAULT_MAX_FLOWS 1000000
#define REPLAY_MAX_BAD_FRAMES 10000	/* malformed/truncated frames listed */

enum flow_dir { FLOW_IN, FLOW_OUT, FLOW_LO };

struct trace_sel {
	unsigned capture;	/* 1-based; 0: every capture */
	uint64_t frame;
};

struct replay_opts {
	char **captures;
	size_t ncaptures;
	struct pset local4, local6;	/* --local */
	bool have_local;
	size_t max_flows;
	struct trace_sel *trace;
	size_t ntrace;
	bool json;
};

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
	bool midstream;			/* TCP picked up after its SYN */
	bool closed;			/* its conntrack entry left the table */
	char decided[192];		/* "user:AllowAzureMachineLearning", "chain policy (input)" */
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
	int dlt;
	uint64_t packets, unsupported;
	bool read_error;
	char err[512];
};

struct totals {
	uint64_t packets;		/* frames read */
	uint64_t not_ip, unsupported_link;
	uint64_t malformed, truncated;	/* all of them, judged or not */
	uint64_t not_judged_bad;	/* malformed/truncated the hooks never see */
	uint64_t foreign;		/* neither end is this host */
	uint64_t frags_held, frags_dropped, reassembled;
	uint64_t ct_drops;		/* conntrack table full */
	uint64_t judged, accepted, dropped, incomplete;
	uint64_t flows_over_cap;	/* packets of flows past --max-flows */
	uint64_t flows_accepted, flows_dropped;
};

/* What the pipeline did with one frame, for --kernel-check (kernel_check.c),
 * which replays the same frames through a real kernel and compares. */
enum replay_pkt_kind {
	RP_NOT_HOOKED,		/* not IP, unsupported link, or ip_rcv would drop it */
	RP_TRANSIT,		/* neither end is this host: no filter hook */
	RP_FRAG_HELD,		/* fragment queued by defrag */
	RP_FRAG_DROPPED,	/* fragment dropped by defrag */
	RP_CT_DROP,		/* dropped by conntrack (table full) */
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

struct replay {
	const struct replay_opts *o;
	replay_pkt_fn on_packet;	/* called once per frame, in order; may be NULL */
	void *on_packet_arg;
	const struct ruleset *rs;
	struct vm *vm;
	struct ct_table *ct;

	struct pset local4, local6;	/* this host's addresses as used */
	bool local_inferred;
	char local_note[512];

	struct flow *flows;
	size_t nflows, fcap;
	size_t *hash;			/* flow index + 1, open addressing; 0 empty */
	size_t hcap;

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
const char *l4_name(uint8_t proto);

/* kernel_check.c: pcap-replay --kernel-check (root).  Replays the captures
 * through the evaluator and through a real kernel in scratch namespaces
 * PREFIX-host / PREFIX-peer, compares each packet, prints disagreements and
 * "agreement: ..." on stdout.  Returns the exit status: 0 all agree (or are
 * undecidable offline), 1 a disagreement, 2 setup error. */
struct kcheck_opts {
	const char *prefix;		/* netns name prefix; NULL: "kc<pid>" */
	bool verbose;			/* a line for every agreeing packet too */
};
int kernel_check(const struct replay_opts *o, const struct ruleset *rs,
		 const struct kcheck_opts *ko);

/* report.c */
struct report_ctx {
	const struct replay *r;
	const struct expect *e;		/* may be NULL */
	const char *ruleset_desc;
	bool coverage;
	bool require_all, require_match;
};
/* Exit-relevant outcome of the expectations. */
struct expect_outcome {
	size_t lines_failed;		/* lines with failures (or unmatched with --require-match) */
	size_t lines_unmatched;
	size_t flows_unmatched;		/* in/out flows no line matched */
	bool failed;
};
void expect_outcome(const struct report_ctx *c, struct expect_outcome *out);
void report_text(const struct report_ctx *c, FILE *f);
int report_json(const struct report_ctx *c, FILE *f);
int report_junit(const struct report_ctx *c, const char *path, char *err, size_t errlen);

#endif
