/* test_expect — pcap-replay's expectation file: parser (good lines, every error
 * with line:col, all errors reported) and matching (first match wins, ports,
 * tags, vnet, internet). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "expect.h"

static const char tags_json[] =
	"{\"changeNumber\": 1, \"cloud\": \"Public\", \"values\": [\n"
	" {\"name\": \"AzureMachineLearning\", \"id\": \"AzureMachineLearning\",\n"
	"  \"properties\": {\"changeNumber\": 1, \"region\": \"\", \"systemService\": \"\",\n"
	"   \"addressPrefixes\": [\"192.0.2.0/28\", \"2001:db8:1::/48\"]}},\n"
	" {\"name\": \"Storage.EastUS\", \"id\": \"Storage.EastUS\",\n"
	"  \"properties\": {\"changeNumber\": 1, \"region\": \"eastus\", \"systemService\": \"\",\n"
	"   \"addressPrefixes\": [\"198.51.100.0/26\"]}}\n"
	"]}\n";

struct fx {
	struct tagdb *tags;
	struct pset vnet4, vnet6;
	struct expect_env env;
	struct diags d;
	struct expect *e;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct prefix p;
	char err[256];

	if (!f)
		return -1;
	f->tags = tagdb_load_buffer("tags.json", tags_json, sizeof(tags_json) - 1, err,
				    sizeof(err));
	if (!f->tags) {
		fprintf(stderr, "%s\n", err);
		free(f);
		return -1;
	}
	pset_init(&f->vnet4, AF_INET);
	pset_init(&f->vnet6, AF_INET6);
	prefix_parse("10.0.0.0/16", &p, NULL, err, sizeof(err));
	pset_add_prefix(&f->vnet4, &p);
	prefix_parse("fd00:10::/48", &p, NULL, err, sizeof(err));
	pset_add_prefix(&f->vnet6, &p);
	pset_normalize(&f->vnet4);
	pset_normalize(&f->vnet6);
	f->env = (struct expect_env){ .tags = f->tags, .vnet4 = &f->vnet4, .vnet6 = &f->vnet6 };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	expect_free(f->e);
	diags_clear(&f->d);
	tagdb_free(f->tags);
	pset_free(&f->vnet4);
	pset_free(&f->vnet6);
	free(f);
	return 0;
}

static int parse(struct fx *f, const char *text, const struct expect_env *env)
{
	expect_free(f->e);
	f->e = NULL;
	diags_clear(&f->d);
	return expect_parse_buffer("x.expect", text, strlen(text), env, &f->e, &f->d);
}

/* Asserts that diagnostic i is of severity sev at line:col and its message
 * contains s; assert_diag: an error, assert_warning: a warning. */
#define assert_diag(d, i, line, col, s) assert_diag_sev(d, i, DIAG_ERROR, line, col, s)
#define assert_warning(d, i, line, col, s) assert_diag_sev(d, i, DIAG_WARNING, line, col, s)
static void assert_diag_sev(const struct diags *d, size_t i, enum diag_severity sev, int line,
			    int col, const char *s)
{
	assert_true(i < d->n);
	if (d->v[i].line != line || d->v[i].col != col || !strstr(d->v[i].msg, s))
		print_error("diag %zu: %d:%d: %s (want %d:%d: ...%s...)\n", i, d->v[i].line,
			    d->v[i].col, d->v[i].msg, line, col, s);
	assert_int_equal(d->v[i].sev, sev);
	assert_string_equal(d->v[i].file, "x.expect");
	assert_int_equal(d->v[i].line, line);
	assert_int_equal(d->v[i].col, col);
	assert_non_null(strstr(d->v[i].msg, s));
}

static struct expect_flow flow(enum expect_dir dir, uint8_t proto, const char *src,
			       uint16_t sport, const char *dst, uint16_t dport)
{
	struct expect_flow fl = { .dir = dir, .proto = proto };

	fl.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(fl.family, src, fl.src.b), 1);
	assert_int_equal(inet_pton(fl.family, dst, fl.dst.b), 1);
	fl.has_ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
		       proto == IPPROTO_DCCP || proto == IPPROTO_UDPLITE;
	fl.sport = sport;
	fl.dport = dport;
	return fl;
}

