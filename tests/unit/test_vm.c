/* test_vm — the userspace nftables evaluator against rulesets the kernel
 * accepted.
 *
 * Most cases write nft text, load it into a scratch network namespace, dump
 * the table back with ruleset_from_kernel() (so the vm sees exactly the
 * kernel's bytecode) and evaluate hand-built packets; they need root and skip
 * otherwise.  A few build libnftnl rules by hand to reach kernel behaviour nft
 * text cannot express (shifts, missing MAC header, odd attributes); they run
 * everywhere.  The namespace is deleted in the group teardown and at exit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <cmocka.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#include "conntrack.h"
#include "dump.h"
#include "packet.h"
#include "prefix.h"
#include "ruleset.h"
#include "servicetags.h"
#include "set_lookup.h"
#include "vm.h"
#include "vm_int.h"	/* vm_class_key */
#include "hbuild.h"

#define IP_CT_UNTRACKED 7	/* kernel-internal enum value */
#define TAGS_FILE "../shared/data/servicetags/ServiceTags_Public_20240415.json"

static char ns_name[64];
static int orig_ns = -1;
static bool ns_ready;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void ns_cleanup(void)
{
	if (ns_ready) {
		if (orig_ns >= 0)
			setns(orig_ns, CLONE_NEWNET);
		sh("ip netns del %s 2>/dev/null", ns_name);
		ns_ready = false;
	}
}

static void on_signal(int sig)
{
	ns_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Namespaces an earlier run left behind when it could not clean up (killed,
 * or a sanitizer that exits without aborting): those of processes gone. */
static void ns_sweep_stale(void)
{
	DIR *d = opendir("/run/netns");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, "filterd-vmtest-", 15) != 0)
			continue;
		pid = strtol(de->d_name + 15, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		sh("ip netns del %s 2>/dev/null", de->d_name);
	}
	closedir(d);
}

static int group_setup(void **state)
{
	(void)state;
	/* a closed pipe (| head) or ^C must not leave the namespace behind */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGABRT, on_signal);	/* sanitizer aborts */
	if (geteuid() != 0 || access("/usr/sbin/nft", X_OK) != 0)
		return 0;
	ns_sweep_stale();
	snprintf(ns_name, sizeof(ns_name), "filterd-vmtest-%d", (int)getpid());
	if (sh("ip netns add %s", ns_name) != 0)
		return 0;
	ns_ready = true;
	atexit(ns_cleanup);
#if defined(__SANITIZE_ADDRESS__)
	/* a sanitizer report ends the process without atexit (unless
	 * abort_on_error, which SIGABRT's handler covers) */
	__sanitizer_set_death_callback(ns_cleanup);
#endif
	orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	ns_cleanup();
	if (orig_ns >= 0)
		close(orig_ns);
	return 0;
}

/* Loads text (table inet t) into the scratch namespace and dumps it back. */
static struct ruleset *kernel_ruleset(const char *text)
{
	char path[128], err[512], nspath[128];
	struct ruleset *rs;
	FILE *f;
	int fd;

	if (!ns_ready) {
		print_message("needs root and nft: skipped\n");
		skip();
	}
	snprintf(path, sizeof(path), "/tmp/filterd-vmtest-%d.nft", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "flush ruleset\n%s\n", text);
	fclose(f);
	assert_int_equal(sh("ip netns exec %s nft -f %s", ns_name, path), 0);
	unlink(path);
	snprintf(nspath, sizeof(nspath), "/run/netns/%s", ns_name);
	fd = open(nspath, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(setns(fd, CLONE_NEWNET), 0);
	close(fd);
	rs = ruleset_from_kernel("t", NFPROTO_INET, err, sizeof(err));
	assert_int_equal(setns(orig_ns, CLONE_NEWNET), 0);
	if (!rs)
		print_message("dump: %s\n", err);
	assert_non_null(rs);
	return rs;
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

/* ------------------------------------------------------------ packets --- */

struct tp {
	uint8_t b[2048];
	struct pkt p;
};

static void frame(struct tp *t, int v6, const char *src, const char *dst, uint8_t proto,
		  const uint8_t *l4, size_t l4len)
{
	uint8_t *ip = t->b + 14;
	size_t hl = v6 ? 40 : 20, tot = hl + l4len;

	memset(t, 0, sizeof(*t));
	memcpy(t->b, "\x02\x00\x00\x00\x00\x01\x00\x11\x22\x33\x44\x55", 12);
	t->b[12] = v6 ? 0x86 : 0x08;
	t->b[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)(l4len >> 8);
		ip[5] = (uint8_t)l4len;
		ip[6] = proto;
		ip[7] = 64;
		assert_int_equal(inet_pton(AF_INET6, src, ip + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, dst, ip + 24), 1);
	} else {
		ip[0] = 0x45;
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		ip[8] = 64;
		ip[9] = proto;
		assert_int_equal(inet_pton(AF_INET, src, ip + 12), 1);
		assert_int_equal(inet_pton(AF_INET, dst, ip + 16), 1);
	}
	memcpy(ip + hl, l4, l4len);
	t->p.data = t->b;
	t->p.caplen = t->p.wirelen = 14 + tot;
	t->p.linktype = 1;
	t->p.has_ll = true;
	t->p.ll_off = 0;
	t->p.pkttype = PACKET_HOST;
	t->p.nfproto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
	t->p.l3proto = v6 ? 0x86dd : 0x0800;
	t->p.nh_off = 14;
	t->p.len = tot;
	t->p.avail = tot;
	t->p.tprot_set = true;
	t->p.l4proto = proto;
	t->p.th_off = 14 + hl;
	t->p.hook = NF_INET_LOCAL_IN;
	t->p.iifname = "eth0";
	t->p.iif = 2;
	t->p.ct_present = true;
	t->p.ctinfo = IP_CT_NEW;
	t->p.ct_state = NF_CT_STATE_BIT(IP_CT_NEW);
}

static void tcp(struct tp *t, const char *src, uint16_t sport, const char *dst,
		uint16_t dport)
{
	uint8_t th[20] = { 0 };

	th[0] = (uint8_t)(sport >> 8); th[1] = (uint8_t)sport;
	th[2] = (uint8_t)(dport >> 8); th[3] = (uint8_t)dport;
	th[12] = 0x50;
	th[13] = 0x02;	/* SYN */
	frame(t, strchr(src, ':') != NULL, src, dst, 6, th, sizeof(th));
}

static void udp(struct tp *t, const char *src, uint16_t sport, const char *dst,
		uint16_t dport, size_t payload)
{
	uint8_t uh[8 + 1500] = { 0 };

	uh[0] = (uint8_t)(sport >> 8); uh[1] = (uint8_t)sport;
	uh[2] = (uint8_t)(dport >> 8); uh[3] = (uint8_t)dport;
	uh[4] = (uint8_t)((8 + payload) >> 8); uh[5] = (uint8_t)(8 + payload);
	frame(t, strchr(src, ':') != NULL, src, dst, 17, uh, 8 + payload);
}

static void icmp(struct tp *t, const char *src, const char *dst, uint8_t type)
{
	uint8_t ih[8] = { type, 0 };
	int v6 = strchr(src, ':') != NULL;

	frame(t, v6, src, dst, v6 ? 58 : 1, ih, sizeof(ih));
}

static int eval(struct vm *vm, struct tp *t, struct vm_verdict *v)
{
	assert_int_equal(vm_eval(vm, &t->p, v), 0);
	return v->verdict;
}

static int verdict(struct vm *vm, struct tp *t)
{
	struct vm_verdict v;

	return eval(vm, t, &v);
}

/* ------------------------------------------------ payload, cmp, policy --- */

/* nft_payload_eval + nft_cmp_eval (eq via memcmp), NFT_BREAK to the next
 * rule, base chain end → policy (nft_do_chain). */
static void test_payload_cmp_policy(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy drop;\n"
		"  tcp dport 22 accept\n"
		"  ip saddr 192.0.2.7 udp dport 53 accept\n"
		"  ip6 daddr 2001:db8::1 accept\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct tp t;

	(void)state;
	tcp(&t, "198.51.100.1", 40000, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_false(v.policy);
	assert_int_equal(v.rule_index, 0);
	assert_string_equal(v.chain, "input");
	assert_non_null(v.rule);

	tcp(&t, "198.51.100.1", 40000, "10.0.0.1", 80);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_true(v.policy);
	assert_null(v.rule);
	assert_int_equal(v.rule_index, -1);

	/* udp 22: the l4proto dependency nft inserts breaks rule 0 */
	udp(&t, "198.51.100.1", 40000, "10.0.0.1", 22, 0);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "192.0.2.7", 40000, "10.0.0.1", 53, 4);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 1);
	tcp(&t, "2001:db8::9", 1, "2001:db8::1", 9);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 2);

	/* Another hook: no base chain there, netfilter accepts. */
	tcp(&t, "198.51.100.1", 40000, "10.0.0.1", 80);
	t.p.hook = NF_INET_LOCAL_OUT;
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_true(v.no_chain);
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_cmp_eval orders with memcmp on the register bytes: ports (big endian)
 * compare numerically; "meta length" is host order, so nft puts a byteorder
 * (nft_byteorder.c) before the ordering cmp. */
static void test_cmp_order_byteorder_range(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  tcp dport < 1024 drop\n"
		"  tcp dport >= 60000 drop\n"
		"  meta length > 1000 drop\n"
		"  udp dport 5000-5010 drop\n"
		"  udp dport != 7000-8000 udp sport 7 drop\n"
		"  meta length <= 28 udp dport 9 drop\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct tp t;

	(void)state;
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1023);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 0);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1024);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	/* 256 = 0x0100 is > 255 = 0x00ff only byte-wise big-endian */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 59999);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 60000);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);

	udp(&t, "10.0.0.2", 1, "10.0.0.1", 4000, 1000 - 28);	/* len 1000 */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 4000, 1001 - 28);	/* len 1001 */
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);

	udp(&t, "10.0.0.2", 1, "10.0.0.1", 5000, 4);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 3);
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 5010, 4);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 5011, 4);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	/* NFT_RANGE_NEQ */
	udp(&t, "10.0.0.2", 7, "10.0.0.1", 7500, 4);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	udp(&t, "10.0.0.2", 7, "10.0.0.1", 8001, 4);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 4);
	/* lte via byteorder: 28 <= 28 */
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 9, 0);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 5);
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_bitwise (mask/xor) for prefixes and flag tests */
static void test_bitwise_prefix_flags(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  ip saddr 10.1.0.0/16 drop\n"
		"  ip6 saddr fd00:10::/48 drop\n"
		"  tcp flags & (syn|ack) == syn tcp dport 99 drop\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct tp t;

	(void)state;
	tcp(&t, "10.1.200.3", 1, "10.0.0.1", 5);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	tcp(&t, "10.2.0.3", 1, "10.0.0.1", 5);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "fd00:10:0:ffff::1", 1, "fd00::1", 5);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	tcp(&t, "fd00:10:1::1", 1, "fd00::1", 5);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "10.9.0.3", 1, "10.0.0.1", 99);	/* SYN */
	assert_int_equal(verdict(vm, &t), NF_DROP);
	t.b[14 + 20 + 13] = 0x12;		/* SYN|ACK */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	vm_free(vm);
	ruleset_free(rs);
}

/* ------------------------------------------------------- verdict flow ---- */

struct trace_log {
	char lines[64][96];
	int n;
};

static void trace_cb(const struct vm_trace_event *ev, void *arg)
{
	struct trace_log *l = arg;

	if (l->n >= 64)
		return;
	if (ev->type == VM_TRACE_RULE)
		snprintf(l->lines[l->n++], 96, "%s#%d %s %s%s%s", ev->chain, ev->rule_index,
			 ev->matched ? "match" : "nomatch", vm_verdict_name(ev->verdict),
			 ev->target ? " " : "", ev->target ? ev->target : "");
	else
		snprintf(l->lines[l->n++], 96, "%s %s %s", ev->chain,
			 ev->type == VM_TRACE_RETURN ? "return" : "policy",
			 vm_verdict_name(ev->verdict));
}

/* nft_do_chain: jump pushes the next rule, goto does not, return/end of a
 * regular chain pops, continue goes on, base chain end → policy; several base
 * chains on one hook run in priority order and an accept passes on. */
