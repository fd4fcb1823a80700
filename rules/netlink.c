#include "netlink.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
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

static void batch_append(struct batch *b, const struct nlmsghdr *nlh, const char *what)
{
	if (b->oom || batch_reserve(b, nlh->nlmsg_len) < 0)
		return;
	memcpy(b->buf + b->len, nlh, nlh->nlmsg_len);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
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

static void describe_rule(const struct nftnl_rule *r, size_t idx, char *buf, size_t len)
{
	char comment[256];

	rule_comment(r, comment, sizeof(comment));
	snprintf(buf, len, "rule %zu in chain %s (%s)", idx,
		 nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), comment[0] ? comment : "no comment");
}

static int build_batch(const struct ruleset *rs, uint32_t table_flags, enum nl_fault fault,
		       struct batch *b)
{
	char *scratch = malloc(SCRATCH_SIZE);
	struct nlmsghdr *nlh;
	char what[512];
	uint16_t fam = (uint16_t)rs->family;

	if (!scratch)
		return -1;
	b->seq0 = b->seq = (uint32_t)time(NULL);

	nlh = (struct nlmsghdr *)scratch;
	nftnl_batch_begin(scratch, b->seq++);
	batch_append(b, nlh, "batch begin");

	/* create-or-replace: add (no-op when present), delete, add afresh */
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		goto fail;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, rs->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, rs->family);
	nlh = nftnl_table_nlmsg_build_hdr(scratch, NFT_MSG_NEWTABLE, fam,
					  NLM_F_CREATE | NLM_F_ACK, b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	snprintf(what, sizeof(what), "table inet %s (create)", rs->table);
	batch_append(b, nlh, what);
	nlh = nftnl_table_nlmsg_build_hdr(scratch, NFT_MSG_DELTABLE, fam, NLM_F_ACK, b->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	snprintf(what, sizeof(what), "table inet %s (delete old)", rs->table);
	batch_append(b, nlh, what);
	if (table_flags)
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
		nftnl_chain_nlmsg_build_payload(nlh, c);
		snprintf(what, sizeof(what), "chain %s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
		batch_append(b, nlh, what);
	}
	if (ci)
		nftnl_chain_list_iter_destroy(ci);

	struct nftnl_set_list_iter *si = nftnl_set_list_iter_create(rs->sets);
	struct nftnl_set *s;
	while (si && (s = nftnl_set_list_iter_next(si))) {
		const char *sname = nftnl_set_get_str(s, NFTNL_SET_NAME);
		nlh = nftnl_set_nlmsg_build_hdr(scratch, NFT_MSG_NEWSET, fam,
						NLM_F_CREATE | NLM_F_ACK, b->seq++);
		nftnl_set_nlmsg_build_payload(nlh, s);
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
		nftnl_rule_nlmsg_build_payload(nlh, r);
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

int nl_apply(const struct ruleset *rs, uint32_t table_flags, enum nl_fault fault,
	     struct nl_report *rep)
{
	struct batch b = {0};
	struct mnl_socket *nl = NULL;
	char *rbuf = NULL;
	size_t expected, got = 0;
	int first_bad = -1, first_err = 0;
	char first_ext[256] = "";
	double t0 = now_ms();
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	if (build_batch(rs, table_flags, fault, &b) < 0) {
		rep->error = ENOMEM;
		snprintf(rep->msg, sizeof(rep->msg), "out of memory while building the batch");
		goto out;
	}
	expected = b.nwhat - 2;	/* every message but begin and end asks for an ACK */
	rep->messages = expected;
	rep->bytes = b.len;

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rep->error = errno;
		snprintf(rep->msg, sizeof(rep->msg), "cannot open a netfilter netlink socket: %s",
			 strerror(errno));
		goto out;
	}
	int one = 1;
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	/* The whole batch is one sendmsg; make room for it and for every ACK. */
	int sndbuf = (int)(b.len + 65536), rcvbuf = (int)(expected * 256 + (1 << 20));
	int fd = mnl_socket_get_fd(nl);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	if (mnl_socket_sendto(nl, b.buf, b.len) < 0) {
		rep->error = errno;
		snprintf(rep->msg, sizeof(rep->msg),
			 "sending the batch (%zu bytes) failed: %s; nothing was changed",
			 b.len, strerror(errno));
		goto out;
	}
	rbuf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	if (!rbuf) {
		rep->error = ENOMEM;
		snprintf(rep->msg, sizeof(rep->msg), "out of memory");
		goto out;
	}
	uint32_t portid = mnl_socket_get_portid(nl);
	while (got < expected) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, 10000);
		if (pr <= 0) {
			rep->error = pr == 0 ? ETIMEDOUT : errno;
			snprintf(rep->msg, sizeof(rep->msg),
				 "kernel answered %zu of %zu messages, then nothing for 10 s", got, expected);
			goto out;
		}
		ssize_t n = mnl_socket_recvfrom(nl, rbuf, MNL_SOCKET_BUFFER_SIZE * 4);
		if (n < 0) {
			rep->error = errno;
			snprintf(rep->msg, sizeof(rep->msg), "reading ACKs: %s (%zu of %zu received)",
				 strerror(errno), got, expected);
			goto out;
		}
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		int len = (int)n;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_pid != portid || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			uint32_t seq = nlh->nlmsg_seq;
			got++;
			if (e->error == 0)
				continue;
			int idx = (int)(seq - b.seq0);
			if (first_bad < 0 || idx < first_bad) {
				const char *x = ext_ack_msg(nlh);
				first_bad = idx;
				first_err = -e->error;
				snprintf(first_ext, sizeof(first_ext), "%s", x ? x : "");
			}
		}
	}
	if (first_bad >= 0) {
		const char *what = first_bad < (int)b.nwhat && b.what[first_bad] ?
				   b.what[first_bad] : "unknown message";
		rep->error = first_err;
		snprintf(rep->msg, sizeof(rep->msg),
			 "kernel refused %s: %s%s%s; the whole batch was rolled back, the table in force is unchanged",
			 what, strerror(first_err), first_ext[0] ? " — " : "", first_ext);
		goto out;
	}
	ret = 0;
out:
	rep->ms = now_ms() - t0;
	free(rbuf);
	if (nl)
		mnl_socket_close(nl);
	batch_free(&b);
	return ret;
}