static void test_good(void **state)
{
	struct fx *f = *state;
	const struct expect_line *l;

	assert_int_equal(parse(f,
		"# comment line\n"
		"\n"
		"allow  in   tcp  from tag:AzureMachineLearning  to any port 44224\n"
		"deny   in   tcp  from 203.0.113.0/24 to any port 22   # trailing comment\n"
		"\tallow out tcp to tag:storage.eastus port 443,445\r\n"
		"allow out udp to vnet port 1024-65535\n"
		"deny out any from any port * to internet\n"
		"deny   out  any  to any", &f->env), 0);
	assert_non_null(f->e);
	assert_int_equal(f->d.errors, 0);
	assert_int_equal(f->e->n, 6);

	l = &f->e->v[0];
	assert_int_equal(l->line, 3);
	assert_int_equal(l->verdict, EXPECT_ALLOW);
	assert_int_equal(l->dir, EXPECT_IN);
	assert_int_equal(l->proto, EXPECT_PROTO_TCP);
	assert_int_equal(l->from.kind, EXPECT_SPEC_TAG);
	assert_int_equal(l->to.kind, EXPECT_SPEC_ANY);
	assert_false(l->to.ports.any);
	assert_int_equal(l->to.ports.n, 1);
	assert_int_equal(l->to.ports.r[0].lo, 44224);
	assert_string_equal(l->text, "allow in tcp from tag:AzureMachineLearning to any port 44224");

	l = &f->e->v[1];
	assert_int_equal(l->line, 4);
	assert_int_equal(l->verdict, EXPECT_DENY);
	assert_int_equal(l->from.kind, EXPECT_SPEC_CIDR);
	assert_string_equal(l->text, "deny in tcp from 203.0.113.0/24 to any port 22");

	l = &f->e->v[2];
	assert_int_equal(l->dir, EXPECT_OUT);
	assert_int_equal(l->from.kind, EXPECT_SPEC_ANY);	/* omitted side */
	assert_true(l->from.ports.any);
	assert_int_equal(l->to.kind, EXPECT_SPEC_TAG);
	assert_int_equal(l->to.ports.n, 2);

	assert_int_equal(f->e->v[3].to.kind, EXPECT_SPEC_VNET);
	assert_int_equal(f->e->v[3].to.ports.r[0].lo, 1024);
	assert_int_equal(f->e->v[3].to.ports.r[0].hi, 65535);
	assert_int_equal(f->e->v[4].to.kind, EXPECT_SPEC_INTERNET);
	assert_true(f->e->v[4].from.ports.any);
	assert_int_equal(f->e->v[5].line, 8);	/* no final newline */

	/* an empty file and a comment-only file are valid and assert nothing */
	assert_int_equal(parse(f, "", &f->env), 0);
	assert_int_equal(f->e->n, 0);
	assert_int_equal(parse(f, "# nothing\n   # here\n", &f->env), 0);
	assert_int_equal(f->e->n, 0);
}

