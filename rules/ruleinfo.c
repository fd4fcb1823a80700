#include "ruleinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

static const char *expr_name(const struct nftnl_expr *e)
{
	const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	return n ? n : "?";
}

void rule_bytecode_line(const struct nftnl_rule *r, char *buf, size_t len)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	size_t o = 0;
	char one[1024];

	if (!len)
		return;
	buf[0] = '\0';
	while (it && (e = nftnl_expr_iter_next(it))) {
		const char *n = expr_name(e);
		if (strcmp(n, "counter") == 0) {
			snprintf(one, sizeof(one), "counter");
		} else {
			char t[1000];
			nftnl_expr_snprintf(t, sizeof(t), e, NFTNL_OUTPUT_DEFAULT, 0);
			size_t tl = strlen(t);
			while (tl && t[tl - 1] == ' ')
				t[--tl] = '\0';
			/* the kernel reports a lookup's flags even when they are 0;
			 * absent and 0 mean the same (not inverted) */
			if (strcmp(n, "lookup") == 0 && tl > 4 && strcmp(t + tl - 4, " 0x0") == 0)
				t[tl - 4] = '\0';
			snprintf(one, sizeof(one), "%s %s", n, t);
		}
		int w = snprintf(buf + o, len - o, "%s[ %s ]", o ? " " : "", one);
		if (w < 0 || (size_t)w >= len - o) {
			o = len - 1;
			break;
		}
		o += (size_t)w;
	}
	if (it)
		nftnl_expr_iter_destroy(it);
}

bool rule_counter_get(const struct nftnl_rule *r, uint64_t *packets, uint64_t *bytes)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	bool found = false;

	*packets = *bytes = 0;
	while (it && !found && (e = nftnl_expr_iter_next(it))) {
		if (strcmp(expr_name(e), "counter") != 0)
			continue;
		*packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		*bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		found = true;
	}
	if (it)
		nftnl_expr_iter_destroy(it);
	return found;
}

/* The verdict register's immediate, if any, decides; a log without one is the
 * logging half of a drop. */
static enum rule_action action_and_target(const struct nftnl_rule *r, const char **target)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	enum rule_action a = RA_NONE;
	bool log = false;

	*target = "";
	while (it && (e = nftnl_expr_iter_next(it))) {
		const char *n = expr_name(e);
		if (strcmp(n, "log") == 0) {
			log = true;
		} else if (strcmp(n, "reject") == 0) {
			a = RA_REJECT;
		} else if (strcmp(n, "immediate") == 0 && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
			   nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
			int v = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
			switch (v) {
			case NF_ACCEPT: a = RA_ACCEPT; break;
			case NF_DROP: a = RA_DROP; break;
			case NFT_GOTO: a = RA_GOTO; break;
			case NFT_JUMP: a = RA_JUMP; break;
			case NFT_RETURN: a = RA_RETURN; break;
			default: break;
			}
			if ((a == RA_GOTO || a == RA_JUMP) && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
				*target = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
		}
	}
	if (it)
		nftnl_expr_iter_destroy(it);
	if (a == RA_NONE && log)
		a = RA_LOG;
	return a;
}

enum rule_action rule_action_of(const struct nftnl_rule *r)
{
	const char *t;
	return action_and_target(r, &t);
}

const char *rule_target_chain(const struct nftnl_rule *r)
{
	const char *t;
	action_and_target(r, &t);
	return t ? t : "";
}

const char *rule_action_name(enum rule_action a)
{
	static const char *const names[] = {
		[RA_NONE] = "none", [RA_LOG] = "logged", [RA_ACCEPT] = "accepted",
		[RA_DROP] = "dropped", [RA_REJECT] = "rejected", [RA_GOTO] = "goto",
		[RA_JUMP] = "jump", [RA_RETURN] = "return",
	};
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

/* ---- rules-only dump ---------------------------------------------------- */

struct rules_ctx {
	const char *table;
	struct nftnl_rule_list *l;
};

static int rules_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rules_ctx *c = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	const char *t;

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		if (r)
			nftnl_rule_free(r);
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	t = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	if (!t || strcmp(t, c->table) != 0) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	nftnl_rule_list_add_tail(r, c->l);
	return MNL_CB_OK;
}

struct nftnl_rule_list *rules_from_kernel(const char *table, uint32_t family, char *err,
					  size_t errlen)
{
	struct rules_ctx c = { .table = table };
	struct mnl_socket *nl = NULL;
	size_t bufsz = 256 * 1024;
	char *buf = malloc(bufsz), req[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_rule *q = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int ret;

	c.l = nftnl_rule_list_alloc();
	if (!buf || !q || !c.l) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "netlink: %s", strerror(errno));
		goto fail;
	}
	portid = mnl_socket_get_portid(nl);
	memset(req, 0, sizeof(req));
	nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETRULE, (uint16_t)family, NLM_F_DUMP, seq);
	nftnl_rule_set_str(q, NFTNL_RULE_TABLE, table);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		snprintf(err, errlen, "netlink: %s", strerror(errno));
		goto fail;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, bufsz);
		if (n < 0) {
			snprintf(err, errlen, "table %s: rule dump failed: %s", table, strerror(errno));
			goto fail;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, rules_cb, &c);
		if (ret < 0) {
			if (errno == ENOENT)
				snprintf(err, errlen, "table inet %s: no such table", table);
			else
				snprintf(err, errlen, "table %s: rule dump failed: %s", table, strerror(errno));
			goto fail;
		}
		if (ret == MNL_CB_STOP)
			break;
	}
	mnl_socket_close(nl);
	nftnl_rule_free(q);
	free(buf);
	return c.l;
fail:
	if (nl)
		mnl_socket_close(nl);
	if (q)
		nftnl_rule_free(q);
	if (c.l)
		nftnl_rule_list_free(c.l);
	free(buf);
	return NULL;
}
