#include "netlink.h"
#include "rsdiff.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

/* Room for one message: a set-element message stops adding elements before its
 * nest passes 64 KiB, so this always fits one. */
#define SCRATCH_SIZE (256u * 1024)

struct batch {
	char *buf;
	size_t len, cap;
	uint32_t seq0, seq;
	char **what;		/* description of message seq0 + i */
	size_t nwhat, capwhat;
	int oom;
	bool probe;		/* not an apply: no FILTERD_FAULT kill points */
};

static int batch_reserve(struct batch *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 1u << 20;
	while (ncap < b->len + extra)
		ncap *= 2;
	char *nb = realloc(b->buf, ncap);
	if (!nb) {
		b->oom = 1;
		return -1;
	}
	b->buf = nb;
	b->cap = ncap;
	return 0;
}

/* Copies the message built in the scratch buffer into the batch and zeroes the
 * scratch again, so that no byte a builder skips (padding) is uninitialised. */
static void batch_append(struct batch *b, struct nlmsghdr *nlh, const char *what)
{
	uint32_t mlen = nlh->nlmsg_len;

	if (b->oom || batch_reserve(b, nlh->nlmsg_len) < 0)
		return;
	if (batch_reserve(b, NLMSG_ALIGN(nlh->nlmsg_len)) < 0)
		return;
	memcpy(b->buf + b->len, nlh, nlh->nlmsg_len);
	/* the alignment padding goes to the kernel too: never uninitialised */
	memset(b->buf + b->len + nlh->nlmsg_len, 0, NLMSG_ALIGN(nlh->nlmsg_len) - nlh->nlmsg_len);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	memset(nlh, 0, mlen);
	if (b->nwhat == b->capwhat) {
		size_t n = b->capwhat ? b->capwhat * 2 : 64;
		char **nw = realloc(b->what, n * sizeof(*nw));
		if (!nw) {
			b->oom = 1;
			return;
		}
		b->what = nw;
		b->capwhat = n;
	}
	b->what[b->nwhat] = what ? strdup(what) : NULL;
	b->nwhat++;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->nwhat; i++)
		free(b->what[i]);
	free(b->what);
	free(b->buf);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint32_t next_seq(void);

static void describe_rule(const struct nftnl_rule *r, size_t idx, char *buf, size_t len)
{
	char comment[256];

	rule_comment(r, comment, sizeof(comment));
	snprintf(buf, len, "rule %zu in chain %s (%s)", idx,
		 nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), comment[0] ? comment : "no comment");
}

/* first_flags: flags the first (create-if-absent) NEWTABLE carries.  When the
 * table exists it must repeat the existing flags (the kernel refuses to toggle
 * NFT_TABLE_F_PERSIST), and with NFT_TABLE_F_OWNER it adopts an orphaned table. */
static int build_batch(const struct ruleset *rs, uint32_t first_flags, uint32_t table_flags,
		       enum nl_fault fault, struct batch *b)
{
	char *scratch = calloc(1, SCRATCH_SIZE);
	struct nlmsghdr *nlh;
	char what[512];
	uint16_t fam = (uint16_t)rs->family;

	if (!scratch)
		return -1;
	b->seq0 = b->seq = next_seq();

	nlh = (struct nlmsghdr *)scratch;
	nftnl_batch_begin(scratch, b->seq++);
	batch_append(b, nlh, "batch begin");

