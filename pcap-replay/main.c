/* pcap-replay — replays captures through the nftables bytecode of a filterd
 * ruleset and checks an expectation file (DESIGN.md "Expectation file").
 *
 * Exit status: 0 every assertion holds (or no --expect), 1 an assertion
 * failed, 2 bad input (usage, unreadable capture, policy error, a ruleset the
 * evaluator cannot load). */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pcap/pcap.h>
#include <libnftnl/chain.h>
#include <linux/netfilter.h>

#include "compile.h"
#include "version.h"
#include "conntrack.h"
#include "netns.h"
#include "dump.h"
#include "netlink.h"
#include "policy.h"
#include "servicetags.h"
#include "strbuf.h"

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_BAD_INPUT = 2 };

static const char usage_text[] =
"usage: pcap-replay RULESET [OPTIONS] CAPTURE...\n"
"\n"
"RULESET, one of:\n"
"  --policy FILE --tags FILE   compile a policy (tags default to $FILTERD_TAGS)\n"
"  --ruleset FILE              a saved dump (filterctl dump --out FILE)\n"
"  --from-kernel [--netns NAME] [--table NAME]\n"
"                              the live table (inet filterd), in /run/netns/NAME\n"
"CAPTURE: pcap or pcapng; - reads standard input (a pipe is copied to a\n"
"  temporary file in $TMPDIR first: captures are read more than once)\n"
"options:\n"
"  --local ADDR[,ADDR...]      this host's addresses/CIDRs (repeatable); without it\n"
"                              they are inferred from the captures and printed\n"
"  --vnet CIDR[,CIDR...]       address space for 'vnet' in --expect (default: the\n"
"                              policy's, or the ruleset's vnet_v4/vnet_v6 sets)\n"
"  --tags FILE                 also resolves tag:NAME in --expect\n"
"  --expect FILE               assertions, one a line, first match decides:\n"
"                              allow|deny in|out PROTO [from SPEC [port P]] [to SPEC [port P]]\n"
"                              SPEC: any, ADDR, CIDR, tag:NAME, vnet, internet\n"
"  --require-all               a flow no line matches is a failure (needs --expect)\n"
"  --require-match             a line that matches no flow is a failure (needs --expect)\n"
"  --junit FILE                JUnit XML, one testcase per assertion line (needs --expect)\n"
"  --format text|json          report format on stdout (default text)\n"
"  --trace FRAME[,FRAME...]    rule-by-rule path of these frames (N, or CAPTURE:N\n"
"                              with CAPTURE the 1-based position on the command line)\n"
"  --coverage                  list policy rules and set elements no packet reached\n"
"  --max-flows N               conntrack table size: entries at once, as\n"
"                              nf_conntrack_max (default 1000000)\n"
"  --max-listed-flows N        rows of the flow table (default 1000000); flows\n"
"                              past it are judged and checked, not listed\n"
"  --ct-timeout NAME=SECONDS   a conntrack timeout other than the kernel's default,\n"
"                              named as its sysctl net.netfilter.nf_conntrack_NAME\n"
"                              (the full name as sysctl -a prints it works too)\n"
"                              (udp_timeout, tcp_timeout_established, ...,\n"
"                              frag6_timeout; ipfrag_time for net.ipv4.ipfrag_time;\n"
"                              repeatable)\n"
"  --ct-timeouts-from-host     every such timeout as this host has it set\n"
"  --verify-checksums          verify the TCP, UDP, UDP-Lite, ICMP, ICMPv6 and SCTP\n"
"                              checksums of received packets as conntrack does with\n"
"                              the kernel's default nf_conntrack_checksum=1: a bad one\n"
"                              is ct state invalid.  Off by default: a capture taken\n"
"                              on a host shows checksums its NIC verified or had yet\n"
"                              to fill in (offload, GRO); use it for captures taken\n"
"                              off the wire.  A checksum the capture cut is undecidable\n"
"  --single-thread             read the captures in the replay's own thread (by\n"
"                              default a second thread reads ahead when more than\n"
"                              one CPU is online; the results are the same)\n"
"  --read-with-libpcap         let libpcap read every record of a classic pcap file\n"
"                              (by default pcap-replay reads them itself, in blocks,\n"
"                              and gives libpcap the first record that is not plain:\n"
"                              the same packets and errors)\n"
"  --no-flow-cache             run the bytecode for every packet (by default a packet\n"
"                              the previous one of its connection, direction and\n"
"                              conntrack state cannot differ from, for every byte\n"
"                              the rules read, gets that packet's outcome, and so\n"
"                              does a connection's first packet whose addresses and\n"
"                              ports lie on the same side of every boundary the\n"
"                              rules test as an earlier one's: same verdicts,\n"
"                              counters and coverage, faster)\n"
"  --no-rule-index             run every rule's expressions one by one (by default\n"
"                              rules that begin with a test of one address or port\n"
"                              field are grouped, and one lookup a packet tells\n"
"                              which of them can match: same results, faster)\n"
"  --stats                     one line on stderr: packets/s, each thread's CPU\n"
"                              time, how often and how long each waited for the\n"
"                              other, records read in blocks and by libpcap\n"
"FQDN rules (sets filled from the capture's DNS answers, on capture time):\n"
"  --resolver ADDR[,ADDR...]   resolvers whose answers are learned from (repeatable);\n"
"                              with --policy they are compiled into the queue rule,\n"
"                              a dump's own dns_resolvers_v4/_v6 sets apply as they are\n"
"  --fqdn-map FILE             'name address [ttl]' lines ('*.name' allowed, # comments):\n"
"                              addresses known from the first packet on (for the\n"
"                              whole replay, or ttl seconds)\n"
"  --fqdn-ttl-min S, --fqdn-ttl-max S\n"
"                              element lifetime = answer TTL clamped (default 30..3600,\n"
"                              as filterd's fqdn_ttl_min/_max)\n"
"  --fqdn-max-addresses N      live addresses a set holds (default 256)\n"
"  --kernel-check              (root) also play every packet through a real kernel\n"
"                              in scratch network namespaces and compare verdicts\n"
"                              and rule paths packet by packet (exit 1 on any\n"
"                              disagreement); --netns-prefix X names them X-host,\n"
"                              X-peer; --kernel-check-verbose lists every packet;\n"
"                              --kernel-check-timing plays the capture's spacing in\n"
"                              real time (as slow as the capture), so that timeouts\n"
"                              and gap-dependent conntrack transitions meet the\n"
"                              kernel too.  Alone it prints the agreement, not the\n"
"                              flow table; with --expect, --junit, --trace, --format\n"
"                              json or --coverage the agreement comes first (stderr\n"
"                              with JSON), then the report, which a disagreement fails\n"
"\n"
"Captures (pcap or pcapng) are replayed one after the other in command-line order;\n"
"frame numbers count per capture.  Direction comes from the capture (Linux cooked\n"
"SLL/SLL2 packet type, pcapng epb_flags) when it has one, else from --local: source\n"
"local = output hook, destination local = input hook, both = loopback (an IPv4\n"
"frame from a real device with both is a martian, not judged; IPv6 comes in),\n"
"neither = transit (not judged).\n"
"\n"
"With --expect a pass must mean something: no packet judged, or (--require-all)\n"
"flows no line matches -- listed or past --max-listed-flows -- or a whole address\n"
"family without a host address -- fail the run; host addresses that had to be guessed\n"
"(a tie, or the busiest in under half the packets) are an error: pass --local.\n"
"\n"
"exit status: 0 all assertions hold, 1 an assertion failed, 2 bad input\n"
"(--version prints the version)\n";

