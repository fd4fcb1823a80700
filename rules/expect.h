/* expect — the expectation file of pcap-replay (DESIGN.md "Expectation file").
 *
 * One assertion a line, '#' starts a comment:
 *
 *     VERDICT DIRECTION PROTO [from SPEC [port PORTS]] [to SPEC [port PORTS]]
 *
 *   VERDICT    allow | deny
 *   DIRECTION  in | out            (a flow's direction is the hook of its first
 *                                   packet: in = towards this host, out = from it;
 *                                   loopback and transit flows match no line)
 *   PROTO      tcp | udp | icmp | icmpv6 | esp | ah | any
 *              icmp matches ICMP and ICMPv6, as the policy's "icmp" does;
 *              icmpv6 matches ICMPv6 only
 *   SPEC       any | ADDRESS | CIDR | tag:NAME | vnet | internet
 *              tag:NAME needs the tags file (case-insensitive, v4 and v6
 *              prefixes); vnet needs the policy's address space; internet is
 *              the policy's pseudo-tag: unicast outside the address space and
 *              outside private, loopback, link-local, CGNAT and multicast ranges
 *   PORTS      as in the policy: "*", "443", "80,443", "1024-65535" (no blanks);
 *              only with tcp, udp or any (any: only flows with ports match)
 *
 * "from" is the flow's originator (source of its first packet), "to" the
 * responder; either may be left out (= any), each appears at most once.
 * The first line that matches a flow decides for it.
 *
 * Parsing collects every problem as "file:line:col: message" into a struct diags
 * and then rejects the whole file.  The parser keeps no global state.  Per line
 * the caller's results are counted (expect_record()). */
#ifndef FILTERD_EXPECT_H
#define FILTERD_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "policy.h"
#include "prefix.h"
#include "servicetags.h"

enum expect_verdict { EXPECT_ALLOW, EXPECT_DENY };
enum expect_dir { EXPECT_IN, EXPECT_OUT };
enum expect_proto {
	EXPECT_PROTO_ANY, EXPECT_PROTO_TCP, EXPECT_PROTO_UDP, EXPECT_PROTO_ICMP,
	EXPECT_PROTO_ICMPV6, EXPECT_PROTO_ESP, EXPECT_PROTO_AH, EXPECT_PROTO_SCTP,
	EXPECT_PROTO_GRE, EXPECT_PROTO_DCCP, EXPECT_PROTO_UDPLITE,
};

/* What the file's names resolve against.  Everything may be NULL: a line that
 * needs what is missing is an error naming the option that provides it. */
struct expect_env {
	const struct tagdb *tags;	/* tag:NAME */
	const struct pset *vnet4;	/* vnet: the address space, normalised */
	const struct pset *vnet6;	/* (both NULL: not available) */
	const char *region;		/* the policy's region: tag:NAME.region (NULL: none) */
};

enum expect_spec_kind {
	EXPECT_SPEC_ANY, EXPECT_SPEC_CIDR, EXPECT_SPEC_TAG, EXPECT_SPEC_VNET,
	EXPECT_SPEC_INTERNET,
};

struct expect_side {
	enum expect_spec_kind kind;
	char *text;			/* as written; NULL for an omitted side */
	struct pset v4, v6;		/* resolved addresses (not for ANY) */
	struct portspec ports;		/* any = true when no "port" */
};

struct expect_line {
	int line;			/* 1-based line in the file */
	char *text;			/* the assertion without comment and edges */
	enum expect_verdict verdict;
	enum expect_dir dir;
	enum expect_proto proto;
	struct expect_side from, to;
	/* results, updated by expect_record() */
	uint64_t matched;		/* flows this line decided */
	uint64_t failures;		/* of those, flows whose verdict differed */
	/* of them, flows past the report's row limit, checked by their first
	 * packet (pcap-replay --max-listed-flows); the first that failed */
	uint64_t unlisted;
	unsigned unlisted_bad_capture;
	uint64_t unlisted_bad_frame;
};

struct expect {
	char *file;
	struct expect_line *v;
	size_t n;
};

/* A flow as the matcher sees it.  Addresses in network byte order (IPv4 in
 * the first 4 bytes), ports host order. */
struct expect_flow {
	enum expect_dir dir;
	int family;			/* AF_INET / AF_INET6 */
	uint8_t proto;			/* IPPROTO_* */
	struct addr src, dst;		/* originator, responder */
	bool has_ports;			/* tcp, udp, sctp, ...: sport/dport valid */
	uint16_t sport, dport;
};

/* Parses an expectation file.  Returns 0 and sets *out (free with
 * expect_free), or -1 with every error in d and *out NULL (an unreadable file
 * is one error without a line).  Warnings (host bits in a CIDR) go to d too. */
int expect_parse_file(const char *path, const struct expect_env *env,
		      struct expect **out, struct diags *d);
/* Same from memory; name is used in diagnostics. */
int expect_parse_buffer(const char *name, const char *buf, size_t len,
			const struct expect_env *env, struct expect **out,
			struct diags *d);
void expect_free(struct expect *e);

/* Index of the first line matching f, or -1 when no line does. */
long expect_match(const struct expect *e, const struct expect_flow *f);
/* Does line l match f? */
bool expect_line_matches(const struct expect_line *l, const struct expect_flow *f);
/* Counts flow f's outcome on line i: allowed is the flow's verdict.  Returns
 * true when the line's verdict holds. */
bool expect_record(struct expect *e, size_t i, bool allowed);

const char *expect_verdict_name(enum expect_verdict v);
const char *expect_dir_name(enum expect_dir d);
const char *expect_proto_name(enum expect_proto p);

#endif
