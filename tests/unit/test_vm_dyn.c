/* test_vm_dyn — FQDN rules in the evaluator (issue 7), on hand-built rulesets
 * (no root): the queue expression and the xtables NFQUEUE target as queue
 * verdicts, run-time elements of timeout sets on a caller's clock, the timed
 * elements a dump of a live filterd holds in FQDN sets (ignored) and in other
 * sets (refused), the --fqdn-map parser and the name matching shared with
 * filterd (rules/fqdn_learn.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <cmocka.h>

#include "diag.h"
#include "dns.h"
#include "fqdn.h"
#include "fqdn_map.h"
#include "ruleset.h"
#include "vm.h"
#include "hbuild.h"

/* ---- hand-built rulesets ------------------------------------------------ */

/* ip daddr @set accept */
static void hb_lookup_daddr(struct ruleset *rs, const char *set)
{
	struct nftnl_rule *r = hb_rule(rs);
	struct nftnl_expr *e = hb_expr(r, "meta");
	uint8_t v4 = NFPROTO_IPV4;

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	e = hb_expr(r, "cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &v4, 1);
	e = hb_expr(r, "payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 16);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	e = hb_expr(r, "lookup");
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	hb_verdict(r, NF_ACCEPT);
}

/* A set of ipv4_addr; comment (may be NULL) as nft writes it */
static struct nftnl_set *hb_set(struct ruleset *rs, const char *name, uint32_t flags,
				const char *comment)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, "t");
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 7);	/* ipv4_addr */
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	if (comment) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(256);

		assert_true(nftnl_udata_put_strz(u, NFTNL_UDATA_SET_COMMENT, comment));
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
				   nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	nftnl_set_list_add_tail(s, rs->sets);
	return s;
}

static void hb_elem(struct nftnl_set *s, const char *addr, uint64_t timeout_ms,
		    uint64_t expiration_ms)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, a, 4);
	if (timeout_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	if (expiration_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_EXPIRATION, expiration_ms);
	nftnl_set_elem_add(s, e);
}

static struct vm *must_load(const struct ruleset *rs)
{
	char err[512];
	struct vm *vm = vm_load(rs, err, sizeof(err));

	if (!vm)
		print_message("vm_load: %s\n", err);
	assert_non_null(vm);
	return vm;
}

/* vm_load must fail with a message containing want */
static void must_fail(const struct ruleset *rs, const char *want)
{
	char err[512] = "";
	struct vm *vm = vm_load(rs, err, sizeof(err));

	if (vm)
		vm_free(vm);
	assert_null(vm);
	if (!strstr(err, want))
		print_message("error '%s' lacks '%s'\n", err, want);
	assert_non_null(strstr(err, want));
}

/* ---- packets ------------------------------------------------------------ */

struct tp {
	uint8_t b[256];
	struct pkt p;
};