static void test_verdict_flow(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain a { tcp dport 1 accept\n"
		"           tcp dport 2 return\n"
		"           tcp dport 3 goto b\n"
		"           tcp dport 4 continue\n"
		"           tcp dport 4 drop;\n"
		" }\n"
		" chain b { tcp dport 3 drop; }\n"
		" chain input { type filter hook input priority 10; policy accept;\n"
		"  jump a\n"
		"  tcp dport 2 drop\n"
		" }\n"
		" chain early { type filter hook input priority -10; policy accept;\n"
		"  tcp dport 5 drop\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct trace_log log = { 0 };
	struct vm_verdict v;
	struct tp t;

	(void)state;
	vm_set_trace(vm, trace_cb, &log);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_string_equal(v.chain, "a");
	assert_int_equal(v.rule_index, 0);
	assert_int_equal(v.nchains, 2);	/* early (policy accept), then input */
	assert_int_equal(log.n, 4);
	assert_string_equal(log.lines[0], "early#0 nomatch break");
	assert_string_equal(log.lines[1], "early policy accept");
	assert_string_equal(log.lines[2], "input#0 match jump a");
	assert_string_equal(log.lines[3], "a#0 match accept");

	/* return → back to input rule 1 */
	log.n = 0;
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 2);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_string_equal(v.chain, "input");
	assert_int_equal(v.rule_index, 1);
	assert_true(log.n >= 5);
	assert_string_equal(log.lines[log.n - 3], "a#1 match return");
	assert_string_equal(log.lines[log.n - 2], "a return return");
	assert_string_equal(log.lines[log.n - 1], "input#1 match drop");

	/* goto b: b's end returns to input (the caller of a), not to a */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 3);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_string_equal(v.chain, "b");

	/* continue: the next rule of a runs */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 4);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_string_equal(v.chain, "a");
	assert_int_equal(v.rule_index, 4);

	/* end of a → input rule 1 (no match) → policy accept */
	log.n = 0;
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 9);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_true(v.policy);
	assert_string_equal(v.chain, "input");

	/* a drop in the first base chain ends the packet */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 5);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_string_equal(v.chain, "early");
	assert_int_equal(v.nchains, 1);
	vm_free(vm);
	ruleset_free(rs);

	/* all chains accept: the first rule that accepted is reported, not
	 * a later chain's policy or rule (filterd's dns_queries chain runs
	 * after its own and must not take the decision over) */
	rs = kernel_ruleset(
		"table inet t {\n"
		" chain main { type filter hook output priority 0; policy drop;\n"
		"  udp dport 53 accept\n"
		" }\n"
		" chain later { type filter hook output priority 10; policy accept;\n"
		"  udp dport 53 counter accept\n"
		" }\n"
		"}\n");
	vm = must_load(rs);
	udp(&t, "10.0.0.1", 1000, "10.0.0.2", 53, 0);
	t.p.hook = NF_INET_LOCAL_OUT;
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.nchains, 2);
	assert_false(v.policy);
	assert_string_equal(v.chain, "main");
	assert_int_equal(v.rule_index, 0);
	vm_free(vm);
	ruleset_free(rs);
}

/* ------------------------------------------------------------- sets ------ */

/* nft_lookup: anonymous and named sets, NFT_LOOKUP_F_INV */
static void test_lookup_sets(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" set allowed { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.9 } }\n"
		" set nets { type ipv4_addr; flags interval;\n"
		"            elements = { 10.0.0.0/8, 192.168.1.0-192.168.1.20 } }\n"
		" chain input { type filter hook input priority 0; policy drop;\n"
		"  tcp dport { 22, 80, 443 } accept\n"
		"  ip saddr @allowed accept\n"
		"  ip saddr != @nets udp dport 53 accept\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct tp t;
	size_t nets = (size_t)-1;

	(void)state;
	tcp(&t, "198.51.100.1", 1, "10.0.0.1", 443);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "198.51.100.1", 1, "10.0.0.1", 444);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	tcp(&t, "192.0.2.9", 1, "10.0.0.1", 444);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 1);
	/* inverted: outside @nets */
	udp(&t, "198.51.100.1", 1, "10.0.0.1", 53, 0);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 2);
	udp(&t, "10.200.0.1", 1, "10.0.0.1", 53, 0);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "192.168.1.20", 1, "10.0.0.1", 53, 0);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "192.168.1.21", 1, "10.0.0.1", 53, 0);	/* the end marker */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);

	/* coverage: element hits */
	for (size_t i = 0; i < vm_set_count(vm); i++)
		if (strcmp(vm_set_name(vm, i), "nets") == 0)
			nets = i;
	assert_true(nets != (size_t)-1);
	uint64_t hits = 0;
	for (size_t j = 0; j < vm_set_nelems(vm, nets); j++)
		hits += vm_set_elem_hits(vm, nets, j);
	assert_int_equal(hits, 2);	/* 10.200.0.1 and 192.168.1.20 */
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_set_pipapo: concatenated ranges, key..key_end per field; nft_set_hash:
 * exact concatenations */
static void test_concat_sets(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" set svc { type ipv4_addr . inet_proto . inet_service; flags interval;\n"
		"   elements = { 10.0.0.0/24 . tcp . 80-90, 10.0.1.5 . udp . 53,\n"
		"                0.0.0.0/0 . tcp . 7 } }\n"
		" set pairs { type ipv4_addr . ipv4_addr;\n"
		"   elements = { 10.0.0.1 . 10.0.0.2, 10.0.0.3 . 10.0.0.4 } }\n"
		" chain input { type filter hook input priority 0; policy drop;\n"
		"  ip daddr . meta l4proto . th dport @svc accept\n"
		"  ip saddr . ip daddr @pairs accept\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct tp t;

	(void)state;
	tcp(&t, "192.0.2.1", 1, "10.0.0.200", 85);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "192.0.2.1", 1, "10.0.0.200", 91);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "192.0.2.1", 1, "10.0.0.200", 85, 0);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "192.0.2.1", 1, "10.0.1.5", 53, 0);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	udp(&t, "192.0.2.1", 1, "10.0.1.6", 53, 0);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	tcp(&t, "192.0.2.1", 1, "203.0.113.77", 7);	/* the wide element */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "10.0.0.3", 1, "10.0.0.4", 1);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "10.0.0.3", 1, "10.0.0.2", 1);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_lookup with dreg: data maps (into a register, then meta mark set) and
 * verdict maps (into the verdict register, jump included) */
static void test_maps(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain c1 { meta mark 2 drop\n accept; }\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  meta mark set tcp dport map { 22 : 1, 80 : 2 }\n"
		"  tcp dport vmap { 22 : accept, 23 : drop, 80 : jump c1 }\n"
		"  ip saddr vmap { 10.0.0.0/8 : drop, 192.0.2.0/24 : accept }\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct tp t;

	(void)state;
	tcp(&t, "198.51.100.1", 1, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 1);
	assert_int_equal(t.p.mark, 1);
	tcp(&t, "198.51.100.1", 1, "10.0.0.1", 23);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	tcp(&t, "198.51.100.1", 1, "10.0.0.1", 80);	/* mark 2 → c1 drops */
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_string_equal(v.chain, "c1");
	assert_int_equal(t.p.mark, 2);
	/* no map entry: the map rule breaks, the interval vmap decides */
	tcp(&t, "10.9.9.9", 1, "10.0.0.1", 1000);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	tcp(&t, "192.0.2.200", 1, "10.0.0.1", 1000);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 2);
	tcp(&t, "198.51.100.1", 1, "10.0.0.1", 1000);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_true(v.policy);
	vm_free(vm);
	ruleset_free(rs);
}

/* Interval sets from the real Azure service tags: the union of every prefix
 * (merged by nft, as the kernel's rbtree holds it) and ~70k single
 * addresses; the vm must agree with a brute-force membership test. */
static void test_servicetags_interval_sets(void **state)
{
	char err[256];
	struct tagdb *db;
	struct pset u4, u6;
	struct pset h4, h6;
	FILE *f;
	char *text = NULL;
	size_t tlen = 0;
	char a[64], b[64];

	(void)state;
	if (access(TAGS_FILE, R_OK) != 0) {
		print_message("%s absent: skipped\n", TAGS_FILE);
		skip();
	}
	if (!ns_ready) {
		print_message("needs root and nft: skipped\n");
		skip();
	}
	db = tagdb_load(TAGS_FILE, err, sizeof(err));
	assert_non_null(db);
	pset_init(&u4, AF_INET);
	pset_init(&u6, AF_INET6);
	pset_init(&h4, AF_INET);
	pset_init(&h6, AF_INET6);
	for (size_t i = 0; i < db->n; i++) {
		assert_int_equal(pset_union(&u4, &db->tags[i].v4), 0);
		assert_int_equal(pset_union(&u6, &db->tags[i].v6), 0);
		/* single addresses: every interval's first address + 1 */
		for (size_t j = 0; j < db->tags[i].v4.n; j++) {
			struct addr x = db->tags[i].v4.v[j].lo;
			struct addr y = db->tags[i].v4.v[j].hi;

			x.b[3] |= 1;
			y.b[3] &= 0xfe;
			assert_int_equal(pset_add_interval(&h4, &x, &x), 0);
			assert_int_equal(pset_add_interval(&h4, &y, &y), 0);
		}
		for (size_t j = 0; j < db->tags[i].v6.n; j++) {
			struct addr x = db->tags[i].v6.v[j].lo;

			x.b[15] |= 1;
			assert_int_equal(pset_add_interval(&h6, &x, &x), 0);
		}
	}
	pset_normalize(&h4);
	pset_normalize(&h6);

	f = open_memstream(&text, &tlen);
	assert_non_null(f);
	fprintf(f, "table inet t {\n");
	const struct pset *ps[4] = { &u4, &u6, &h4, &h6 };
	const char *names[4] = { "u4", "u6", "h4", "h6" };
	for (int k = 0; k < 4; k++) {
		int fam = ps[k]->family;

		fprintf(f, " set %s { type %s; flags interval; elements = {\n", names[k],
			fam == AF_INET ? "ipv4_addr" : "ipv6_addr");
		for (size_t i = 0; i < ps[k]->n; i++) {
			interval_format(fam, &ps[k]->v[i], a, sizeof(a));
			fprintf(f, "%s%s", i ? ",\n" : "", a);
		}
		fprintf(f, " } }\n");
	}
	fprintf(f, " chain input { type filter hook input priority 0; policy accept;\n"
		   "  ip saddr @u4 meta mark set 1\n"
		   "  ip6 saddr @u6 meta mark set 1\n"
		   "  ip saddr @h4 meta mark set meta mark | 2\n"
		   "  ip6 saddr @h6 meta mark set meta mark | 2\n"
		   " }\n}\n");
	fclose(f);
	print_message("intervals: u4 %zu u6 %zu h4 %zu h6 %zu\n", u4.n, u6.n, h4.n, h6.n);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct ruleset *rs = kernel_ruleset(text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("nft load + dump: %.2fs, %zu elements\n",
		      (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		      ruleset_count_elements(rs));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct vm *vm = must_load(rs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("vm_load: %.3fs\n",
		      (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (size_t i = 0; i < vm_set_count(vm); i++)
		print_message("set %s: %zu elements, %zu KiB\n", vm_set_name(vm, i),
			      vm_set_nelems(vm, i), vm_set_memory(vm, i) / 1024);

	/* probes: interval edges and neighbours, plus pseudo-random addresses */
	unsigned long probes = 0, mism = 0;
	uint64_t rnd = 0x1234567;
	for (int k = 0; k < 4; k += 1) {
		const struct pset *s = ps[k];
		int fam = s->family;
		size_t alen = fam == AF_INET ? 4 : 16;

		for (size_t i = 0; i < s->n + 20000; i++) {
			struct addr x;

			if (i < s->n) {
				x = (i & 1) ? s->v[i].hi : s->v[i].lo;
				/* step one address out of the interval half the time */
				if (i & 2) {
					int c = (int)alen - 1;
					if (i & 1)
						while (c >= 0 && ++x.b[c] == 0)
							c--;
					else
						while (c >= 0 && x.b[c]-- == 0)
							c--;
				}
			} else {
				memset(&x, 0, sizeof(x));
				for (size_t c = 0; c < alen; c++) {
					rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
					x.b[c] = (uint8_t)(rnd >> 56);
				}
				if (fam == AF_INET6)
					x.b[0] = (uint8_t)(0x20 | (x.b[0] & 0x0f));
			}
			struct tp t;

			addr_format(fam, &x, a, sizeof(a));
			tcp(&t, a, 1, fam == AF_INET ? "10.0.0.1" : "fd00::1", 1);
			assert_int_equal(verdict(vm, &t), NF_ACCEPT);
			bool in_u = pset_contains(fam == AF_INET ? &u4 : &u6, &x);
			bool in_h = pset_contains(fam == AF_INET ? &h4 : &h6, &x);
			uint32_t want = (in_u ? 1u : 0u) | (in_h ? 2u : 0u);

			probes++;
			if (t.p.mark != want) {
				if (mism++ < 5)
					print_message("mismatch %s: vm %u, want %u\n", a, t.p.mark,
						      want);
			}
		}
	}
	/* lookup cost: 4 sets per packet, independent of set size */
	{
		static struct tp pk[256];
		struct vm_verdict vv;
		const int rounds = 4000;

		for (int i = 0; i < 256; i++) {
			const struct pset *s = ps[2 + (i & 1)];
			struct addr x = s->v[(size_t)i * 97 % s->n].lo;

			addr_format(s->family, &x, a, sizeof(a));
			tcp(&pk[i], a, 1, s->family == AF_INET ? "10.0.0.1" : "fd00::1", 1);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int r = 0; r < rounds; r++)
			for (int i = 0; i < 256; i++)
				vm_eval(vm, &pk[i].p, &vv);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_message("vm_eval: %.0f ns/packet (2 interval lookups each)\n",
			      ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) /
			      (rounds * 256.0));
	}
	snprintf(b, sizeof(b), "%lu", probes);
	print_message("probes: %s, mismatches: %lu\n", b, mism);
	assert_int_equal(mism, 0);

	/* save/load round trip of the big ruleset */
	void *buf = NULL;
	size_t blen = 0;
	assert_int_equal(ruleset_save_buf(rs, &buf, &blen, err, sizeof(err)), 0);
	struct ruleset *rs2 = ruleset_load_buf(buf, blen, "big", err, sizeof(err));
	if (!rs2)
		print_message("%s\n", err);
	assert_non_null(rs2);
	assert_int_equal(ruleset_count_elements(rs2), ruleset_count_elements(rs));
	free(buf);
	ruleset_free(rs2);

	vm_free(vm);
	ruleset_free(rs);
	free(text);
	pset_free(&u4);
	pset_free(&u6);
	pset_free(&h4);
	pset_free(&h6);
	tagdb_free(db);
}

/* ---------------------------------------------------------- ct / meta --- */

/* nft_ct_get_eval: state is NF_CT_STATE_BIT(ctinfo), the untracked bit, or
 * the invalid bit without a conntrack; direction/status break without one. */
static void test_ct(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  ct state established,related counter accept\n"
		"  ct state invalid drop\n"
		"  ct state untracked tcp dport 1 drop\n"
		"  ct direction reply tcp dport 2 drop\n"
		"  ct status dnat tcp dport 3 drop\n"
		"  ct state new tcp dport 4 drop\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct vm_rule_stats st;
	struct tp t;

	(void)state;
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 9);
	t.p.ctinfo = IP_CT_ESTABLISHED;
	t.p.ct_state = NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 0);
	t.p.ctinfo = IP_CT_RELATED;
	t.p.ct_state = NF_CT_STATE_BIT(IP_CT_RELATED);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 0);
	assert_int_equal(vm_rule_stats_of(vm, v.rule, &st), 0);
	assert_true(st.has_counter);
	assert_int_equal(st.packets, 2);
	assert_int_equal(st.bytes, 80);

	/* no conntrack: invalid */
	t.p.ct_present = false;
	t.p.ct_state = 0;
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	/* untracked */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	t.p.ct_present = false;
	t.p.ctinfo = IP_CT_UNTRACKED;
	t.p.ct_state = NF_CT_STATE_UNTRACKED_BIT;
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	/* direction needs a conntrack: untracked breaks rule 3 */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 2);
	t.p.ct_present = false;
	t.p.ct_state = NF_CT_STATE_UNTRACKED_BIT;
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 2);
	t.p.ct_dir = 1;	/* IP_CT_DIR_REPLY */
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 3);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 3);
	t.p.ct_status = IPS_DST_NAT;
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 4);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 4);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 5);
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_meta_get_eval: nfproto, l4proto, iifname/oifname by hook, mark,
 * pkttype, protocol */
