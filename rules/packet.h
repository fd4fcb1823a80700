/* packet — a captured frame decoded into what the nftables evaluator needs.
 *
 * Mirrors the kernel's view of an skb at a netfilter hook (nft_pktinfo):
 * nh_off is the network header, th_off the transport header found after the
 * IPv6 extension-header walk (ipv6_find_hdr) or the IPv4 IHL.
 *
 * Fragments, as the kernel sets them (nf_tables_ipv4.h / nf_tables_ipv6.h):
 * - IPv4: tprot_set is ALWAYS true once the header is valid, also for a non-first
 *   fragment; fragoff != 0 marks the non-first fragment.
 * - IPv6: ipv6_find_hdr() returns the fragment header's next header for a
 *   non-first fragment (tprot_set true, fragoff != 0) when that is not itself an
 *   extension header, otherwise fails (tprot_set false).
 * So `meta l4proto` reads l4proto whenever tprot_set, while a transport-header
 * payload load must BREAK when `!tprot_set || fragoff` (nft_payload_eval:
 * `if (!(pkt->flags & NFT_PKTINFO_L4PROTO) || pkt->fragoff) goto err;`).
 * With conntrack loaded the kernel reassembles fragments before any filter hook
 * (nf_defrag_ipv4/ipv6): see ct_defrag() in conntrack.h.
 *
 * Captured bytes vs. kernel bytes: len is skb->len as the kernel would have it
 * (the IP total length), avail is how many of those bytes the capture holds
 * (avail < len only when cls == PKT_TRUNCATED, e.g. a short snaplen).  Loads in
 * [nh_off + avail, nh_off + len) cannot be answered from the capture. */
#ifndef FILTERD_PACKET_H
#define FILTERD_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* The kernel's IP_CT_UNTRACKED (include/linux/netfilter/nf_conntrack_common.h)
 * is not part of the uapi enum ip_conntrack_info. */
#define PKT_CTINFO_UNTRACKED 7

enum pkt_class {
	PKT_OK,
	PKT_NOT_IP,		/* ARP, LLDP, ...: not seen by the inet hooks */
	PKT_TRUNCATED,		/* captured bytes end inside a header */
	PKT_MALFORMED,		/* header fields inconsistent (bad IHL, lengths, ...) */
	PKT_UNSUPPORTED_LINK,	/* link type we do not decode */
};

/* Laid out small (offsets and lengths are 32-bit: a frame is at most
 * libpcap's 256 KiB snapshot; no holes): pcap-replay's reader thread hands
 * one over per packet, and every cache line of it moves between the CPUs. */
struct pkt {
	/* capture */
	const uint8_t *data;	/* frame as captured */
	struct timeval ts;
	uint64_t frame;		/* 1-based frame number in the file */
	void *ct;		/* conntrack entry, opaque to the evaluator (below) */
	const char *why;	/* static reason when cls != PKT_OK */
	/* hook context, filled by the caller (direction inference): interface
	 * names (the first 15 characters count, as IFNAMSIZ), NULL for none ("") */
	const char *iifname, *oifname;
	uint32_t caplen, wirelen;

	/* link layer (for payload base NFT_PAYLOAD_LL_HEADER) */
	uint32_t ll_off;	/* start of the MAC header, when has_ll */

	/* network layer */
	uint32_t nh_off;	/* offset of the IP header in data */
	uint32_t len;		/* skb->len at the hook: the IP total length */
	uint32_t avail;		/* bytes of the IP packet in the capture: min(len, caplen - nh_off) */

	/* IP fragment (valid when is_frag): what nf_defrag needs to reassemble */
	uint32_t frag_id;	/* IPv4 id (16 bits) or IPv6 fragment identification */
	uint32_t frag_data_off;	/* offset in data of this fragment's data */
	uint32_t frag_hdr_off;	/* IPv6: offset in data of the fragment header */

	/* transport (kernel pkt->thoff / tprot / fragoff) */
	uint32_t th_off;
	uint32_t inner_off;	/* when inner_set */

	/* hook context */
	uint32_t iif, oif;
	uint32_t mark;

	/* conntrack, filled by conntrack.c before evaluation */
	uint32_t ct_state;	/* NF_CT_STATE_BIT(ctinfo) | UNTRACKED bit, as nft_ct reads it */
	uint32_t ct_status;	/* IPS_* bits */

