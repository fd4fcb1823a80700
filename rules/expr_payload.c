/* payload — loads packet bytes into a register (nft_payload.c, load only).
 *
 * Bases: link layer (the MAC header; break when the packet has none, as
 * skb_mac_header_was_set()/skb_mac_header_len() == 0), network header,
 * transport header (break when NFT_PKTINFO_L4PROTO is unset or for non-first
 * fragments: pkt->fragoff != 0) and inner header (after the UDP header or the
 * TCP header with its options, as __nft_payload_inner_offset()).  Any load
 * ending beyond skb->len breaks (skb_copy_bits() < 0); one ending beyond the
 * captured bytes (short snaplen) breaks too and marks the verdict incomplete.  Payload writes
 * (sreg, checksum update) are not supported. */
#include "vm_int.h"

#include <string.h>
#include <linux/if_packet.h>

#include "conntrack.h"

struct payload {
	uint32_t base, offset, len;
	int dreg;
	unsigned classable;	/* VM_CLASS_* kinds whose classes decide what its
				 * register's readers do (vm_class.c) */
};

static const char *const payload_attrs[] = {
	"dreg", "base", "offset", "len", "sreg", "csum_type", "csum_offset", "flags",
};

static int payload_load(struct vm_load *ld, const struct nftnl_expr *e, void *priv)
{
	struct payload *pl = priv;

	pl->base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
	pl->offset = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
	pl->len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
	switch (pl->base) {
	case NFT_PAYLOAD_LL_HEADER:
	case NFT_PAYLOAD_NETWORK_HEADER:
	case NFT_PAYLOAD_TRANSPORT_HEADER:
	case NFT_PAYLOAD_INNER_HEADER:
		break;
	default:
		return vm_err(ld, "payload base %u is not supported", pl->base);
	}
	if (pl->offset > 255 || pl->len > 255)	/* NLA_POLICY_MAX(NLA_BE32, 255) */
		return vm_err(ld, "offset %u / length %u out of range", pl->offset,
			      pl->len);
	pl->dreg = vm_reg_store(ld, nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG),
				pl->len, "payload");
	return pl->dreg < 0 ? -1 : 0;
}

/* __nft_payload_inner_offset() */
static bool inner_offset(struct vm_exec *x)
{
	const struct pkt *p = x->p;

	if (x->inner_done)
		return x->inner_ok;
	x->inner_done = true;
	x->inner_ok = false;
	if (!p->tprot_set || p->fragoff)
		return false;
	switch (p->l4proto) {
	case 17:	/* IPPROTO_UDP */
		x->inner_off = p->th_off + 8;
		break;
	case 6:		/* IPPROTO_TCP: header length from doff */
		if (p->th_off + 20 > x->cap_end) {
			x->out->incomplete = p->th_off + 20 <= x->end;
			return false;
		}
		x->inner_off = p->th_off + 4u * (p->data[p->th_off + 12] >> 4);
		break;
	case 47: {	/* IPPROTO_GRE: version 0 without routing, the optional
			 * checksum (with reserved1), key and sequence words */
		uint8_t f;
		if (p->th_off + 4 > x->cap_end) {
			x->out->incomplete = p->th_off + 4 <= x->end;
			return false;
		}
		f = p->data[p->th_off];
		if ((p->data[p->th_off + 1] & 0x07) != 0 || (f & 0x40))
			return false;
		x->inner_off = p->th_off + 4 + ((f & 0x80) ? 4 : 0) + ((f & 0x20) ? 4 : 0) +
			       ((f & 0x10) ? 4 : 0);
		break;
	}
	case 4:		/* IPPROTO_IPIP: the inner header is the transport header */
		x->inner_off = p->th_off;
		break;
	default:
		return false;
	}
	x->inner_ok = true;
	return true;
}

/* A VLAN-tagged Ethernet frame as the kernel's link-layer loads read it: the
 * receive path takes the tags off the data (skb_vlan_untag(), and the VLAN
 * device's vlan_do_receive() clears skb->vlan_tci, so nft_payload_copy_vlan()
 * has no tag to put back), leaving the addresses followed by the inner
 * ethertype and the network header -- the frame --kernel-check plays, tags
 * stripped.  false: NFT_BREAK (out->incomplete when the capture cut it). */
