#include "ruleset.h"

#include <stdlib.h>
#include <string.h>

#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>

struct ruleset *ruleset_new(const char *table, uint32_t family)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->family = family;
	rs->table = strdup(table);
	rs->t = nftnl_table_alloc();
	rs->chains = nftnl_chain_list_alloc();
	rs->sets = nftnl_set_list_alloc();
	rs->rules = nftnl_rule_list_alloc();
	if (!rs->table || !rs->t || !rs->chains || !rs->sets || !rs->rules) {
		ruleset_free(rs);
		return NULL;
	}
	nftnl_table_set_str(rs->t, NFTNL_TABLE_NAME, table);
	nftnl_table_set_u32(rs->t, NFTNL_TABLE_FAMILY, family);
	return rs;
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	if (rs->t)
		nftnl_table_free(rs->t);
	if (rs->chains)
		nftnl_chain_list_free(rs->chains);
	if (rs->sets)
		nftnl_set_list_free(rs->sets);
	if (rs->rules)
		nftnl_rule_list_free(rs->rules);
	free(rs->table);
	free(rs);
}

struct nftnl_set *ruleset_find_set(const struct ruleset *rs, const char *name)
{
	struct nftnl_set_list_iter *it = nftnl_set_list_iter_create(rs->sets);
	struct nftnl_set *s, *found = NULL;

	if (!it)
		return NULL;
	while ((s = nftnl_set_list_iter_next(it))) {
		const char *n = nftnl_set_get_str(s, NFTNL_SET_NAME);
		if (n && strcmp(n, name) == 0) {
			found = s;
			break;
		}
	}
	nftnl_set_list_iter_destroy(it);
	return found;
}

struct nftnl_chain *ruleset_find_chain(const struct ruleset *rs, const char *name)
{
	struct nftnl_chain_list_iter *it = nftnl_chain_list_iter_create(rs->chains);
	struct nftnl_chain *c, *found = NULL;

	if (!it)
		return NULL;
	while ((c = nftnl_chain_list_iter_next(it))) {
		const char *n = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		if (n && strcmp(n, name) == 0) {
			found = c;
			break;
		}
	}
	nftnl_chain_list_iter_destroy(it);
	return found;
}

size_t ruleset_count_rules(const struct ruleset *rs)
{
	struct nftnl_rule_list_iter *it = nftnl_rule_list_iter_create(rs->rules);
	size_t n = 0;

	if (!it)
		return 0;
	while (nftnl_rule_list_iter_next(it))
		n++;
	nftnl_rule_list_iter_destroy(it);
	return n;
}

static size_t count_sets(const struct ruleset *rs, bool named_only)
{
	struct nftnl_set_list_iter *it = nftnl_set_list_iter_create(rs->sets);
	struct nftnl_set *s;
	size_t n = 0;

	if (!it)
		return 0;
	while ((s = nftnl_set_list_iter_next(it)))
		n += !named_only || !(nftnl_set_is_set(s, NFTNL_SET_FLAGS) &&
				      (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS));
	nftnl_set_list_iter_destroy(it);
	return n;
}

size_t ruleset_count_sets(const struct ruleset *rs)
{
	return count_sets(rs, false);
}

size_t ruleset_count_named_sets(const struct ruleset *rs)
{
	return count_sets(rs, true);
}

static int count_elem(struct nftnl_set_elem *e, void *data)
{
	size_t *n = data;
	uint32_t flags = 0;

	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
		flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);
	/* An interval is a start element plus an end marker: count intervals. */
	if (!(flags & NFT_SET_ELEM_INTERVAL_END))
		(*n)++;
	return 0;
}

size_t ruleset_count_elements(const struct ruleset *rs)
{
	struct nftnl_set_list_iter *it = nftnl_set_list_iter_create(rs->sets);
	struct nftnl_set *s;
	size_t n = 0;

	if (!it)
		return 0;
	while ((s = nftnl_set_list_iter_next(it)))
		nftnl_set_elem_foreach(s, count_elem, &n);
	nftnl_set_list_iter_destroy(it);
	return n;
}

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char **out = data;

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
		*out = nftnl_udata_get(attr);
	return 0;
}