	/* create-or-replace: add (no-op when present), delete, add afresh */
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		goto fail;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, rs->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, rs->family);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, first_flags);
	nlh = nftnl_table_nlmsg_build_hdr(scratch, NFT_MSG_NEWTABLE, fam,
					  NLM_F_CREATE | NLM_F_ACK, b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	snprintf(what, sizeof(what), "table inet %s (create)", rs->table);
	batch_append(b, nlh, what);
	nlh = nftnl_table_nlmsg_build_hdr(scratch, NFT_MSG_DELTABLE, fam, NLM_F_ACK, b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	snprintf(what, sizeof(what), "table inet %s (delete old)", rs->table);
	batch_append(b, nlh, what);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, table_flags);
	nlh = nftnl_table_nlmsg_build_hdr(scratch, NFT_MSG_NEWTABLE, fam,
					  NLM_F_CREATE | NLM_F_ACK, b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	snprintf(what, sizeof(what), "table inet %s (new)", rs->table);
	batch_append(b, nlh, what);
	nftnl_table_free(t);

	struct nftnl_chain_list_iter *ci = nftnl_chain_list_iter_create(rs->chains);
	struct nftnl_chain *c;
	while (ci && (c = nftnl_chain_list_iter_next(ci))) {
		nlh = nftnl_chain_nlmsg_build_hdr(scratch, NFT_MSG_NEWCHAIN, fam,
						  NLM_F_CREATE | NLM_F_ACK, b->seq++);
		/* a dumped chain keeps the handle its kernel gave it, and a
		 * NEWCHAIN with a handle updates that chain (ENOENT here): left
		 * out of the message, put back after (sets and rules alike) */
		bool had_h = nftnl_chain_is_set(c, NFTNL_CHAIN_HANDLE);
		uint64_t h = had_h ? nftnl_chain_get_u64(c, NFTNL_CHAIN_HANDLE) : 0;

		nftnl_chain_unset(c, NFTNL_CHAIN_HANDLE);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		if (had_h)
			nftnl_chain_set_u64(c, NFTNL_CHAIN_HANDLE, h);
		snprintf(what, sizeof(what), "chain %s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
		batch_append(b, nlh, what);
	}
	if (ci)
		nftnl_chain_list_iter_destroy(ci);

	struct nftnl_set_list_iter *si = nftnl_set_list_iter_create(rs->sets);
	struct nftnl_set *s;
	uint32_t dump_set_id = 0x40000000;	/* above the compiler's */
	while (si && (s = nftnl_set_list_iter_next(si))) {
		const char *sname = nftnl_set_get_str(s, NFTNL_SET_NAME);
		nlh = nftnl_set_nlmsg_build_hdr(scratch, NFT_MSG_NEWSET, fam,
						NLM_F_CREATE | NLM_F_ACK, b->seq++);
		/* a dumped set: no handle (as chains), and an id, which
		 * NEWSET requires and a dump does not carry */
		bool had_h = nftnl_set_is_set(s, NFTNL_SET_HANDLE), had_id = nftnl_set_is_set(s, NFTNL_SET_ID);
		uint64_t h = had_h ? nftnl_set_get_u64(s, NFTNL_SET_HANDLE) : 0;

		nftnl_set_unset(s, NFTNL_SET_HANDLE);
		if (!had_id)
			nftnl_set_set_u32(s, NFTNL_SET_ID, ++dump_set_id);
		nftnl_set_nlmsg_build_payload(nlh, s);
		if (had_h)
			nftnl_set_set_u64(s, NFTNL_SET_HANDLE, h);
		if (!had_id)
			nftnl_set_unset(s, NFTNL_SET_ID);
		snprintf(what, sizeof(what), "set %s", sname);
		batch_append(b, nlh, what);

		struct nftnl_set_elems_iter *ei = nftnl_set_elems_iter_create(s);
		if (!ei)
			goto fail;
		unsigned part = 0;
		/* The iterator never returns to NULL: the builder's return value
		 * (1 = more elements left) is what ends the loop. */
		int more = nftnl_set_elems_iter_cur(ei) != NULL;
		while (more > 0) {
			nlh = nftnl_set_nlmsg_build_hdr(scratch, NFT_MSG_NEWSETELEM, fam,
							NLM_F_CREATE | NLM_F_ACK, b->seq++);
			more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, ei);
			snprintf(what, sizeof(what), "elements of set %s (message %u)", sname, ++part);
			batch_append(b, nlh, what);
		}
		nftnl_set_elems_iter_destroy(ei);
	}
	if (si)
		nftnl_set_list_iter_destroy(si);

	struct nftnl_rule_list_iter *ri = nftnl_rule_list_iter_create(rs->rules);
	struct nftnl_rule *r;
	size_t idx = 0;
	const char *prev_chain = "";
	while (ri && (r = nftnl_rule_list_iter_next(ri))) {
		const char *ch = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		idx = strcmp(ch, prev_chain) == 0 ? idx + 1 : 1;
		prev_chain = ch;
		nlh = nftnl_rule_nlmsg_build_hdr(scratch, NFT_MSG_NEWRULE, fam,
						 NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, b->seq++);
		/* likewise a dumped rule's handle (NEWRULE would replace by it)
		 * and position (the previous rule's handle: insert after it) */
		bool had_h = nftnl_rule_is_set(r, NFTNL_RULE_HANDLE);
		bool had_pos = nftnl_rule_is_set(r, NFTNL_RULE_POSITION);
		uint64_t h = had_h ? nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE) : 0;
		uint64_t pos = had_pos ? nftnl_rule_get_u64(r, NFTNL_RULE_POSITION) : 0;

		nftnl_rule_unset(r, NFTNL_RULE_HANDLE);
		nftnl_rule_unset(r, NFTNL_RULE_POSITION);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		if (had_h)
			nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, h);
		if (had_pos)
			nftnl_rule_set_u64(r, NFTNL_RULE_POSITION, pos);
		describe_rule(r, idx, what, sizeof(what));
		batch_append(b, nlh, what);
	}
	if (ri)
		nftnl_rule_list_iter_destroy(ri);

	if (fault == NL_FAULT_BAD_JUMP) {
		/* A rule that jumps to a chain that does not exist: the kernel
		 * refuses it (ENOENT), and with it the whole batch. */
		struct nftnl_rule *bad = nftnl_rule_alloc();
		struct nftnl_expr *e = nftnl_expr_alloc("immediate");
		if (!bad || !e)
			goto fail;
		nftnl_rule_set_str(bad, NFTNL_RULE_TABLE, rs->table);
		nftnl_rule_set_str(bad, NFTNL_RULE_CHAIN, "inbound");
		nftnl_rule_set_u32(bad, NFTNL_RULE_FAMILY, rs->family);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_JUMP);
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, "no-such-chain");
		nftnl_rule_add_expr(bad, e);
		nlh = nftnl_rule_nlmsg_build_hdr(scratch, NFT_MSG_NEWRULE, fam,
						 NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, b->seq++);
		nftnl_rule_nlmsg_build_payload(nlh, bad);
		batch_append(b, nlh, "injected fault: rule in chain inbound jumping to chain no-such-chain");
		nftnl_rule_free(bad);
	}

	nlh = (struct nlmsghdr *)scratch;
	nftnl_batch_end(scratch, b->seq++);
	batch_append(b, nlh, "batch end");
	free(scratch);
	return b->oom ? -1 : 0;
