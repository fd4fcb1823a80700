#include "dump.h"
#include "fsutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>

#define NL_BUFSZ	(256 * 1024)	/* receive buffer: > any dump skb (32 KiB) */
#define MSG_BUFSZ	(160 * 1024)	/* one built message: element nests < 64 KiB */
#define FILE_MAX	(512u * 1024 * 1024)

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *family_name(uint32_t f)
{
	switch (f) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_BRIDGE: return "bridge";
	case NFPROTO_NETDEV: return "netdev";
	default: return "?";
	}
}

/* Chains are kept "base chains first"; both groups in the order received. */
static void add_chains_base_first(struct ruleset *rs, struct nftnl_chain_list *tmp)
{
	struct nftnl_chain_list_iter *it;
	struct nftnl_chain *c;

	for (int pass = 0; pass < 2; pass++) {
		it = nftnl_chain_list_iter_create(tmp);
		c = it ? nftnl_chain_list_iter_next(it) : NULL;
		while (c) {
			struct nftnl_chain *next = nftnl_chain_list_iter_next(it);
			bool base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);

			if (base == (pass == 0)) {
				nftnl_chain_list_del(c);
				nftnl_chain_list_add_tail(c, rs->chains);
			}
			c = next;
		}
		if (it)
			nftnl_chain_list_iter_destroy(it);
	}
}

/* FNV-1a 64 over the file up to the trailer: a corrupted or truncated file
 * is refused before libnftnl sees it (libnftnl's parsers exit the process on
 * some malformed attributes, see abi_breakage()). */
static uint64_t fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ------------------------------------------------------- kernel dump ------ */

struct dump_ctx {
	struct ruleset *rs;
	const char *table;
	struct nftnl_table *t;
	struct nftnl_chain_list *chains;
	struct nftnl_set *elem_set;	/* GETSETELEM target */
};

static bool same_table(const char *t, const char *want)
{
	return t && strcmp(t, want) == 0;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t || nftnl_table_nlmsg_parse(nlh, t) < 0) {
		if (t)
			nftnl_table_free(t);
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!same_table(nftnl_table_get_str(t, NFTNL_TABLE_NAME), d->table) || d->t) {
		nftnl_table_free(t);
		return MNL_CB_OK;
	}
	d->t = t;
	return MNL_CB_OK;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		if (c)
			nftnl_chain_free(c);
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!same_table(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), d->table)) {
		nftnl_chain_free(c);
		return MNL_CB_OK;
	}
	nftnl_chain_list_add_tail(c, d->chains);
	return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0) {
		if (s)
			nftnl_set_free(s);
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!same_table(nftnl_set_get_str(s, NFTNL_SET_TABLE), d->table)) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	nftnl_set_list_add_tail(s, d->rs->sets);
	return MNL_CB_OK;
}

static int setelem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;

	if (nftnl_set_elems_nlmsg_parse(nlh, d->elem_set) < 0) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		if (r)
			nftnl_rule_free(r);
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!same_table(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), d->table)) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	nftnl_rule_list_add_tail(r, d->rs->rules);
	return MNL_CB_OK;
}

/* A request header in a cleared buffer (libmnl leaves padding as it was). */
static struct nlmsghdr *req_hdr(char *req, uint16_t type, uint32_t family,
				uint16_t flags, uint32_t seq)
{
	memset(req, 0, MNL_SOCKET_BUFFER_SIZE);
	return nftnl_nlmsg_build_hdr(req, type, (uint16_t)family, flags, seq);
}

/* Sends one request and runs cb over the answer until DONE / ACK. */
static int nl_request(struct mnl_socket *nl, char *buf, struct nlmsghdr *nlh,
		      mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, NL_BUFSZ);
		if (n < 0)
			return -1;
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (ret < 0)
			return -1;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

struct ruleset *ruleset_from_kernel(const char *table, uint32_t family, char *err,
				    size_t errlen)
{
	struct dump_ctx d = { .table = table };
	struct mnl_socket *nl = NULL;
	char *buf = NULL, *req = NULL;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL);
	const char *step = "socket";
	struct nftnl_set_list_iter *si = NULL;
	struct nftnl_set *s;

	if (!table) {
		fail(err, errlen, "no table name");
		return NULL;
	}
	d.rs = ruleset_new(table, family);
	d.chains = nftnl_chain_list_alloc();
	buf = malloc(NL_BUFSZ);
	req = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!d.rs || !d.chains || !buf || !req) {
		fail(err, errlen, "out of memory");
		goto out_fail;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto sys_fail;

	step = "table";
	{
		struct nftnl_table *t = nftnl_table_alloc();

		if (!t)
			goto sys_fail;
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
		nlh = req_hdr(req, NFT_MSG_GETTABLE, family, NLM_F_ACK, ++seq);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
	}
	if (nl_request(nl, buf, nlh, table_cb, &d) < 0) {
		if (errno == ENOENT)
			fail(err, errlen, "table %s %s: no such table",
			     family_name(family), table);
		else
			fail(err, errlen, "table %s %s: dump failed: %s",
			     family_name(family), table, strerror(errno));
		goto out_fail;
	}
	if (!d.t) {
		fail(err, errlen, "table %s %s: no such table", family_name(family), table);
		goto out_fail;
	}
	nftnl_table_free(d.rs->t);
	d.rs->t = d.t;
	d.t = NULL;

	step = "chains";
	{
		struct nftnl_chain *c = nftnl_chain_alloc();

		if (!c)
			goto sys_fail;
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
		nlh = req_hdr(req, NFT_MSG_GETCHAIN, family, NLM_F_DUMP, ++seq);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
	}
	if (nl_request(nl, buf, nlh, chain_cb, &d) < 0)
		goto sys_fail;
	add_chains_base_first(d.rs, d.chains);

	step = "sets";
	{
		struct nftnl_set *q = nftnl_set_alloc();

		if (!q)
			goto sys_fail;
		nftnl_set_set_str(q, NFTNL_SET_TABLE, table);
		nlh = req_hdr(req, NFT_MSG_GETSET, family, NLM_F_DUMP, ++seq);
		nftnl_set_nlmsg_build_payload(nlh, q);
		nftnl_set_free(q);
	}
	if (nl_request(nl, buf, nlh, set_cb, &d) < 0)
		goto sys_fail;

	step = "set elements";
	si = nftnl_set_list_iter_create(d.rs->sets);
	if (!si)
		goto sys_fail;
	while ((s = nftnl_set_list_iter_next(si))) {
		struct nftnl_set *q = nftnl_set_alloc();

		if (!q)
			goto sys_fail;
		nftnl_set_set_str(q, NFTNL_SET_TABLE, table);
		nftnl_set_set_str(q, NFTNL_SET_NAME, nftnl_set_get_str(s, NFTNL_SET_NAME));
		nlh = req_hdr(req, NFT_MSG_GETSETELEM, family, NLM_F_DUMP, ++seq);
		nftnl_set_elems_nlmsg_build_payload(nlh, q);
		nftnl_set_free(q);
		d.elem_set = s;
		if (nl_request(nl, buf, nlh, setelem_cb, &d) < 0) {
			fail(err, errlen, "table %s %s: set %s: element dump failed: %s",
			     family_name(family), table, nftnl_set_get_str(s, NFTNL_SET_NAME),
			     strerror(errno));
			goto out_fail;
		}
	}
	nftnl_set_list_iter_destroy(si);
	si = NULL;

	step = "rules";
	{
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r)
			goto sys_fail;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nlh = req_hdr(req, NFT_MSG_GETRULE, family, NLM_F_DUMP, ++seq);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	}
	if (nl_request(nl, buf, nlh, rule_cb, &d) < 0)
		goto sys_fail;

	mnl_socket_close(nl);
	nftnl_chain_list_free(d.chains);
	free(buf);
	free(req);
	return d.rs;