/* What stopped the run (exit 2), for the JUnit and JSON reports of it. */
static char fatal_text[4096];

/* "pcap-replay: MESSAGE" on standard error, the message kept in fatal_text. */
static void fatal_v(const char *fmt, va_list ap)
{
	size_t used = strlen(fatal_text);
	va_list aq;

	va_copy(aq, ap);
	fputs("pcap-replay: ", stderr);
	vfprintf(stderr, fmt, ap);
	vsnprintf(fatal_text + used, sizeof(fatal_text) - used, fmt, aq);
	va_end(aq);
}

/* fmt ends with its newline. */
static void fatalf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fatalf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fatal_v(fmt, ap);
	va_end(ap);
}

/* fmt without a newline: the usage hint follows it. */
static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
	size_t used;
	va_list ap;

	va_start(ap, fmt);
	fatal_v(fmt, ap);
	va_end(ap);
	fputs("\n(pcap-replay --help for usage)\n", stderr);
	used = strlen(fatal_text);
	snprintf(fatal_text + used, sizeof(fatal_text) - used, "\n");	/* one a line, as fatalf's */
}

/* "a,b/n,..." into the psets; -1 with a message printed. */
static int parse_addr_list(const char *opt, const char *arg, struct pset *v4, struct pset *v6)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int rc = 0, n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct prefix pf;
		char err[128];

		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		n++;
		if (prefix_parse(tok, &pf, NULL, err, sizeof(err)) < 0) {
			usage_error("%s: bad address '%s': %s", opt, tok, err);
			rc = -1;
			break;
		}
		if (pset_add_prefix(pf.family == AF_INET ? v4 : v6, &pf) < 0) {
			rc = -1;
			break;
		}
	}
	free(copy);
	if (!rc && !n) {
		/* '' or ',,' (an empty shell variable): no host address at all */
		usage_error("%s: no address in '%s'", opt, arg);
		rc = -1;
	}
	pset_normalize(v4);
	pset_normalize(v6);
	return rc;
}

/* A conntrack timeout for the replay: the name as ct_table_set_timeout takes
 * it (checked here), secs 0 .. 2^31-1.  0, or -1 with err. */
static int add_ct_timeout(struct replay_opts *o, const char *name, const char *val, char *err,
			  size_t errlen)
{
	struct replay_ct_timeout *t;
	unsigned long long v;
	char *end;
	size_t i;
	int ix = ct_timeout_index(name);
	const char *canon;

	if (ix < 0) {
		snprintf(err, errlen, "no conntrack timeout '%s' (one of: generic_timeout, "
			 "tcp_timeout_established, udp_timeout, udp_timeout_stream, icmp_timeout, ..., "
			 "frag6_timeout: the net.netfilter.nf_conntrack_*timeout* sysctls, with or "
			 "without that prefix; ipfrag_time)", name);
		return -1;
	}
	canon = ct_timeout_name((size_t)ix);	/* without the nf_conntrack_ prefix */
	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || *end || end == val || *val == '-' || v > INT_MAX) {
		snprintf(err, errlen, "conntrack timeout %s: expected seconds from 0 to %d, got '%s'",
			 canon, INT_MAX, val);
		return -1;
	}
	for (i = 0; i < o->nct_timeouts && strcmp(o->ct_timeouts[i].name, canon) != 0; i++)
		;
	if (i == REPLAY_CT_TIMEOUTS) {
		snprintf(err, errlen, "more than %d conntrack timeouts", REPLAY_CT_TIMEOUTS);
		return -1;
	}
	t = &o->ct_timeouts[i];
	snprintf(t->name, sizeof(t->name), "%s", canon);
	t->secs = (int64_t)v;
	if (i == o->nct_timeouts)
		o->nct_timeouts++;
	return 0;
}

/* --ct-timeouts-from-host: every timeout this host has a sysctl for.  The
 * number of conntrack's own read (net.ipv4.ipfrag_time is there without it),
 * or -1 with err. */
static int host_ct_timeouts(struct replay_opts *o, char *err, size_t errlen)
{
	static const char nf[] = "/proc/sys/net/netfilter/";
	const char *n;
	int found = 0;

	for (size_t i = 0; (n = ct_timeout_name(i)); i++) {
		char path[128], buf[32];
		ssize_t len;
		int fd;

		if (ct_timeout_path(n, path, sizeof(path)) < 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;	/* this kernel has no such one, or no conntrack */
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (add_ct_timeout(o, n, buf, err, errlen) < 0)
			return -1;
		found += strncmp(path, nf, sizeof(nf) - 1) == 0;
	}
	return found;
}

static int parse_trace(const char *arg, struct replay_opts *o)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct trace_sel sel = { 0 };
		char *colon = strchr(tok, ':'), *end;
		unsigned long long v;

		if (colon) {
			errno = 0;
			v = strtoull(tok, &end, 10);
			if (errno || end != colon || v == 0 || v > UINT_MAX) {
				usage_error("--trace: bad capture number in '%s'", tok);
				rc = -1;
				break;
			}
			sel.capture = (unsigned)v;
			tok = colon + 1;
		}
		errno = 0;
		v = strtoull(tok, &end, 10);
		if (errno || *end || end == tok || v == 0 || *tok == '-' || *tok == '+') {
			usage_error("--trace: bad frame number '%s' (frames count from 1)", tok);
			rc = -1;
			break;
		}
		sel.frame = v;
		struct trace_sel *nt = realloc(o->trace, (o->ntrace + 1) * sizeof(*nt));

		if (!nt) {
			rc = -1;
			break;
		}
		o->trace = nt;
		o->trace[o->ntrace++] = sel;
	}
	free(copy);
	return rc;
}