static void test_meta(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain pre { type filter hook prerouting priority -300;\n"
		"  meta nftrace set 1\n"	/* as the live tests add: a no-op here */
		" }\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  meta nfproto ipv6 meta l4proto icmpv6 drop\n"
		"  iifname \"lo\" accept\n"
		"  iifname \"veth*\" tcp dport 1 drop\n"
		"  meta mark 0x10 tcp dport 2 drop\n"
		"  meta pkttype broadcast udp dport 3 drop\n"
		"  meta protocol ip6 udp dport 4 drop\n"
		"  oifname \"eth9\" udp dport 5 drop\n"
		"  meta iif 7 udp dport 6 drop\n"
		" }\n"
		" chain output { type filter hook output priority 0; policy accept;\n"
		"  oifname \"eth1\" drop\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct tp t;

	(void)state;
	icmp(&t, "fd00::2", "fd00::1", 128);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 0);
	icmp(&t, "10.0.0.2", "10.0.0.1", 8);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	t.p.iifname = "veth-x";
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	t.p.iifname = "lo";
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 1);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 2);
	t.p.mark = 0x10;
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "10.0.0.2", 1, "10.0.0.255", 3, 0);
	t.p.pkttype = PACKET_BROADCAST;
	assert_int_equal(verdict(vm, &t), NF_DROP);
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 4, 0);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	udp(&t, "fd00::2", 1, "fd00::1", 4, 0);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	/* at input there is no output device: oifname reads "" */
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 5, 0);
	t.p.oifname = "eth9";
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	t.p.hook = NF_INET_FORWARD;	/* forward: both devices */
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);	/* no forward chain */
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 6, 0);
	t.p.iif = 7;
	assert_int_equal(verdict(vm, &t), NF_DROP);
	/* output hook */
	tcp(&t, "10.0.0.1", 1, "10.0.0.2", 1);
	t.p.hook = NF_INET_LOCAL_OUT;
	t.p.oifname = "eth1";
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_string_equal(v.chain, "output");
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_limit: token bucket in ns, burst default 5 for packets, inverted
 * ("over"), byte mode (cost nsecs * len / rate) — on capture timestamps */
static void test_limit(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy drop;\n"
		"  tcp dport 1 limit rate 2/second burst 2 packets accept\n"
		"  tcp dport 2 limit rate over 1/second drop\n"
		"  tcp dport 2 accept\n"
		"  udp dport 3 limit rate 1000 bytes/second accept\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct tp t;
	int i;

	(void)state;
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	t.p.ts.tv_sec = 1000;
	/* bucket 2 * 0.5 s: two packets at the same instant, not a third */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	t.p.ts.tv_usec = 499999;	/* not quite one token back */
	assert_int_equal(verdict(vm, &t), NF_DROP);
	t.p.ts.tv_usec = 999999;	/* 0.5 s since the last packet: one token */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	t.p.ts.tv_sec = 1010;		/* refill capped at the bucket */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	assert_int_equal(verdict(vm, &t), NF_DROP);

	/* over 1/second, burst 5 by default: 5 under the limit, then over */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 2);
	t.p.ts.tv_sec = 2000;
	for (i = 0; i < 5; i++)
		assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	assert_int_equal(verdict(vm, &t), NF_DROP);

	/* 1000 bytes/s, burst 0: a bucket of 1 s = 1000 bytes; 100-byte
	 * packets cost 0.1 s each */
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 3, 72);	/* len 100 */
	t.p.ts.tv_sec = 3000;
	for (i = 0; i < 10; i++)
		assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	assert_int_equal(verdict(vm, &t), NF_DROP);

	vm_reset(vm);		/* buckets full again */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	t.p.ts.tv_sec = 5;
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_payload_eval: a non-first fragment has no transport header
 * (pkt->fragoff) → transport loads break, meta l4proto still reads. */
static void test_fragments(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  tcp dport 22 accept\n"
		"  meta l4proto tcp counter drop\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct tp t;

	(void)state;
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	t.p.fragoff = 1480;
	t.p.is_frag = true;
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	/* transport header not found at all: l4proto breaks too */
	t.p.tprot_set = false;
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_true(v.policy);
	/* capture cut inside the TCP header: the load breaks, flagged */
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 22);
	t.p.avail = 21;
	t.p.caplen = 14 + 21;
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_true(v.incomplete);
	vm_free(vm);
	ruleset_free(rs);
}

/* counter, log (no verdict change), reject → NF_DROP */
static void test_counter_log_reject(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  tcp dport 23 counter log prefix \"telnet \" reject with tcp reset\n"
		"  udp dport 9 log prefix \"nine \" counter\n"
		"  udp dport 9 reject\n"
		" }\n"
		"}\n");
	struct vm *vm = must_load(rs);
	struct vm_verdict v;
	struct vm_rule_stats st;
	struct tp t;

	(void)state;
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 23);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_true(v.rejected);
	assert_int_equal(v.reject_type, NFT_REJECT_TCP_RST);
	assert_int_equal(v.nlogged, 1);
	assert_string_equal(v.log_prefix, "telnet ");
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 9, 10);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	assert_true(v.rejected);
	assert_int_equal(v.nlogged, 1);
	assert_int_equal(vm_rule_stats(vm, 1, &st), 0);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.bytes, 38);
	assert_int_equal(st.evaluated, 1);	/* the tcp packet stopped at rule 0 */
	assert_int_equal(st.matched, 1);
	vm_free(vm);
	ruleset_free(rs);
}

/* Loading refuses what it cannot evaluate, naming rule, chain and expression */
static void test_unsupported(void **state)
{
	static const struct { const char *rule, *msg; } cases[] = {
		{ "fib daddr type local accept",
		  "rule 2 in chain input: expression 'fib' is not supported" },
		{ "meta skuid 0 accept",
		  "expression 'meta': key 'skuid' (10) is not supported" },
		{ "notrack", "expression 'notrack' is not supported" },
		{ "ip saddr set 1.2.3.4",
		  "expression 'payload': attribute 'sreg' is not supported" },
		{ "ct original ip saddr 10.0.0.1 accept",
		  "expression 'ct': attribute 'dir' is not supported" },
		{ "ct helper \"ftp\" accept",
		  "expression 'ct': key 'helper' (6) is not supported" },
		{ "meta priority set 1", "expression 'meta': setting key 'priority'" },
	};
	char text[512], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "table inet t {\n chain input { type filter hook input priority 0;\n"
			 "  tcp dport 1 accept\n  %s\n }\n}\n", cases[i].rule);
		struct ruleset *rs = kernel_ruleset(text);
		struct vm *vm = vm_load(rs, err, sizeof(err));

		if (vm || !strstr(err, cases[i].msg))
			print_message("case %zu: got '%s'\n", i, vm ? "(loaded)" : err);
		assert_null(vm);
		assert_non_null(strstr(err, cases[i].msg));
		ruleset_free(rs);
	}
	/* A set with the timeout flag but no timed elements is a plain set (filterd's
	 * FQDN sets before any name is learned); an element carrying a timeout is
	 * refused: whether it is still there depends on when the dump was taken. */
	struct ruleset *rs = kernel_ruleset(
		"table inet t { set s { type ipv4_addr; flags timeout; }\n"
		" chain input { type filter hook input priority 0; ip saddr @s drop; }\n}\n");
	struct vm *tvm = vm_load(rs, err, sizeof(err));
	assert_non_null(tvm);
	vm_free(tvm);
	ruleset_free(rs);
	rs = kernel_ruleset(
		"table inet t { set s { type ipv4_addr; flags timeout; elements = { 192.0.2.1 timeout 1h }; }\n"
		" chain input { type filter hook input priority 0; ip saddr @s drop; }\n}\n");
	assert_null(vm_load(rs, err, sizeof(err)));
	assert_string_equal(err, "set 's': element timeouts are not supported");
	ruleset_free(rs);
	/* a nat chain */
	rs = kernel_ruleset("table inet t { chain pre { type nat hook prerouting priority 0; }\n}\n");
	assert_null(vm_load(rs, err, sizeof(err)));
	assert_string_equal(err, "chain pre: chain type 'nat' is not supported");
	ruleset_free(rs);
	/* chains pcap-replay would never run (nft_do_chain at those hooks) are
	 * refused, not loaded and skipped: prerouting, postrouting, and output
	 * before conntrack (nf_conntrack_proto.c: NF_IP_PRI_CONNTRACK -200) */
	static const struct { const char *table, *msg; } hooks[] = {
		{ "table inet t { chain pre { type filter hook prerouting priority 0; udp dport 5 drop; }\n}\n",
		  "chain pre: hook prerouting is not supported (only input, output and forward; there only counters and meta nftrace set)" },
		{ "table inet t { chain post { type filter hook postrouting priority 0; udp dport 6 drop; }\n}\n",
		  "chain post: hook postrouting is not supported (only input, output and forward; there only counters and meta nftrace set)" },
		{ "table inet t { chain pre { type filter hook prerouting priority 0; policy drop; counter; }\n}\n",
		  "chain pre: hook prerouting is not supported (only input, output and forward; there only counters and meta nftrace set)" },
		{ "table inet t { chain post { type filter hook postrouting priority 0; meta mark set 1; }\n}\n",
		  "chain post: hook postrouting is not supported (only input, output and forward; there only counters and meta nftrace set)" },
		{ "table inet t { chain raw { type filter hook output priority -300; udp dport 6 drop; }\n}\n",
		  "chain raw: priority -300 at hook output is not supported (at or before conntrack's -200)" },
	};
	for (size_t i = 0; i < sizeof(hooks) / sizeof(*hooks); i++) {
		rs = kernel_ruleset(hooks[i].table);
		assert_null(vm_load(rs, err, sizeof(err)));
		assert_string_equal(err, hooks[i].msg);
		ruleset_free(rs);
	}
	/* output after conntrack and input at any priority load */
	rs = kernel_ruleset("table inet t { chain out { type filter hook output priority -150; }\n"
			    " chain in { type filter hook input priority -300; }\n}\n");
	tvm = vm_load(rs, err, sizeof(err));
	assert_non_null(tvm);
	vm_free(tvm);
	ruleset_free(rs);
}