static void test_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f,
		"permit in tcp\n"				/* 1 */
		"allow sideways tcp\n"				/* 2 */
		"allow in ospf\n"				/* 3 */
		"allow\n"					/* 4 */
		"deny out\n"					/* 5 */
		"allow in tcp towards any\n"			/* 6 */
		"allow in tcp from\n"				/* 7 */
		"allow in tcp from 10.0.0.300\n"		/* 8 */
		"allow in tcp from tag:AzureMachineLerning\n"	/* 9 */
		"allow in tcp to any port 70000\n"		/* 10 */
		"allow in icmp to any port 80\n"		/* 11 */
		"allow in tcp to any from any\n"		/* 12 */
		"allow in tcp from any from any\n"		/* 13 */
		"allow in tcp port 80\n"			/* 14 */
		"allow in tcp to any port\n"			/* 15 */
		"allow in tcp from tag:\n"			/* 16 */
		"allow in tcp to any port 80 to any\n"		/* 17 */
		"good in tcp\n"					/* 18: still reported */
		"allow in tcp from tag:VirtualNetwork\n"	/* 19 */
		"allow in tcp from AzureMachineLearning\n"	/* 20 */
		"allow in tcp from any to any port 1 # 1 2 3 4 5 6 7 8 9 10 11 12\n"
		"allow in tcp from any to any port 1 a b c d e f g h i j k l m n o p q r s t u v w x\n",
		&f->env), -1);					/* 21: a comment; 22: 33 words */
	assert_null(f->e);
	assert_diag(&f->d, 0, 1, 1, "expected verdict 'allow' or 'deny', got 'permit'");
	assert_diag(&f->d, 1, 2, 7, "expected direction in or out, got 'sideways'");
	assert_diag(&f->d, 2, 3, 10, "expected protocol");
	assert_diag(&f->d, 3, 4, 6, "missing direction");
	assert_diag(&f->d, 4, 5, 9, "missing protocol");
	assert_diag(&f->d, 5, 6, 14, "expected 'from' or 'to', got 'towards'");
	assert_diag(&f->d, 6, 7, 18, "'from' needs an address spec");
	assert_diag(&f->d, 7, 8, 19, "bad address spec '10.0.0.300'");
	assert_diag(&f->d, 8, 9, 23, "unknown service tag 'AzureMachineLerning' (did you mean "
		    "'AzureMachineLearning'?)");
	assert_diag(&f->d, 9, 10, 26, "bad port spec '70000'");
	assert_diag(&f->d, 10, 11, 22, "ports need protocol tcp, udp, sctp, dccp, udplite or any, "
		    "not icmp");
	assert_diag(&f->d, 11, 12, 21, "'from' must come before 'to'");
	assert_diag(&f->d, 12, 13, 23, "'from' given twice");
	assert_diag(&f->d, 13, 14, 14, "'port' must follow 'from SPEC' or 'to SPEC'");
	assert_diag(&f->d, 14, 15, 25, "'port' needs a port list");
	assert_diag(&f->d, 15, 16, 23, "'tag:' needs a service tag name");
	assert_diag(&f->d, 16, 17, 29, "'to' given twice");
	assert_diag(&f->d, 17, 18, 1, "expected verdict");
	assert_diag(&f->d, 18, 19, 23, "'VirtualNetwork' is a pseudo-tag, not in the tags file: "
		    "write vnet");
	assert_diag(&f->d, 19, 20, 19, "bad address spec 'AzureMachineLearning': a service tag "
		    "is written tag:AzureMachineLearning");
	/* the first word too many: the 33rd, 'x' */
	assert_diag(&f->d, 20, 22, 83, "too many words (at most 32)");
	assert_int_equal(f->d.errors, 21);
}

static void test_missing_context(void **state)
{
	struct fx *f = *state;
	struct expect_env none = { 0 };

	assert_int_equal(parse(f, "allow in tcp from tag:AzureMachineLearning\n"
				  "allow out any to vnet\n"
				  "deny in any from internet\n", &none), -1);
	assert_int_equal(f->d.errors, 2);
	assert_diag(&f->d, 0, 1, 19, "needs the service tags file (--tags)");
	assert_diag(&f->d, 1, 2, 18, "needs the policy's address space");

	/* host bits: a warning, not an error */
	assert_int_equal(parse(f, "deny in any from 203.0.113.7/24\n", &f->env), 0);
	assert_int_equal(f->d.errors, 0);
	assert_int_equal(f->d.warnings, 1);
	assert_int_equal(f->d.v[0].col, 18);

	assert_int_equal(parse(f, "allow in tcp\0 x\n", &f->env), 0);	/* NUL ends the C string */
	expect_free(f->e);
	f->e = NULL;
	assert_int_equal(expect_parse_buffer("x.expect", "allow\0in tcp\n", 13, &f->env, &f->e,
					     &f->d), -1);
	assert_non_null(strstr(f->d.v[f->d.n - 1].msg, "NUL byte"));
}

