#include "fqdn.h"

#include "compile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

static int set_comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char **out = data;

	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_COMMENT && nftnl_udata_len(attr) > 0) {
		const char *v = nftnl_udata_get(attr);
		/* must be NUL-terminated inside the attribute */
		if (memchr(v, '\0', nftnl_udata_len(attr)))
			*out = v;
	}
	return 0;
}

const char *fqdn_of_set(const struct nftnl_set *s, char *buf, size_t len)
{
	uint32_t ulen = 0;
	const void *ud;
	const char *c = NULL;

	if (!nftnl_set_is_set(s, NFTNL_SET_USERDATA))
		return NULL;
	ud = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &ulen);
	if (!ud || nftnl_udata_parse(ud, ulen, set_comment_cb, &c) < 0 || !c)
		return NULL;
	if (strncmp(c, "fqdn=", 5) != 0 || !c[5])
		return NULL;
	snprintf(buf, len, "%s", c + 5);
	return buf;
}

int fqdn_add_resolver(struct fqdn_info *info, int family, const uint8_t *addr)
{
	if (fqdn_is_resolver(info, family, addr))
		return 0;
	if (info->nres >= FQDN_MAX_RESOLVERS)
		return -1;
	info->res_family[info->nres] = family;
	memset(info->res_addr[info->nres], 0, 16);
	memcpy(info->res_addr[info->nres], addr, family == AF_INET ? 4 : 16);
	info->nres++;
	return 0;
}

bool fqdn_is_resolver(const struct fqdn_info *info, int family, const uint8_t *addr)
{
	for (size_t i = 0; i < info->nres; i++)
		if (info->res_family[i] == family &&
		    memcmp(info->res_addr[i], addr, family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

struct res_ctx {
	struct fqdn_info *info;
	int family;
};

static int res_elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct res_ctx *rc = data;
	uint32_t len = 0;
	const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
	    (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END))
		return 0;
	if (k && len == (rc->family == AF_INET ? 4u : 16u))
		fqdn_add_resolver(rc->info, rc->family, k);
	return 0;
}

int fqdn_info_from_ruleset(const struct ruleset *rs, struct fqdn_info *info)
{
	struct nftnl_set_list_iter *it;
	struct nftnl_set *s;
	char name[512];
	size_t cap = 0;

	memset(info, 0, sizeof(*info));
	it = nftnl_set_list_iter_create(rs->sets);
	if (!it) {
		errno = ENOMEM;
		return -1;
	}
	while ((s = nftnl_set_list_iter_next(it))) {
		const char *sn = nftnl_set_get_str(s, NFTNL_SET_NAME);
		uint32_t klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
		if (strcmp(sn, "dns_resolvers_v4") == 0 || strcmp(sn, "dns_resolvers_v6") == 0) {
			struct res_ctx rc = { info, sn[15] == '4' ? AF_INET : AF_INET6 };
			nftnl_set_elem_foreach(s, res_elem_cb, &rc);
			continue;
		}
		if (!fqdn_of_set(s, name, sizeof(name)) || (klen != 4 && klen != 16))
			continue;
		if (info->n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct fqdn_set *nv = realloc(info->v, nc * sizeof(*nv));
			if (!nv)
				goto oom;
			info->v = nv;
			cap = nc;
		}
		struct fqdn_set *f = &info->v[info->n];
		f->set = strdup(sn);
		f->fqdn = strdup(name);
		f->family = klen == 4 ? AF_INET : AF_INET6;
		info->n++;
		if (!f->set || !f->fqdn)
			goto oom;
	}
	nftnl_set_list_iter_destroy(it);
	{
		struct nftnl_chain *ch = ruleset_find_chain(rs, FQDN_QUERY_CHAIN);

		info->queries_queued = ch && nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM) &&
				       nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM) == NF_INET_LOCAL_OUT;
	}
	return 0;
oom:
	nftnl_set_list_iter_destroy(it);
	fqdn_info_free(info);
	errno = ENOMEM;
	return -1;
}

void fqdn_info_free(struct fqdn_info *info)
{
	for (size_t i = 0; i < info->n; i++) {
		free(info->v[i].set);
		free(info->v[i].fqdn);
	}
	free(info->v);
	memset(info, 0, sizeof(*info));
}