static int enter_netns(const char *name)
{
	char err[PATH_MAX + 128];

	if (netns_enter(name, err, sizeof(err)) < 0) {
		fprintf(stderr, "pcap-replay: %s\n", err);
		return -1;
	}
	return 0;
}

/* The address space from the ruleset's vnet_v4/vnet_v6 interval sets (what
 * the compiler emits for VirtualNetwork).  Interval sets hold start elements
 * and end elements (exclusive, flagged); walking them in key order rebuilds
 * the intervals.  Returns true when a set was found. */
struct ekey {
	uint8_t k[16];
	bool end;
};

static int ekey_cmp(const void *a, const void *b)
{
	const struct ekey *x = a, *y = b;
	int c = memcmp(x->k, y->k, 16);

	if (c)
		return c;
	return (int)y->end - (int)x->end;	/* an end closes before a start opens */
}

static bool vnet_from_set(const struct ruleset *rs, const char *name, int fam, struct pset *out)
{
	struct nftnl_set *s = ruleset_find_set(rs, name);
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	struct ekey *v = NULL;
	size_t n = 0, cap = 0, kl = family_bytes(fam);
	bool inside = false;
	struct addr lo = { 0 };

	if (!s)
		return false;
	it = nftnl_set_elems_iter_create(s);
	if (!it)
		return false;
	while ((e = nftnl_set_elems_iter_next(it))) {
		uint32_t len = 0;
		const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

		if (!k || len != kl)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct ekey *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv)
				break;
			v = nv;
			cap = ncap;
		}
		memset(&v[n], 0, sizeof(v[n]));
		memcpy(v[n].k, k, kl);
		v[n].end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
			   (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & 1 /* INTERVAL_END */);
		n++;
	}
	nftnl_set_elems_iter_destroy(it);
	qsort(v, n, sizeof(*v), ekey_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].end && !inside) {
			memcpy(lo.b, v[i].k, 16);
			inside = true;
		} else if (v[i].end && inside) {
			struct addr hi;
			int j;

			memcpy(hi.b, v[i].k, 16);
			for (j = (int)kl - 1; j >= 0 && hi.b[j] == 0; j--)
				hi.b[j] = 0xff;		/* end is exclusive: minus one */
			if (j >= 0)
				hi.b[j]--;
			pset_add_interval(out, &lo, &hi);
			inside = false;
		}
	}
	if (inside) {
		struct addr hi = { 0 };

		memset(hi.b, 0xff, kl);
		pset_add_interval(out, &lo, &hi);
	}
	free(v);
	pset_normalize(out);
	return true;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	return clock_gettime(id, &ts) == 0 ? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 : 0;
}

static bool free_at_exit(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return true;
#else
	return getenv("FILTERD_FREE_AT_EXIT") != NULL;
#endif
}

/* --stats: where the replay's time went (stderr, one line). */
static void print_stats(const struct replay *r, double wall_s, double cpu_s)
{
	const struct reader_stats *st = &r->rstats;

	fprintf(stderr, "pcap-replay: stats: %llu packets in %.3f s (%.2f Mpps); replay thread "
		"%.3f s CPU", (unsigned long long)r->t.packets, wall_s,
		wall_s > 0 ? (double)r->t.packets / wall_s / 1e6 : 0.0, cpu_s);
	if (st->threaded)
		fprintf(stderr, ", reader thread %.3f s CPU; %llu batches, the reader waited "
			"for the replay %llu times (%.3f s), the replay for the reader %llu times "
			"(%.3f s)",
			st->thread_cpu_s, (unsigned long long)st->batches,
			(unsigned long long)st->reader_waits, st->reader_wait_s,
			(unsigned long long)st->consumer_waits, st->consumer_wait_s);
	if (st->threaded)
		fprintf(stderr, "; while waiting, the reader faulted in %.1f MiB for the replay "
			"(%llu steps, %.3f s)",
			(double)(ct_table_prefaulted(r->ct) + region_prefaulted(&r->flows_rg)) /
				1048576.0,
			(unsigned long long)st->idle_steps, st->idle_s);
	else
		fprintf(stderr, " (reading included: no reader thread)");
	uint64_t own = st->block_records + st->ng_records;

	fprintf(stderr, "; %llu records read in blocks, %llu by libpcap",
		(unsigned long long)st->block_records,
		/* (the reader thread may have read ahead of a replay that stopped) */
		(unsigned long long)(r->t.packets > own ? r->t.packets - own : 0));
	if (st->ng_records)
		fprintf(stderr, ", %llu by pcap-replay's pcapng reader (mixed interfaces)",
			(unsigned long long)st->ng_records);
	size_t ixm, ixg = vm_rule_index_groups(r->vm, &ixm);

	fprintf(stderr, "; %llu bytecode runs, %llu from the flow memo; ",
		(unsigned long long)r->evaluations, (unsigned long long)r->memo_hits);
	if (r->o->no_rule_index)
		fprintf(stderr, "rule index off\n");
	else
		fprintf(stderr, "rule index: %zu groups of %zu rules\n", ixg, ixm);
}