static void test_first_match_and_ports(void **state)
{
	struct fx *f = *state;
	struct expect_flow fl;

	assert_int_equal(parse(f,
		"deny  in tcp from 203.0.113.0/24 to any port 22\n"	/* 0 */
		"allow in tcp from any port 1024-65535 to any port 22,80\n"	/* 1 */
		"allow in udp\n"					/* 2 */
		"deny  in any\n"					/* 3 */
		"allow out icmp\n"					/* 4 */
		"deny out icmpv6\n"					/* 5: shadowed by 4 */
		"allow out any to any port \"443\"\n"			/* 6: quoted as in a policy */
		"deny out tcp to 192.0.2.0/24 port 443\n"		/* 7: shadowed by 6 */
		"deny in tcp from 203.0.113.0/25 port 2000-3000 to any port 80\n"	/* 8: by 1 */
		"deny in tcp from 203.0.113.0/25 port 1-3000 to any\n", &f->env), 0);	/* 9: by 3 */
	/* lines an earlier one covers: warned, at parse time (9 is covered by
	 * 3, "deny in any", though not by 1, whose source ports start at 1024) */
	assert_int_equal(f->d.warnings, 4);
	assert_warning(&f->d, 0, 6, 1, "no flow can reach this line: line 5 (allow out icmp) comes "
		    "first and matches every flow it would");
	assert_warning(&f->d, 1, 8, 1, "line 7 (allow out any to any port \"443\")");
	assert_warning(&f->d, 2, 9, 1, "line 2 (allow in tcp from any port 1024-65535 to any port 22,80)");
	assert_warning(&f->d, 3, 10, 1, "line 4 (deny in any)");

	fl = flow(EXPECT_IN, IPPROTO_TCP, "203.0.113.9", 40000, "10.0.1.4", 22);
	assert_int_equal(expect_match(f->e, &fl), 0);		/* first match wins */
	fl = flow(EXPECT_IN, IPPROTO_TCP, "198.51.100.9", 40000, "10.0.1.4", 22);
	assert_int_equal(expect_match(f->e, &fl), 1);
	fl = flow(EXPECT_IN, IPPROTO_TCP, "198.51.100.9", 1000, "10.0.1.4", 22);
	assert_int_equal(expect_match(f->e, &fl), 3);		/* source port out of range */
	fl = flow(EXPECT_IN, IPPROTO_TCP, "198.51.100.9", 40000, "10.0.1.4", 81);
	assert_int_equal(expect_match(f->e, &fl), 3);
	fl = flow(EXPECT_IN, IPPROTO_UDP, "198.51.100.9", 40000, "10.0.1.4", 22);
	assert_int_equal(expect_match(f->e, &fl), 2);
	fl = flow(EXPECT_IN, IPPROTO_ESP, "198.51.100.9", 0, "10.0.1.4", 0);
	assert_int_equal(expect_match(f->e, &fl), 3);
	/* icmp covers ICMPv6 too */
	fl = flow(EXPECT_OUT, IPPROTO_ICMPV6, "fd00:10::4", 0, "2001:db8::1", 0);
	assert_int_equal(expect_match(f->e, &fl), 4);
	/* port spec on "any": only flows with ports match */
	fl = flow(EXPECT_OUT, IPPROTO_TCP, "10.0.1.4", 5000, "198.51.100.1", 443);
	assert_int_equal(expect_match(f->e, &fl), 6);
	fl = flow(EXPECT_OUT, IPPROTO_GRE, "10.0.1.4", 0, "198.51.100.1", 0);
	assert_int_equal(expect_match(f->e, &fl), -1);
	/* the direction must agree */
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "10.0.1.4", 5000, "198.51.100.1", 53);
	assert_int_equal(expect_match(f->e, &fl), -1);

	/* results per line */
	assert_true(expect_record(f->e, 0, false));
	assert_false(expect_record(f->e, 0, true));
	assert_true(expect_record(f->e, 1, true));
	assert_int_equal(f->e->v[0].matched, 2);
	assert_int_equal(f->e->v[0].failures, 1);
	assert_int_equal(f->e->v[1].failures, 0);
}

/* The protocols conntrack tracks besides TCP and UDP: SCTP, DCCP and UDP-Lite
 * with ports (their tuples carry them, nf_conntrack_proto_{sctp,dccp,udp}.c),
 * GRE without (a port list on it is an error). */