static bool ll_untagged(const struct payload *pl, struct vm_exec *x, uint8_t *out)
{
	const struct pkt *p = x->p;

	for (uint32_t i = 0; i < pl->len; i++) {
		uint32_t o = pl->offset + i;
		size_t at = o < 12 ? p->ll_off + o : p->nh_off - 2 + (o - 12);

		if (at >= x->end)
			return false;
		if (at >= x->cap_end) {
			x->out->incomplete = true;
			return false;
		}
		out[i] = p->data[at];
	}
	return true;
}

static void payload_eval(void *priv, struct vm_regs *regs, struct vm_exec *x)
{
	const struct payload *pl = priv;
	const struct pkt *p = x->p;
	uint32_t *dest = &regs->data[pl->dreg];
	size_t off;

	if (pl->len % 4)
		dest[pl->len / 4] = 0;
	switch (pl->base) {
	case NFT_PAYLOAD_LL_HEADER:
		/* a packet the host sends has no MAC header at output
		 * (skb_mac_header_was_set: it is built in dev_queue_xmit), nor
		 * has the looped copy of its multicast or broadcast at input
		 * (dev_loopback_xmit: a MAC header of length 0) */
		if (!p->has_ll || p->ll_off >= p->nh_off || p->hook == NF_INET_LOCAL_OUT ||
		    p->pkttype == PACKET_LOOPBACK)
			goto brk;
		if (p->vlan_depth) {
			if (!ll_untagged(pl, x, (uint8_t *)dest))
				goto brk;
			return;
		}
		off = p->ll_off;
		break;
	case NFT_PAYLOAD_NETWORK_HEADER:
		off = p->nh_off;
		break;
	case NFT_PAYLOAD_TRANSPORT_HEADER:
		if (!p->tprot_set || p->fragoff)
			goto brk;
		off = p->th_off;
		break;
	default:	/* NFT_PAYLOAD_INNER_HEADER */
		if (!inner_offset(x))
			goto brk;
		off = x->inner_off;
		break;
	}
	off += pl->offset;
	if (off + pl->len > x->end)
		goto brk;
	if (off + pl->len > x->cap_end) {
		/* the kernel had these bytes, the capture does not */
		x->out->incomplete = true;
		goto brk;
	}
	/* the common lengths as fixed-size copies (one load each), not a call */
	switch (pl->len) {
	case 1: memcpy(dest, p->data + off, 1); break;
	case 2: memcpy(dest, p->data + off, 2); break;
	case 4: memcpy(dest, p->data + off, 4); break;
	case 16: memcpy(dest, p->data + off, 16); break;
	default: memcpy(dest, p->data + off, pl->len); break;
	}
	return;
brk:
	regs->code = NFT_BREAK;
}

/* Bytes of the conntrack tuple (nf_ct_get_tuple, conntrack.c get_tuple):
 * the addresses and IPv4's protocol in the network header; the ports of the
 * protocols whose tuple has them, and ICMP's type, code and identifier, in
 * the transport header.  Every packet of one direction of a conntrack entry
 * carries the same values there (RELATED packets, whose headers are not the
 * entry's, are never memoised: vm_eval_memo).  Anything else — TTL, length,
 * flags, options, the link layer, the inner header — is per packet. */
static bool within(uint32_t off, uint32_t len, uint32_t lo, uint32_t hi)
{
	return off >= lo && off + len <= hi;
}