/* ruleset_save / ruleset_load_file: same bytes back, same verdicts; broken
 * files give clear errors */
static void test_save_load(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" set nets { type ipv4_addr; flags interval; elements = { 10.0.0.0/8 } }\n"
		" chain a { tcp dport 1 accept; }\n"
		" chain input { type filter hook input priority 0; policy drop;\n"
		"  ip saddr @nets jump a\n"
		"  tcp dport vmap { 2 : accept } comment \"x:in:y\"\n"
		" }\n"
		"}\n");
	char path[128], err[256];
	struct ruleset *rs2;
	struct vm *vm;
	struct tp t;
	void *b1, *b2;
	size_t l1, l2;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/filterd-vmtest-%d.frs", (int)getpid());
	assert_int_equal(ruleset_save(rs, path, err, sizeof(err)), 0);
	rs2 = ruleset_load_file(path, err, sizeof(err));
	if (!rs2)
		print_message("%s\n", err);
	assert_non_null(rs2);
	assert_string_equal(rs2->table, "t");
	assert_int_equal(rs2->family, NFPROTO_INET);
	assert_int_equal(ruleset_count_rules(rs2), ruleset_count_rules(rs));
	assert_int_equal(ruleset_count_sets(rs2), ruleset_count_sets(rs));
	/* serialising the loaded copy gives the same bytes */
	assert_int_equal(ruleset_save_buf(rs, &b1, &l1, err, sizeof(err)), 0);
	assert_int_equal(ruleset_save_buf(rs2, &b2, &l2, err, sizeof(err)), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	vm = must_load(rs2);
	tcp(&t, "10.1.1.1", 1, "10.0.0.1", 1);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "11.1.1.1", 1, "10.0.0.1", 2);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "11.1.1.1", 1, "10.0.0.1", 1);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	vm_free(vm);
	char cbuf[128];
	enum rule_category cat;
	char dir[8], name[32];
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(rs2->rules);
	struct nftnl_rule *r, *last = NULL;
	while ((r = nftnl_rule_list_iter_next(it)))
		last = r;
	nftnl_rule_list_iter_destroy(it);
	rule_comment(last, cbuf, sizeof(cbuf));
	assert_string_equal(cbuf, "x:in:y");
	assert_int_equal(rule_origin(last, &cat, dir, sizeof(dir), name, sizeof(name)), -1);
	ruleset_free(rs2);

	/* malformed inputs */
	assert_null(ruleset_load_buf("nope", 4, "m", err, sizeof(err)));
	assert_string_equal(err, "m: not a filterd saved ruleset (bad header)");
	assert_null(ruleset_load_buf(b1, l1 - 3, "m", err, sizeof(err)));
	assert_string_equal(err, "m: checksum mismatch (corrupted or truncated file)");
	uint8_t *bad = malloc(l1);
	size_t m = strlen(RULESET_FILE_MAGIC);
	/* every truncation and byte flips: refused, never a crash */
	for (size_t cut = 0; cut < l1; cut += 5) {
		assert_null(ruleset_load_buf(b1, cut, "m", err, sizeof(err)));
	}
	for (size_t i = m; i < l1; i += 3) {
		memcpy(bad, b1, l1);
		bad[i] ^= 0x5a;
		assert_null(ruleset_load_buf(bad, l1, "m", err, sizeof(err)));
	}
	free(bad);
	f = fopen(path, "w");
	fclose(f);
	assert_null(ruleset_load_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "bad header"));
	unlink(path);
	assert_null(ruleset_load_file("/nonexistent/x", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/x: No such file or directory");
	free(b1);
	free(b2);
	ruleset_free(rs);
}

/* ------------------------------------------- hand-built (no root) ------- */

/* nft_payload LL loads on a VLAN-tagged frame: the receive path takes the
 * tag off the data (skb_vlan_untag; vlan_do_receive clears vlan_tci), so
 * @ll,96,16 is the inner ethertype and @ll,112,8 the first IP byte -- what
 * the kernel check sees with the tag stripped (a review found 0x8100 read
 * here). */
static void test_handbuilt_ll_vlan(void **state)
{
	struct ruleset *rs = hb_new(NF_ACCEPT);
	struct nftnl_rule *r;
	struct vm *vm;
	struct vm_verdict v;
	struct tp t;

	(void)state;
	r = hb_rule(rs);	/* rule 0: @ll,96,16 0x8100 drop */
	hb_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1);
	hb_cmp(r, NFT_REG_1, NFT_CMP_EQ, "\x81\x00", 2);
	hb_verdict(r, NF_DROP);
	r = hb_rule(rs);	/* rule 1: @ll,96,24 0x080045 (ethertype, IP version/ihl) drop */
	hb_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 3, NFT_REG_1);
	hb_cmp(r, NFT_REG_1, NFT_CMP_EQ, "\x08\x00\x45", 3);
	hb_verdict(r, NF_DROP);
	vm = must_load(rs);

	udp(&t, "10.0.0.2", 1, "10.0.0.1", 53, 4);
	{	/* the IPv4 header checksum, which the decoder checks */
		uint32_t sum = 0;

		for (int i = 0; i < 20; i += 2)
			sum += (uint32_t)t.b[14 + i] << 8 | t.b[14 + i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		t.b[14 + 10] = (uint8_t)(~sum >> 8);
		t.b[14 + 11] = (uint8_t)~sum;
	}
	/* the tag: 802.1Q, VID 5, between the addresses and the ethertype */
	memmove(t.b + 16, t.b + 12, t.p.caplen - 12);
	memcpy(t.b + 12, "\x81\x00\x00\x05", 4);
	t.p.caplen += 4;
	assert_int_equal(pkt_decode(&t.p, 1, t.b, t.p.caplen, t.p.caplen), 0);
	assert_int_equal(t.p.vlan_depth, 1);
	t.p.hook = NF_INET_LOCAL_IN;
	t.p.iifname = "eth0";
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	assert_false(v.incomplete);
	vm_free(vm);
	ruleset_free(rs);
}

/* nft_bitwise_eval_lshift/rshift on host-order words, carrying across words;
 * nft_byteorder size 2 (u16 at the start of each 32-bit word) */
static void test_handbuilt_shift_byteorder(void **state)
{
	struct ruleset *rs = hb_new(NF_ACCEPT);
	struct nftnl_rule *r;
	struct nftnl_expr *e;
	uint32_t sh = 4, want;
	struct tp t;
	struct vm *vm;
	struct vm_verdict v;

	(void)state;
	/* rule 0: (tcp dport as loaded, 2 bytes) >> 4 == 0x0160 >> ... */
	r = hb_rule(rs);
	hb_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 4, NFT_REG32_00);	/* sport|dport */
	e = hb_expr(r, "bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG32_01);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_OP, NFT_BITWISE_RSHIFT);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_DATA, &sh, sizeof(sh));
	/* on a little-endian host the register word of bytes 12 34 56 78 is
	 * 0x78563412; >> 4 = 0x07856341 */
	want = 0x07856341;
	hb_cmp(r, NFT_REG32_01, NFT_CMP_EQ, &want, 4);
	hb_verdict(r, NF_DROP);

	/* rule 1: byteorder ntoh size 2 of the dport → host order, cmp */
	r = hb_rule(rs);
	hb_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02);
	e = hb_expr(r, "byteorder");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG32_02);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG32_02);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_NTOH);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
	uint16_t port = 4242;
	hb_cmp(r, NFT_REG32_02, NFT_CMP_EQ, &port, 2);
	hb_verdict(r, NF_DROP);

	/* rule 2: LL payload (ether saddr) — breaks without a MAC header */
	r = hb_rule(rs);
	hb_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
	hb_cmp(r, NFT_REG_1, NFT_CMP_EQ, "\x00\x11\x22\x33\x44\x55", 6);
	e = hb_expr(r, "payload");	/* and inner: the byte after the UDP header */
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_INNER_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG32_05);
	hb_cmp(r, NFT_REG32_05, NFT_CMP_EQ, "\x00", 1);
	hb_verdict(r, NF_DROP);

	vm = must_load(rs);
	tcp(&t, "10.0.0.2", 0x1234, "10.0.0.1", 0x5678);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 0);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 4242);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 1, 4);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	t.p.has_ll = false;	/* e.g. locally generated: no MAC header */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 1, 0);	/* nothing after UDP */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	vm_free(vm);

	/* attribute policy: a payload write is refused */
	r = hb_rule(rs);
	e = hb_expr(r, "payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, NFT_REG32_00);
	char err[256];
	assert_null(vm_load(rs, err, sizeof(err)));
	assert_string_equal(err, "rule 4 in chain input: expression 'payload': "
			    "attribute 'sreg' is not supported");
	ruleset_free(rs);

	/* register bounds: a 16-byte load into NFT_REG32_15 */
	rs = hb_new(NF_ACCEPT);
	r = hb_rule(rs);
	hb_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 16, NFT_REG32_15);
	assert_null(vm_load(rs, err, sizeof(err)));
	assert_non_null(strstr(err, "does not fit register"));
	ruleset_free(rs);

	/* jump loop */
	rs = hb_new(NF_ACCEPT);
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "t");
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "x");
	nftnl_chain_list_add_tail(c, rs->chains);
	r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "x");
	e = hb_expr(r, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_JUMP);
	nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, "x");
	nftnl_rule_list_add_tail(r, rs->rules);
	assert_null(vm_load(rs, err, sizeof(err)));
	assert_string_equal(err, "chain x: jump/goto loop");
	ruleset_free(rs);

	/* queue is refused (the verdict would leave the ruleset) */
	rs = hb_new(NF_ACCEPT);
	hb_verdict(hb_rule(rs), NF_QUEUE);
	assert_null(vm_load(rs, err, sizeof(err)));
	assert_string_equal(err, "rule 1 in chain input: expression 'immediate': "
			    "verdict 'queue' is not supported");
	ruleset_free(rs);

	/* nft_chain_validate: a chain validated at level NFT_JUMP_STACK_SIZE
	 * (16) is -EMLINK, so 15 nested regular chains load (and run), 16 do
	 * not — checked against the kernel with nft. */
	for (int depth = 15; depth <= 16; depth++) {
		char cn[16], prev[16] = "input";

		rs = hb_new(NF_ACCEPT);
		for (int i = 0; i < depth; i++) {
			snprintf(cn, sizeof(cn), "c%d", i);
			c = nftnl_chain_alloc();
			nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "t");
			nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, cn);
			nftnl_chain_list_add_tail(c, rs->chains);
			r = nftnl_rule_alloc();
			nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
			nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, prev);
			e = hb_expr(r, "immediate");
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT,
					   (uint32_t)(i % 2 ? NFT_GOTO : NFT_JUMP));
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, cn);
			nftnl_rule_list_add_tail(r, rs->rules);
			snprintf(prev, sizeof(prev), "%s", cn);
		}
		r = nftnl_rule_alloc();
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, prev);
		hb_verdict(r, NF_DROP);
		nftnl_rule_list_add_tail(r, rs->rules);
		vm = vm_load(rs, err, sizeof(err));
		if (depth == 15) {
			struct vm_verdict vv;

			assert_non_null(vm);
			tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
			assert_int_equal(eval(vm, &t, &vv), NF_DROP);
			assert_string_equal(vv.chain, "c14");
			vm_free(vm);
		} else {
			assert_null(vm);
			assert_string_equal(err, "chain c15: jumps nest 16 deep (kernel limit 15)");
		}
		ruleset_free(rs);
	}
}