fail:
	free(scratch);
	return -1;
}

/* Extended ACK message (NLMSGERR_ATTR_MSG), when the kernel gave one. */
static const char *ext_ack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t off;
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	off = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	off = MNL_ALIGN(off);
	if (mnl_nlmsg_get_payload_len(nlh) < off)
		return NULL;
	const char *end = (const char *)nlh + nlh->nlmsg_len;
	attr = (const struct nlattr *)((const char *)err + off);
	while (mnl_attr_ok(attr, (int)(end - (const char *)attr))) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
		attr = mnl_attr_next(attr);
	}
	return NULL;
}

struct nl_conn {
	struct mnl_socket *nl;
	uint32_t portid;
	size_t sndbuf, rcvbuf;
};

struct nl_conn *nl_open(char *err, size_t errlen)
{
	struct nl_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!c->nl || mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "cannot open a netfilter netlink socket: %s", strerror(errno));
		nl_close(c);
		return NULL;
	}
	mnl_socket_setsockopt(c->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(c->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	c->portid = mnl_socket_get_portid(c->nl);
	return c;
}

void nl_close(struct nl_conn *c)
{
	if (!c)
		return;
	if (c->nl)
		mnl_socket_close(c->nl);
	free(c);
}

uint32_t nl_portid(const struct nl_conn *c)
{
	return c->portid;
}

static void grow_buffers(struct nl_conn *c, size_t snd, size_t rcv)
{
	int fd = mnl_socket_get_fd(c->nl);

	if (snd > c->sndbuf) {
		int v = (int)snd;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		c->sndbuf = snd;
	}
	if (rcv > c->rcvbuf) {
		int v = (int)rcv;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
		c->rcvbuf = rcv;
	}
}

/* Test hook for tests/live/t_hostile.sh: with FILTERD_FAULT set to
 * "kill-before-send", "kill-mid-send" or "kill-after-send" the process kills
 * itself (SIGKILL, as an OOM kill or a power cut would) at that point of every
 * batch it sends.  mid-send first hands the kernel the first half of the batch
 * without its BATCH_END, which the kernel must abort.  Whatever the point, the
 * kernel must hold the old table or the new one, never a mixture. */
static void fault_kill_point(const char *point, struct nl_conn *c, const struct batch *b)
{
	const char *f = getenv("FILTERD_FAULT");

	if (!f || strcmp(f, point) != 0)
		return;
	if (strcmp(point, "kill-mid-send") == 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
		int left = (int)b->len;
		size_t half = 0;

		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			size_t off = (size_t)((const char *)nlh - b->buf);

			if (off > b->len / 2)
				break;
			half = off;
		}
		if (half > 0 && mnl_socket_sendto(c->nl, b->buf, half) < 0) {
			/* the kill below is the point of the test either way */
		}
	}
	raise(SIGKILL);
}