static unsigned payload_memo(const void *priv, const struct pkt *p)
{
	const struct payload *pl = priv;

	if (!p)
		return VM_MEMO_PER_PACKET;
	if (pl->base == NFT_PAYLOAD_NETWORK_HEADER) {
		if (p->nfproto == NFPROTO_IPV4 && within(pl->offset, pl->len, 9, 10))
			return 0;	/* the l4 protocol: in every memo's key */
		if (p->nfproto == NFPROTO_IPV4 && within(pl->offset, pl->len, 12, 20))
			return VM_MEMO_KEY_TUPLE |
			       (pl->classable & VM_CLASS_A4 ? 0 : VM_MEMO_KEY_EXACT);
		if (p->nfproto == NFPROTO_IPV6 && within(pl->offset, pl->len, 8, 40))
			return VM_MEMO_KEY_TUPLE |
			       (pl->classable & VM_CLASS_A6 ? 0 : VM_MEMO_KEY_EXACT);
		return VM_MEMO_NEVER;
	}
	if (pl->base != NFT_PAYLOAD_TRANSPORT_HEADER || !p->tprot_set || p->fragoff)
		return VM_MEMO_NEVER;
	if (ct_tuple_has_ports(p->l4proto) && within(pl->offset, pl->len, 0, 4))
		return VM_MEMO_KEY_TUPLE |
		       (pl->classable & VM_CLASS_PORT ? 0 : VM_MEMO_KEY_EXACT);
	if (ct_is_icmp(p->nfproto, p->l4proto)) {
		/* type and code sit where a port would: a load of the type
		 * (or of both) is a prefix of that 16-bit word, classed with
		 * the ports (vm_class_key); the code alone and the id are not */
		if (within(pl->offset, pl->len, 0, 2))
			return VM_MEMO_KEY_TUPLE |
			       (pl->classable & VM_CLASS_PORT ? 0 : VM_MEMO_KEY_EXACT);
		if (within(pl->offset, pl->len, 4, 6))
			return VM_MEMO_KEY_TUPLE | VM_MEMO_KEY_EXACT;
	}
	return VM_MEMO_NEVER;
}

/* The field kinds (VM_CLASS_*) of which this load reads a prefix: the first
 * len bytes of an address (offset 12 or 16 in IPv4's header, 8 or 24 in
 * IPv6's) or of a port (0 or 2 in the transport header), or both ports.  Which one it reads
 * depends on the packet's family; payload_memo asks the packet. */
unsigned vm_payload_class_kind(const struct vm_expr *e)
{
	const struct payload *pl = e->priv;

	if (e->ops != &vm_expr_payload || pl->len == 0)
		return 0;
	if (pl->base == NFT_PAYLOAD_NETWORK_HEADER) {
		if ((pl->offset == 12 || pl->offset == 16) && pl->len <= 4)
			return VM_CLASS_A4;
		if ((pl->offset == 8 || pl->offset == 24) && pl->len <= 16)
			return VM_CLASS_A6;
		return 0;
	}
	if (pl->base == NFT_PAYLOAD_TRANSPORT_HEADER &&
	    (((pl->offset == 0 || pl->offset == 2) && pl->len <= 2) ||
	     (pl->offset == 0 && pl->len == 4)))	/* both ports (vm_class.c) */
		return VM_CLASS_PORT;
	return 0;
}

void vm_payload_set_classable(struct vm_expr *e, unsigned kinds)
{
	struct payload *pl = e->priv;

	if (e->ops == &vm_expr_payload)
		pl->classable = kinds;
}

bool vm_payload_field(const struct vm_expr *e, uint32_t *base, uint32_t *offset,
		      uint32_t *len, int *dreg)
{
	const struct payload *pl = e->priv;

	if (e->ops != &vm_expr_payload)
		return false;
	*base = pl->base;
	*offset = pl->offset;
	*len = pl->len;
	*dreg = pl->dreg;
	return true;
}

const struct vm_expr_ops vm_expr_payload = {
	.name = "payload",
	.priv_size = sizeof(struct payload),
	.attr_allowed = VM_ATTR(NFTNL_EXPR_PAYLOAD_DREG) | VM_ATTR(NFTNL_EXPR_PAYLOAD_BASE) |
			VM_ATTR(NFTNL_EXPR_PAYLOAD_OFFSET) | VM_ATTR(NFTNL_EXPR_PAYLOAD_LEN),
	.attr_required = VM_ATTR(NFTNL_EXPR_PAYLOAD_DREG) | VM_ATTR(NFTNL_EXPR_PAYLOAD_BASE) |
			 VM_ATTR(NFTNL_EXPR_PAYLOAD_OFFSET) | VM_ATTR(NFTNL_EXPR_PAYLOAD_LEN),
	.attr_names = payload_attrs,
	.nattr_names = sizeof(payload_attrs) / sizeof(payload_attrs[0]),
	.load = payload_load,
	.eval = payload_eval,
	.memo = payload_memo,
};