/* nft_lookup: an inverted lookup whose key IS in the set still matches when
 * the set has a catch-all element (nft_set_catchall_lookup stands in). */
/* "meta KEY -> reg; cmp eq reg, val; verdict" */
static void hb_meta_cmp_rule(struct ruleset *rs, uint32_t key, uint32_t reg, uint8_t val,
			     int verdict_code)
{
	struct nftnl_rule *r = hb_rule(rs);
	struct nftnl_expr *e = hb_expr(r, "meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, reg);
	hb_cmp(r, reg, NFT_CMP_EQ, &val, 1);
	hb_verdict(r, verdict_code);
}

/* "cmp eq reg, val; verdict": reads a register no expression of the rule loads */
static void hb_cmp_rule(struct ruleset *rs, uint32_t reg, uint8_t val, int verdict_code)
{
	struct nftnl_rule *r = hb_rule(rs);

	hb_cmp(r, reg, NFT_CMP_EQ, &val, 1);
	hb_verdict(r, verdict_code);
}

/* The rule guard (vm.c run_guard) does what the "meta nfproto|l4proto; cmp eq"
 * pair it replaces does, register write included: a later rule reading the
 * register without loading it (nothing forbids that in the kernel: registers
 * live for the whole chain walk) sees the value the failed guard stored; a
 * packet without a transport header breaks "meta l4proto" without a write. */
static void test_handbuilt_guard_register(void **state)
{
	struct ruleset *rs = hb_new(NF_ACCEPT), *rs2 = hb_new(NF_ACCEPT);
	struct vm_verdict v;
	struct vm *vm;
	struct tp t;

	(void)state;
	/* ipv6 accepted by rule 0; rule 1 reads what rule 0's meta wrote */
	hb_meta_cmp_rule(rs, NFT_META_NFPROTO, NFT_REG_1, NFPROTO_IPV6, NF_ACCEPT);
	hb_cmp_rule(rs, NFT_REG_1, NFPROTO_IPV4, NF_DROP);
	vm = must_load(rs);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);		/* ipv4: rule 0's guard writes 2 */
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	tcp(&t, "fd00::2", 1, "fd00::1", 1);		/* ipv6: rule 0 accepts */
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 0);
	vm_free(vm);

	/* udp accepted by rule 0; a tcp packet fails its guard (writes 6) and
	 * rule 1 drops; without a transport header rule 0 breaks without a
	 * write and rule 1 sees 0: policy accept */
	hb_meta_cmp_rule(rs2, NFT_META_L4PROTO, NFT_REG_2, 17, NF_ACCEPT);
	hb_cmp_rule(rs2, NFT_REG_2, 6, NF_DROP);
	vm = must_load(rs2);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	t.p.tprot_set = false;
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_true(v.policy);
	udp(&t, "10.0.0.2", 1, "10.0.0.1", 1, 0);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 0);
	vm_free(vm);
	ruleset_free(rs);
	ruleset_free(rs2);
}

/* eval on two evaluators of one ruleset; they must agree (verdict, rule) */
static int eval_both(struct vm *a, struct vm *b, struct tp *t, struct vm_verdict *v)
{
	struct vm_verdict w;
	struct tp t2 = *t;

	t2.p.data = t2.b;
	eval(a, t, v);
	eval(b, &t2, &w);
	assert_int_equal(v->verdict, w.verdict);
	assert_int_equal(v->rule_index, w.rule_index);
	assert_int_equal(v->policy, w.policy);
	return v->verdict;
}

/* The rule index (vm_index.c) passes over rules whose first test cannot hold
 * for the packet; nft_do_chain runs them and they break there.  Both ways must
 * give the same verdicts, rule paths, counters and element hits, including at
 * the intervals' edges, the largest value, a jump into another chain and a
 * packet whose tested field lies past the captured bytes. */
static void test_rule_index(void **state)
{
	static const char *const text =
		"table inet t {\n"
		" set a { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.0.2.0/24 } }\n"
		" set b { type ipv4_addr; flags interval;\n"
		"         elements = { 10.1.0.0/16, 198.51.100.0/24, 255.255.255.0/24 } }\n"
		" set c { type ipv6_addr; flags interval; elements = { 2001:db8::/32, ffff::/16 } }\n"
		" chain input { type filter hook input priority 0; policy drop;\n"
		"  ip saddr @a tcp dport 22 counter accept\n"
		"  ip saddr @b udp dport 53 counter accept\n"
		"  ip saddr 203.0.113.7 counter accept\n"
		"  ip saddr @b counter jump sub\n"
		"  ip6 saddr @c tcp dport 22 counter accept\n"
		"  ip6 saddr 2001:db8::1 counter accept\n"
		"  ip6 saddr @c counter drop\n"
		"  ip daddr @a counter accept\n"
		" }\n"
		" chain sub {\n"
		"  ip saddr @a counter accept\n"
		"  ip saddr 255.255.255.255 counter accept\n"
		"  counter return\n"
		" }\n"
		"}\n";
	static const char *const src[] = {
		"10.0.0.0", "10.255.255.255", "11.0.0.0", "9.255.255.255", "10.1.0.0",
		"10.1.255.255", "10.2.0.0", "192.0.2.0", "192.0.2.255", "192.0.3.0",
		"198.51.100.7", "198.51.101.0", "203.0.113.7", "203.0.113.6", "203.0.113.8",
		"0.0.0.0", "255.255.255.255", "255.255.254.255", "172.16.0.1",
		"2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
		"2001:db9::", "2001:db7:ffff::", "fd00::1", "::", "ffff::", "fffe:ffff::",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	struct ruleset *rs = kernel_ruleset(text);
	struct vm *on = must_load(rs), *off = must_load(rs);
	size_t members = 0;
	unsigned incomplete = 0;

	(void)state;
	/* saddr v4: @a, @b, 203.0.113.7, @b, sub's @a and 255.255.255.255;
	 * saddr v6: @c, 2001:db8::1, @c; "ip daddr @a" alone is no group */
	assert_int_equal(vm_rule_index_groups(on, &members), 2);
	assert_int_equal(members, 9);
	vm_set_rule_index(off, false);
	for (size_t i = 0; i < sizeof(src) / sizeof(*src); i++) {
		bool v6 = strchr(src[i], ':') != NULL;
		const char *dst = v6 ? "fd00::9" : "10.9.9.9";

		for (int kind = 0; kind < 5; kind++) {
			struct vm_verdict va, vb;
			struct tp t;

			if (kind == 0)
				tcp(&t, src[i], 1000, dst, 22);
			else if (kind == 1)
				udp(&t, src[i], 1000, dst, 53, 0);
			else if (kind == 2)
				tcp(&t, src[i], 1000, dst, 80);
			else if (kind == 3)
				icmp(&t, src[i], dst, v6 ? 128 : 8);
			else {	/* the source address cut off by the snap length */
				tcp(&t, src[i], 1000, dst, 22);
				t.p.avail = v6 ? 20 : 14;
			}
			eval(on, &t, &va);
			eval(off, &t, &vb);
			assert_int_equal(va.verdict, vb.verdict);
			assert_int_equal(va.rule_index, vb.rule_index);
			assert_string_equal(va.chain ? va.chain : "-", vb.chain ? vb.chain : "-");
			assert_int_equal(va.incomplete, vb.incomplete);
			incomplete += va.incomplete;
		}
	}
	assert_int_equal(incomplete, sizeof(src) / sizeof(*src));
	/* a few verdicts spelled out (both ways: the counters are compared below) */
	{
		struct vm_verdict v;
		struct tp t;

		udp(&t, "10.1.0.5", 1, "10.9.9.9", 53, 0);
		assert_int_equal(eval_both(on, off, &t, &v), NF_ACCEPT);
		assert_int_equal(v.rule_index, 1);
		tcp(&t, "10.1.2.3", 1, "172.16.0.9", 80);	/* @b: jump sub, @a accepts */
		assert_int_equal(eval_both(on, off, &t, &v), NF_ACCEPT);
		assert_string_equal(v.chain, "sub");
		assert_int_equal(v.rule_index, 0);
		tcp(&t, "255.255.255.255", 1, "172.16.0.9", 80);
		assert_int_equal(eval_both(on, off, &t, &v), NF_ACCEPT);
		assert_string_equal(v.chain, "sub");
		assert_int_equal(v.rule_index, 1);
		tcp(&t, "198.51.100.7", 1, "172.16.0.9", 80);	/* sub returns, policy */
		assert_int_equal(eval_both(on, off, &t, &v), NF_DROP);
		assert_true(v.policy);
		tcp(&t, "2001:db8::1", 1, "fd00::9", 80);
		assert_int_equal(eval_both(on, off, &t, &v), NF_ACCEPT);
		assert_int_equal(v.rule_index, 5);
	}
	/* the same counters and element hits */
	assert_int_equal(vm_rule_count(on), vm_rule_count(off));
	for (size_t i = 0; i < vm_rule_count(on); i++) {
		struct vm_rule_stats a, b;

		assert_int_equal(vm_rule_stats(on, i, &a), 0);
		assert_int_equal(vm_rule_stats(off, i, &b), 0);
		assert_int_equal(a.evaluated, b.evaluated);
		assert_int_equal(a.matched, b.matched);
		assert_int_equal(a.packets, b.packets);
		assert_int_equal(a.bytes, b.bytes);
	}
	for (size_t i = 0; i < vm_set_count(on); i++)
		for (size_t j = 0; j < vm_set_nelems(on, i); j++)
			assert_int_equal(vm_set_elem_hits(on, i, j), vm_set_elem_hits(off, i, j));
	vm_free(on);
	vm_free(off);
	ruleset_free(rs);
}

/* "payload ip saddr -> reg 1; cmp eq reg 1, addr; verdict" (no guard) */
static void hb_saddr_rule(struct ruleset *rs, const char *addr, int verdict_code)
{
	struct nftnl_rule *r = hb_rule(rs);
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	hb_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
	hb_cmp(r, NFT_REG_1, NFT_CMP_EQ, a, 4);
	hb_verdict(r, verdict_code);
}

/* Registers live for the whole chain walk: a rule may test what an earlier
 * rule's payload loaded.  Passing over that earlier rule would leave the
 * register unwritten, so such a ruleset gets no rule index (vm.c tracks every
 * register operand at load). */
static void test_handbuilt_index_registers(void **state)
{
	struct ruleset *rs = hb_new(NF_ACCEPT), *rs2 = hb_new(NF_ACCEPT);
	struct nftnl_rule *r;
	uint8_t a[4] = { 192, 0, 2, 3 };
	struct vm_verdict v;
	size_t members = 0;
	struct vm *vm;
	struct tp t;

	(void)state;
	hb_saddr_rule(rs, "192.0.2.1", NF_ACCEPT);
	hb_saddr_rule(rs, "192.0.2.2", NF_ACCEPT);
	r = hb_rule(rs);			/* reads rule 1's register */
	hb_cmp(r, NFT_REG_1, NFT_CMP_EQ, a, 4);
	hb_verdict(r, NF_DROP);
	vm = must_load(rs);
	assert_int_equal(vm_rule_index_groups(vm, &members), 0);
	tcp(&t, "192.0.2.3", 1, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	vm_free(vm);

	/* each rule loading what it tests: indexed, the same answers */
	hb_saddr_rule(rs2, "192.0.2.1", NF_ACCEPT);
	hb_saddr_rule(rs2, "192.0.2.2", NF_ACCEPT);
	hb_saddr_rule(rs2, "192.0.2.3", NF_DROP);
	vm = must_load(rs2);
	assert_int_equal(vm_rule_index_groups(vm, &members), 1);
	assert_int_equal(members, 3);
	tcp(&t, "192.0.2.3", 1, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	tcp(&t, "192.0.2.2", 1, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 1);
	tcp(&t, "192.0.2.4", 1, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_true(v.policy);
	for (size_t i = 0; i < 3; i++) {
		struct vm_rule_stats st;

		assert_int_equal(vm_rule_stats(vm, i, &st), 0);
		assert_int_equal(st.evaluated, i == 2 ? 2 : 3);
		assert_int_equal(st.matched, i == 0 ? 0 : 1);
	}
	vm_free(vm);
	ruleset_free(rs);
	ruleset_free(rs2);
}

static void test_handbuilt_catchall(void **state)
{
	struct ruleset *rs = hb_new(NF_ACCEPT);
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *el;
	struct nftnl_rule *r;
	struct nftnl_expr *e;
	struct vm *vm;
	struct tp t;
	uint8_t k[4] = { 10, 0, 0, 2 };

	(void)state;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, "t");
	nftnl_set_set_str(s, NFTNL_SET_NAME, "s");
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
	el = nftnl_set_elem_alloc();
	nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, k, 4);
	nftnl_set_elem_add(s, el);
	nftnl_set_list_add_tail(s, rs->sets);
	r = hb_rule(rs);
	hb_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
	e = hb_expr(r, "lookup");
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, "s");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	hb_verdict(r, NF_DROP);

	vm = must_load(rs);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "10.0.0.3", 1, "10.0.0.1", 1);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	vm_free(vm);

	el = nftnl_set_elem_alloc();
	nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_CATCHALL);
	nftnl_set_elem_add(s, el);
	vm = must_load(rs);
	tcp(&t, "10.0.0.2", 1, "10.0.0.1", 1);
	assert_int_equal(verdict(vm, &t), NF_DROP);
	vm_free(vm);
	ruleset_free(rs);
}