/* Sends one batch and checks one ACK per message (all but begin/end). */
static int send_batch(struct nl_conn *c, struct batch *b, struct nl_report *rep)
{
	char *rbuf = NULL;
	size_t expected = b->nwhat - 2, got = 0;
	int first_bad = -1, first_err = 0;
	char first_ext[256] = "";
	int fd = mnl_socket_get_fd(c->nl);
	int ret = -1;

	rep->messages = expected;
	rep->bytes = b->len;
	/* every ACK is its own skb: about 1 KiB of receive buffer each (truesize) */
	grow_buffers(c, b->len + 65536, expected * 2048 + (1u << 20));
	if (!b->probe) {
		fault_kill_point("kill-before-send", c, b);
		fault_kill_point("kill-mid-send", c, b);
	}
	if (mnl_socket_sendto(c->nl, b->buf, b->len) < 0) {
		rep->error = errno;
		snprintf(rep->msg, sizeof(rep->msg),
			 "sending the batch (%zu bytes) failed: %s; nothing was changed",
			 b->len, strerror(errno));
		goto out;
	}
	if (!b->probe)
		fault_kill_point("kill-after-send", c, b);
	rbuf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	if (!rbuf) {
		rep->error = ENOMEM;
		snprintf(rep->msg, sizeof(rep->msg), "out of memory");
		goto out;
	}
	while (got < expected) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, 10000);
		if (pr <= 0) {
			rep->error = pr == 0 ? ETIMEDOUT : errno;
			snprintf(rep->msg, sizeof(rep->msg),
				 "kernel answered %zu of %zu messages, then nothing for 10 s", got, expected);
			goto out;
		}
		ssize_t n = mnl_socket_recvfrom(c->nl, rbuf, MNL_SOCKET_BUFFER_SIZE * 4);
		if (n < 0) {
			rep->error = errno;
			snprintf(rep->msg, sizeof(rep->msg), "reading ACKs: %s (%zu of %zu received)",
				 strerror(errno), got, expected);
			goto out;
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		int len = (int)n;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			uint32_t seq = nlh->nlmsg_seq;
			if (seq < b->seq0 || seq >= b->seq)
				continue;	/* a late answer to something else */
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			got++;
			if (e->error == 0)
				continue;
			int idx = (int)(seq - b->seq0);
			if (first_bad < 0 || idx < first_bad) {
				const char *x = ext_ack_msg(nlh);
				first_bad = idx;
				first_err = -e->error;
				snprintf(first_ext, sizeof(first_ext), "%s", x ? x : "");
			}
		}
	}
	if (first_bad >= 0) {
		const char *what = first_bad < (int)b->nwhat && b->what[first_bad] ?
				   b->what[first_bad] : "unknown message";
		rep->error = first_err;
		rep->failed_index = first_bad;
		snprintf(rep->msg, sizeof(rep->msg),
			 "kernel refused %s: %s%s%s; the whole batch was rolled back, the table in force is unchanged",
			 what, strerror(first_err), first_ext[0] ? " — " : "", first_ext);
		snprintf(rep->failed_what, sizeof(rep->failed_what), "%s", what);
		goto out;
	}
	ret = 0;
out:
	free(rbuf);
	return ret;
}

static uint32_t next_seq(void)
{
	static uint32_t seq;	/* only keeps batches of one process apart */

	if (!seq)
		seq = (uint32_t)time(NULL);
	seq += 1u << 20;
	return seq;
}

