/* policy — the workspace network policy (YAML, version 1; see DESIGN.md and
 * man/filterd-policy.5).
 *
 * policy_parse_*() reads the file with libyaml into a struct policy and runs the
 * syntactic/semantic checks that need nothing but the file (types, ranges, unknown
 * keys, duplicate names and priorities, port syntax, protocol/port mismatch).
 * policy_resolve() is the second semantic pass that needs the service-tag file:
 * tag names (with "did you mean"), ".region" references, and hbi_workspace.
 * Every problem is added to the caller's struct diags with file:line:col; the
 * functions return 0 when no ERROR was added, -1 otherwise.  Parsers keep no
 * global state (the daemon re-parses on every reload). */
#ifndef FILTERD_POLICY_H
#define FILTERD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "prefix.h"
#include "servicetags.h"

struct srcpos {
	int line, col;		/* 1-based position of the YAML node */
};

enum proto { PROTO_ANY, PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ESP, PROTO_AH };
enum direction { DIR_INBOUND, DIR_OUTBOUND };
enum access { ACCESS_ALLOW, ACCESS_DENY };
enum isolation { ISO_DISABLED, ISO_ALLOW_INTERNET, ISO_ALLOW_ONLY_APPROVED };

struct portrange {
	uint16_t lo, hi;	/* inclusive, lo <= hi, 0..65535 */
};

/* "*" is any=true, n=0.  Otherwise sorted, merged ranges. */
struct portspec {
	bool any;
	struct portrange *r;
	size_t n;
	struct srcpos pos;
};

enum addr_kind {
	ADDR_ANY,		/* "*" */
	ADDR_CIDR,		/* literal address or CIDR */
	ADDR_TAG,		/* service tag from the tags file */
	ADDR_VNET,		/* pseudo-tag VirtualNetwork */
	ADDR_INTERNET,		/* pseudo-tag Internet */
	ADDR_ALB,		/* pseudo-tag AzureLoadBalancer */
};

struct addr_item {
	enum addr_kind kind;
	char *text;		/* as written */
	struct prefix pfx;	/* ADDR_CIDR */
	/* ADDR_TAG, filled by policy_resolve(): the tag as the file spells it */
	const struct service_tag *tag;
	struct srcpos pos;
};

/* An empty list never occurs after parsing: "*" is one ADDR_ANY item. */
struct addrspec {
	struct addr_item *v;
	size_t n;
	struct srcpos pos;
};

struct security_rule {
	char *name;
	int priority;
	enum direction dir;
	enum access access;
	enum proto proto;
	struct addrspec src, dst;
	struct portspec sports, dports;
	struct srcpos pos;		/* the rule's mapping */
	struct srcpos name_pos, priority_pos, source_pos;
};

struct private_endpoint {
	char *name;
	struct prefix *addrs;
	size_t naddrs;
	struct portspec ports;		/* default "443"; protocol tcp */
	struct srcpos pos;
};

enum outbound_type { OUT_SERVICE_TAG, OUT_FQDN, OUT_PRIVATE_ENDPOINT };

struct outbound_rule {
	char *name;
	enum outbound_type type;
	struct srcpos pos;
	bool inactive;			/* status: Inactive (Azure's): not compiled */
	/* OUT_SERVICE_TAG: either a tag or address_prefixes (the latter stand
	 * instead of the tag when given). */
	struct addrspec dst;		/* one ADDR_TAG item, or ADDR_CIDR items */
	enum proto proto;		/* TCP, UDP, ICMP or ANY ("*") */
	struct portspec ports;
	/* OUT_FQDN: tcp 80 and 443 only */
	char *fqdn;			/* lower-case; may start with "*." */
	/* OUT_PRIVATE_ENDPOINT */
	char *service_resource_id, *subresource_target;
	bool spark_enabled;
	struct prefix *addrs;
	size_t naddrs;
};

struct policy {
	char *file;			/* path used in diagnostics */
	int version;
	char *workspace;
	char *region;			/* NULL when absent */
	struct srcpos region_pos;	/* where it is written (0:0 when absent) */
	bool region_invalid;		/* written, and refused */
	bool hbi_workspace;
	struct prefix *vnet;		/* virtual_network.address_space */
	size_t nvnet;
	struct srcpos *vnet_pos;	/* where each of them is written */
	struct private_endpoint *pe;
	size_t npe;
	struct security_rule *rules;	/* in file order */
	size_t nrules;
	enum isolation isolation;	/* default ISO_DISABLED */
	struct outbound_rule *out;
	size_t nout;
	/* Extension: forward chain for local containers. Packets leaving through
	 * one of these interfaces are "inbound", packets arriving on them are
	 * "outbound".  Disabled when nfwd == 0. */
	char **forward_ifaces;
	size_t nforward;
};

/* Reads and checks a policy file.  On success *out is set (caller frees with
 * policy_free).  On any ERROR diagnostic returns -1 and *out is NULL. */
int policy_parse_file(const char *path, struct policy **out, struct diags *d);
int policy_parse_buffer(const char *name, const char *buf, size_t len,
			struct policy **out, struct diags *d);
/* Second pass with the tags file: resolves ADDR_TAG items (case-insensitive,
 * "<Tag>.region" → "<Tag>.<region>"), reports unknown tags with "did you mean",
 * and enforces hbi_workspace (an inbound allow whose source reaches beyond
 * VirtualNetwork, AzureMachineLearning, BatchNodeManagement, AzureLoadBalancer). */
int policy_resolve(struct policy *p, const struct tagdb *tags, struct diags *d);
/* Both passes at once: every problem of the file — syntax, structure and the
 * ones that need the tags file — is reported in one go, in file order (the
 * semantic pass runs over what could be parsed, unless the YAML itself is
 * broken).  Returns 0 and *out, or -1 with *out NULL. */
int policy_load(const char *name, const char *buf, size_t len, const struct tagdb *tags,
		struct policy **out, struct diags *d);
int policy_load_file(const char *path, const struct tagdb *tags, struct policy **out,
		     struct diags *d);
void policy_free(struct policy *p);
/* Canonical printout (stable, for golden tests and `filterctl check -v`). */
void policy_print(const struct policy *p, FILE *f);

const char *proto_name(enum proto p);
const char *direction_name(enum direction d);
const char *isolation_name(enum isolation i);

/* Parses an NSG port string ("*", "443", "80,443", "1024-65535") into ps
 * (merged, sorted).  Returns 0, or -1 with a reason in err. */
int portspec_parse(const char *s, struct portspec *ps, char *err, size_t errlen);
void portspec_free(struct portspec *ps);

#endif