/* IPv4 TCP SYN / UDP src -> dst, at the input hook */
static void pkt4(struct tp *t, const char *src, const char *dst, uint8_t proto,
		 uint16_t sport, uint16_t dport)
{
	uint8_t *ip = t->b + 14, *th = ip + 20;
	size_t l4 = proto == 6 ? 20 : 8, tot = 20 + l4;

	memset(t, 0, sizeof(*t));
	t->b[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	assert_int_equal(inet_pton(AF_INET, src, ip + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, ip + 16), 1);
	th[0] = (uint8_t)(sport >> 8); th[1] = (uint8_t)sport;
	th[2] = (uint8_t)(dport >> 8); th[3] = (uint8_t)dport;
	if (proto == 6) {
		th[12] = 0x50;
		th[13] = 0x02;
	} else {
		th[5] = 8;
	}
	t->p.data = t->b;
	t->p.caplen = t->p.wirelen = 14 + tot;
	t->p.linktype = 1;
	t->p.has_ll = true;
	t->p.pkttype = PACKET_HOST;
	t->p.nfproto = NFPROTO_IPV4;
	t->p.l3proto = 0x0800;
	t->p.nh_off = 14;
	t->p.len = t->p.avail = tot;
	t->p.tprot_set = true;
	t->p.l4proto = proto;
	t->p.th_off = 14 + 20;
	t->p.hook = NF_INET_LOCAL_IN;
	t->p.iifname = "eth0";
	t->p.iif = 2;
	t->p.ct_present = true;
	t->p.ctinfo = IP_CT_NEW;
	t->p.ct_state = NF_CT_STATE_BIT(IP_CT_NEW);
}

static int to(struct vm *vm, const char *dst, struct vm_verdict *v)
{
	struct tp t;

	pkt4(&t, "10.0.1.4", dst, 6, 40000, 443);
	memset(v, 0, sizeof(*v));
	assert_int_equal(vm_eval(vm, &t.p, v), 0);
	return v->verdict;
}

static int to1(struct vm *vm, const char *dst)
{
	struct vm_verdict v;

	return to(vm, dst, &v);
}

/* ---- queue expression --------------------------------------------------- */

static void test_queue_expr(void **state)
{
	struct ruleset *rs = hb_new(NF_DROP);
	struct nftnl_rule *r = hb_rule(rs);
	struct nftnl_expr *e = hb_expr(r, "queue");
	struct vm_verdict v;
	struct vm *vm;

	(void)state;
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, 53);
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
	vm = must_load(rs);
	/* filterd listens, learns, accepts: offline a queued ACCEPT */
	assert_int_equal(to(vm, "203.0.113.1", &v), NF_ACCEPT);
	assert_true(v.queued);
	assert_int_equal(v.queue_num, 53);
	assert_int_equal(v.rule_index, 0);
	vm_free(vm);

	/* fanout over several queues, a queue number from a register: refused */
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 2);
	must_fail(rs, "fanout");
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_QUEUE_SREG_QNUM, NFT_REG_1);
	must_fail(rs, "register");
	ruleset_free(rs);
}

/* ---- xtables NFQUEUE target (nft_compat) ---------------------------------- */

static struct ruleset *target_rs(const char *name, uint32_t rev, const void *info,
				 uint32_t len)
{
	struct ruleset *rs = hb_new(NF_DROP);
	struct nftnl_expr *e = hb_expr(hb_rule(rs), "target");

	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, name);
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, rev);
	if (info) {
		void *copy = malloc(len ? len : 1);	/* libnftnl takes ownership */

		memcpy(copy, info, len);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, copy, len);
	}
	return rs;
}

static void target_queued(uint32_t rev, const uint16_t *info, uint32_t len, uint16_t num)
{
	struct ruleset *rs = target_rs("NFQUEUE", rev, info, len);
	struct vm *vm = must_load(rs);
	struct vm_verdict v;

	assert_int_equal(to(vm, "203.0.113.1", &v), NF_ACCEPT);
	assert_true(v.queued);
	assert_int_equal(v.queue_num, num);
	vm_free(vm);
	ruleset_free(rs);
}

static void target_refused(const char *name, uint32_t rev, const uint16_t *info,
			   uint32_t len, const char *want)
{
	struct ruleset *rs = target_rs(name, rev, info, len);

	must_fail(rs, want);
	ruleset_free(rs);
}