int nl_table_query(struct nl_conn *c, const char *table, uint32_t family,
		   struct nl_table_info *info)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq = next_seq();
	int ret = -1;

	memset(info, 0, sizeof(*info));
	if (!t) {
		errno = ENOMEM;
		return -1;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = nftnl_table_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, (uint16_t)family, NLM_F_ACK, seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	t = NULL;
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	for (;;) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(c->nl), .events = POLLIN };
		if (poll(&pfd, 1, 5000) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t n = mnl_socket_recvfrom(c->nl, buf, sizeof(buf));
		if (n < 0)
			return -1;
		int len = (int)n;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				if (e->error == 0)
					return ret < 0 ? 0 : ret;	/* ACK after the answer */
				if (e->error == -ENOENT)
					return 0;
				errno = -e->error;
				return -1;
			}
			t = nftnl_table_alloc();
			if (t && nftnl_table_nlmsg_parse(nlh, t) == 0) {
				info->exists = true;
				if (nftnl_table_is_set(t, NFTNL_TABLE_FLAGS))
					info->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
				if (nftnl_table_is_set(t, NFTNL_TABLE_OWNER))
					info->owner = nftnl_table_get_u32(t, NFTNL_TABLE_OWNER);
				ret = 0;
			}
			if (t)
				nftnl_table_free(t);
		}
	}
}

int nl_apply_conn(struct nl_conn *c, const struct ruleset *rs, uint32_t table_flags,
		  enum nl_fault fault, struct nl_report *rep)
{
	struct batch b = {0};
	struct nl_table_info info;
	double t0 = now_ms();
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	rep->failed_index = -1;
	if (nl_table_query(c, rs->table, rs->family, &info) < 0) {
		rep->error = errno;
		snprintf(rep->msg, sizeof(rep->msg), "cannot read table inet %s from the kernel: %s",
			 rs->table, strerror(errno));
		goto out;
	}
	if (build_batch(rs, info.exists ? info.flags : table_flags, table_flags, fault, &b) < 0) {
		rep->error = ENOMEM;
		snprintf(rep->msg, sizeof(rep->msg), "out of memory while building the batch");
		goto out;
	}
	ret = send_batch(c, &b, rep);
out:
	rep->ms = now_ms() - t0;
	batch_free(&b);
	return ret;
}

/* One batch: a scratch table with a rule holding expression e (which the
 * rule takes over), and the table's deletion.  The kernel commits both (no
 * trace is left) or refuses the batch at the rule when it lacks e's type. */