static void test_more_protocols(void **state)
{
	struct fx *f = *state;
	struct expect_flow fl;

	assert_int_equal(parse(f,
		"allow in sctp to any port 9899\n"			/* 0 */
		"deny  in sctp\n"					/* 1 */
		"allow out gre\n"					/* 2 */
		"allow in dccp from any port 5000\n"			/* 3 */
		"allow in udplite to any port 7\n", &f->env), 0);	/* 4 */
	fl = flow(EXPECT_IN, IPPROTO_SCTP, "198.51.100.9", 40000, "10.0.1.4", 9899);
	assert_int_equal(expect_match(f->e, &fl), 0);
	fl = flow(EXPECT_IN, IPPROTO_SCTP, "198.51.100.9", 40000, "10.0.1.4", 9900);
	assert_int_equal(expect_match(f->e, &fl), 1);
	fl = flow(EXPECT_OUT, IPPROTO_GRE, "10.0.1.4", 0, "198.51.100.1", 0);
	assert_int_equal(expect_match(f->e, &fl), 2);
	fl = flow(EXPECT_IN, IPPROTO_DCCP, "198.51.100.9", 5000, "10.0.1.4", 1);
	assert_int_equal(expect_match(f->e, &fl), 3);
	fl = flow(EXPECT_IN, IPPROTO_UDPLITE, "198.51.100.9", 5000, "10.0.1.4", 7);
	assert_int_equal(expect_match(f->e, &fl), 4);
	fl = flow(EXPECT_IN, IPPROTO_UDP, "198.51.100.9", 5000, "10.0.1.4", 7);
	assert_int_equal(expect_match(f->e, &fl), -1);	/* udplite is not udp */
	assert_int_equal(parse(f, "allow out gre to any port 1\n", &f->env), -1);
	assert_diag(&f->d, 0, 1, 22, "ports need protocol tcp, udp, sctp, dccp, udplite or any, "
		    "not gre");
}

static void test_tags_vnet_internet(void **state)
{
	struct fx *f = *state;
	struct expect_flow fl;

	assert_int_equal(parse(f,
		"allow in tcp from TAG:azuremachinelearning to vnet port 44224\n"	/* 0 */
		"allow out tcp to tag:Storage.EastUS port 443\n"			/* 1 */
		"allow out any from vnet to vnet\n"					/* 2 */
		"deny out any to internet\n"						/* 3 */
		"deny in any from 2001:db8::/32\n", &f->env), 0);			/* 4 */

	fl = flow(EXPECT_IN, IPPROTO_TCP, "192.0.2.5", 40000, "10.0.1.4", 44224);
	assert_int_equal(expect_match(f->e, &fl), 0);
	fl = flow(EXPECT_IN, IPPROTO_TCP, "2001:db8:1::5", 40000, "fd00:10::4", 44224);
	assert_int_equal(expect_match(f->e, &fl), 0);		/* the tag's v6 prefixes */
	fl = flow(EXPECT_IN, IPPROTO_TCP, "192.0.2.16", 40000, "10.0.1.4", 44224);
	assert_int_equal(expect_match(f->e, &fl), -1);		/* just outside the tag */
	fl = flow(EXPECT_IN, IPPROTO_TCP, "192.0.2.5", 40000, "10.1.0.4", 44224);
	assert_int_equal(expect_match(f->e, &fl), -1);		/* outside the vnet */
	fl = flow(EXPECT_IN, IPPROTO_TCP, "2001:db8:1::5", 1, "2001:db8::4", 44224);
	assert_int_equal(expect_match(f->e, &fl), 4);

	fl = flow(EXPECT_OUT, IPPROTO_TCP, "10.0.1.4", 40000, "198.51.100.63", 443);
	assert_int_equal(expect_match(f->e, &fl), 1);
	fl = flow(EXPECT_OUT, IPPROTO_TCP, "10.0.1.4", 40000, "198.51.100.64", 443);
	assert_int_equal(expect_match(f->e, &fl), 3);		/* documentation = Internet */
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "10.0.1.4", 40000, "10.0.9.9", 53);
	assert_int_equal(expect_match(f->e, &fl), 2);
	/* private, CGNAT, link-local, multicast are not Internet */
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "10.0.1.4", 40000, "192.168.1.1", 53);
	assert_int_equal(expect_match(f->e, &fl), -1);
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "10.0.1.4", 40000, "100.64.0.1", 53);
	assert_int_equal(expect_match(f->e, &fl), -1);
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "10.0.1.4", 40000, "169.254.169.254", 80);
	assert_int_equal(expect_match(f->e, &fl), -1);
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "10.0.1.4", 40000, "224.0.0.251", 5353);
	assert_int_equal(expect_match(f->e, &fl), -1);
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "fd00:10::4", 40000, "2001:db8:ff::1", 53);
	assert_int_equal(expect_match(f->e, &fl), 3);
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "fd00:10::4", 40000, "fe80::1", 53);
	assert_int_equal(expect_match(f->e, &fl), -1);
	fl = flow(EXPECT_OUT, IPPROTO_UDP, "fd00:10::4", 40000, "fd00:10::9", 53);
	assert_int_equal(expect_match(f->e, &fl), 2);
}