static void test_target_nfqueue(void **state)
{
	/* xt_NFQ_info_v3 as the kernel dumps it: XT_ALIGN'ed to 8 bytes */
	uint16_t v3[4] = { 53, 1, 0x01, 0 };	/* --queue-num 53 --queue-bypass */
	uint16_t v3_fanout[4] = { 53, 1, 0x03, 0 };
	uint16_t v3_bad[4] = { 53, 1, 0x04, 0 };
	uint16_t v3_two[4] = { 53, 2, 0, 0 };
	uint16_t v3_zero[4] = { 53, 0, 0, 0 };
	uint16_t v3_over[4] = { 65535, 1, 0, 0 };
	uint16_t v2[4] = { 7, 1, 1, 0 };
	uint16_t v2_bad[4] = { 7, 1, 2, 0 };
	uint16_t v1[4] = { 9, 1, 0, 0 };
	uint16_t v0[4] = { 11, 0, 0, 0 };

	(void)state;
	target_queued(3, v3, 8, 53);
	target_queued(3, v3_fanout, 8, 53);	/* one queue: the CPU picks nothing */
	target_queued(3, v3_over, 8, 65535);
	target_queued(2, v2, 8, 7);
	target_queued(1, v1, 8, 9);
	target_queued(0, v0, 8, 11);	/* rev 0: one queue, no total field */
	target_queued(0, v0, 2, 11);

	target_refused("NFQUEUE", 3, v3_bad, 8, "flags 0x4");
	target_refused("NFQUEUE", 3, v3_two, 8, "balancing over 2 queues");
	target_refused("NFQUEUE", 3, v3_zero, 8, "queues_total is 0");
	target_refused("NFQUEUE", 2, v2_bad, 8, "bypass 2");
	target_refused("NFQUEUE", 4, v3, 8, "revision 4");
	target_refused("NFQUEUE", 3, v3, 4, "info of 4 bytes");
	target_refused("NFQUEUE", 3, NULL, 0, "info of 0 bytes");
	/* any other target names itself */
	target_refused("LOG", 0, v0, 8, "xtables target 'LOG' is not supported");
	target_refused("MASQUERADE", 0, v0, 8, "'MASQUERADE'");
	/* the message says where */
	target_refused("TPROXY", 1, v0, 8, "rule 1 in chain input: expression 'target'");
}

/* ---- run-time elements (vm_dyn.c) ------------------------------------------ */

#define S(x) ((int64_t)(x) * 1000000)