/* A saved dump of a kernel table (tests/data/vm/sample.nft loaded with nft
 * and saved with ruleset_save): runs without root.  Input goto / output jump
 * into regular chains, interval and concatenated-range sets, a vmap, ct
 * state, limit + log, reject. */
static void test_saved_sample(void **state)
{
	char err[256];
	struct ruleset *rs = ruleset_load_file("tests/data/vm/sample.frs", err, sizeof(err));
	struct vm_verdict v;
	enum rule_category cat;
	char dir[8], name[64];
	struct vm *vm;
	struct tp t;
	void *buf;
	size_t len;

	(void)state;
	if (!rs)
		print_message("%s\n", err);
	assert_non_null(rs);
	vm = must_load(rs);

	tcp(&t, "10.0.5.5", 40000, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_string_equal(v.chain, "inbound");
	assert_int_equal(v.rule_index, 0);
	assert_int_equal(rule_origin(v.rule, &cat, dir, sizeof(dir), name, sizeof(name)), 0);
	assert_int_equal(cat, CAT_USER);
	assert_string_equal(name, "AllowSsh");

	tcp(&t, "198.51.100.8", 40000, "10.0.0.1", 22);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 2);
	assert_int_equal(v.nlogged, 1);
	assert_string_equal(v.log_prefix, "deny-in ");
	tcp(&t, "198.51.100.7", 40000, "10.0.0.1", 22);	/* single-address interval */
	assert_int_equal(verdict(vm, &t), NF_ACCEPT);
	tcp(&t, "198.51.100.8", 40000, "10.0.0.1", 80);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 1);
	tcp(&t, "198.51.100.8", 40000, "10.0.0.1", 23);
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_int_equal(v.rule_index, 1);
	t.p.ctinfo = IP_CT_ESTABLISHED;
	t.p.ct_state = NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_string_equal(v.chain, "input");

	/* output */
	tcp(&t, "10.0.0.1", 40000, "203.0.113.9", 443);
	t.p.hook = NF_INET_LOCAL_OUT;
	t.p.oifname = "eth0";
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_string_equal(v.chain, "outbound");
	assert_int_equal(v.rule_index, 0);
	udp(&t, "10.0.0.1", 40000, "203.0.113.53", 53, 10);
	t.p.hook = NF_INET_LOCAL_OUT;
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	udp(&t, "10.0.0.1", 40000, "203.0.113.54", 53, 10);
	t.p.hook = NF_INET_LOCAL_OUT;
	assert_int_equal(eval(vm, &t, &v), NF_DROP);
	assert_true(v.rejected);
	assert_int_equal(v.reject_type, NFT_REJECT_ICMPX_UNREACH);
	assert_int_equal(v.nlogged, 1);
	assert_int_equal(v.rule_index, 3);
	tcp(&t, "fd00::1", 40000, "2001:db8::1", 443);
	t.p.hook = NF_INET_LOCAL_OUT;
	assert_int_equal(eval(vm, &t, &v), NF_ACCEPT);
	assert_int_equal(v.rule_index, 1);
	vm_free(vm);

	/* the format is deterministic: saving the loaded copy gives the file */
	assert_int_equal(ruleset_save_buf(rs, &buf, &len, err, sizeof(err)), 0);
	FILE *f = fopen("tests/data/vm/sample.frs", "rb");
	assert_non_null(f);
	uint8_t *file = malloc(len + 1);
	assert_int_equal(fread(file, 1, len + 1, f), len);
	fclose(f);
	assert_memory_equal(file, buf, len);
	free(file);
	free(buf);
	ruleset_free(rs);
}

/* ------------------------------------------- lookup structures -------- */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static set_u128 rnd_key(unsigned width, set_u128 cluster)
{
	set_u128 v = ((set_u128)rng() << 64) | rng();

	if (width < 128)
		v &= (((set_u128)1) << width) - 1;
	/* half the keys inside one cluster, so that the trie grows deep */
	if (rng() & 1)
		v = cluster | (v & ((((set_u128)1) << (width / 3)) - 1));
	return v;
}

/* interval_set (rbtree semantics: greatest boundary <= key decides) and
 * range_set (pipapo: every field within [lo, hi]) against brute force */
static void test_set_structures_random(void **state)
{
	static const unsigned widths[] = { 8, 16, 32, 48, 128 };

	(void)state;
	for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++) {
		unsigned width = widths[wi];
		set_u128 maxv = width == 128 ? ~(set_u128)0 : ((((set_u128)1) << width) - 1);
		set_u128 cluster = rnd_key(width, 0) & ~((((set_u128)1) << (width / 3)) - 1);
		size_t n = width == 8 ? 60 : 3000;
		struct interval_bound *b = calloc(n, sizeof(*b));
		struct interval_bound *ref = calloc(n, sizeof(*ref));

		assert_non_null(b);
		for (size_t i = 0; i < n; i++) {
			b[i].key = rnd_key(width, cluster);
			b[i].value = (rng() % 3 == 0) ? -1 : (int32_t)i;
		}
		memcpy(ref, b, n * sizeof(*b));
		struct interval_set *is = interval_set_build(b, n, width);
		assert_non_null(is);
		for (int q = 0; q < 20000; q++) {
			set_u128 k = q < (int)n ? ref[q].key + (q & 1) - ((q & 2) ? 1 : 0)
						: rnd_key(width, cluster);
			k &= maxv;
			/* brute force: greatest key <= k; starts win ties, then
			 * the lowest element index */
			long best = -1;
			for (size_t i = 0; i < n; i++) {
				if (ref[i].key > k)
					continue;
				if (best < 0 || ref[i].key > ref[best].key)
					best = (long)i;
				else if (ref[i].key == ref[best].key) {
					bool si = ref[i].value >= 0, sb = ref[best].value >= 0;
					if ((si && !sb) || (si == sb && ref[i].value < ref[best].value))
						best = (long)i;
				}
			}
			int32_t want = best < 0 ? -1 : ref[best].value;

			assert_int_equal(interval_set_find(is, k), want);
		}
		interval_set_free(is);
		free(b);
		free(ref);
	}

	/* ranges: 2 fields (4-byte address, 2-byte port padded to 4) */
	size_t n = 2000;
	uint8_t *lo = calloc(n, 8), *hi = calloc(n, 8);
	const uint8_t fl[2] = { 4, 2 };
	for (size_t i = 0; i < n; i++) {
		uint32_t a = (uint32_t)rng() & 0x0000ffff, len = (uint32_t)(rng() % 2000);
		uint16_t p = (uint16_t)(rng() % 100), pl = (uint16_t)(rng() % 5);

		if (i % 97 == 0) {	/* wide */
			a = 0;
			len = 0xfffff;
		}
		uint32_t e = a + len;
		uint16_t pe = (uint16_t)(p + pl);
		uint8_t *l = lo + i * 8, *h = hi + i * 8;
		l[0] = (uint8_t)(a >> 24); l[1] = (uint8_t)(a >> 16); l[2] = (uint8_t)(a >> 8); l[3] = (uint8_t)a;
		h[0] = (uint8_t)(e >> 24); h[1] = (uint8_t)(e >> 16); h[2] = (uint8_t)(e >> 8); h[3] = (uint8_t)e;
		l[4] = (uint8_t)(p >> 8); l[5] = (uint8_t)p;
		h[4] = (uint8_t)(pe >> 8); h[5] = (uint8_t)pe;
	}
	struct range_set *rsx = range_set_build(lo, hi, n, 8, fl, 2);
	assert_non_null(rsx);
	for (int q = 0; q < 20000; q++) {
		uint8_t k[8] = { 0 };
		uint32_t a = (uint32_t)rng() & 0x000fffff;
		uint16_t p = (uint16_t)(rng() % 110);

		k[0] = (uint8_t)(a >> 24); k[1] = (uint8_t)(a >> 16); k[2] = (uint8_t)(a >> 8); k[3] = (uint8_t)a;
		k[4] = (uint8_t)(p >> 8); k[5] = (uint8_t)p;
		long want = -1;
		for (size_t i = 0; i < n && want < 0; i++)
			if (memcmp(k, lo + i * 8, 4) >= 0 && memcmp(k, hi + i * 8, 4) <= 0 &&
			    memcmp(k + 4, lo + i * 8 + 4, 2) >= 0 &&
			    memcmp(k + 4, hi + i * 8 + 4, 2) <= 0)
				want = (long)i;
		assert_int_equal(range_set_find(rsx, k), want);
	}
	range_set_free(rsx);
	free(lo);
	free(hi);

	/* exact: duplicates keep the first index */
	uint8_t keys[5 * 3] = { 1, 2, 3, 4, 5, 6, 1, 2, 3, 7, 7, 7, 0, 0, 0 };
	struct exact_set *es = exact_set_build(keys, 5, 3);
	assert_non_null(es);
	assert_int_equal(exact_set_find(es, (const uint8_t *)"\x01\x02\x03"), 0);
	assert_int_equal(exact_set_find(es, (const uint8_t *)"\x07\x07\x07"), 3);
	assert_int_equal(exact_set_find(es, (const uint8_t *)"\x00\x00\x00"), 4);
	assert_int_equal(exact_set_find(es, (const uint8_t *)"\x00\x00\x01"), -1);
	exact_set_free(es);
}

/* ------------------------------------------------------------ flow memo --- */

/* The IPv4 header checksum ip_rcv checks, the decode, and the input hook. */
static void memo_finish(struct tp *t, bool v6, long usec)
{
	if (!v6) {
		uint32_t sum = 0;

		t->b[14 + 10] = t->b[14 + 11] = 0;
		for (int i = 0; i < 20; i += 2)
			sum += (uint32_t)t->b[14 + i] << 8 | t->b[14 + i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		t->b[14 + 10] = (uint8_t)(~sum >> 8);
		t->b[14 + 11] = (uint8_t)~sum;
	}
	if (pkt_decode(&t->p, 1, t->b, t->p.caplen, t->p.caplen) < 0)
		print_error("pkt_decode: %s\n", t->p.why ? t->p.why : "?");
	assert_int_equal(t->p.cls, PKT_OK);
	t->p.ts.tv_sec = 1000;
	t->p.ts.tv_usec = usec;
	t->p.hook = NF_INET_LOCAL_IN;
	t->p.iifname = "eth0";
	t->p.iif = 2;
}

/* One TCP segment of the flow 10.0.0.2:1000 <-> 10.0.0.1:9, decoded as the
 * replayer decodes it, at the input hook (both directions: the test is about
 * the memo, not routing). */
static void memo_seg(struct tp *t, bool reply, uint8_t flags, uint32_t seq, uint32_t ack,
		     uint8_t ttl, size_t payload, long usec)
{
	uint8_t th[20 + 1400] = { 0 };

	th[0] = reply ? 0 : 0x03; th[1] = reply ? 9 : 0xe8;	/* 1000 */
	th[2] = reply ? 0x03 : 0; th[3] = reply ? 0xe8 : 9;
	th[4] = (uint8_t)(seq >> 24); th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8); th[7] = (uint8_t)seq;
	th[8] = (uint8_t)(ack >> 24); th[9] = (uint8_t)(ack >> 16);
	th[10] = (uint8_t)(ack >> 8); th[11] = (uint8_t)ack;
	th[12] = 0x50;
	th[13] = flags;
	th[14] = 0xff; th[15] = 0xff;	/* window */
	frame(t, 0, reply ? "10.0.0.1" : "10.0.0.2", reply ? "10.0.0.2" : "10.0.0.1", 6, th,
	      20 + payload);
	t->b[14 + 8] = ttl;
	memo_finish(t, false, usec);
}