/* tag:NAME.region is the policy's regional tag (its region given by
 * pcap-replay from --policy); 'port *' goes with any protocol, as in the
 * policy (DESIGN.md: PORTS as in the policy) */
static void test_region_and_port_star(void **state)
{
	struct fx *f = *state;
	struct expect_env env = f->env;
	struct expect_flow fl;

	assert_int_equal(parse(f, "allow out tcp to tag:Storage.region port 443\n", &f->env), -1);
	assert_diag(&f->d, 0, 1, 22, "'Storage.region' needs the policy's region (--policy with 'region:')");
	env.region = "westus";
	assert_int_equal(parse(f, "allow out tcp to tag:Storage.region port 443\n", &env), -1);
	assert_diag(&f->d, 0, 1, 22, "unknown service tag 'Storage.westus' (from 'Storage.region')");
	env.region = "EastUS";
	assert_int_equal(parse(f, "allow out tcp to tag:storage.REGION port 443\n"
				  "allow out esp to any port *\n"
				  "deny out gre to any port \"*\"\n", &env), 0);
	fl = flow(EXPECT_OUT, IPPROTO_TCP, "10.0.1.4", 40000, "198.51.100.63", 443);
	assert_int_equal(expect_match(f->e, &fl), 0);
	fl = flow(EXPECT_OUT, IPPROTO_ESP, "10.0.1.4", 0, "203.0.113.9", 0);
	assert_int_equal(expect_match(f->e, &fl), 1);
	fl = flow(EXPECT_OUT, IPPROTO_GRE, "10.0.1.4", 0, "203.0.113.9", 0);
	assert_int_equal(expect_match(f->e, &fl), 2);
	assert_int_equal(parse(f, "allow out esp to any port 500\n", &env), -1);
	assert_diag(&f->d, 0, 1, 22, "ports need protocol tcp, udp, sctp, dccp, udplite or any, "
		    "not esp (only '*' goes with any protocol)");
}

static void test_internet_excludes_vnet(void **state)
{
	struct fx *f = *state;
	struct pset v4, i4, i6;
	struct prefix p;
	struct addr a;
	char err[64];

	(void)f;
	pset_init(&v4, AF_INET);
	prefix_parse("198.51.100.0/24", &p, NULL, err, sizeof(err));	/* a public vnet */
	pset_add_prefix(&v4, &p);
	pset_normalize(&v4);
	assert_int_equal(pset_internet(&v4, NULL, &i4, &i6), 0);
	memset(&a, 0, sizeof(a));
	inet_pton(AF_INET, "198.51.100.7", a.b);
	assert_false(pset_contains(&i4, &a));
	inet_pton(AF_INET, "203.0.113.7", a.b);
	assert_true(pset_contains(&i4, &a));
	/* IPv6: global unicast and the NAT64 well-known prefix (RFC 6052: public
	 * IPv4 inside), not the local-use one (RFC 8215), ULA or link-local */
	static const struct { const char *a; bool inet; } six[] = {
		{ "2001:db8::1", true }, { "64:ff9b::c000:201", true },
		{ "64:ff9b:1::1", false }, { "fd00::1", false }, { "fe80::1", false },
		{ "::ffff:192.0.2.1", false }, { "ff02::1", false },
	};
	for (size_t i = 0; i < sizeof(six) / sizeof(*six); i++) {
		assert_int_equal(inet_pton(AF_INET6, six[i].a, a.b), 1);
		if (pset_contains(&i6, &a) != six[i].inet)
			fail_msg("%s: Internet %d, expected %d", six[i].a, !six[i].inet, six[i].inet);
	}
	pset_free(&v4);
	pset_free(&i4);
	pset_free(&i6);
}

static void test_file(void **state)
{
	struct fx *f = *state;

	diags_clear(&f->d);
	assert_int_equal(expect_parse_file("/nonexistent/x.expect", &f->env, &f->e, &f->d), -1);
	assert_int_equal(f->d.errors, 1);
	assert_non_null(strstr(f->d.v[0].msg, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_match_and_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_protocols, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags_vnet_internet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_internet_excludes_vnet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_and_port_star, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