static void test_dyn_elems(void **state)
{
	struct ruleset *rs = hb_new(NF_DROP);
	uint8_t a51[4], a52[4], a6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct vm_verdict v;
	struct vm *vm;

	(void)state;
	hb_set(rs, "fq", NFT_SET_TIMEOUT, "fqdn=app.example");
	hb_set(rs, "plain", 0, NULL);
	hb_lookup_daddr(rs, "fq");
	inet_pton(AF_INET, "203.0.113.51", a51);
	inet_pton(AF_INET, "203.0.113.52", a52);
	vm = must_load(rs);

	vm_set_clock(vm, S(1000));
	assert_int_equal(to1(vm, "203.0.113.51"), NF_DROP);
	assert_int_equal(vm_set_add_elem(vm, "fq", a51, 4, S(1030)), 0);
	assert_int_equal(vm_set_dyn_live(vm, "fq"), 1);
	assert_int_equal(to(vm, "203.0.113.51", &v), NF_ACCEPT);
	assert_false(v.queued);
	assert_int_equal(to1(vm, "203.0.113.52"), NF_DROP);
	/* alive while clock < expires_at (nft_set_elem_expired: now >= expiration) */
	vm_set_clock(vm, S(1030) - 1);
	assert_int_equal(to1(vm, "203.0.113.51"), NF_ACCEPT);
	vm_set_clock(vm, S(1030));
	assert_int_equal(to1(vm, "203.0.113.51"), NF_DROP);
	assert_int_equal(vm_set_dyn_live(vm, "fq"), 0);
	/* re-added (an answer later): the expired slot is reused, expiry moved */
	assert_int_equal(vm_set_add_elem(vm, "fq", a52, 4, S(1100)), 0);
	assert_int_equal(vm_set_add_elem(vm, "fq", a51, 4, S(1060)), 0);
	assert_int_equal(vm_set_dyn_live(vm, "fq"), 2);
	assert_int_equal(to1(vm, "203.0.113.51"), NF_ACCEPT);
	assert_int_equal(vm_set_add_elem(vm, "fq", a51, 4, S(1040)), 0);	/* update */
	vm_set_clock(vm, S(1050));
	assert_int_equal(to1(vm, "203.0.113.51"), NF_DROP);
	assert_int_equal(to1(vm, "203.0.113.52"), NF_ACCEPT);
	/* the clock may go back (a second capture): elements come back to life */
	vm_set_clock(vm, S(1000));
	assert_int_equal(to1(vm, "203.0.113.51"), NF_ACCEPT);

	/* errors: no such set, a set without the timeout flag, wrong key length */
	errno = 0;
	assert_int_equal(vm_set_add_elem(vm, "nope", a51, 4, S(2000)), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(vm_set_add_elem(vm, "plain", a51, 4, S(2000)), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(vm_set_add_elem(vm, "fq", a6, 16, S(2000)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vm_set_dyn_live(vm, "nope"), 0);
	assert_int_equal(vm_set_dyn_live(NULL, "fq"), 0);

	/* many elements: the list grows */
	for (int i = 1; i <= 40; i++) {
		uint8_t k[4] = { 198, 51, 100, (uint8_t)i };
		assert_int_equal(vm_set_add_elem(vm, "fq", k, 4, S(1500)), 0);
	}
	assert_int_equal(vm_set_dyn_live(vm, "fq"), 42);
	assert_int_equal(to1(vm, "198.51.100.40"), NF_ACCEPT);
	assert_int_equal(to1(vm, "198.51.100.41"), NF_DROP);
	vm_free(vm);
	ruleset_free(rs);
}

/* ---- a dump of a live filterd: timed elements ------------------------------ */

static void test_fqdn_dump_elems(void **state)
{
	struct ruleset *rs = hb_new(NF_DROP);
	struct nftnl_set *s;
	uint8_t a[4];
	struct vm *vm;
	size_t si = SIZE_MAX;

	(void)state;
	s = hb_set(rs, "fqdn_app_v4", NFT_SET_TIMEOUT, "fqdn=app.example");
	hb_elem(s, "203.0.113.51", 30000, 12345);	/* learned by filterd */
	hb_elem(s, "203.0.113.53", 30000, 0);
	hb_elem(s, "203.0.113.52", 0, 0);		/* a static one stays */
	hb_lookup_daddr(rs, "fqdn_app_v4");
	vm = must_load(rs);
	for (size_t i = 0; i < vm_set_count(vm); i++)
		if (strcmp(vm_set_name(vm, i), "fqdn_app_v4") == 0)
			si = i;
	assert_true(si != SIZE_MAX);
	assert_int_equal(vm_set_ignored(vm, si), 2);
	assert_int_equal(vm_set_nelems(vm, si), 3);
	assert_true(vm_set_elem_ignored(vm, si, 0));
	assert_true(vm_set_elem_ignored(vm, si, 1));
	assert_false(vm_set_elem_ignored(vm, si, 2));
	assert_false(vm_set_elem_ignored(vm, si, 3));
	/* the dumped elements do not match: only the capture's answers do */
	vm_set_clock(vm, S(10));
	assert_int_equal(to1(vm, "203.0.113.51"), NF_DROP);
	assert_int_equal(to1(vm, "203.0.113.52"), NF_ACCEPT);
	inet_pton(AF_INET, "203.0.113.51", a);
	assert_int_equal(vm_set_add_elem(vm, "fqdn_app_v4", a, 4, S(40)), 0);
	assert_int_equal(to1(vm, "203.0.113.51"), NF_ACCEPT);
	vm_free(vm);
	ruleset_free(rs);

	/* the same elements in a set that is no FQDN set: refused, as before */
	rs = hb_new(NF_DROP);
	s = hb_set(rs, "other", NFT_SET_TIMEOUT, "not an fqdn set");
	hb_elem(s, "203.0.113.51", 30000, 12345);
	hb_lookup_daddr(rs, "other");
	must_fail(rs, "element timeouts are not supported");
	ruleset_free(rs);
	rs = hb_new(NF_DROP);
	s = hb_set(rs, "nocomment", NFT_SET_TIMEOUT, NULL);
	hb_elem(s, "203.0.113.51", 0, 12345);
	hb_lookup_daddr(rs, "nocomment");
	must_fail(rs, "element timeouts are not supported");
	ruleset_free(rs);
	/* an "fqdn=" comment on a set without the timeout flag: nothing ignored */
	rs = hb_new(NF_DROP);
	s = hb_set(rs, "fqdn_x_v4", 0, "fqdn=x.example");
	hb_elem(s, "203.0.113.51", 30000, 0);
	hb_lookup_daddr(rs, "fqdn_x_v4");
	must_fail(rs, "element timeouts are not supported");
	ruleset_free(rs);
}

/* ---- --fqdn-map ------------------------------------------------------------ */

static bool has_diag(const struct diags *d, int line, int col, const char *want)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].line == line && d->v[i].col == col && strstr(d->v[i].msg, want))
			return true;
	return false;
}