	uint16_t linktype;	/* DLT_* */
	uint16_t l3proto;	/* skb->protocol (host order): ETH_P_IP / ETH_P_IPV6 / link ethertype */
	uint16_t vlan_tci;	/* outermost 802.1Q/802.1ad tag (host order), when vlan_depth > 0 */
	uint16_t frag_offset;	/* offset of this fragment's data in the datagram, bytes */
	uint16_t fragoff;	/* fragment offset in bytes; non-zero: non-first fragment,
				 * transport-header loads break (see above) */
	uint8_t cls;		/* enum pkt_class */
	uint8_t hook;		/* NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_FORWARD */
	uint8_t pcap_dir;	/* the capture's direction: 0 unknown, 1 in, 2 out.  pkt_decode
				 * sets it only from an SLL/SLL2 packet type; libpcap does
				 * not expose pcapng epb_flags, so pcap-replay fills it
				 * from its own pcapng walk (pcap-replay/pcapng.c) */
	bool has_ll;
	uint8_t pkttype;	/* PACKET_HOST, PACKET_BROADCAST, ... */
	uint8_t nfproto;	/* NFPROTO_IPV4 / NFPROTO_IPV6 */
	uint8_t vlan_depth;	/* number of VLAN tags before the network header */
	bool is_frag;		/* IPv4 MF or offset, or an IPv6 fragment header */
	bool frag_mf;		/* more fragments follow */
	uint8_t frag_nexthdr;	/* IPv6: next header field of the fragment header */
	bool tprot_set;		/* NFT_PKTINFO_L4PROTO: transport header located */
	uint8_t l4proto;
	bool inner_set;		/* inner header (tunnel) offset known */
	bool ct_present;	/* false: untracked/invalid as the kernel sees it */
	uint8_t ct_dir;		/* IP_CT_DIR_ORIGINAL / REPLY */
	uint8_t ctinfo;		/* enum ip_conntrack_info when ct_present; PKT_CTINFO_UNTRACKED
				 * (with ct_state = untracked bit) for ICMPv6 ND/MLD */
	/* rare outcomes, one bit each (the struct stays at 160 bytes) */
	bool ct_unsure : 1;		/* conntrack's decision lacked bytes the capture cut: TCP
				 * options that could have put an out-of-window packet
				 * in window, or (checksums verified) the bytes of a
				 * transport checksum: undecidable */
	bool csum_bad : 1;		/* conntrack verified its transport checksum (received,
				 * ct_table_set_checksum): wrong, so invalid */
	bool frag_cut : 1;		/* reassembled (ct_defrag) from a fragment the capture cut:
				 * some of its bytes are zeros standing for unknown ones */
	bool hbh_cut : 1;		/* the capture cuts an IPv6 hop-by-hop header, whose checks
				 * decide whether the kernel drops the packet before
				 * prerouting: the verdict is undecidable */
	bool ct_own_tuple : 1;	/* set by conntrack with ct: the entry's tuple of ct_dir
				 * holds this packet's addresses, and its ports (ICMP:
				 * type and code) are the transport header's at th_off
				 * (conntrack found the same transport header as the
				 * decoder): read there instead of the packet's bytes */
	uint8_t opt_drop;	/* enum pkt_opt_drop: IPv4 options that make the kernel drop
				 * a received packet after prerouting, before input */
	bool nonlo;		/* the link layer shows a device other than lo: Ethernet
				 * addresses not all zero, a cooked header's hatype
				 * not ARPHRD_LOOPBACK (raw IP: unknown, false) */
	bool mc_loop;		/* set by the caller: a copy of this outgoing packet
				 * comes back to the input hook (pcap-replay) */
};

/* ip_rcv_finish_core() -> ip_rcv_options(): what the IPv4 options of a packet
 * the host receives do to it after the prerouting hook (conntrack has seen
 * it) and before the input hook (no filter rule sees it). */
enum pkt_opt_drop {
	PKT_OPT_OK,
	PKT_OPT_MALFORMED,	/* ip_options_compile() fails */
	PKT_OPT_SRR,		/* a source route, and accept_source_route is 0 */
	PKT_OPT_CIPSO,		/* cipso_v4_validate(): no CIPSO DOI is configured */
};

/* The kernel's reason for an opt_drop, for reports. */
const char *pkt_opt_drop_text(uint8_t opt_drop);

/* Decodes one frame of the given DLT into p (data is not copied; p is cleared
 * first, so set ts/frame/hook context afterwards).  Never reads beyond caplen.
 *
 * Returns 0 when the inet hooks would see the packet: nfproto, nh_off, len and
 * the transport fields are filled as nft_set_pktinfo_ipv4/ipv6 would fill them.
 * p->cls is then PKT_OK, PKT_TRUNCATED (the capture holds fewer bytes than the
 * kernel would: fields beyond avail are unknown; tprot_set is false when the
 * transport header could not be located from the captured bytes) or
 * PKT_MALFORMED (the kernel still passes it to the hooks, e.g. an IPv6 extension
 * header chain running past the packet: tprot_set false as in the kernel).
 * Returns -1 when the hooks would never see it (p->cls says why: PKT_NOT_IP,
 * PKT_UNSUPPORTED_LINK, or an IP header ip_rcv/ipv6_rcv drops: PKT_MALFORMED /
 * PKT_TRUNCATED).  p->why is a static string whenever cls != PKT_OK. */
int pkt_decode(struct pkt *p, int linktype, const uint8_t *data, size_t caplen,
	       size_t wirelen);

#endif