sys_fail:
	fail(err, errlen, "table %s %s: dump of %s failed: %s", family_name(family),
	     table, step, strerror(errno));
out_fail:
	if (si)
		nftnl_set_list_iter_destroy(si);
	if (nl)
		mnl_socket_close(nl);
	if (d.t)
		nftnl_table_free(d.t);
	if (d.chains)
		nftnl_chain_list_free(d.chains);
	ruleset_free(d.rs);
	free(buf);
	free(req);
	return NULL;
}

/* ------------------------------------------------------------- saving ----- */

struct outbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void out_put(struct outbuf *o, const void *data, size_t len)
{
	if (o->oom)
		return;
	if (o->len + len > o->cap) {
		size_t cap = o->cap ? o->cap : 65536;
		uint8_t *np;

		while (cap < o->len + len)
			cap *= 2;
		np = realloc(o->p, cap);
		if (!np) {
			o->oom = true;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, data, len);
	o->len += len;
}

/* libnftnl numbers the element nests 1, 2, 3... (the kernel ignores the
 * type) but its own parser, like the kernel's dumps, wants NFTA_LIST_ELEM:
 * store them the way the kernel sends them. */
static void fix_elem_nests(struct nlmsghdr *nlh)
{
	struct nlattr *a, *el;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(el, a)
			el->nla_type = NLA_F_NESTED | NFTA_LIST_ELEM;
	}
}

/* Appends the message and clears it from buf: libmnl leaves attribute
 * padding untouched, and saved files should not carry stale bytes. */
static void out_msg(struct outbuf *o, struct nlmsghdr *nlh)
{
	uint32_t len = nlh->nlmsg_len, be = htonl(len);

	if ((nlh->nlmsg_type & 0xff) == NFT_MSG_NEWSETELEM)
		fix_elem_nests(nlh);
	out_put(o, &be, sizeof(be));
	out_put(o, nlh, len);
	memset(nlh, 0, len);
}

int ruleset_save_buf(const struct ruleset *rs, void **bufp, size_t *lenp, char *err,
		     size_t errlen)
{
	struct outbuf o = { 0 };
	char *buf = calloc(1, MSG_BUFSZ);
	struct nlmsghdr *nlh;
	uint16_t fam = (uint16_t)rs->family;
	uint32_t seq = 0;
	struct nftnl_chain_list_iter *ci = NULL;
	struct nftnl_set_list_iter *si = NULL;
	struct nftnl_rule_list_iter *ri = NULL;
	struct nftnl_chain *c;
	struct nftnl_set *s;
	struct nftnl_rule *r;
	int ret = -1;

	if (!buf)
		goto oom;
	out_put(&o, RULESET_FILE_MAGIC, strlen(RULESET_FILE_MAGIC));

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, fam, 0, ++seq);
	nftnl_table_nlmsg_build_payload(nlh, rs->t);
	out_msg(&o, nlh);

	ci = nftnl_chain_list_iter_create(rs->chains);
	if (!ci)
		goto oom;
	while ((c = nftnl_chain_list_iter_next(ci))) {
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, fam, 0, ++seq);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		out_msg(&o, nlh);
	}

	si = nftnl_set_list_iter_create(rs->sets);
	if (!si)
		goto oom;
	while ((s = nftnl_set_list_iter_next(si))) {
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, fam, 0, ++seq);
		nftnl_set_nlmsg_build_payload(nlh, s);
		out_msg(&o, nlh);
	}
	nftnl_set_list_iter_destroy(si);
	si = nftnl_set_list_iter_create(rs->sets);
	if (!si)
		goto oom;
	while ((s = nftnl_set_list_iter_next(si))) {
		struct nftnl_set_elems_iter *ei;
		int more;

		ei = nftnl_set_elems_iter_create(s);
		if (!ei)
			goto oom;
		if (!nftnl_set_elems_iter_cur(ei)) {	/* no elements */
			nftnl_set_elems_iter_destroy(ei);
			continue;
		}
		do {
			nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, fam, 0, ++seq);
			more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, ei);
			if (more < 0) {
				nftnl_set_elems_iter_destroy(ei);
				fail(err, errlen, "set %s: cannot encode elements",
				     nftnl_set_get_str(s, NFTNL_SET_NAME));
				goto out;
			}
			out_msg(&o, nlh);
		} while (more > 0);
		nftnl_set_elems_iter_destroy(ei);
	}

	ri = nftnl_rule_list_iter_create(rs->rules);
	if (!ri)
		goto oom;
	while ((r = nftnl_rule_list_iter_next(ri))) {
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, fam, 0, ++seq);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		out_msg(&o, nlh);
	}
	{
		uint32_t zero = 0;
		uint64_t h;
		uint8_t be[8];

		out_put(&o, &zero, sizeof(zero));
		if (o.oom)
			goto oom;
		h = fnv64(o.p, o.len);
		for (int i = 0; i < 8; i++)
			be[i] = (uint8_t)(h >> (56 - 8 * i));
		out_put(&o, be, sizeof(be));
	}
	if (o.oom)
		goto oom;
	*bufp = o.p;
	*lenp = o.len;
	o.p = NULL;
	ret = 0;
	goto out;
oom:
	fail(err, errlen, "out of memory");
out:
	if (ci)
		nftnl_chain_list_iter_destroy(ci);
	if (si)
		nftnl_set_list_iter_destroy(si);
	if (ri)
		nftnl_rule_list_iter_destroy(ri);
	free(o.p);
	free(buf);
	return ret;
}

