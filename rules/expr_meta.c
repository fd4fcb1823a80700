/* meta — packet metadata (nft_meta.c), for the keys that have an offline
 * meaning: len, protocol, nfproto, l4proto, mark, iif, oif, iifname, oifname,
 * pkttype; and the setters "meta mark set" and "meta nftrace set" (tracing is
 * observational: a no-op here).  Everything else fails the load.
 *
 * Devices follow the hook: prerouting/input have only an input device,
 * output/postrouting only an output device, forward both.  A missing device
 * reads as ifindex 0 and name "" (nft_meta_store_ifindex/_ifname).  l4proto
 * breaks when the transport protocol is unknown (NFT_PKTINFO_L4PROTO unset).
 * u8/u16 values clear their whole 32-bit word first (nft_reg_store8/16). */
#include "vm_int.h"

#include <endian.h>
#include <string.h>

struct meta {
	uint32_t key;
	int dreg, sreg;		/* one of them, -1 for the other */
};

static const char *const meta_keys[] = {
	"length", "protocol", "priority", "mark", "iif", "oif", "iifname", "oifname",
	"iiftype", "oiftype", "skuid", "skgid", "nftrace", "rtclassid", "secmark",
	"nfproto", "l4proto", "ibrname", "obrname", "pkttype", "cpu", "iifgroup",
	"oifgroup", "cgroup", "random", "secpath", "iifkind", "oifkind",
	"ibrpvid", "ibrvproto", "time", "day", "hour", "sdif", "sdifname",
	"broute",
};

static const char *meta_key_name(uint32_t k)
{
	return k < sizeof(meta_keys) / sizeof(meta_keys[0]) ? meta_keys[k] : "?";
}

static const char *const meta_attrs[] = { "key", "dreg", "sreg" };

static uint32_t meta_get_len(uint32_t key)
{
	switch (key) {
	case NFT_META_LEN:
	case NFT_META_MARK:
	case NFT_META_IIF:
	case NFT_META_OIF:
		return 4;
	case NFT_META_PROTOCOL:
		return 2;
	case NFT_META_NFPROTO:
	case NFT_META_L4PROTO:
	case NFT_META_PKTTYPE:
		return 1;
	case NFT_META_IIFNAME:
	case NFT_META_OIFNAME:
		return 16;	/* IFNAMSIZ */
	default:
		return 0;
	}
}

static int meta_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct meta *m = priv;
	bool has_d = nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG);
	bool has_s = nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG);

	m->key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
	m->dreg = m->sreg = -1;
	if (has_d == has_s)
		return vm_err(ld, "needs exactly one of dreg and sreg");
	if (has_d) {
		uint32_t len = meta_get_len(m->key);

		if (!len)
			return vm_err(ld, "key '%s' (%u) is not supported",
				      meta_key_name(m->key), m->key);
		m->dreg = vm_reg_store(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG), len,
				       "meta");
		return m->dreg < 0 ? -1 : 0;
	}
	switch (m->key) {
	case NFT_META_MARK:
		m->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_META_SREG), 4,
				      "meta");
		break;
	case NFT_META_NFTRACE:
		m->sreg = vm_reg_load(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_META_SREG), 1,
				      "meta");
		break;
	default:
		return vm_err(ld, "setting key '%s' is not supported",
			      meta_key_name(m->key));
	}
	return m->sreg < 0 ? -1 : 0;
}

static bool hook_has_in(int hook)
{
	return hook == NF_INET_PRE_ROUTING || hook == NF_INET_LOCAL_IN ||
	       hook == NF_INET_FORWARD;
}

static bool hook_has_out(int hook)
{
	return hook == NF_INET_FORWARD || hook == NF_INET_LOCAL_OUT ||
	       hook == NF_INET_POST_ROUTING;
}

static void store8(uint32_t *d, uint8_t v)
{
	*d = 0;
	memcpy(d, &v, 1);
}

static void store16(uint32_t *d, uint16_t v)
{
	*d = 0;
	memcpy(d, &v, 2);
}