void rule_comment(const struct nftnl_rule *r, char *buf, size_t len)
{
	uint32_t ulen = 0;
	const void *ud;
	const char *c = NULL;

	buf[0] = '\0';
	if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA))
		return;
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	if (!ud || nftnl_udata_parse(ud, ulen, comment_cb, &c) < 0 || !c)
		return;
	/* Comments from the kernel are NUL-terminated by nft; be defensive anyway. */
	size_t clen = strnlen(c, ulen);
	if (clen >= len)
		clen = len - 1;
	memcpy(buf, c, clen);
	buf[clen] = '\0';
}

static const char *cat_names[] = {
	[CAT_PLATFORM] = "platform", [CAT_USER] = "user", [CAT_DEFAULT] = "default",
	[CAT_MANAGED] = "managed", [CAT_REQUIRED] = "required", [CAT_INTERNAL] = "internal",
};

const char *category_name(enum rule_category c)
{
	return (unsigned)c < sizeof(cat_names) / sizeof(cat_names[0]) ? cat_names[c] : "?";
}

int rule_origin(const struct nftnl_rule *r, enum rule_category *cat,
		char *dir, size_t dirlen, char *name, size_t namelen)
{
	char c[256];
	char *p1, *p2;

	rule_comment(r, c, sizeof(c));
	p1 = strchr(c, ':');
	if (!p1)
		return -1;
	*p1++ = '\0';
	p2 = strchr(p1, ':');
	if (!p2)
		return -1;
	*p2++ = '\0';
	for (size_t i = 0; i < sizeof(cat_names) / sizeof(cat_names[0]); i++) {
		if (strcmp(c, cat_names[i]) == 0) {
			*cat = (enum rule_category)i;
			snprintf(dir, dirlen, "%s", p1);
			snprintf(name, namelen, "%s", p2);
			return 0;
		}
	}
	return -1;
}

static int print_elem(struct nftnl_set_elem *e, void *data)
{
	FILE *f = data;
	char buf[4096];

	nftnl_set_elem_snprintf(buf, sizeof(buf), e, NFTNL_OUTPUT_DEFAULT, 0);
	fprintf(f, "\t%s\n", buf);
	return 0;
}

void ruleset_print_bytecode(const struct ruleset *rs, FILE *f)
{
	char buf[8192];
	struct nftnl_chain_list_iter *ci = nftnl_chain_list_iter_create(rs->chains);
	struct nftnl_set_list_iter *si = nftnl_set_list_iter_create(rs->sets);
	struct nftnl_rule_list_iter *ri = nftnl_rule_list_iter_create(rs->rules);
	struct nftnl_chain *c;
	struct nftnl_set *s;
	struct nftnl_rule *r;

	if (ci) {
		while ((c = nftnl_chain_list_iter_next(ci))) {
			nftnl_chain_snprintf(buf, sizeof(buf), c, NFTNL_OUTPUT_DEFAULT, 0);
			fprintf(f, "chain %s\n", buf);
		}
		nftnl_chain_list_iter_destroy(ci);
	}
	if (si) {
		while ((s = nftnl_set_list_iter_next(si))) {
			fprintf(f, "set %s flags 0x%x keylen %u\n",
				nftnl_set_get_str(s, NFTNL_SET_NAME),
				nftnl_set_get_u32(s, NFTNL_SET_FLAGS),
				nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN));
			nftnl_set_elem_foreach(s, print_elem, f);
		}
		nftnl_set_list_iter_destroy(si);
	}
	if (ri) {
		while ((r = nftnl_rule_list_iter_next(ri))) {
			nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
			fprintf(f, "%s\n", buf);
		}
		nftnl_rule_list_iter_destroy(ri);
	}
}