struct memo_run {
	struct vm *full, *memo;
	struct ct_table *ct;
	unsigned hits, n;
	unsigned class_keys;	/* class keys compared (tuple vs bytes) */
};

#define MEMO_ANY_RULE (-1000)

/* Runs one packet through conntrack and both evaluators: the memo must give
 * what full evaluation gives.  Returns the verdict. */
static int memo_step(struct memo_run *m, struct tp *t, int want_rule)
{
	struct vm_verdict a, b;
	struct vm_memo *slot;
	int rc;

	assert_int_equal(ct_in(m->ct, &t->p), CT_ACCEPT);
	assert_non_null(t->p.ct);
	/* the class key from conntrack's tuple (where the packet's transport
	 * header is the one conntrack read) is the one from its bytes */
	if (t->p.tprot_set) {
		uint32_t kt[4], kb[4];
		bool kt_ok;

		assert_true(t->p.ct_own_tuple);
		kt_ok = vm_class_key(m->memo, &t->p, kt);
		t->p.ct_own_tuple = false;
		assert_int_equal(vm_class_key(m->memo, &t->p, kb), kt_ok);
		t->p.ct_own_tuple = true;
		if (kt_ok) {
			assert_memory_equal(kt, kb, sizeof(kt));
			m->class_keys++;
		}
	}
	slot = ct_entry_ext(t->p.ct);	/* where pcap-replay keeps them */
	rc = vm_eval_memo(m->memo, &t->p, &a, &slot[t->p.ct_dir]);
	assert_true(rc == 0 || rc == 1);
	m->hits += (unsigned)rc;
	m->n++;
	assert_int_equal(vm_eval(m->full, &t->p, &b), 0);
	assert_int_equal(a.verdict, b.verdict);
	assert_int_equal(a.rule_index, b.rule_index);
	assert_ptr_equal(a.rule, b.rule);
	assert_int_equal(a.nlogged, b.nlogged);
	if (want_rule != MEMO_ANY_RULE)
		assert_int_equal(b.rule_index, want_rule);
	ct_confirm(m->ct, &t->p, b.verdict == NF_ACCEPT);
	return b.verdict;
}

/* Every rule's evaluated/matched/packets/bytes and every element's hits are
 * those of full evaluation: the memo replays a path's effects (counted per
 * outcome, applied when read: element hits are read first, so that reading
 * them alone must bring the pending hits in too). */
static void memo_same_stats(const struct memo_run *m)
{
	for (size_t i = 0; i < vm_set_count(m->full); i++)
		for (size_t j = 0; j < vm_set_nelems(m->full, i); j++)
			assert_int_equal(vm_set_elem_hits(m->memo, i, j),
					 vm_set_elem_hits(m->full, i, j));
	assert_int_equal(vm_rule_count(m->full), vm_rule_count(m->memo));
	for (size_t i = 0; i < vm_rule_count(m->full); i++) {
		struct vm_rule_stats a, b;

		assert_int_equal(vm_rule_stats(m->memo, i, &a), 0);
		assert_int_equal(vm_rule_stats(m->full, i, &b), 0);
		assert_int_equal(a.evaluated, b.evaluated);
		assert_int_equal(a.matched, b.matched);
		assert_int_equal(a.packets, b.packets);
		assert_int_equal(a.bytes, b.bytes);
	}
}

/* A SYN from src:sport to dst:dport (a new connection each). */
static void class_syn(struct tp *t, int v6, const char *src, const char *dst, uint16_t sport,
		      uint16_t dport, long usec)
{
	uint8_t th[20] = { 0 };

	th[0] = (uint8_t)(sport >> 8); th[1] = (uint8_t)sport;
	th[2] = (uint8_t)(dport >> 8); th[3] = (uint8_t)dport;
	th[7] = 1;
	th[12] = 0x50;
	th[13] = 0x02;
	th[14] = 0xff; th[15] = 0xff;
	frame(t, v6, src, dst, 6, th, sizeof(th));
	memo_finish(t, v6, usec);
}

struct class_case {
	int v6;
	const char *src;
	uint16_t sport, dport;
	int verdict, rule;	/* rule index in chain input, -1: policy */
	int hit;		/* 1: the class memo must answer, 0: it must not */
	int icmp;		/* an ICMP/ICMPv6 query instead: sport = type << 8 | code,
				 * dport = its id */
};

/* An ICMP (v6: ICMPv6) query of that type, code and id: a new connection. */
static void class_icmp(struct tp *t, int v6, const char *src, const char *dst, uint8_t type,
		       uint8_t code, uint16_t id, long usec)
{
	uint8_t ih[16] = { type, code, 0, 0, (uint8_t)(id >> 8), (uint8_t)id, 0, 1 };

	frame(t, v6, src, dst, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, ih, sizeof(ih));
	memo_finish(t, v6, usec);
}

static void class_run(const char *text, const struct class_case *c, size_t n)
{
	struct ruleset *rs = kernel_ruleset(text);
	struct memo_run m = { .full = must_load(rs), .memo = must_load(rs) };
	struct tp t;

	m.ct = ct_table_new(256);
	assert_non_null(m.ct);
	for (size_t i = 0; i < n; i++) {
		unsigned before = m.hits;

		if (c[i].icmp)
			class_icmp(&t, c[i].v6, c[i].src, c[i].v6 ? "2001:db8:ff::1" : "10.0.0.1",
				   (uint8_t)(c[i].sport >> 8), (uint8_t)c[i].sport, c[i].dport,
				   (long)i + 1);
		else
			class_syn(&t, c[i].v6, c[i].src, c[i].v6 ? "2001:db8:ff::1" : "10.0.0.1",
				  c[i].sport, c[i].dport, (long)i + 1);
		if (memo_step(&m, &t, c[i].rule) != c[i].verdict || m.hits - before != (unsigned)c[i].hit)
			fail_msg("case %zu (%s port %u): hit %u, want %d", i, c[i].src, c[i].dport,
				 m.hits - before, c[i].hit);
	}
	memo_same_stats(&m);
	assert_int_equal(m.class_keys, n);
	vm_free(m.full);
	vm_free(m.memo);
	ct_table_free(m.ct);
	ruleset_free(rs);
}

/* The class memo (vm_class.c): the first packet of a connection is answered
 * by another connection's outcome when every address and port test the rules
 * make answers the same for both (each field cut by its own tests: a source
 * port is not cut where destination ports are tested): here two-byte prefix loads (/16), a
 * bitwise prefix (/17, /33), an interval set, an anonymous port set, a range
 * and both ports loaded as one word; ICMP's type, which sits where the source
 * port would.  A test the classes cannot capture (a mask that is not a
 * prefix, ICMP's code alone) keeps every outcome that passed it out of the
 * class memo. */
static void test_class_memo(void **state)
{
	static const struct class_case a[] = {
		{ 0, "10.1.1.1", 40000, 22, NF_ACCEPT, 2, 0, 0 },
		{ 0, "10.1.2.2", 40001, 22, NF_ACCEPT, 2, 1, 0 },	/* same /17 half */
		{ 0, "10.1.200.1", 40002, 22, NF_DROP, 1, 0, 0 },	/* the other half */
		{ 0, "10.1.255.1", 40003, 22, NF_DROP, 1, 1, 0 },
		{ 0, "10.1.127.255", 40004, 22, NF_ACCEPT, 2, 1, 0 },	/* last of the first */
		{ 0, "10.1.128.0", 40005, 22, NF_DROP, 1, 1, 0 },	/* first of the second */
		{ 0, "10.3.0.9", 40006, 443, NF_ACCEPT, 3, 0, 0 },
		{ 0, "10.3.0.200", 40007, 80, NF_ACCEPT, 3, 0, 0 },	/* port 80: its own class */
		{ 0, "10.3.0.201", 50000, 80, NF_ACCEPT, 3, 1, 0 },
		/* source port 1500: inside the destination port range the
		 * rules test, but source ports are cut at 1000 only: the same
		 * class as 50000 */
		{ 0, "10.3.0.202", 1500, 80, NF_ACCEPT, 3, 1, 0 },
		{ 0, "10.3.1.1", 40008, 443, NF_DROP, -1, 0, 0 },	/* outside the set */
		{ 0, "10.2.0.1", 40009, 1500, NF_ACCEPT, 4, 0, 0 },
		{ 0, "10.2.0.2", 60000, 1999, NF_ACCEPT, 4, 1, 0 },
		{ 0, "10.2.0.3", 60001, 2000, NF_ACCEPT, 4, 1, 0 },	/* the range's end */
		{ 0, "10.2.0.4", 60002, 2001, NF_DROP, -1, 0, 0 },
		{ 0, "10.2.0.5", 60003, 3000, NF_DROP, -1, 1, 0 },	/* the same segment */
		{ 0, "10.2.0.6", 60004, 999, NF_DROP, -1, 0, 0 },	/* another one */
		{ 1, "2001:db8:1::1", 40010, 22, NF_ACCEPT, 6, 0, 0 },
		{ 1, "2001:db8:2::2", 40011, 22, NF_ACCEPT, 6, 1, 0 },
		{ 1, "2001:db8:8000::1", 40012, 22, NF_DROP, 5, 0, 0 },	/* the /33's other half */
		{ 1, "2001:db9::1", 40013, 22, NF_DROP, -1, 0, 0 },
		/* both ports in one 4-byte load */
		{ 0, "10.2.0.7", 1000, 23, NF_ACCEPT, 7, 0, 0 },
		{ 0, "10.2.0.8", 1000, 23, NF_ACCEPT, 7, 1, 0 },
		{ 0, "10.2.0.9", 1001, 23, NF_DROP, -1, 0, 0 },
		{ 0, "10.2.0.10", 1000, 24, NF_DROP, -1, 0, 0 },
	};
	static const struct class_case b[] = {
		{ 0, "10.1.0.8", 40000, 80, NF_ACCEPT, 2, 0, 0 },
		{ 0, "10.1.0.7", 40001, 80, NF_DROP, 1, 0, 0 },	/* the mask's byte */
		{ 0, "10.1.0.9", 40002, 80, NF_ACCEPT, 2, 0, 0 },	/* passed the mask: exact */
		{ 0, "10.1.1.7", 40003, 80, NF_DROP, 1, 0, 0 },
	};
	/* type << 8 | code, id */
	static const struct class_case ic[] = {
		{ 0, "10.0.0.2", 8 << 8, 1, NF_ACCEPT, 1, 0, 1 },	/* echo request */
		{ 0, "10.0.0.3", 8 << 8, 2, NF_ACCEPT, 1, 1, 1 },	/* another id */
		{ 0, "10.0.0.4", 13 << 8, 3, NF_ACCEPT, 3, 0, 1 },	/* timestamp: code read */
		{ 0, "10.0.0.5", 13 << 8, 4, NF_ACCEPT, 3, 0, 1 },	/* ... so exact */
		{ 0, "10.0.0.6", 13 << 8 | 1, 5, NF_DROP, 2, 0, 1 },
		{ 0, "10.0.0.9", 7 << 8, 8, NF_DROP, -1, 0, 0 },	/* a TCP SYN from port 1792 */
		{ 1, "2001:db8::2", 128 << 8, 9, NF_ACCEPT, 4, 0, 1 },
		{ 1, "2001:db8::3", 128 << 8, 10, NF_ACCEPT, 4, 1, 1 },
		{ 1, "2001:db8::4", 139 << 8, 11, NF_DROP, -1, 0, 1 },	/* node information */
		{ 1, "2001:db8::5", 139 << 8 | 2, 12, NF_DROP, -1, 1, 1 },	/* the same segment */
	};

	(void)state;
	class_run("table inet t {\n"
		  " set tags { type ipv4_addr; flags interval; elements = { 10.1.0.0/16, 10.3.0.0/24 } }\n"
		  " chain input { type filter hook input priority 0; policy drop;\n"
		  "  ct state established accept\n"
		  "  ip saddr 10.1.128.0/17 tcp dport 22 counter drop\n"
		  "  ip saddr 10.1.0.0/16 tcp dport 22 counter accept\n"
		  "  ip saddr @tags tcp dport { 80, 443 } counter accept\n"
		  "  tcp dport 1000-2000 counter accept\n"
		  "  ip6 saddr 2001:db8:8000::/33 tcp dport 22 counter drop\n"
		  "  ip6 saddr 2001:db8::/32 tcp dport 22 counter accept\n"
		  "  tcp sport 1000 tcp dport 23 counter accept\n"
		  " }\n}\n", a, sizeof(a) / sizeof(a[0]));
	class_run("table inet t {\n"
		  " set tags { type ipv4_addr; flags interval; elements = { 10.1.0.0/16 } }\n"
		  " chain input { type filter hook input priority 0; policy drop;\n"
		  "  ct state established accept\n"
		  "  ip saddr & 0.0.0.255 == 0.0.0.7 counter drop\n"
		  "  ip saddr @tags counter accept\n"
		  " }\n}\n", b, sizeof(b) / sizeof(b[0]));
	class_run("table inet t {\n"
		  " chain input { type filter hook input priority 0; policy drop;\n"
		  "  ct state established accept\n"
		  "  icmp type echo-request counter accept\n"
		  "  icmp code 1 counter drop\n"
		  "  icmp type timestamp-request counter accept\n"
		  "  icmpv6 type echo-request counter accept\n"
		  " }\n}\n", ic, sizeof(ic) / sizeof(ic[0]));
}