static void test_fqdn_map(void **state)
{
	static const char good[] =
		"# name address [ttl]\n"
		"\n"
		"PyPI.org.   151.101.0.223   300   # trailing dot, case\n"
		"  *.blob.example.org\t2001:db8::60\n"
		"files_1.example 203.0.113.9 0";
	static const char bad[] =
		"app.example\n"				/* 1: no address */
		"app..example 203.0.113.1\n"		/* 2: empty label */
		"a.*.example 203.0.113.1\n"		/* 3: star inside */
		"app.example 203.0.113.300\n"		/* 4: bad address */
		"app.example 203.0.113.1 -1\n"		/* 5: bad ttl */
		"app.example 203.0.113.1 1 more\n"	/* 6: extra */
		"ap$p.example 203.0.113.1\n"		/* 7: bad char */
		"*. 203.0.113.1\n"			/* 8: bare wildcard */
		"app.example 203.0.113.1 99999999999\n"	/* 9: ttl too large */
		"ok.example 203.0.113.1 # fine\n";	/* 10 */
	struct diags d = { 0 };
	struct fqdn_map *m = NULL;
	char label[80], longname[400];

	(void)state;
	assert_int_equal(fqdn_map_parse(good, strlen(good), "good.map", &m, &d), 0);
	assert_int_equal(d.errors, 0);
	assert_non_null(m);
	assert_int_equal(m->n, 3);
	assert_string_equal(m->v[0].name, "pypi.org");
	assert_int_equal(m->v[0].family, AF_INET);
	assert_true(m->v[0].has_ttl);
	assert_int_equal(m->v[0].ttl, 300);
	assert_int_equal(m->v[0].line, 3);
	assert_string_equal(m->v[1].name, "*.blob.example.org");
	assert_int_equal(m->v[1].family, AF_INET6);
	assert_false(m->v[1].has_ttl);
	assert_int_equal(m->v[1].addr[15], 0x60);
	assert_string_equal(m->v[2].name, "files_1.example");
	assert_true(m->v[2].has_ttl);
	assert_int_equal(m->v[2].ttl, 0);
	fqdn_map_free(m);

	assert_int_equal(fqdn_map_parse(bad, strlen(bad), "bad.map", &m, &d), -1);
	assert_null(m);
	assert_int_equal(d.errors, 9);
	assert_true(has_diag(&d, 1, 12, "address is missing"));
	assert_true(has_diag(&d, 2, 5, "empty label"));
	assert_true(has_diag(&d, 3, 3, "'*' only"));
	assert_true(has_diag(&d, 4, 13, "bad address '203.0.113.300'"));
	assert_true(has_diag(&d, 5, 25, "bad ttl '-1'"));
	assert_true(has_diag(&d, 6, 27, "unexpected 'more'"));
	assert_true(has_diag(&d, 7, 3, "character not allowed"));
	assert_true(has_diag(&d, 8, 2, "wildcard"));
	assert_true(has_diag(&d, 9, 25, "bad ttl"));
	assert_string_equal(d.v[0].file, "bad.map");
	diags_clear(&d);

	/* labels of 64, names of 254 characters */
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(longname, sizeof(longname), "%s.example 192.0.2.1\n", label);
	assert_int_equal(fqdn_map_parse(longname, strlen(longname), "x", &m, &d), -1);
	assert_true(has_diag(&d, 1, 1, "label longer than 63"));
	diags_clear(&d);
	memset(longname, 0, sizeof(longname));
	for (int i = 0; i < 127; i++)
		strcat(longname, "a.");
	strcat(longname, "ab 192.0.2.1");
	assert_int_equal(fqdn_map_parse(longname, strlen(longname), "x", &m, &d), -1);
	assert_true(has_diag(&d, 1, 254, "longer than 253"));
	diags_clear(&d);
	/* empty file, only comments: an empty map */
	assert_int_equal(fqdn_map_parse("# nothing\n\n", 11, "x", &m, &d), 0);
	assert_int_equal(m->n, 0);
	fqdn_map_free(m);
	/* NUL bytes are refused */
	assert_int_equal(fqdn_map_parse("a.b 192.0.2.1\0x", 15, "x", &m, &d), -1);
	assert_true(has_diag(&d, 1, 0, "NUL"));
	diags_clear(&d);
	/* a missing file */
	assert_int_equal(fqdn_map_parse_file("/nonexistent/fqdn.map", &m, &d), -1);
	assert_int_equal(d.errors, 1);
	diags_clear(&d);
}