static const struct option long_opts[] = {
	{ "policy", required_argument, NULL, 'p' },
	{ "tags", required_argument, NULL, 't' },
	{ "ruleset", required_argument, NULL, 'r' },
	{ "from-kernel", no_argument, NULL, 'K' },
	{ "netns", required_argument, NULL, 'n' },
	{ "table", required_argument, NULL, 'T' },
	{ "local", required_argument, NULL, 'l' },
	{ "vnet", required_argument, NULL, 'V' },
	{ "format", required_argument, NULL, 'f' },
	{ "expect", required_argument, NULL, 'e' },
	{ "require-all", no_argument, NULL, 'A' },
	{ "require-match", no_argument, NULL, 'M' },
	{ "junit", required_argument, NULL, 'j' },
	{ "trace", required_argument, NULL, 'x' },
	{ "coverage", no_argument, NULL, 'c' },
	{ "max-flows", required_argument, NULL, 'F' },
	{ "max-listed-flows", required_argument, NULL, 0x10d },
	{ "ct-timeout", required_argument, NULL, 0x10a },
	{ "ct-timeouts-from-host", no_argument, NULL, 0x10b },
	{ "no-flow-cache", no_argument, NULL, 0x105 },
	{ "single-thread", no_argument, NULL, 0x106 },
	{ "read-with-libpcap", no_argument, NULL, 0x10e },
	{ "verify-checksums", no_argument, NULL, 0x10c },
	{ "stats", no_argument, NULL, 0x107 },
	{ "no-rule-index", no_argument, NULL, 0x108 },
	{ "kernel-check", no_argument, NULL, 'k' },
	{ "netns-prefix", required_argument, NULL, 'P' },
	{ "kernel-check-verbose", no_argument, NULL, 'v' },
	{ "kernel-check-timing", no_argument, NULL, 0x109 },
	{ "resolver", required_argument, NULL, 0x100 },
	{ "fqdn-map", required_argument, NULL, 0x101 },
	{ "fqdn-ttl-min", required_argument, NULL, 0x102 },
	{ "fqdn-ttl-max", required_argument, NULL, 0x103 },
	{ "fqdn-max-addresses", required_argument, NULL, 0x104 },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 0x1f0 },
	{ NULL, 0, NULL, 0 },
};

/* Why the run stopped before its report: printed, and kept for the JUnit
 * file that --junit still writes then (a CI publisher must see an error,
 * not a missing file). */

/* A file's diagnostics, printed and kept as fatalf's are. */
static void fatal_diags(const struct diags *d)
{
	size_t used = strlen(fatal_text);
	FILE *f;

	diags_print(d, stderr);
	f = fmemopen(fatal_text + used, sizeof(fatal_text) - used, "w");
	if (f) {
		diags_print(d, f);
		fclose(f);
	}
	fatal_text[sizeof(fatal_text) - 1] = '\0';
}