static void store_ifname(uint32_t *d, const char *name, bool present)
{
	char buf[16] = { 0 };

	if (present && name)
		memcpy(buf, name, strnlen(name, sizeof(buf) - 1));
	memcpy(d, buf, sizeof(buf));
}

static void meta_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct meta *m = priv;
	struct pkt *p = x->p;
	uint32_t *d;

	if (m->sreg >= 0) {
		if (m->key == NFT_META_MARK)
			p->mark = regs->data[m->sreg];
		return;
	}
	d = &regs->data[m->dreg];
	switch (m->key) {
	case NFT_META_LEN:
		*d = (uint32_t)p->len;
		break;
	case NFT_META_PROTOCOL:
		store16(d, htobe16(p->l3proto ? p->l3proto :
				   p->nfproto == NFPROTO_IPV6 ? 0x86dd : 0x0800));
		break;
	case NFT_META_NFPROTO:
		store8(d, p->nfproto);
		break;
	case NFT_META_L4PROTO:
		if (!p->tprot_set) {
			regs->code = NFT_BREAK;
			return;
		}
		store8(d, p->l4proto);
		break;
	case NFT_META_MARK:
		*d = p->mark;
		break;
	case NFT_META_IIF:
		*d = hook_has_in(p->hook) ? p->iif : 0;
		break;
	case NFT_META_OIF:
		*d = hook_has_out(p->hook) ? p->oif : 0;
		break;
	case NFT_META_IIFNAME:
		store_ifname(d, p->iifname, hook_has_in(p->hook));
		break;
	case NFT_META_OIFNAME:
		store_ifname(d, p->oifname, hook_has_out(p->hook));
		break;
	case NFT_META_PKTTYPE:
		/* PACKET_LOOPBACK is refined from the destination address, as
		 * nft_meta_get_eval_pkttype_lo() */
		if (p->pkttype != 5 /* PACKET_LOOPBACK */) {
			store8(d, p->pkttype);
		} else if (p->nfproto == NFPROTO_IPV4) {
			uint8_t first = p->nh_off + 16 < x->cap_end ? p->data[p->nh_off + 16] : 0;

			store8(d, (first & 0xf0) == 0xe0 ? 2 /* PACKET_MULTICAST */
							  : 1 /* PACKET_BROADCAST */);
		} else {
			store8(d, 2);	/* PACKET_MULTICAST */
		}
		break;
	default:
		regs->code = NFT_BREAK;
		break;
	}
}

/* The protocol numbers and the hook's interfaces (which every memo compares:
 * hook, iif, oif) are the same for every packet of a conntrack entry's
 * direction; length, mark and packet type are per packet; setting the mark
 * or nftrace changes the packet. */
static unsigned meta_memo(const void *priv, const struct pkt *p)
{
	const struct meta *m = priv;

	(void)p;
	if (m->sreg >= 0)
		return VM_MEMO_NEVER;
	switch (m->key) {
	case NFT_META_NFPROTO:
	case NFT_META_L4PROTO:
	case NFT_META_IIF:
	case NFT_META_OIF:
	case NFT_META_IIFNAME:
	case NFT_META_OIFNAME:
		return 0;
	}
	return VM_MEMO_NEVER;
}

bool vm_meta_load(const struct vm_expr *e, uint32_t *key, int *dreg)
{
	const struct meta *m = e->priv;

	if (e->ops != &vm_expr_meta || m->sreg >= 0 || m->dreg < 0)
		return false;
	*key = m->key;
	*dreg = m->dreg;
	return true;
}

const struct vm_expr_ops vm_expr_meta = {
	.name = "meta",
	.priv_size = sizeof(struct meta),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_META_KEY) | VM_ATTR(NFTNL_EXPR_META_DREG) |
			VM_ATTR(NFTNL_EXPR_META_SREG),
	.attr_required = VM_ATTR(NFTNL_EXPR_META_KEY),
	.attr_names = meta_attrs,
	.nattr_names = sizeof(meta_attrs) / sizeof(meta_attrs[0]),
	.load = meta_load,
	.eval = meta_eval,
	.memo = meta_memo,
};