/* ---- matching shared with filterd (fqdn_learn.c) --------------------------- */

static void test_fqdn_match(void **state)
{
	const char *chain[] = { "files.example.org", "edge.cdn.example.net" };

	(void)state;
	assert_true(fqdn_match_chain("files.example.org", chain, 2));
	assert_true(fqdn_match_chain("*.example.org", chain, 2));
	/* a CNAME target is the answering zone's word: not a listed name's */
	assert_false(fqdn_match_chain("*.cdn.example.net", chain, 2));
	assert_false(fqdn_match_chain("edge.cdn.example.net", chain, 2));
	assert_false(fqdn_match_chain("example.org", chain, 2));
	assert_false(fqdn_match_chain("*.edge.cdn.example.net", chain, 2));
	assert_false(fqdn_match_chain("files.example.org", chain, 0));
	/* map names: exact, or wildcards standing for the names below */
	assert_true(fqdn_match_name("pypi.org", "PyPI.org"));
	assert_true(fqdn_match_name("*.blob.example", "acct.blob.example"));
	assert_false(fqdn_match_name("*.blob.example", "blob.example"));
	assert_true(fqdn_match_name("a.blob.example", "*.blob.example"));
	assert_false(fqdn_match_name("blob.example", "*.blob.example"));
	assert_true(fqdn_match_name("*.blob.example", "*.blob.example"));
	assert_true(fqdn_match_name("*.blob.example", "*.x.blob.example"));
	assert_true(fqdn_match_name("*.x.blob.example", "*.blob.example"));
	assert_false(fqdn_match_name("*.blob.example", "*.other.example"));
	assert_false(fqdn_match_name("*.blob.example", "*.example2"));
}

static size_t dns_answer(uint8_t *b, const char *ip, int tcp)
{
	/* IPv4 + UDP/TCP from port 53 + an answer for a.example A <ip> */
	static const uint8_t msg[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1,
		0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 0, 0, 0, 0,
	};
	size_t l4 = tcp ? 20 + 2 : 8, tot = 20 + l4 + sizeof(msg);
	uint8_t *m;

	memset(b, 0, tot);
	b[0] = 0x45;
	b[2] = (uint8_t)(tot >> 8);
	b[3] = (uint8_t)tot;
	b[9] = tcp ? 6 : 17;
	inet_pton(AF_INET, "10.0.1.53", b + 12);
	inet_pton(AF_INET, "10.0.1.4", b + 16);
	b[21] = 53;
	if (tcp) {
		b[32] = 0x50;
		b[40] = 0;
		b[41] = sizeof(msg);
		m = b + 42;
	} else {
		m = b + 28;
	}
	memcpy(m, msg, sizeof(msg));
	inet_pton(AF_INET, ip, m + sizeof(msg) - 4);
	return tot;
}