/* Appends one problem (run_problems). */
static int add_problem(struct run_problem **v, size_t *n, bool error, const char *what,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int add_problem(struct run_problem **v, size_t *n, bool error, const char *what,
		       const char *fmt, ...)
{
	struct run_problem *nv = realloc(*v, (*n + 1) * sizeof(**v));
	va_list ap;

	if (!nv)
		return -1;
	*v = nv;
	nv += (*n)++;
	nv->error = error;
	snprintf(nv->what, sizeof(nv->what), "%s", what);
	va_start(ap, fmt);
	vsnprintf(nv->text, sizeof(nv->text), fmt, ap);
	va_end(ap);
	return 0;
}

/* What keeps a run from passing besides its expectation lines.  Errors
 * (exit 2) always: a capture not read to its end, a capture whose link type
 * nothing was judged of.  With --expect, where a pass must mean something:
 * host addresses that could only be guessed (an error: every direction would
 * be a guess), no packet judged at all, and with --require-all packets that
 * no line matched -- flows past --max-listed-flows (checked by their first
 * packet, not listed) -- and a whole address family taken as transit because
 * no host address of it is known. */
static int run_problems(const struct replay *r, const struct replay_opts *o, bool expect,
			bool require_all, struct run_problem **v, size_t *n)
{
	/* packets the capture marks as for another host are transit whatever
	 * the host's addresses: not what a missing --local explains */
	uint64_t t4 = r->t.foreign - r->t.foreign_v6 - r->t.otherhost4,
		 t6 = r->t.foreign_v6 - r->t.otherhost6;

	for (size_t i = 0; i < r->ncaps; i++) {
		const struct capinfo *ci = &r->caps[i];

		if (ci->read_error &&
		    add_problem(v, n, true, "capture read to its end", "%s", ci->err) < 0)
			return -1;
		if (ci->packets && ci->unsupported == ci->packets) {
			char lt[128];

			if (add_problem(v, n, true, "capture link type supported",
					"%s: link type %s is not supported: none of its %llu "
					"packets was judged", ci->path,
					capinfo_linktype(ci, lt, sizeof(lt)),
					(unsigned long long)ci->packets) < 0)
				return -1;
		}
	}
	/* a family with transit packets and no host address: said always */
	for (int six = 0; six < 2; six++) {
		uint64_t t = six ? t6 : t4;

		if (!t || (six ? r->local6.n : r->local4.n))
			continue;
		fprintf(stderr, "pcap-replay: warning: %llu IPv%c packet%s not judged: no host "
			"address of IPv%c is %s\n", (unsigned long long)t, six ? '6' : '4',
			t == 1 ? " was" : "s were", six ? '6' : '4',
			o->have_local ? "given (--local)" : "known");
		if (expect && require_all &&
		    add_problem(v, n, false, six ? "IPv6 packets judged" : "IPv4 packets judged",
				"%llu IPv%c packet%s not judged, so no line checked %s: no host "
				"address of IPv%c is %s (--require-all)", (unsigned long long)t,
				six ? '6' : '4', t == 1 ? " was" : "s were", t == 1 ? "it" : "them",
				six ? '6' : '4',
				o->have_local ? "given with --local" : "known") < 0)
			return -1;
	}
	/* host addresses given, and most packets have neither end among them:
	 * a wrong --local (a pass with --require-all checked a fifth of the
	 * capture) */
	uint64_t tr = r->t.foreign - r->t.otherhost4 - r->t.otherhost6;

	if (o->have_local && tr > r->t.judged) {
		fprintf(stderr, "pcap-replay: warning: %llu of %llu packets are transit (neither end "
			"is a --local address), %llu judged: are the host's addresses right?\n",
			(unsigned long long)tr, (unsigned long long)r->t.packets,
			(unsigned long long)r->t.judged);
		if (expect && require_all &&
		    add_problem(v, n, false, "packets judged",
				"%llu of %llu packets were transit (neither end is a --local "
				"address), so no line checked them (--require-all)",
				(unsigned long long)tr, (unsigned long long)r->t.packets) < 0)
			return -1;
	}
	if (!expect)
		return 0;
	if (r->local_ambiguity[0] &&
	    add_problem(v, n, true, "host addresses known",
			"cannot tell this host's addresses: %s; the directions were guessed "
			"(pass --local ADDR)", r->local_ambiguity) < 0)
		return -1;
	if (r->t.judged == 0 &&
	    add_problem(v, n, false, "packets judged",
			"no packet was judged (%llu read): the expectations were checked "
			"against nothing", (unsigned long long)r->t.packets) < 0)
		return -1;
	if (require_all && r->t.unlisted_unmatched &&
	    add_problem(v, n, false, "flows matched by a line",
			"%llu flow%s beyond --max-listed-flows %zu (not listed) matched no line "
			"(--require-all)", (unsigned long long)r->t.unlisted_unmatched,
			r->t.unlisted_unmatched == 1 ? "" : "s", o->max_listed) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *policy_path = NULL, *tags_path = NULL, *ruleset_path = NULL;
	const char *netns = NULL, *table = FILTERD_TABLE, *expect_path = NULL;
	const char *junit_path = NULL;
	bool from_kernel = false, require_all = false, require_match = false;
	bool coverage = false, have_vnet_opt = false, stats = false;
	struct kcheck_opts kco = { 0 };
	bool kcheck = false;
	int kcheck_rc = 0;
	struct replay_opts o = { .max_flows = REPLAY_DEFAULT_MAX_FLOWS,
				 .max_listed = REPLAY_DEFAULT_MAX_FLOWS };
	struct pset vnet4, vnet6;
	bool have_vnet4 = false, have_vnet6 = false;
	struct tagdb *tags = NULL;
	struct policy *pol = NULL;
	struct compiled *comp = NULL;
	struct ruleset *loaded_rs = NULL;
	const struct ruleset *rs = NULL;
	struct vm *vm = NULL;
	struct expect *ex = NULL;
	struct diags d = { 0 };
	struct replay r;
	struct fqdn_replay_opts fqo = { .ttl_min = FQDN_REPLAY_TTL_MIN,
					.ttl_max = FQDN_REPLAY_TTL_MAX,
					.max_addresses = FQDN_REPLAY_MAX_ADDRESSES };
	struct fqdn_replay fq;
	struct fqdn_map *fqmap = NULL;
	const char *fqmap_path = NULL;
	bool fq_ready = false;
	struct compile_opts fq_co;
	struct prefix fq_res[FQDN_MAX_RESOLVERS];
	bool r_ready = false, junit_done = false, junit_armed = false, json_done = false;
	struct run_problem *probs = NULL;
	size_t nprobs = 0;
	char err[1024], desc[1024];
	int c, rc = EXIT_BAD_INPUT;

	pset_init(&o.local4, AF_INET);
	pset_init(&o.local6, AF_INET6);
	pset_init(&vnet4, AF_INET);
	pset_init(&vnet6, AF_INET6);

	/* --format json and --junit FILE, wherever they stand: a usage error
	 * before them on the command line gets its JSON object and JUnit file
	 * as one after them does */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--format") && v && !strcmp(v, "json"))
			o.json = true;
		else if (!strcmp(a, "--format=json"))
			o.json = true;
		else if (!strcmp(a, "--junit") && v && *v)
			junit_path = v;
		else if (!strncmp(a, "--junit=", 8) && a[8])
			junit_path = a + 8;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "--version"))
			break;
	}
	junit_armed = junit_path != NULL;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 't': tags_path = optarg; break;
		case 'r': ruleset_path = optarg; break;
		case 'K': from_kernel = true; break;
		case 'n': netns = optarg; break;
		case 'T': table = optarg; break;
		case 'l':
			if (parse_addr_list("--local", optarg, &o.local4, &o.local6) < 0)
				goto out;
			o.have_local = true;
			break;
		case 'V':
			if (parse_addr_list("--vnet", optarg, &vnet4, &vnet6) < 0)
				goto out;
			have_vnet_opt = true;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0) {
				o.json = true;
			} else if (strcmp(optarg, "text") != 0) {
				usage_error("--format: expected text or json, got '%s'", optarg);
				goto out;
			}
			break;
		case 'e': expect_path = optarg; break;
		case 'A': require_all = true; break;
		case 'M': require_match = true; break;
		case 'j': junit_path = optarg; break;
		case 'x':
			if (parse_trace(optarg, &o) < 0)
				goto out;
			break;
		case 'c': coverage = true; break;
		case 'k': kcheck = true; break;
		case 'P': kco.prefix = optarg; break;
		case 'v': kco.verbose = true; break;
		case 0x109: kco.timing = true; break;
		case 0x10d:
		case 'F': {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 0xffffffffull) {
				usage_error("--%s: expected a number from 1 to 4294967295, got '%s'",
					    c == 'F' ? "max-flows" : "max-listed-flows", optarg);
				goto out;
			}
			if (c == 'F')
				o.max_flows = (size_t)v;
			else
				o.max_listed = (size_t)v;
			break;
		}
		case 0x10a: {
			char name[64];
			const char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof(name)) {
				usage_error("--ct-timeout: expected NAME=SECONDS, got '%s'", optarg);
				goto out;
			}
			memcpy(name, optarg, (size_t)(eq - optarg));
			name[eq - optarg] = '\0';
			if (add_ct_timeout(&o, name, eq + 1, err, sizeof(err)) < 0) {
				usage_error("--ct-timeout: %s", err);
				goto out;
			}
			break;
		}
		case 0x10b: {
			int n = host_ct_timeouts(&o, err, sizeof(err));

			if (n < 0) {
				fprintf(stderr, "pcap-replay: --ct-timeouts-from-host: %s\n", err);
				goto out;
			}
			if (n == 0)
				fprintf(stderr, "pcap-replay: warning: --ct-timeouts-from-host: no "
					"/proc/sys/net/netfilter/nf_conntrack_*timeout* on this host "
					"(nf_conntrack not loaded?): the kernel's defaults apply\n");
			break;
		}
		case 0x105:
			o.no_flow_cache = true;
			break;
		case 0x108:
			o.no_rule_index = true;
			break;
		case 0x106:
			o.single_thread = true;
			break;
		case 0x10e:
			o.read_with_libpcap = true;
			break;
		case 0x10c:
			o.verify_checksums = true;
			break;
		case 0x107:
			stats = true;
			break;
		case 0x100:
			if (fqdn_opt_resolver(&fqo, optarg, err, sizeof(err)) < 0) {
				usage_error("%s", err);
				goto out;
			}
			break;
		case 0x101: fqmap_path = optarg; break;
		case 0x102: case 0x103: case 0x104:
			if (fqdn_opt_uint(c == 0x102 ? "--fqdn-ttl-min" : c == 0x103 ?
					  "--fqdn-ttl-max" : "--fqdn-max-addresses", optarg,
					  c == 0x104 ? 65536 : 604800,
					  c == 0x102 ? &fqo.ttl_min : c == 0x103 ? &fqo.ttl_max :
					  &fqo.max_addresses, err, sizeof(err)) < 0) {
				usage_error("%s", err);
				goto out;
			}
			break;
		case 0x1f0:
			printf("pcap-replay (filterd) %s\n", FILTERD_VERSION);
			rc = EXIT_PASS;
			goto out;
		case 'h':
			fputs(usage_text, stdout);
			rc = EXIT_PASS;
			goto out;
		default:
			fprintf(stderr, "(pcap-replay --help for usage)\n");
			goto out;
		}
	}
	if (o.nct_timeouts) {		/* what the conntrack emulation uses, said once */
		size_t ndiff = 0;

		fprintf(stderr, "pcap-replay: conntrack timeouts other than the kernel's defaults:");
		for (size_t i = 0; i < o.nct_timeouts; i++) {
			const struct replay_ct_timeout *t = &o.ct_timeouts[i];
			size_t j = (size_t)ct_timeout_index(t->name);	/* (checked when added) */

			if (t->secs == ct_timeout_default(j))
				continue;
			fprintf(stderr, "%s %s=%lld (default %lld)", ndiff++ ? "," : "", t->name,
				(long long)t->secs, (long long)ct_timeout_default(j));
		}
		fprintf(stderr, "%s\n", ndiff ? "" : " none");
	}
	if ((policy_path != NULL) + (ruleset_path != NULL) + from_kernel != 1) {
		usage_error("give exactly one of --policy, --ruleset and --from-kernel");
		goto out;
	}
	if (netns && !from_kernel) {
		usage_error("--netns goes with --from-kernel");
		goto out;
	}
	if ((require_all || require_match || junit_path) && !expect_path) {
		usage_error("--require-all, --require-match and --junit need --expect");
		goto out;
	}
	if ((kco.prefix || kco.verbose || kco.timing) && !kcheck) {
		usage_error("--netns-prefix, --kernel-check-verbose and --kernel-check-timing go "
			    "with --kernel-check");
		goto out;
	}
	if (optind >= argc) {
		usage_error("no capture file given");
		goto out;
	}
	junit_armed = junit_path != NULL;
	o.captures = argv + optind;
	o.ncaptures = (size_t)(argc - optind);
	o.open_paths = calloc(o.ncaptures, sizeof(*o.open_paths));
	if (!o.open_paths) {
		fatalf("out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < o.ncaptures; i++) {
		char *sp;
		int sr = reader_spool(o.captures[i], &sp, err, sizeof(err));

		if (sr < 0) {
			fatalf("%s\n", err);
			goto out;
		}
		o.open_paths[i] = sr ? sp : o.captures[i];
	}
	/* the pcapng direction walk overlaps the policy and tags load */
	o.walk = pcapng_walk_start(o.open_paths, o.ncaptures);

	if (policy_path && !tags_path) {
		const char *env = getenv("FILTERD_TAGS");

		if (!env || !*env) {
			usage_error("--policy needs --tags FILE (or FILTERD_TAGS)");
			goto out;
		}
		tags_path = env;
	}
	if (tags_path) {
		tags = tagdb_load(tags_path, err, sizeof(err));
		if (!tags) {
			fatalf("%s\n", err);
			goto out;
		}
	}

	/* the ruleset */
	if (policy_path) {
		const struct compile_opts *co = fqdn_compile_opts(&fqo, &fq_co, fq_res);
		char perr[256];

		/* the kernel that checks it queues DNS answers as filterd on it
		 * would: with the xtables NFQUEUE target where the nf_tables queue
		 * expression is missing (CONFIG_NFT_QUEUE unset) */
		if (co && kcheck && geteuid() == 0 && nl_probe_queue(perr, sizeof(perr)) == 0) {
			fq_co.dns_queue_xt = true;
			fprintf(stderr, "pcap-replay: note: this kernel has no nf_tables queue "
				"expression: DNS answers are queued by the xtables NFQUEUE target, "
				"as filterd does here\n");
		}
		if (policy_load_file(policy_path, tags, &pol, &d) < 0 ||
		    compile_policy(pol, tags, co, &comp, &d) < 0) {
			fatal_diags(&d);
			fatalf("%s: policy rejected (%zu error%s)\n",
				policy_path, d.errors, d.errors == 1 ? "" : "s");
			goto out;
		}
		/* notes and warnings of the compiler are for filterctl check */
		diags_clear(&d);
		rs = comp->rs;
		for (size_t i = 0; i < pol->nvnet; i++) {
			bool v6 = pol->vnet[i].family == AF_INET6;

			pset_add_prefix(v6 ? &vnet6 : &vnet4, &pol->vnet[i]);
			if (v6)
				have_vnet6 = true;
			else
				have_vnet4 = true;
		}
		/* VirtualNetwork as the compiler has it: the host's virtual IP too */
		if (have_vnet4 && pset_add_host_vip(&vnet4) < 0) {
			fatalf("out of memory\n");
			goto out;
		}
		pset_normalize(&vnet4);
		pset_normalize(&vnet6);
		snprintf(desc, sizeof(desc), "policy %s (workspace %s), %zu rules, %zu sets",
			 policy_path, pol->workspace, comp->nrules, comp->nsets);
	} else if (ruleset_path) {
		loaded_rs = ruleset_load_file(ruleset_path, err, sizeof(err));
		if (!loaded_rs) {
			fatalf("%s\n", err);
			goto out;
		}
		rs = loaded_rs;
		snprintf(desc, sizeof(desc), "saved dump %s (table %s), %zu rules, %zu sets",
			 ruleset_path, rs->table ? rs->table : "?", ruleset_count_rules(rs),
			 ruleset_count_named_sets(rs));
	} else {
		if (netns && enter_netns(netns) < 0)
			goto out;
		loaded_rs = ruleset_from_kernel(table, NFPROTO_INET, err, sizeof(err));
		if (!loaded_rs) {
			fatalf("--from-kernel%s%s: %s\n", netns ? " --netns " : "",
				netns ? netns : "", err);
			goto out;
		}
		rs = loaded_rs;
		snprintf(desc, sizeof(desc), "kernel table inet %s%s%s, %zu rules, %zu sets", table,
			 netns ? " in netns " : "", netns ? netns : "", ruleset_count_rules(rs),
			 ruleset_count_named_sets(rs));
	}
	if (have_vnet_opt) {
		have_vnet4 = have_vnet6 = true;
		/* --vnet is the address space; VirtualNetwork holds the host's
		 * virtual IP too, as the compiler's set does */
		if (vnet4.n && pset_add_host_vip(&vnet4) < 0) {
			fatalf("out of memory\n");
			goto out;
		}
		pset_normalize(&vnet4);
	} else if (!policy_path) {
		have_vnet4 = vnet_from_set(rs, "vnet_v4", AF_INET, &vnet4);
		have_vnet6 = vnet_from_set(rs, "vnet_v6", AF_INET6, &vnet6);
	}

	{
		/* a table without base chains judges nothing: netfilter accepts
		 * every packet -- said, as a typo in --table would give that */
		bool any_base = false;
		struct nftnl_chain_list_iter *it = rs->chains ? nftnl_chain_list_iter_create(rs->chains) : NULL;

		for (struct nftnl_chain *ch = it ? nftnl_chain_list_iter_next(it) : NULL; ch && !any_base;
		     ch = nftnl_chain_list_iter_next(it))
			any_base = nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM);
		if (it)
			nftnl_chain_list_iter_destroy(it);
		if (!any_base)
			fprintf(stderr, "pcap-replay: warning: the ruleset (%s) has no base chain: no "
				"rule sees a packet, every packet is accepted (netfilter's default)\n",
				desc);
	}
	vm = vm_load(rs, err, sizeof(err));
	if (!vm) {
		fatalf("the evaluator cannot load the ruleset (%s): %s\n", desc, err);
		goto out;
	}

	if (expect_path) {
		struct expect_env env = {
			.tags = tags,
			.vnet4 = have_vnet4 || have_vnet6 ? &vnet4 : NULL,
			.vnet6 = have_vnet4 || have_vnet6 ? &vnet6 : NULL,
			.region = pol ? pol->region : NULL,
		};

		if (expect_parse_file(expect_path, &env, &ex, &d) < 0) {
			fatal_diags(&d);
			fatalf("%s: rejected (%zu error%s)\n", expect_path,
				d.errors, d.errors == 1 ? "" : "s");
			goto out;
		}
		diags_print(&d, stderr);	/* warnings */
		diags_clear(&d);
		if (ex->n == 0)	/* a pass would assert nothing */
			fprintf(stderr, "%s: warning: no assertion in the file: the run passes on "
				"anything but errors and judged-nothing\n", expect_path);
	}

	/* (after the expectations parsed: a broken file fails before the
	 * kernel check runs) --kernel-check alone prints the agreement; with a report asked for
	 * (--expect, --junit, --format json, --coverage, --trace) the replay
	 * then runs as without it, and a disagreement is one more failure of
	 * that report (its lines go to stderr when stdout holds the JSON) */
	if (kcheck) {
		if (o.json)
			kco.out = stderr;
		kcheck_rc = kernel_check(&o, rs, &kco);
		if (!(expect_path || o.ntrace || o.json || coverage) || !kco.done) {
			rc = kcheck_rc;
			goto out;
		}
	}

	if (replay_init(&r, &o, rs, vm) < 0) {
		fatalf("%s\n", r.err);
		goto out;
	}
	r_ready = true;
	if (fqmap_path && fqdn_map_parse_file(fqmap_path, &fqmap, &d) < 0) {
		fatal_diags(&d);
		fatalf("%s: rejected (%zu error%s)\n", fqmap_path, d.errors,
			d.errors == 1 ? "" : "s");
		goto out;
	}
	fqo.map = fqmap;
	if (fqdn_replay_init(&fq, &fqo, rs, vm, stderr) < 0) {
		fatalf("%s\n", fq.err);
		goto out;
	}
	fq_ready = true;
	fq.ncaptures = (unsigned)o.ncaptures;
	if (fq.nsets || fqmap || fqo.nres)
		r.fqdn = &fq;
	if (replay_infer_local(&r) < 0) {
		fatalf("%s\n", r.err);
		goto out;
	}
	if (r.local_inferred && (o.json || !isatty(STDOUT_FILENO)))
		fprintf(stderr, "pcap-replay: note: host addresses %s\n", r.local_note);
	double wall0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);

	r.ex = ex;
	if (replay_run(&r) < 0) {
		fatalf("%s\n", r.err);
		goto out;
	}
	/* a frame asked for and not there is said, not silently untraced */
	for (size_t i = 0; i < o.ntrace; i++) {
		const struct trace_sel *t = &o.trace[i];
		uint64_t most = 0;

		if (t->capture > r.ncaps) {
			fprintf(stderr, "pcap-replay: warning: --trace %u:%llu: there is no capture %u "
				"(%zu given)\n", t->capture, (unsigned long long)t->frame, t->capture,
				r.ncaps);
			continue;
		}
		for (size_t ci = 0; ci < r.ncaps; ci++)
			if ((!t->capture || ci + 1 == t->capture) && r.caps[ci].packets > most)
				most = r.caps[ci].packets;
		char cp[16] = "";

		if (t->capture)
			snprintf(cp, sizeof(cp), "%u:", t->capture);
		if (t->frame > most)
			fprintf(stderr, "pcap-replay: warning: --trace %s%llu: %s %llu frame%s: "
				"nothing traced\n", cp, (unsigned long long)t->frame,
				t->capture ? "that capture has" : r.ncaps > 1 ? "the longest capture has" :
				"the capture has", (unsigned long long)most, most == 1 ? "" : "s");
	}
	if (r.t.dir_contradicted)
		fprintf(stderr, "pcap-replay: warning: %llu packet%s flagged outgoing on a device "
			"other than lo go%s to a host address (first: capture %u frame %llu): judged "
			"as loopback traffic, which never leaves by such a device; are the host's "
			"addresses (--local%s) right?\n",
			(unsigned long long)r.t.dir_contradicted, r.t.dir_contradicted == 1 ? "" : "s",
			r.t.dir_contradicted == 1 ? "es" : "", r.t.dir_contradicted_capture,
			(unsigned long long)r.t.dir_contradicted_frame,
			r.local_inferred ? ", inferred here" : "");
	if (r.fqdn && r.fqdn->n_cut)
		fprintf(stderr, "pcap-replay: warning: %llu DNS answer%s from the resolvers cut by "
			"the capture's snap length (first: capture %u frame %llu): the addresses %s "
			"held are not learned, so flows to them may be denied here where filterd, "
			"which saw the whole answer, allowed them; capture with -s 0\n",
			(unsigned long long)r.fqdn->n_cut, r.fqdn->n_cut == 1 ? "" : "s",
			r.fqdn->cut_capture, (unsigned long long)r.fqdn->cut_frame,
			r.fqdn->n_cut == 1 ? "it" : "they");
	if (stats)
		print_stats(&r, clock_s(CLOCK_MONOTONIC) - wall0,
			    clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
	if (ex)
		replay_judge(&r, ex);
	if (run_problems(&r, &o, ex != NULL, require_all, &probs, &nprobs) < 0) {
		fatalf("out of memory\n");
		goto out;
	}
	if (kcheck && kco.disagree &&
	    add_problem(&probs, &nprobs, false, "agreement with the kernel (--kernel-check)",
			"%llu of %llu packets disagree with the kernel (--kernel-check; %llu "
			"undecidable offline): see its DISAGREE lines",
			(unsigned long long)kco.disagree,
			(unsigned long long)(kco.agree + kco.undecidable + kco.disagree),
			(unsigned long long)kco.undecidable) < 0) {
		fatalf("out of memory\n");
		goto out;
	}

	struct report_ctx rc_ctx = {
		.r = &r, .e = ex, .ruleset_desc = desc, .coverage = coverage,
		.kcheck = kcheck ? &kco : NULL,
		.require_all = require_all, .require_match = require_match,
		.problems = probs, .nproblems = nprobs,
	};
	struct expect_outcome eo;

	fflush(stdout);
	if (o.json) {
		json_done = true;
		if (report_json(&rc_ctx, stdout) < 0) {
			fatalf("cannot write the JSON report\n");
			goto out;
		}
	} else {
		report_text(&rc_ctx, stdout);
	}
	if (fflush(stdout) != 0) {
		fatalf("writing the report: %s\n", strerror(errno));
		goto out;
	}
	if (junit_path) {
		junit_done = true;
		if (report_junit(&rc_ctx, junit_path, err, sizeof(err)) < 0) {
			fatalf("--junit %s\n", err);
			goto out;
		}
	}

	expect_outcome(&rc_ctx, &eo);
	rc = EXIT_PASS;
	if (ex) {
		for (size_t i = 0; i < ex->n; i++) {
			const struct expect_line *l = &ex->v[i];

			if (l->failures)
				fprintf(stderr, "%s:%d: assertion failed: %s (%llu of %llu flows)\n",
					ex->file, l->line, l->text, (unsigned long long)l->failures,
					(unsigned long long)l->matched);
			else if (!l->matched)
				fprintf(stderr, "%s:%d: %s: matched no flow: %s\n", ex->file, l->line,
					require_match ? "error" : "warning", l->text);
		}
		if (require_all && eo.flows_unmatched)
			fprintf(stderr, "pcap-replay: %zu flow%s matched no line (--require-all)\n",
				eo.flows_unmatched, eo.flows_unmatched == 1 ? "" : "s");
		if (eo.failed)
			rc = EXIT_FAIL;
	}
	if (r.t.clock_back_max_us >= 1000000)
		fprintf(stderr, "pcap-replay: warning: the capture time goes back by up to %.1f s (capture "
			"%u frame %llu): conntrack's clock holds at its latest time, so earlier packets are "
			"judged as if they came then; give captures in time order\n",
			r.t.clock_back_max_us / 1e6, r.t.clock_back_capture,
			(unsigned long long)r.t.clock_back_frame);
	if (r.t.flows_over_cap)
		fprintf(stderr, "pcap-replay: warning: more than --max-listed-flows %zu flows: %llu "
			"packets were not accounted to a listed flow%s\n", o.max_listed,
			(unsigned long long)r.t.flows_over_cap,
			ex ? " (their flows were checked against the expectations by their first packet)" : "");
	for (size_t i = 0; i < nprobs; i++) {
		fprintf(stderr, "pcap-replay: %s%s\n", probs[i].error ? "" : "FAIL: ",
			probs[i].text);
		if (probs[i].error)
			rc = EXIT_BAD_INPUT;
		else if (rc == EXIT_PASS)
			rc = EXIT_FAIL;
	}
	/* Done: the memory goes back with the process.  Freeing a large
	 * replay's flows, conntrack entries, sets and tags object by object
	 * takes ~2 % of its time; it is done only where a leak checker looks
	 * (AddressSanitizer builds, or FILTERD_FREE_AT_EXIT set, for valgrind). */
	if (!free_at_exit()) {
		fflush(stdout);
		fflush(stderr);
		return rc;
	}
out:
	if (junit_armed && !junit_done && rc == EXIT_BAD_INPUT &&
	    report_junit_error(junit_path, expect_path, fatal_text[0] ? fatal_text :
			       "pcap-replay stopped before judging (see its standard error)",
			       err, sizeof(err)) < 0)
		fprintf(stderr, "pcap-replay: --junit %s\n", err);
	/* --format json stops with JSON too: a consumer parsing standard output
	 * got nothing when a policy or an expectation file was rejected */
	if (o.json && !json_done && rc == EXIT_BAD_INPUT) {
		json_t *j = json_pack("{s:s,s:o}", "result", "error", "error",
				      jtext(fatal_text[0] ? fatal_text : "pcap-replay stopped before "
					    "judging (see its standard error)"));

		if (j) {
			json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
			json_decref(j);
		}
	}
	free(probs);
	if (r_ready)
		replay_free(&r);
	if (fq_ready)
		fqdn_replay_free(&fq);
	fqdn_map_free(fqmap);
	expect_free(ex);
	vm_free(vm);
	ruleset_free(loaded_rs);
	compiled_free(comp);
	policy_free(pol);
	tagdb_free(tags);
	diags_clear(&d);
	pset_free(&o.local4);
	pset_free(&o.local6);
	pset_free(&vnet4);
	pset_free(&vnet6);
	free(o.trace);
	pcapng_walk_free(o.walk);
	for (size_t i = 0; o.open_paths && i < o.ncaptures; i++)
		if (o.open_paths[i] != o.captures[i])
			free(o.open_paths[i]);
	free(o.open_paths);
	return rc;
}