/* vm_eval_memo: a memoised outcome is reused only for packets the rules
 * cannot tell apart — same tuple and direction, hook, ctinfo, and the ct
 * status/mark when a rule read them — and never once a rule read a per-packet
 * field (TTL, length, TCP flags). */
static void test_flow_memo(void **state)
{
	struct ruleset *rs = kernel_ruleset(
		"table inet t {\n"
		" set peers { type ipv4_addr; flags interval; elements = { 10.0.0.0/30, 10.9.0.0/16 } }\n"
		" chain input { type filter hook input priority 0; policy drop;\n"
		"  iifname \"lo\" accept\n"
		"  ct mark 7 counter drop\n"
		"  ct status assured tcp dport 9 ip saddr 10.0.0.2 counter log prefix \"a \" accept\n"
		"  ct state established ip saddr @peers tcp dport 9 counter accept\n"
		"  ct state established ip daddr @peers tcp sport 9 counter accept\n"
		"  ct state new tcp dport 9 counter jump newconn\n"
		" }\n"
		" chain newconn { ip saddr 10.0.0.2 counter accept; counter; }\n"
		"}\n");
	struct memo_run m = { .full = must_load(rs), .memo = must_load(rs) };
	struct tp t;

	(void)state;
	m.ct = ct_table_new(64);
	assert_non_null(m.ct);
	/* handshake: new (via newconn), reply, ack */
	memo_seg(&t, false, 0x02, 100, 0, 64, 0, 1);
	assert_int_equal(memo_step(&m, &t, 0), NF_ACCEPT);	/* newconn rule 0 */
	memo_seg(&t, true, 0x12, 500, 101, 64, 0, 2);
	assert_int_equal(memo_step(&m, &t, 4), NF_ACCEPT);
	/* the handshake's last ACK makes the entry assured (SYN_RECV ->
	 * ESTABLISHED): from here rule 2 (ct status) decides the original
	 * direction; the reply direction still goes by rule 4 */
	memo_seg(&t, false, 0x10, 101, 501, 64, 0, 3);
	assert_int_equal(memo_step(&m, &t, 2), NF_ACCEPT);
	unsigned hits_before = m.hits;
	uint32_t cs = 101, ss = 501;

	for (int i = 0; i < 6; i++) {
		memo_seg(&t, false, 0x18, cs, ss, 64, 10, 10 + 2 * i);
		cs += 10;
		memo_step(&m, &t, 2);
		memo_seg(&t, true, 0x18, ss, cs, 64, 10, 11 + 2 * i);
		ss += 10;
		memo_step(&m, &t, 4);
	}
	assert_true(m.hits > hits_before);	/* the memo was used */
	/* the same packet with another ct status (as after a status change the
	 * capture does not show): rule 2 read the status, the memo must not
	 * answer for the old one */
	memo_seg(&t, false, 0x18, cs, ss, 64, 10, 30);
	assert_int_equal(ct_in(m.ct, &t.p), CT_ACCEPT);
	t.p.ct_status &= ~(uint32_t)IPS_ASSURED;
	{
		struct vm_verdict a;
		struct vm_memo *slot = ct_entry_ext(t.p.ct);

		assert_int_equal(vm_eval_memo(m.memo, &t.p, &a, &slot[t.p.ct_dir]), 0);
		assert_int_equal(a.rule_index, 3);
		assert_int_equal(vm_eval(m.full, &t.p, &a), 0);
		assert_int_equal(a.rule_index, 3);
		ct_confirm(m.ct, &t.p, true);
	}
	/* the mark changes: the memo must not answer for the old mark */
	memo_seg(&t, false, 0x18, cs, ss, 64, 10, 38);
	hits_before = m.hits;
	memo_step(&m, &t, 2);
	memo_seg(&t, false, 0x18, cs, ss, 64, 10, 39);
	memo_step(&m, &t, 2);
	assert_int_equal(m.hits, hits_before + 1);	/* the memo holds rule 2's outcome */
	memo_seg(&t, false, 0x18, cs, ss, 64, 10, 40);
	assert_int_equal(ct_in(m.ct, &t.p), CT_ACCEPT);
	ct_entry_set_mark(t.p.ct, 7);
	{
		struct vm_verdict a, b;
		struct vm_memo *slot = ct_entry_ext(t.p.ct);

		assert_int_equal(vm_eval_memo(m.memo, &t.p, &a, &slot[t.p.ct_dir]), 0);
		assert_int_equal(vm_eval(m.full, &t.p, &b), 0);
		assert_int_equal(a.verdict, NF_DROP);
		assert_int_equal(b.verdict, NF_DROP);
		assert_int_equal(a.rule_index, 1);
		ct_confirm(m.ct, &t.p, false);
	}
	memo_same_stats(&m);
	vm_free(m.full);
	vm_free(m.memo);
	ct_table_free(m.ct);

	ruleset_free(rs);

	/* per-packet fields, each the first thing the chain reads: never
	 * memoised, every packet evaluated */
	static const char *const per_packet[] = {
		"ip ttl 1 counter drop", "meta length > 500 counter drop",
		"tcp flags & (fin|syn|rst|ack) == fin|ack counter drop",
	};
	for (size_t i = 0; i < 3; i++) {
		char text[512];
		struct ruleset *r2;

		snprintf(text, sizeof(text), "table inet t {\n"
			 " chain input { type filter hook input priority 0; policy accept;\n"
			 "  %s\n  ct state established counter accept\n }\n}\n", per_packet[i]);
		r2 = kernel_ruleset(text);
		memset(&m, 0, sizeof(m));
		m.full = must_load(r2);
		m.memo = must_load(r2);
		m.ct = ct_table_new(64);
		memo_seg(&t, false, 0x02, 100, 0, 64, 0, 1);
		memo_step(&m, &t, -1);
		memo_seg(&t, true, 0x12, 500, 101, 64, 0, 2);
		memo_step(&m, &t, 1);
		memo_seg(&t, false, 0x10, 101, 501, 64, 0, 3);
		memo_step(&m, &t, 1);
		memo_seg(&t, false, 0x18, 101, 501, 64, 10, 4);
		memo_step(&m, &t, 1);
		memo_seg(&t, false, 0x18, 111, 501, 1, 10, 5);		/* TTL 1 */
		memo_step(&m, &t, i == 0 ? 0 : 1);
		memo_seg(&t, false, 0x18, 111, 501, 64, 600, 6);	/* long */
		memo_step(&m, &t, i == 1 ? 0 : 1);
		memo_seg(&t, false, 0x18, 111, 501, 64, 10, 7);
		memo_step(&m, &t, 1);
		memo_seg(&t, false, 0x11, 121, 501, 64, 0, 8);		/* FIN|ACK */
		memo_step(&m, &t, i == 2 ? 0 : 1);
		assert_int_equal(m.hits, 0);
		memo_same_stats(&m);
		vm_free(m.full);
		vm_free(m.memo);
		ct_table_free(m.ct);
		ruleset_free(r2);
	}
}

/* Limits on a memoised path (nft_limit.c state on capture time): a memo hit
 * is taken only when every limit of the recorded path answers the packet as
 * it did then, and it takes their tokens; the verdict, the deciding rule, the
 * logs, every counter and the limits' own state then stay those of full
 * evaluation packet by packet, through bursts that drain the buckets and
 * pauses that refill them.  The rate-limited log rule is what filterd
 * compiles for a workspace without hbi; the inverted limit decides the
 * verdict.  A limit reached twice on one path (a chain jumped to twice) is
 * never memoised. */
static void test_flow_memo_limit(void **state)
{
	static const char *const rulesets[] = {
		"table inet t {\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  tcp dport 9 limit rate 2/second burst 3 packets counter log prefix \"x \"\n"
		"  tcp dport 9 limit rate over 5/second burst 4 packets counter drop\n"
		"  ct state established,new counter accept\n"
		" }\n"
		"}\n",
		"table inet t {\n"
		" chain lim { limit rate 3/second burst 2 packets counter log prefix \"y \"; }\n"
		" chain input { type filter hook input priority 0; policy accept;\n"
		"  tcp dport 9 jump lim\n"
		"  tcp dport 9 jump lim\n"
		"  counter accept\n"
		" }\n"
		"}\n",
	};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct ruleset *rs = kernel_ruleset(rulesets[k]);
		struct memo_run m = { .full = must_load(rs), .memo = must_load(rs) };
		struct tp t;
		unsigned drops = 0, accepts = 0;
		uint32_t cs = 101;
		long sec = 1000, usec = 0;

		m.ct = ct_table_new(64);
		assert_non_null(m.ct);
		memo_seg(&t, false, 0x02, 100, 0, 64, 0, 0);
		memo_step(&m, &t, MEMO_ANY_RULE);
		memo_seg(&t, true, 0x12, 500, 101, 64, 0, 1);
		memo_step(&m, &t, MEMO_ANY_RULE);
		/* 12 rounds: a burst of 8 segments 1 ms apart, then a pause of
		 * 0.1 s to 1.2 s */
		for (int round = 0; round < 12; round++) {
			for (int i = 0; i < 8; i++) {
				usec += 1000;
				memo_seg(&t, false, 0x10, cs, 501, 64, 0, 0);
				t.p.ts.tv_sec = sec + usec / 1000000;
				t.p.ts.tv_usec = usec % 1000000;
				if (memo_step(&m, &t, MEMO_ANY_RULE) == NF_DROP)
					drops++;
				else
					accepts++;
			}
			usec += 100000 * (round % 12 + 1);
		}
		memo_same_stats(&m);
		if (k == 0) {
			assert_true(m.hits > 0);	/* the memo answered some */
			assert_true(m.hits < m.n);	/* and the limits turned some away */
			assert_true(drops > 0 && accepts > 0);
		} else {
			assert_int_equal(m.hits, 0);	/* one limit twice on the path */
		}
		vm_free(m.full);
		vm_free(m.memo);
		ct_table_free(m.ct);
		ruleset_free(rs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_cmp_policy),
		cmocka_unit_test(test_cmp_order_byteorder_range),
		cmocka_unit_test(test_bitwise_prefix_flags),
		cmocka_unit_test(test_verdict_flow),
		cmocka_unit_test(test_lookup_sets),
		cmocka_unit_test(test_concat_sets),
		cmocka_unit_test(test_maps),
		cmocka_unit_test(test_servicetags_interval_sets),
		cmocka_unit_test(test_ct),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_flow_memo),
		cmocka_unit_test(test_class_memo),
		cmocka_unit_test(test_flow_memo_limit),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_counter_log_reject),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_handbuilt_shift_byteorder),
		cmocka_unit_test(test_handbuilt_ll_vlan),
		cmocka_unit_test(test_handbuilt_catchall),
		cmocka_unit_test(test_rule_index),
		cmocka_unit_test(test_handbuilt_index_registers),
		cmocka_unit_test(test_handbuilt_guard_register),
		cmocka_unit_test(test_set_structures_random),
		cmocka_unit_test(test_saved_sample),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