struct got { char addr[64]; size_t n; };
static void got_cb(const char *const *chain, size_t n, int family, const uint8_t *a,
		   uint32_t ttl, void *arg)
{
	struct got *g = arg;

	(void)chain, (void)n, (void)ttl;
	inet_ntop(family, a, g->addr, sizeof(g->addr));
	g->n++;
}

struct onemsg { uint8_t m[512]; size_t len; int n; };
static bool onemsg_cb(const uint8_t *msg, size_t len, void *arg)
{
	struct onemsg *o = arg;

	memcpy(o->m, msg, len < sizeof(o->m) ? len : sizeof(o->m));
	o->len = len;
	o->n++;
	return true;
}

/* fqdn_dns_packet: a UDP answer is the message itself; a TCP one is a segment
 * for dns_tcp, which finds the message after its length prefix. */
static void test_dns_payload(void **state)
{
	uint8_t b[256];
	const uint8_t *msg;
	size_t len, dlen = 0;
	struct dns_msg m;
	struct dns_tcp_seg seg;
	struct got g = { "", 0 };

	(void)state;
	for (int tcp = 0; tcp < 2; tcp++) {
		struct onemsg o = { .n = 0 };
		struct dns_tcp *t = dns_tcp_new();

		assert_non_null(t);
		len = dns_answer(b, "203.0.113.51", tcp);
		assert_int_equal(fqdn_dns_packet(b, len, &seg, NULL), tcp ? FQDN_TCP : FQDN_UDP);
		assert_int_equal(seg.family, AF_INET);
		assert_memory_equal(seg.src, "\x0a\x00\x01\x35", 4);
		assert_memory_equal(seg.dst, "\x0a\x00\x01\x04", 4);
		if (tcp) {
			/* the resolver's SYN/ACK first (seq 2^32-1): a stream whose
			 * start was not seen passes nothing on */
			uint8_t sa[256];
			struct dns_tcp_seg sseg;
			size_t sl = dns_answer(sa, "203.0.113.51", 1);

			memset(sa + 24, 0xff, 4);
			sa[33] = 0x12;
			sl = 40;
			sa[2] = 0, sa[3] = 40;
			assert_int_equal(fqdn_dns_packet(sa, sl, &sseg, NULL), FQDN_TCP);
			assert_int_equal(dns_tcp_feed(t, &sseg, 0, onemsg_cb, &o), 0);
			assert_int_equal(dns_tcp_feed(t, &seg, 0, onemsg_cb, &o), 1);
			assert_int_equal(o.n, 1);
			msg = o.m;
			dlen = o.len;
		} else {
			msg = seg.tcp;
			dlen = seg.len;
		}
		assert_int_equal(dns_msg_parse(&m, msg, dlen, NULL, 0), 0);
		memset(&g, 0, sizeof(g));
		assert_int_equal(dns_msg_walk(&m, got_cb, &g), 1);
		assert_string_equal(g.addr, "203.0.113.51");
		assert_string_equal(m.qname, "a.example");
		dns_msg_free(&m);
		dns_tcp_free(t);
		/* a packet cut short, or not from port 53: nothing */
		assert_int_equal(fqdn_dns_packet(b, len - 1, &seg, NULL), FQDN_NOT_DNS);
		b[21] = 54;
		assert_int_equal(fqdn_dns_packet(b, len, &seg, NULL), FQDN_NOT_DNS);
	}
	/* a fragment: not learned from (conntrack reassembles first) */
	len = dns_answer(b, "203.0.113.51", 0);
	b[6] = 0x20;
	assert_int_equal(fqdn_dns_packet(b, len, &seg, NULL), FQDN_NOT_DNS);
	assert_int_equal(fqdn_dns_packet(b, 10, &seg, NULL), FQDN_NOT_DNS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_expr),
		cmocka_unit_test(test_target_nfqueue),
		cmocka_unit_test(test_dyn_elems),
		cmocka_unit_test(test_fqdn_dump_elems),
		cmocka_unit_test(test_fqdn_map),
		cmocka_unit_test(test_fqdn_match),
		cmocka_unit_test(test_dns_payload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