int ruleset_save(const struct ruleset *rs, const char *path, char *err, size_t errlen)
{
	void *data = NULL;
	size_t len = 0;
	char *tmp = NULL;
	FILE *f = NULL;
	int ret = -1;

	if (ruleset_save_buf(rs, &data, &len, err, errlen) < 0)
		return -1;
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		fail(err, errlen, "out of memory");
		goto out;
	}
	{
		int fd = open_fresh(tmp, 0644);

		f = fd >= 0 ? fdopen(fd, "wb") : NULL;
		if (!f) {
			fail(err, errlen, "%s: %s", tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
	}
	if (fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fail(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		fail(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) < 0) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (f)
		fclose(f);
	if (ret < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(data);
	return ret;
}

/* ------------------------------------------------------------ loading ----- */

/* Attribute policy of everything a saved dump may hold, checked before any
 * message reaches libnftnl.  libnftnl's parsers trust the kernel: a fixed-size
 * attribute of the wrong length calls abi_breakage() (exit), a missing
 * expression name is dereferenced, strings are strdup'ed without a NUL check,
 * an element attribute above NFTA_SET_ELEM_MAX is stored past its table, and
 * user data is walked without bounds.  So every attribute of every nest is
 * checked here against what libnftnl (and the kernel that wrote the dump)
 * expects: known types only, exact integer sizes, NUL-terminated strings of at
 * most NFT_NAME_MAXLEN, bounded binaries, well-formed nests and user-data TLVs,
 * the kernel's counts (128 expressions a rule, 16 concatenated fields), and
 * only the expressions the evaluator knows. */
enum akind {
	A_U8, A_U16, A_U32, A_U64, A_STR, A_BIN, A_PAD, A_NEST, A_LIST, A_DATA,
	A_EXPR, A_EXPRS, A_UDATA, A_UDATA_COMMENT,
};

struct aspec {
	uint16_t type;
	uint8_t kind;
	bool required;
	uint16_t max;			/* A_BIN/A_STR: bytes; A_LIST/A_EXPRS: items */
	const struct aspec *nest;	/* A_NEST, A_LIST (items' attributes) */
	const char *name;
};

#define AEND { 0, 0, false, 0, NULL, NULL }
#define VCHECK_DEPTH 8

static const struct aspec verdict_spec[] = {
	{ NFTA_VERDICT_CODE, A_U32, true, 0, NULL, "code" },
	{ NFTA_VERDICT_CHAIN, A_STR, false, NFT_CHAIN_MAXNAMELEN, NULL, "chain" },
	{ NFTA_VERDICT_CHAIN_ID, A_U32, false, 0, NULL, "chain id" },
	AEND,
};
static const struct aspec data_spec[] = {
	{ NFTA_DATA_VALUE, A_BIN, false, NFT_DATA_VALUE_MAXLEN, NULL, "value" },
	{ NFTA_DATA_VERDICT, A_NEST, false, 0, verdict_spec, "verdict" },
	AEND,
};

static const struct aspec bitwise_spec[] = {
	{ NFTA_BITWISE_SREG, A_U32, false, 0, NULL, "sreg" },
	{ NFTA_BITWISE_DREG, A_U32, false, 0, NULL, "dreg" },
	{ NFTA_BITWISE_LEN, A_U32, false, 0, NULL, "len" },
	{ NFTA_BITWISE_MASK, A_DATA, false, 0, NULL, "mask" },
	{ NFTA_BITWISE_XOR, A_DATA, false, 0, NULL, "xor" },
	{ NFTA_BITWISE_OP, A_U32, false, 0, NULL, "op" },
	{ NFTA_BITWISE_DATA, A_DATA, false, 0, NULL, "data" },
	AEND,
};
static const struct aspec byteorder_spec[] = {
	{ NFTA_BYTEORDER_SREG, A_U32, false, 0, NULL, "sreg" },
	{ NFTA_BYTEORDER_DREG, A_U32, false, 0, NULL, "dreg" },
	{ NFTA_BYTEORDER_OP, A_U32, false, 0, NULL, "op" },
	{ NFTA_BYTEORDER_LEN, A_U32, false, 0, NULL, "len" },
	{ NFTA_BYTEORDER_SIZE, A_U32, false, 0, NULL, "size" },
	AEND,
};
static const struct aspec cmp_spec[] = {
	{ NFTA_CMP_SREG, A_U32, false, 0, NULL, "sreg" },
	{ NFTA_CMP_OP, A_U32, false, 0, NULL, "op" },
	{ NFTA_CMP_DATA, A_DATA, false, 0, NULL, "data" },
	AEND,
};
static const struct aspec counter_spec[] = {
	{ NFTA_COUNTER_BYTES, A_U64, false, 0, NULL, "bytes" },
	{ NFTA_COUNTER_PACKETS, A_U64, false, 0, NULL, "packets" },
	{ NFTA_COUNTER_PAD, A_PAD, false, 0, NULL, "pad" },
	AEND,
};
static const struct aspec ct_spec[] = {
	{ NFTA_CT_DREG, A_U32, false, 0, NULL, "dreg" },
	{ NFTA_CT_KEY, A_U32, false, 0, NULL, "key" },
	{ NFTA_CT_DIRECTION, A_U8, false, 0, NULL, "direction" },
	{ NFTA_CT_SREG, A_U32, false, 0, NULL, "sreg" },
	AEND,
};
static const struct aspec immediate_spec[] = {
	{ NFTA_IMMEDIATE_DREG, A_U32, false, 0, NULL, "dreg" },
	{ NFTA_IMMEDIATE_DATA, A_DATA, false, 0, NULL, "data" },
	AEND,
};
static const struct aspec limit_spec[] = {
	{ NFTA_LIMIT_RATE, A_U64, false, 0, NULL, "rate" },
	{ NFTA_LIMIT_UNIT, A_U64, false, 0, NULL, "unit" },
	{ NFTA_LIMIT_BURST, A_U32, false, 0, NULL, "burst" },
	{ NFTA_LIMIT_TYPE, A_U32, false, 0, NULL, "type" },
	{ NFTA_LIMIT_FLAGS, A_U32, false, 0, NULL, "flags" },
	{ NFTA_LIMIT_PAD, A_PAD, false, 0, NULL, "pad" },
	AEND,
};
static const struct aspec log_spec[] = {
	{ NFTA_LOG_GROUP, A_U16, false, 0, NULL, "group" },
	{ NFTA_LOG_PREFIX, A_STR, false, NFT_NAME_MAXLEN, NULL, "prefix" },
	{ NFTA_LOG_SNAPLEN, A_U32, false, 0, NULL, "snaplen" },
	{ NFTA_LOG_QTHRESHOLD, A_U16, false, 0, NULL, "qthreshold" },
	{ NFTA_LOG_LEVEL, A_U32, false, 0, NULL, "level" },
	{ NFTA_LOG_FLAGS, A_U32, false, 0, NULL, "flags" },
	AEND,
};
static const struct aspec lookup_spec[] = {
	{ NFTA_LOOKUP_SET, A_STR, false, NFT_SET_MAXNAMELEN, NULL, "set" },
	{ NFTA_LOOKUP_SREG, A_U32, false, 0, NULL, "sreg" },
	{ NFTA_LOOKUP_DREG, A_U32, false, 0, NULL, "dreg" },
	{ NFTA_LOOKUP_SET_ID, A_U32, false, 0, NULL, "set id" },
	{ NFTA_LOOKUP_FLAGS, A_U32, false, 0, NULL, "flags" },
	AEND,
};
static const struct aspec meta_spec[] = {
	{ NFTA_META_DREG, A_U32, false, 0, NULL, "dreg" },
	{ NFTA_META_KEY, A_U32, false, 0, NULL, "key" },
	{ NFTA_META_SREG, A_U32, false, 0, NULL, "sreg" },
	AEND,
};
static const struct aspec payload_spec[] = {
	{ NFTA_PAYLOAD_DREG, A_U32, false, 0, NULL, "dreg" },
	{ NFTA_PAYLOAD_BASE, A_U32, false, 0, NULL, "base" },
	{ NFTA_PAYLOAD_OFFSET, A_U32, false, 0, NULL, "offset" },
	{ NFTA_PAYLOAD_LEN, A_U32, false, 0, NULL, "len" },
	{ NFTA_PAYLOAD_SREG, A_U32, false, 0, NULL, "sreg" },
	{ NFTA_PAYLOAD_CSUM_TYPE, A_U32, false, 0, NULL, "csum type" },
	{ NFTA_PAYLOAD_CSUM_OFFSET, A_U32, false, 0, NULL, "csum offset" },
	{ NFTA_PAYLOAD_CSUM_FLAGS, A_U32, false, 0, NULL, "csum flags" },
	AEND,
};
static const struct aspec range_spec[] = {
	{ NFTA_RANGE_SREG, A_U32, false, 0, NULL, "sreg" },
	{ NFTA_RANGE_OP, A_U32, false, 0, NULL, "op" },
	{ NFTA_RANGE_FROM_DATA, A_DATA, false, 0, NULL, "from" },
	{ NFTA_RANGE_TO_DATA, A_DATA, false, 0, NULL, "to" },
	AEND,
};
static const struct aspec queue_spec[] = {
	{ NFTA_QUEUE_NUM, A_U16, false, 0, NULL, "num" },
	{ NFTA_QUEUE_TOTAL, A_U16, false, 0, NULL, "total" },
	{ NFTA_QUEUE_FLAGS, A_U16, false, 0, NULL, "flags" },
	{ NFTA_QUEUE_SREG_QNUM, A_U32, false, 0, NULL, "sreg qnum" },
	AEND,
};
/* nft_compat's xtables target (expr_target.c: NFQUEUE, for filterd's DNS
 * queue on kernels without CONFIG_NFT_QUEUE); name: XT_EXTENSION_MAXNAMELEN */
static const struct aspec target_spec[] = {
	{ NFTA_TARGET_NAME, A_STR, true, 29, NULL, "name" },
	{ NFTA_TARGET_REV, A_U32, false, 0, NULL, "rev" },
	{ NFTA_TARGET_INFO, A_BIN, false, 256, NULL, "info" },
	AEND,
};
static const struct aspec reject_spec[] = {
	{ NFTA_REJECT_TYPE, A_U32, false, 0, NULL, "type" },
	{ NFTA_REJECT_ICMP_CODE, A_U8, false, 0, NULL, "icmp code" },
	AEND,
};

/* The expressions the evaluator knows (rules/expr_*.c); any other one would be
 * refused by vm_load() anyway, and libnftnl's parser for it is not vetted. */
static const struct {
	const char *name;
	const struct aspec *spec;
} expr_specs[] = {
	{ "bitwise", bitwise_spec }, { "byteorder", byteorder_spec }, { "cmp", cmp_spec },
	{ "counter", counter_spec }, { "ct", ct_spec }, { "immediate", immediate_spec },
	{ "limit", limit_spec }, { "log", log_spec }, { "lookup", lookup_spec },
	{ "meta", meta_spec }, { "payload", payload_spec }, { "range", range_spec },
	{ "reject", reject_spec }, { "queue", queue_spec }, { "target", target_spec },
};

static const struct aspec hook_dev_spec[] = {
	{ NFTA_DEVICE_NAME, A_STR, false, IFNAMSIZ, NULL, "device" },
	AEND,
};
static const struct aspec hook_spec[] = {
	{ NFTA_HOOK_HOOKNUM, A_U32, false, 0, NULL, "hooknum" },
	{ NFTA_HOOK_PRIORITY, A_U32, false, 0, NULL, "priority" },
	{ NFTA_HOOK_DEV, A_STR, false, IFNAMSIZ, NULL, "device" },
	{ NFTA_HOOK_DEVS, A_NEST, false, 0, hook_dev_spec, "devices" },
	AEND,
};
static const struct aspec counters_spec[] = {
	{ NFTA_COUNTER_BYTES, A_U64, false, 0, NULL, "bytes" },
	{ NFTA_COUNTER_PACKETS, A_U64, false, 0, NULL, "packets" },
	{ NFTA_COUNTER_PAD, A_PAD, false, 0, NULL, "pad" },
	AEND,
};
static const struct aspec table_spec[] = {
	{ NFTA_TABLE_NAME, A_STR, true, NFT_TABLE_MAXNAMELEN, NULL, "name" },
	{ NFTA_TABLE_FLAGS, A_U32, false, 0, NULL, "flags" },
	{ NFTA_TABLE_USE, A_U32, false, 0, NULL, "use" },
	{ NFTA_TABLE_HANDLE, A_U64, false, 0, NULL, "handle" },
	{ NFTA_TABLE_PAD, A_PAD, false, 0, NULL, "pad" },
	{ NFTA_TABLE_USERDATA, A_UDATA, false, NFT_USERDATA_MAXLEN, NULL, "userdata" },
	{ NFTA_TABLE_OWNER, A_U32, false, 0, NULL, "owner" },
	AEND,
};
static const struct aspec chain_spec[] = {
	{ NFTA_CHAIN_TABLE, A_STR, true, NFT_TABLE_MAXNAMELEN, NULL, "table" },
	{ NFTA_CHAIN_HANDLE, A_U64, false, 0, NULL, "handle" },
	{ NFTA_CHAIN_NAME, A_STR, true, NFT_CHAIN_MAXNAMELEN, NULL, "name" },
	{ NFTA_CHAIN_HOOK, A_NEST, false, 0, hook_spec, "hook" },
	{ NFTA_CHAIN_POLICY, A_U32, false, 0, NULL, "policy" },
	{ NFTA_CHAIN_USE, A_U32, false, 0, NULL, "use" },
	{ NFTA_CHAIN_TYPE, A_STR, false, NFT_NAME_MAXLEN, NULL, "type" },
	{ NFTA_CHAIN_COUNTERS, A_NEST, false, 0, counters_spec, "counters" },
	{ NFTA_CHAIN_PAD, A_PAD, false, 0, NULL, "pad" },
	{ NFTA_CHAIN_FLAGS, A_U32, false, 0, NULL, "flags" },
	{ NFTA_CHAIN_ID, A_U32, false, 0, NULL, "id" },
	{ NFTA_CHAIN_USERDATA, A_UDATA, false, NFT_USERDATA_MAXLEN, NULL, "userdata" },
	AEND,
};
static const struct aspec field_spec[] = {
	{ NFTA_SET_FIELD_LEN, A_U32, false, 0, NULL, "field length" },
	AEND,
};
static const struct aspec desc_spec[] = {
	{ NFTA_SET_DESC_SIZE, A_U32, false, 0, NULL, "size" },
	{ NFTA_SET_DESC_CONCAT, A_LIST, false, NFT_REG32_COUNT, field_spec, "concat" },
	AEND,
};
static const struct aspec set_spec[] = {
	{ NFTA_SET_TABLE, A_STR, true, NFT_TABLE_MAXNAMELEN, NULL, "table" },
	{ NFTA_SET_NAME, A_STR, true, NFT_SET_MAXNAMELEN, NULL, "name" },
	{ NFTA_SET_FLAGS, A_U32, false, 0, NULL, "flags" },
	{ NFTA_SET_KEY_TYPE, A_U32, false, 0, NULL, "key type" },
	{ NFTA_SET_KEY_LEN, A_U32, false, 0, NULL, "key length" },
	{ NFTA_SET_DATA_TYPE, A_U32, false, 0, NULL, "data type" },
	{ NFTA_SET_DATA_LEN, A_U32, false, 0, NULL, "data length" },
	{ NFTA_SET_POLICY, A_U32, false, 0, NULL, "policy" },
	{ NFTA_SET_DESC, A_NEST, false, 0, desc_spec, "desc" },
	{ NFTA_SET_ID, A_U32, false, 0, NULL, "id" },
	{ NFTA_SET_TIMEOUT, A_U64, false, 0, NULL, "timeout" },
	{ NFTA_SET_GC_INTERVAL, A_U32, false, 0, NULL, "gc interval" },
	{ NFTA_SET_USERDATA, A_UDATA, false, NFT_USERDATA_MAXLEN, NULL, "userdata" },
	{ NFTA_SET_PAD, A_PAD, false, 0, NULL, "pad" },
	{ NFTA_SET_OBJ_TYPE, A_U32, false, 0, NULL, "object type" },
	{ NFTA_SET_HANDLE, A_U64, false, 0, NULL, "handle" },
	{ NFTA_SET_EXPR, A_EXPR, false, 0, NULL, "expression" },
	{ NFTA_SET_EXPRESSIONS, A_EXPRS, false, 2, NULL, "expressions" },
	AEND,
};
static const struct aspec elem_spec[] = {
	{ NFTA_SET_ELEM_KEY, A_DATA, false, 0, NULL, "key" },
	{ NFTA_SET_ELEM_DATA, A_DATA, false, 0, NULL, "data" },
	{ NFTA_SET_ELEM_FLAGS, A_U32, false, 0, NULL, "flags" },
	{ NFTA_SET_ELEM_TIMEOUT, A_U64, false, 0, NULL, "timeout" },
	{ NFTA_SET_ELEM_EXPIRATION, A_U64, false, 0, NULL, "expiration" },
	{ NFTA_SET_ELEM_USERDATA, A_UDATA, false, NFT_USERDATA_MAXLEN, NULL, "userdata" },
	{ NFTA_SET_ELEM_EXPR, A_EXPR, false, 0, NULL, "expression" },
	{ NFTA_SET_ELEM_PAD, A_PAD, false, 0, NULL, "pad" },
	{ NFTA_SET_ELEM_OBJREF, A_STR, false, NFT_OBJ_MAXNAMELEN, NULL, "objref" },
	{ NFTA_SET_ELEM_KEY_END, A_DATA, false, 0, NULL, "key end" },
	{ NFTA_SET_ELEM_EXPRESSIONS, A_EXPRS, false, 2, NULL, "expressions" },
	AEND,
};
static const struct aspec elem_list_spec[] = {
	{ NFTA_SET_ELEM_LIST_TABLE, A_STR, false, NFT_TABLE_MAXNAMELEN, NULL, "table" },
	{ NFTA_SET_ELEM_LIST_SET, A_STR, true, NFT_SET_MAXNAMELEN, NULL, "set" },
	{ NFTA_SET_ELEM_LIST_ELEMENTS, A_LIST, false, 0, elem_spec, "elements" },
	{ NFTA_SET_ELEM_LIST_SET_ID, A_U32, false, 0, NULL, "set id" },
	AEND,
};
static const struct aspec compat_spec[] = {
	{ NFTA_RULE_COMPAT_PROTO, A_U32, false, 0, NULL, "proto" },
	{ NFTA_RULE_COMPAT_FLAGS, A_U32, false, 0, NULL, "flags" },
	AEND,
};
static const struct aspec rule_spec[] = {
	{ NFTA_RULE_TABLE, A_STR, true, NFT_TABLE_MAXNAMELEN, NULL, "table" },
	{ NFTA_RULE_CHAIN, A_STR, true, NFT_CHAIN_MAXNAMELEN, NULL, "chain" },
	{ NFTA_RULE_HANDLE, A_U64, false, 0, NULL, "handle" },
	{ NFTA_RULE_EXPRESSIONS, A_EXPRS, false, 128, NULL, "expressions" },
	{ NFTA_RULE_COMPAT, A_NEST, false, 0, compat_spec, "compat" },
	{ NFTA_RULE_POSITION, A_U64, false, 0, NULL, "position" },
	{ NFTA_RULE_USERDATA, A_UDATA_COMMENT, false, NFT_USERDATA_MAXLEN, NULL, "userdata" },
	{ NFTA_RULE_PAD, A_PAD, false, 0, NULL, "pad" },
	{ NFTA_RULE_ID, A_U32, false, 0, NULL, "id" },
	{ NFTA_RULE_POSITION_ID, A_U32, false, 0, NULL, "position id" },
	{ NFTA_RULE_CHAIN_ID, A_U32, false, 0, NULL, "chain id" },
	AEND,
};

static int vfail(char *why, size_t whylen, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int vfail(char *why, size_t whylen, const char *what, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(why, whylen, "%s%s%s", what, *what ? ": " : "", msg);
	return -1;
}

/* Walks the attributes of [p, p + len): each must fit, the last may lack its
 * alignment padding.  Calls fn for each; stops at the first error. */
typedef int (*attr_fn)(const struct nlattr *a, void *arg);

static int walk_attrs(const uint8_t *p, size_t len, attr_fn fn, void *arg, char *why,
		      size_t whylen, const char *what)
{
	size_t off = 0;

	while (off < len) {
		const struct nlattr *a = (const struct nlattr *)(p + off);
		size_t alen;

		if (len - off < sizeof(struct nlattr))
			return vfail(why, whylen, what, "%zu stray bytes after the attributes",
				     len - off);
		alen = a->nla_len;
		if (alen < sizeof(struct nlattr) || alen > len - off)
			return vfail(why, whylen, what, "attribute of length %zu in %zu bytes",
				     alen, len - off);
		if (fn(a, arg) < 0)
			return -1;
		alen = MNL_ALIGN(alen);
		off += alen < len - off ? alen : len - off;
	}
	return 0;
}

static int walk_noop(const struct nlattr *a, void *arg)
{
	(void)a;
	(void)arg;
	return 0;
}

struct vctx {
	const struct aspec *spec;
	const char *what;
	char *why;
	size_t whylen;
	int depth;
	unsigned seen;			/* bit i: spec[i] present */
};

static int check_nest(const struct nlattr *a, const struct aspec *spec, const char *what,
		      struct vctx *parent);
static int check_expr(const struct nlattr *a, const char *what, struct vctx *parent);

static int check_str(const struct nlattr *a, size_t max)
{
	const char *s = mnl_attr_get_payload(a);
	size_t n = mnl_attr_get_payload_len(a);

	return n >= 1 && n <= max && s[n - 1] == '\0' && strlen(s) == n - 1 ? 0 : -1;
}

/* nftnl_udata TLVs: { u8 type, u8 len, value[len] } filling the buffer; with
 * comment, a type-0 value (NFTNL_UDATA_RULE_COMMENT) is a NUL-terminated string. */
static int check_udata(const struct nlattr *a, bool comment)
{
	const uint8_t *p = mnl_attr_get_payload(a);
	size_t n = mnl_attr_get_payload_len(a), off = 0;

	while (off < n) {
		uint8_t t, l;

		if (n - off < 2)
			return -1;
		t = p[off];
		l = p[off + 1];
		if (l > n - off - 2)
			return -1;
		if (comment && t == 0 && (l == 0 || p[off + 2 + l - 1] != '\0'))
			return -1;
		off += 2 + (size_t)l;
	}
	return 0;
}

static int check_data(const struct nlattr *a, const char *what, struct vctx *parent)
{
	const struct nlattr *v;
	unsigned kinds = 0;

	if (check_nest(a, data_spec, what, parent) < 0)
		return -1;
	mnl_attr_for_each_nested(v, a) {
		uint16_t t = mnl_attr_get_type(v);

		kinds |= 1u << t;
		if (t == NFTA_DATA_VALUE && mnl_attr_get_payload_len(v) == 0)
			return vfail(parent->why, parent->whylen, what, "empty value");
		if (t == NFTA_DATA_VERDICT) {
			const struct nlattr *x;
			uint32_t code = 0;
			bool chain = false;

			mnl_attr_for_each_nested(x, v) {
				if (mnl_attr_get_type(x) == NFTA_VERDICT_CODE)
					code = ntohl(mnl_attr_get_u32(x));
				else if (mnl_attr_get_type(x) == NFTA_VERDICT_CHAIN)
					chain = true;
			}
			if ((code == (uint32_t)NFT_JUMP || code == (uint32_t)NFT_GOTO) && !chain)
				return vfail(parent->why, parent->whylen, what,
					     "jump or goto without a chain");
		}
	}
	if (kinds != (1u << NFTA_DATA_VALUE) && kinds != (1u << NFTA_DATA_VERDICT))
		return vfail(parent->why, parent->whylen, what,
			     "needs exactly one value or one verdict");
	return 0;
}

static int check_attr(const struct nlattr *a, void *arg)
{
	struct vctx *c = arg;
	uint16_t t = mnl_attr_get_type(a);
	size_t n = mnl_attr_get_payload_len(a);
	const struct aspec *sp;
	char what[256];
	size_t i;

	for (i = 0, sp = c->spec; sp->name && sp->type != t; i++, sp++)
		;
	if (!sp->name)
		return vfail(c->why, c->whylen, c->what, "unknown attribute %u", t);
	c->seen |= 1u << i;
	snprintf(what, sizeof(what), "%s%s%s", c->what, *c->what ? ": " : "", sp->name);
	switch (sp->kind) {
	case A_U8:
	case A_U16:
	case A_U32:
	case A_U64: {
		static const size_t sz[] = { [A_U8] = 1, [A_U16] = 2, [A_U32] = 4, [A_U64] = 8 };

		if (n != sz[sp->kind])
			return vfail(c->why, c->whylen, what, "length %zu, expected %zu", n,
				     sz[sp->kind]);
		return 0;
	}
	case A_STR:
		if (check_str(a, sp->max) < 0)
			return vfail(c->why, c->whylen, what,
				     "not a NUL-terminated string of at most %u bytes", sp->max);
		return 0;
	case A_BIN:
		if (n > sp->max)
			return vfail(c->why, c->whylen, what, "%zu bytes, at most %u", n, sp->max);
		return 0;
	case A_PAD:
		return 0;
	case A_UDATA:
	case A_UDATA_COMMENT:
		if (n > sp->max || check_udata(a, sp->kind == A_UDATA_COMMENT) < 0)
			return vfail(c->why, c->whylen, what, "malformed user data");
		return 0;
	case A_NEST:
		return check_nest(a, sp->nest, what, c);
	case A_DATA:
		return check_data(a, what, c);
	case A_EXPR:
		return check_expr(a, what, c);
	case A_LIST:
	case A_EXPRS: {
		const struct nlattr *x;
		unsigned count = 0;

		if (c->depth >= VCHECK_DEPTH)
			return vfail(c->why, c->whylen, what, "nested too deeply");
		if (walk_attrs(mnl_attr_get_payload(a), n, walk_noop, NULL, c->why, c->whylen,
			       what) < 0)
			return -1;
		mnl_attr_for_each_nested(x, a) {
			char iw[300];

			if (mnl_attr_get_type(x) != NFTA_LIST_ELEM)
				return vfail(c->why, c->whylen, what, "item of type %u, not a list element",
					     mnl_attr_get_type(x));
			if (sp->max && ++count > sp->max)
				return vfail(c->why, c->whylen, what, "more than %u items", sp->max);
			snprintf(iw, sizeof(iw), "%s #%u", what, count ? count : 1);
			if (sp->kind == A_EXPRS ? check_expr(x, iw, c) < 0 :
			    check_nest(x, sp->nest, iw, c) < 0)
				return -1;
		}
		return 0;
	}
	}
	return vfail(c->why, c->whylen, what, "unexpected attribute kind");
}

static int check_nest(const struct nlattr *a, const struct aspec *spec, const char *what,
		      struct vctx *parent)
{
	struct vctx c = { .spec = spec, .what = what, .why = parent->why,
			  .whylen = parent->whylen, .depth = parent->depth + 1 };
	size_t n = mnl_attr_get_payload_len(a);

	if (c.depth > VCHECK_DEPTH)
		return vfail(c.why, c.whylen, what, "nested too deeply");
	if (walk_attrs(mnl_attr_get_payload(a), n, check_attr, &c, c.why, c.whylen, what) < 0)
		return -1;
	for (size_t i = 0; spec[i].name; i++)
		if (spec[i].required && !(c.seen & (1u << i)))
			return vfail(c.why, c.whylen, what, "no %s", spec[i].name);
	return 0;
}

static int check_expr(const struct nlattr *a, const char *what, struct vctx *parent)
{
	const struct nlattr *x, *name = NULL, *data = NULL;
	char w[320];

	if (walk_attrs(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), walk_noop, NULL,
		       parent->why, parent->whylen, what) < 0)
		return -1;
	mnl_attr_for_each_nested(x, a) {
		switch (mnl_attr_get_type(x)) {
		case NFTA_EXPR_NAME:
			if (check_str(x, 32) < 0)
				return vfail(parent->why, parent->whylen, what, "bad expression name");
			name = x;
			break;
		case NFTA_EXPR_DATA:
			data = x;
			break;
		default:
			return vfail(parent->why, parent->whylen, what, "unknown attribute %u",
				     mnl_attr_get_type(x));
		}
	}
	if (!name)
		return vfail(parent->why, parent->whylen, what, "expression without a name");
	for (size_t i = 0; i < sizeof(expr_specs) / sizeof(expr_specs[0]); i++) {
		if (strcmp(expr_specs[i].name, mnl_attr_get_str(name)) != 0)
			continue;
		snprintf(w, sizeof(w), "%s '%s'", what, expr_specs[i].name);
		return data ? check_nest(data, expr_specs[i].spec, w, parent) : 0;
	}
	return vfail(parent->why, parent->whylen, what, "expression '%s' is not supported",
		     mnl_attr_get_str(name));
}

/* 0 when every attribute of the message is as libnftnl expects, else -1 with
 * a reason ("rule: expressions #2 'cmp': data: needs exactly one value ..."). */
static int check_message(const struct nlmsghdr *nlh, int type, char *why, size_t whylen)
{
	static const struct { int type; const char *what; const struct aspec *spec; } top[] = {
		{ NFT_MSG_NEWTABLE, "", table_spec },
		{ NFT_MSG_NEWCHAIN, "", chain_spec },
		{ NFT_MSG_NEWSET, "", set_spec },
		{ NFT_MSG_NEWSETELEM, "", elem_list_spec },
		{ NFT_MSG_NEWRULE, "", rule_spec },
	};
	size_t hdr = MNL_ALIGN(sizeof(struct nfgenmsg));

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		struct vctx c = { .spec = top[i].spec, .what = top[i].what, .why = why,
				  .whylen = whylen };

		if (top[i].type != type)
			continue;
		if (nlh->nlmsg_len < NLMSG_HDRLEN + hdr)
			return vfail(why, whylen, "", "no nfgenmsg header");
		if (walk_attrs((const uint8_t *)nlh + NLMSG_HDRLEN + hdr,
			       nlh->nlmsg_len - NLMSG_HDRLEN - hdr, check_attr, &c, why, whylen,
			       "") < 0)
			return -1;
		for (size_t j = 0; top[i].spec[j].name; j++)
			if (top[i].spec[j].required && !(c.seen & (1u << j)))
				return vfail(why, whylen, "", "no %s", top[i].spec[j].name);
		return 0;
	}
	return 0;	/* other types are refused by the caller */
}


static int elem_list_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type == NFTA_SET_ELEM_LIST_SET) {
		if (mnl_attr_validate(a, MNL_TYPE_STRING) < 0)
			return MNL_CB_ERROR;
		tb[type] = a;
	}
	return MNL_CB_OK;
}