static int build_probe_batch(const char *table, struct nftnl_expr *e, struct batch *b)
{
	char *scratch = calloc(1, SCRATCH_SIZE);
	struct nftnl_table *t = nftnl_table_alloc();
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int ret = -1;

	if (!scratch || !t || !c || !r || !e)
		goto out;
	b->seq0 = b->seq = next_seq();
	nlh = (struct nlmsghdr *)scratch;
	nftnl_batch_begin(scratch, b->seq++);
	batch_append(b, nlh, "batch begin");

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = nftnl_table_nlmsg_build_hdr(scratch, NFT_MSG_NEWTABLE, NFPROTO_INET,
					  NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_append(b, nlh, "probe table");

	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "probe");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nlh = nftnl_chain_nlmsg_build_hdr(scratch, NFT_MSG_NEWCHAIN, NFPROTO_INET,
					  NLM_F_CREATE | NLM_F_ACK, b->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	batch_append(b, nlh, "probe chain");

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "probe");
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_add_expr(r, e);
	e = NULL;	/* the rule owns it */
	nlh = nftnl_rule_nlmsg_build_hdr(scratch, NFT_MSG_NEWRULE, NFPROTO_INET,
					 NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, b->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	batch_append(b, nlh, "probe rule");

	nlh = nftnl_table_nlmsg_build_hdr(scratch, NFT_MSG_DELTABLE, NFPROTO_INET, NLM_F_ACK,
					  b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_append(b, nlh, "probe table (delete)");

	nlh = (struct nlmsghdr *)scratch;
	nftnl_batch_end(scratch, b->seq++);
	batch_append(b, nlh, "batch end");
	ret = b->oom ? -1 : 0;
out:
	if (e)
		nftnl_expr_free(e);
	if (r)
		nftnl_rule_free(r);
	if (c)
		nftnl_chain_free(c);
	if (t)
		nftnl_table_free(t);
	free(scratch);
	return ret;
}

int nl_probe_expr(struct nftnl_expr *e, char *err, size_t errlen)
{
	struct nl_conn *c;
	struct batch b = { .probe = true };
	struct nl_report rep;
	char table[64];
	int ret = -1;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c = nl_open(err, errlen);
	if (!c) {
		nftnl_expr_free(e);
		return -1;
	}
	memset(&rep, 0, sizeof(rep));
	rep.failed_index = -1;
	snprintf(table, sizeof(table), "filterd-probe-%ld", (long)getpid());
	if (build_probe_batch(table, e, &b) < 0) {
		snprintf(err, errlen, "out of memory while building the probe batch");
		goto out;
	}
	if (send_batch(c, &b, &rep) == 0) {
		ret = 1;
	} else if (rep.failed_index == 3 && (rep.error == ENOENT || rep.error == EOPNOTSUPP)) {
		ret = 0;	/* message 3 (after begin, table, chain): the rule */
	} else {
		snprintf(err, errlen, "%s", rep.msg);
	}
out:
	batch_free(&b);
	nl_close(c);
	return ret;
}

int nl_probe_queue(char *err, size_t errlen)
{
	struct nftnl_expr *e = nftnl_expr_alloc("queue");

	if (e) {
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, 0);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
	}
	return nl_probe_expr(e, err, errlen);
}

int nl_apply(const struct ruleset *rs, uint32_t table_flags, enum nl_fault fault,
	     struct nl_report *rep)
{
	char err[256];
	struct nl_conn *c = nl_open(err, sizeof(err));
	int ret;

	if (!c) {
		memset(rep, 0, sizeof(*rep));
		rep->error = errno ? errno : EIO;
		snprintf(rep->msg, sizeof(rep->msg), "%s", err);
		return -1;
	}
	ret = nl_apply_conn(c, rs, table_flags, fault, rep);
	nl_close(c);
	return ret;
}

/* ---- incremental element updates ------------------------------------- */

static void add_elem_msgs(struct batch *b, char *scratch, struct nftnl_set *s, uint16_t type,
			  const char *verb)
{
	struct nftnl_set_elems_iter *ei = nftnl_set_elems_iter_create(s);
	char what[512];
	unsigned part = 0;
	int more;

	if (!ei) {
		b->oom = 1;
		return;
	}
	more = nftnl_set_elems_iter_cur(ei) != NULL;
	while (more > 0) {
		struct nlmsghdr *nlh = nftnl_set_nlmsg_build_hdr(scratch, type,
				(uint16_t)nftnl_set_get_u32(s, NFTNL_SET_FAMILY),
				(type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0) | NLM_F_ACK, b->seq++);
		more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, ei);
		snprintf(what, sizeof(what), "%s elements of set %s (message %u)", verb,
			 nftnl_set_get_str(s, NFTNL_SET_NAME), ++part);
		batch_append(b, nlh, what);
	}
	nftnl_set_elems_iter_destroy(ei);
}

int nl_apply_delta(struct nl_conn *c, const struct rs_delta *d, struct nl_report *rep)
{
	struct batch b = {0};
	char *scratch = calloc(1, SCRATCH_SIZE);
	double t0 = now_ms();
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	rep->failed_index = -1;
	if (!scratch)
		goto oom;
	b.seq0 = b.seq = next_seq();
	nftnl_batch_begin(scratch, b.seq++);
	batch_append(&b, (struct nlmsghdr *)scratch, "batch begin");
	/* deletions first: an interval that moves must leave before it returns */
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].del)
			add_elem_msgs(&b, scratch, d->v[i].del, NFT_MSG_DELSETELEM, "delete");
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].add)
			add_elem_msgs(&b, scratch, d->v[i].add, NFT_MSG_NEWSETELEM, "add");
	nftnl_batch_end(scratch, b.seq++);
	batch_append(&b, (struct nlmsghdr *)scratch, "batch end");
	if (b.oom)
		goto oom;
	ret = b.nwhat > 2 ? send_batch(c, &b, rep) : 0;
	goto out;
oom:
	rep->error = ENOMEM;
	snprintf(rep->msg, sizeof(rep->msg), "out of memory while building the batch");
out:
	rep->ms = now_ms() - t0;
	free(scratch);
	batch_free(&b);
	return ret;
}