/* The set a NEWSETELEM message belongs to, by NFTA_SET_ELEM_LIST_SET. */
static struct nftnl_set *elems_target(const struct ruleset *rs,
				      const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1] = { 0 };
	char name[256];
	const char *s;
	size_t l;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), elem_list_attr_cb, tb) < 0 ||
	    !tb[NFTA_SET_ELEM_LIST_SET])
		return NULL;
	s = mnl_attr_get_payload(tb[NFTA_SET_ELEM_LIST_SET]);
	l = strnlen(s, mnl_attr_get_payload_len(tb[NFTA_SET_ELEM_LIST_SET]));
	if (l >= sizeof(name))
		return NULL;
	memcpy(name, s, l);
	name[l] = '\0';
	return ruleset_find_set(rs, name);
}

struct ruleset *ruleset_load_buf(const void *data, size_t len, const char *name,
				 char *err, size_t errlen)
{
	const uint8_t *p = data;
	size_t magic = strlen(RULESET_FILE_MAGIC), off, rec = 0;
	struct ruleset *rs = NULL;
	struct nftnl_chain_list *chains = NULL;
	bool have_table = false;

	if (!name)
		name = "(buffer)";
	if (!data || len < magic || memcmp(p, RULESET_FILE_MAGIC, magic) != 0) {
		fail(err, errlen, "%s: not a filterd saved ruleset (bad header)", name);
		return NULL;
	}
	/* trailer: a zero length, then the checksum of everything before it */
	{
		uint64_t h = 0;

		if (len < magic + 12) {
			fail(err, errlen, "%s: truncated (no trailer)", name);
			return NULL;
		}
		for (int i = 0; i < 8; i++)
			h = (h << 8) | p[len - 8 + i];
		if (h != fnv64(p, len - 8)) {
			fail(err, errlen, "%s: checksum mismatch (corrupted or truncated file)",
			     name);
			return NULL;
		}
		len -= 12;
	}
	chains = nftnl_chain_list_alloc();
	if (!chains) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	for (off = magic; off < len;) {
		uint32_t be, mlen;
		uint8_t *copy;
		const struct nlmsghdr *nlh;
		int type, ok = 0;
		char why[512];

		rec++;
		if (len - off < sizeof(be)) {
			fail(err, errlen, "%s: record %zu: truncated length", name, rec);
			goto bad;
		}
		memcpy(&be, p + off, sizeof(be));
		mlen = ntohl(be);
		off += sizeof(be);
		if (mlen < NLMSG_HDRLEN + sizeof(struct nfgenmsg) || mlen > len - off) {
			fail(err, errlen, "%s: record %zu: bad length %u", name, rec, mlen);
			goto bad;
		}
		/* aligned private copy: libnftnl/libmnl read it in place */
		copy = malloc(mlen);
		if (!copy) {
			fail(err, errlen, "out of memory");
			goto bad;
		}
		memcpy(copy, p + off, mlen);
		off += mlen;
		nlh = (const struct nlmsghdr *)copy;
		if (nlh->nlmsg_len != mlen || !mnl_nlmsg_ok(nlh, (int)mlen) ||
		    (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) {
			free(copy);
			fail(err, errlen, "%s: record %zu: not an nftables netlink message",
			     name, rec);
			goto bad;
		}
		type = nlh->nlmsg_type & 0xff;
		if (!have_table && type != NFT_MSG_NEWTABLE) {
			free(copy);
			fail(err, errlen, "%s: record %zu: table must come first", name, rec);
			goto bad;
		}
		if (check_message(nlh, type, why, sizeof(why)) < 0) {
			free(copy);
			/* a well-formed rule with an expression the evaluator lacks
			 * (fib, socket, ...) is not "malformed" */
			if (strstr(why, "is not supported") && !strstr(why, "attribute"))
				fail(err, errlen, "%s: record %zu: rule: %s (the evaluator cannot run it)",
				     name, rec, why);
			else
				fail(err, errlen, "%s: record %zu: malformed %s message: %s", name,
				     rec, type == NFT_MSG_NEWTABLE ? "table" :
				     type == NFT_MSG_NEWCHAIN ? "chain" :
				     type == NFT_MSG_NEWSET ? "set" :
				     type == NFT_MSG_NEWSETELEM ? "set element" : "rule", why);
			goto bad;
		}
		switch (type) {
		case NFT_MSG_NEWTABLE: {
			const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
			struct nftnl_table *t;
			const char *tn;

			if (have_table) {
				ok = -2;
				break;
			}
			t = nftnl_table_alloc();
			if (!t || nftnl_table_nlmsg_parse(nlh, t) < 0 ||
			    !(tn = nftnl_table_get_str(t, NFTNL_TABLE_NAME))) {
				if (t)
					nftnl_table_free(t);
				ok = -1;
				break;
			}
			rs = ruleset_new(tn, g->nfgen_family);
			if (!rs) {
				nftnl_table_free(t);
				ok = -3;
				break;
			}
			nftnl_table_free(rs->t);
			rs->t = t;
			have_table = true;
			break;
		}
		case NFT_MSG_NEWCHAIN: {
			struct nftnl_chain *c = nftnl_chain_alloc();

			if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
			    !nftnl_chain_is_set(c, NFTNL_CHAIN_NAME) ||
			    !same_table(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), rs->table)) {
				if (c)
					nftnl_chain_free(c);
				ok = -1;
				break;
			}
			nftnl_chain_list_add_tail(c, chains);
			break;
		}
		case NFT_MSG_NEWSET: {
			struct nftnl_set *s = nftnl_set_alloc();

			if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0 ||
			    !nftnl_set_is_set(s, NFTNL_SET_NAME) ||
			    !same_table(nftnl_set_get_str(s, NFTNL_SET_TABLE), rs->table)) {
				if (s)
					nftnl_set_free(s);
				ok = -1;
				break;
			}
			nftnl_set_list_add_tail(s, rs->sets);
			break;
		}
		case NFT_MSG_NEWSETELEM: {
			struct nftnl_set *s = elems_target(rs, nlh);

			if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
				ok = -1;
			break;
		}
		case NFT_MSG_NEWRULE: {
			struct nftnl_rule *r = nftnl_rule_alloc();

			if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0 ||
			    !nftnl_rule_is_set(r, NFTNL_RULE_CHAIN) ||
			    !same_table(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), rs->table)) {
				if (r)
					nftnl_rule_free(r);
				ok = -1;
				break;
			}
			nftnl_rule_list_add_tail(r, rs->rules);
			break;
		}
		default:
			ok = -4;
			break;
		}
		free(copy);
		if (ok == -1) {
			fail(err, errlen, "%s: record %zu: malformed %s message", name, rec,
			     type == NFT_MSG_NEWTABLE ? "table" :
			     type == NFT_MSG_NEWCHAIN ? "chain" :
			     type == NFT_MSG_NEWSET ? "set" :
			     type == NFT_MSG_NEWSETELEM ? "set element" : "rule");
			goto bad;
		} else if (ok == -2) {
			fail(err, errlen, "%s: record %zu: second table", name, rec);
			goto bad;
		} else if (ok == -3) {
			fail(err, errlen, "out of memory");
			goto bad;
		} else if (ok == -4) {
			fail(err, errlen, "%s: record %zu: unexpected message type %d", name,
			     rec, type);
			goto bad;
		}
	}
	if (!have_table) {
		fail(err, errlen, "%s: no table", name);
		goto bad;
	}
	add_chains_base_first(rs, chains);
	nftnl_chain_list_free(chains);
	return rs;
bad:
	nftnl_chain_list_free(chains);
	ruleset_free(rs);
	return NULL;
}

struct ruleset *ruleset_load_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *data = NULL;
	struct ruleset *rs = NULL;

	if (!f) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > FILE_MAX) {
		fail(err, errlen, "%s: not a regular file of at most %u bytes", path,
		     FILE_MAX);
		goto out;
	}
	data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!data) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	if (fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fail(err, errlen, "%s: read failed", path);
		goto out;
	}
	rs = ruleset_load_buf(data, (size_t)st.st_size, path, err, errlen);
out:
	free(data);
	fclose(f);
	return rs;
}
