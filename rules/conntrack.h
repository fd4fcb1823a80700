/* conntrack — connection tracking emulated on capture timestamps.
 *
 * Stands for what the kernel runs around the filter hooks when a ruleset uses
 * `ct`: nf_defrag (priority -400), nf_conntrack_in (PREROUTING / LOCAL_OUT,
 * priority -200) and nf_conntrack_confirm (POSTROUTING / LOCAL_IN, last).
 * For each decoded packet, in capture order:
 *
 *     r = ct_defrag(t, &p);        CT_FRAG_HELD / _DROPPED: the hooks never see
 *                                  this fragment alone; CT_FRAG_DONE: p now is
 *                                  the reassembled datagram; CT_FRAG_NONE: as is
 *     if (ct_in(t, &p) == CT_DROP) the packet dies in conntrack (table full)
 *     verdict = <evaluate the ruleset on p>
 *     ct_confirm(t, &p, verdict == accept);
 *
 * ct_in fills p->ct_present, ct_state (the bits nft_ct reads: NF_CT_STATE_BIT
 * (ctinfo) = 1 << (ctinfo % IP_CT_IS_REPLY + 1), i.e. ESTABLISHED 2, RELATED 4,
 * NEW 8; INVALID 1 when there is no conntrack; UNTRACKED 64), ct_dir, ctinfo,
 * ct_status (IPS_* bits) and ct (a struct ct_entry *).  The kernel defaults are
 * built in: nf_conntrack_tcp_loose=1, tcp_be_liberal=0, tcp_ignore_invalid_rst=0,
 * tcp_max_retrans=3; nf_conntrack_checksum is 0 unless ct_table_set_checksum()
 * turns it on (the kernel's default is 1, but a capture taken on a host
 * carries checksums the NIC or the stack finished or verified later:
 * offload, GRO; only a capture off the wire shows what conntrack would sum).
 *
 * Protocols: TCP (window tracking), UDP and UDP-Lite, ICMP/ICMPv6 (queries,
 * errors RELATED to their quoted flow), GRE (the PPTP call ID as key, 30 s
 * unreplied / 180 s replied, as nf_conntrack_proto_gre without the PPTP
 * helper), SCTP (nf_conntrack_proto_sctp: chunk checks, verification tags,
 * the association state machine and its timeouts; no mid-stream pickup: only
 * INIT, HEARTBEAT, SHUTDOWN_ACK and the like open an entry); every other
 * protocol is generic (NEW, then ESTABLISHED once replied).  DCCP has had no tracker since the kernel dropped DCCP (6.16):
 * generic, no ports.
 *
 * Time is the packets' capture time (p->ts), made monotonic: a timestamp
 * earlier than one already seen counts as that one.
 *
 * Memory is bounded: at most max_entries entries (confirmed + the one
 * unconfirmed), at most CT_FRAG_QUEUES fragment queues of at most 64 KiB each
 * (their buffers grown as the datagrams need).
 * Library code never prints: counters and the table-full flag are read through
 * ct_table_stats().  Not thread-safe; one table per replay. */
#ifndef FILTERD_CONNTRACK_H
#define FILTERD_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

struct ct_table;
struct ct_entry;

#define CT_FRAG_QUEUES 1024

/* The kernel's nft ct state bits (nf_conntrack_common.h, nft_ct.c). */
#define CT_STATE_INVALID	1u
#define CT_STATE_ESTABLISHED	2u
#define CT_STATE_RELATED	4u
#define CT_STATE_NEW		8u
#define CT_STATE_UNTRACKED	64u

/* A conntrack tuple as the kernel keeps it.  Addresses in network byte order
 * (IPv4 in the first 4 bytes), ports host order.  For ICMP/ICMPv6: id is the
 * echo identifier, type/code as in the packet of that direction. */
struct ct_tuple {
	uint8_t nfproto;	/* NFPROTO_IPV4 / NFPROTO_IPV6 */
	uint8_t proto;		/* IPPROTO_* */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;	/* tcp, udp, udplite, sctp */
	uint16_t icmp_id;
	uint8_t icmp_type, icmp_code;
};

/* Room in every entry for the caller (zeroed when the entry is made):
 * pcap-replay keeps its flow memos there. */
#define CT_EXT_SIZE 80
void *ct_entry_ext(struct ct_entry *e);

/* Prefetching (pcap-replay's reader computes the hash in its thread): the
 * hash ct_in will look p up by (false: p has no tuple), and cache hints for
 * its slot and entry.  Hints only: they change nothing. */
struct ct_tcpseg {		/* a TCP header as tcp_packet reads it */
	const uint8_t *opt;	/* NULL when the options are not in the capture */
	uint32_t seq, ack, end;
	uint32_t sack;		/* the highest SACK right edge beyond ack, else ack */
	uint16_t win;
	uint8_t flags, doff, optlen, idx;
	uint8_t syn_scale, syn_flags;	/* SYN: its window scale and SACK-permitted
					 * options, as conntrack keeps them (else 0) */
};
struct ct_hint {		/* what ct_in finds first, found beforehand */
	bool valid;
	uint8_t proto;
	bool tcp_ok;		/* TCP: tcp holds its header, parsed (false: tcp_error) */
	bool udp_ok;		/* UDP, UDP-Lite: its length checks pass (false: udp_error) */
	uint32_t off;		/* transport header */
	struct ct_tuple k;
	uint32_t h;		/* the hash k is looked up by */
	struct ct_tcpseg tcp;
};				/* (88 bytes: pcap-replay hands one over per packet) */
bool ct_packet_hint(const struct pkt *p, struct ct_hint *hint);
/* ct_in with the hint of this very packet (same data: not for a datagram
 * reassembled since); NULL: ct_in. */
enum ct_verdict ct_in_hint(struct ct_table *t, struct pkt *p, const struct ct_hint *hint);
void ct_prefetch_slot(const struct ct_table *t, uint32_t h);
/* ... and returns what ct_entry_user was when that entry was hashed (a hint:
 * 0 when unknown) */
uint64_t ct_prefetch_entry(const struct ct_table *t, uint32_t h);

/* A hash of the tuple's bytes (tuples are zeroed before they are filled). */
uint32_t ct_tuple_hash(const struct ct_tuple *k);

/* Is proto one whose tuple holds the ports (tcp, udp, udplite, sctp)? */
bool ct_tuple_has_ports(uint8_t proto);
/* Is it ICMP over IPv4 or ICMPv6 over IPv6, whose tuple holds type, code, id? */
bool ct_is_icmp(uint8_t nfproto, uint8_t proto);

/* Why an entry leaves the table (reported to the reaper). */
enum ct_gone {
	CT_GONE_EXPIRED,	/* timeout ran out */
	CT_GONE_KILLED,		/* TCP: RST without reply, reopened connection */
	CT_GONE_EVICTED,	/* early drop on a full table */
	CT_GONE_DISCARDED,	/* unconfirmed and the packet was dropped */
	CT_GONE_FLUSHED,	/* ct_table_free */
};

/* Creates a table of at most max_entries entries (nf_conntrack_max); 0 means
 * the kernel's usual default of 262144.  Returns NULL with errno ENOMEM. */
struct ct_table *ct_table_new(size_t max_entries);
/* Frees the table; each entry still in it is first passed to the reaper with
 * CT_GONE_FLUSHED.  NULL-safe. */
void ct_table_free(struct ct_table *t);
/* A table starts with the kernel's default timeouts.  Sets one as the sysctl
 * net.netfilter.nf_conntrack_<name> would ("udp_timeout",
 * "tcp_timeout_established", ...; the "nf_conntrack_" prefix may be given),
 * or the reassembly queues' ("frag6_timeout", and "ipfrag_time" for
 * net.ipv4.ipfrag_time): 0, or -1 with errno ENOENT (no such timeout) or
 * ERANGE (secs outside 0 .. 2^31-1).  Entries and queues already made keep
 * their deadline, as in the kernel.  ct_timeout_name(i) is the i-th name, NULL
 * past the last; ct_timeout_default(i) its default in seconds (-1 past the
 * last); ct_timeout_path writes the sysctl's /proc/sys path (0, or -1 with
 * errno ENOENT). */
int ct_table_set_timeout(struct ct_table *t, const char *name, int64_t secs);
const char *ct_timeout_name(size_t i);
int64_t ct_timeout_default(size_t i);
int ct_timeout_path(const char *name, char *buf, size_t len);
/* The index of a timeout's name (as ct_table_set_timeout takes it), or -1
 * with errno ENOENT. */
int ct_timeout_index(const char *name);

/* Called with each entry just before it is freed (any reason).  The entry and
 * its accessors are valid only during the call. */
typedef void (*ct_reaper_fn)(const struct ct_entry *e, enum ct_gone why, void *arg);
/* nf_conntrack_checksum=1 (off by default, see above): verify the transport
 * checksum of every packet the host receives (a hook other than LOCAL_OUT and
 * POST_ROUTING, not on "lo") as each protocol's error function does for a
 * CHECKSUM_NONE skb; a bad one makes the packet invalid (no conntrack, no
 * entry made or changed). */
void ct_table_set_checksum(struct ct_table *t, bool on);
/* Rewrites the transport checksum of the IP packet ip[0..len) (network header
 * first, transport header found as conntrack finds it), of which the capture
 * held the first `have` bytes and the rest are zeros, so that the check above
 * passes; false when conntrack verifies nothing for it or every byte its sum
 * covers was captured (then the sum is judged as it is).  For --kernel-check,
 * which pads a frame the capture cut with zeros: the evaluator took its cut
 * checksum for right, and the kernel must too. */
bool ct_checksum_fix(uint8_t *ip, size_t len, size_t have, uint8_t nfproto);
void ct_table_set_reaper(struct ct_table *t, ct_reaper_fn fn, void *arg);
/* For another thread with nothing to do (pcap-replay's reader waiting for
 * the replay): faults in up to step bytes of the memory the next entries will
 * take, while less than ahead bytes are ready (region.h); returns the bytes
 * faulted in, 0 when there is nothing to do. */
size_t ct_table_prefault(struct ct_table *t, size_t ahead, size_t step);
/* The bytes ct_table_prefault faulted in so far. */
uint64_t ct_table_prefaulted(const struct ct_table *t);

/* nf_defrag_ipv4 / nf_defrag_ipv6.  For a packet that is no fragment returns
 * CT_FRAG_NONE and leaves p alone.  A fragment is queued (CT_FRAG_HELD) or,
 * when it is inconsistent as the kernel sees it (overlap, a second differing
 * last fragment, a length past 64 KiB), dropped with its queue
 * (CT_FRAG_DROPPED; an exact duplicate is dropped alone).  When a fragment
 * completes its datagram, p is re-decoded over a table-owned frame (the link
 * header of the offset-0 fragment + the reassembled IP packet without fragment
 * fields) and CT_FRAG_DONE is returned; that frame stays valid until the next
 * ct_defrag or ct_table_free call, and p keeps the completing fragment's ts,
 * frame and hook context.  Incomplete queues expire after 30 s (IPv4
 * ipfrag_time) / 60 s (nf_conntrack_frag6_timeout) unless set otherwise
 * (ct_table_set_timeout), or are evicted oldest first when CT_FRAG_QUEUES are
 * in use. */
enum ct_frag_result { CT_FRAG_NONE, CT_FRAG_HELD, CT_FRAG_DONE, CT_FRAG_DROPPED };
enum ct_frag_result ct_defrag(struct ct_table *t, struct pkt *p);

/* nf_conntrack_in.  Needs a packet pkt_decode() returned 0 for (and ts, frame
 * set).  Returns CT_ACCEPT (go on to the filter; p->ct* filled) or CT_DROP
 * (conntrack itself drops it: table full and nothing to evict, "nf_conntrack:
 * table full, dropping packet"; also a TCP reopen that cannot be repeated).
 * An unconfirmed entry left by a previous ct_in without ct_confirm is
 * discarded first.  Without ct_defrag, a non-first IPv4/IPv6 fragment gets no
 * conntrack (INVALID), as ipv4_get_l4proto/ipv6_get_l4proto would answer. */
enum ct_verdict { CT_ACCEPT, CT_DROP };
enum ct_verdict ct_in(struct ct_table *t, struct pkt *p);

/* nf_conntrack_confirm.  accepted: the packet left the filter hooks accepted;
 * an unconfirmed entry is then inserted for later packets (its timeout starts
 * now).  Dropped: an unconfirmed entry is discarded (CT_GONE_DISCARDED); state
 * changes on a confirmed entry stay, as in the kernel (conntrack ran before the
 * filter). */
void ct_confirm(struct ct_table *t, struct pkt *p, bool accepted);

struct ct_stats {
	size_t entries;		/* in the table now (confirmed + unconfirmed) */
	size_t max_entries;
	uint64_t created;	/* entries allocated */
	uint64_t confirmed;
	uint64_t invalid;	/* packets that got no conntrack (ct state invalid) */
	uint64_t untracked;
	uint64_t early_drops;	/* entries evicted to make room */
	uint64_t table_full_drops; /* packets dropped: full and nothing evictable */
	bool table_full_warning; /* set once the first table-full drop happened */
	uint64_t frags_held, frags_dropped, frags_expired, reassembled;
	/* ct_table_set_checksum(t, true): received packets found invalid for
	 * their transport checksum, and those whose checksum the capture cut
	 * (tracked as if right, marked undecidable: p->ct_unsure) */
	uint64_t bad_checksum, checksum_cut;
};
void ct_table_stats(const struct ct_table *t, struct ct_stats *st);
/* st.early_drops alone (asked per packet) */
uint64_t ct_table_early_drops(const struct ct_table *t);

/* Iterates the entries in the table (confirmed ones, creation order). */
void ct_table_foreach(const struct ct_table *t,
		      void (*fn)(const struct ct_entry *e, void *arg), void *arg);

/* Entry accessors (for the evaluator's ct expressions and for reports). */
void ct_entry_tuple(const struct ct_entry *e, int dir, struct ct_tuple *out);
/* ... the same tuple in place (read, not copied) */
const struct ct_tuple *ct_entry_tuple_ref(const struct ct_entry *e, int dir);
/* ct_tuple_hash() of that tuple, kept with the entry (not computed again). */
uint32_t ct_entry_tuple_hash(const struct ct_entry *e, int dir);
uint32_t ct_entry_status(const struct ct_entry *e);
uint32_t ct_entry_id(const struct ct_entry *e);
uint32_t ct_entry_mark(const struct ct_entry *e);
void ct_entry_set_mark(struct ct_entry *e, uint32_t mark);	/* `ct mark set` */
/* ms until expiry at the table's current time (nft `ct expiration`). */
uint32_t ct_entry_expiration_ms(const struct ct_table *t, const struct ct_entry *e);
uint64_t ct_entry_first_frame(const struct ct_entry *e);
uint64_t ct_entry_packets(const struct ct_entry *e, int dir);
uint64_t ct_entry_bytes(const struct ct_entry *e, int dir);
bool ct_entry_confirmed(const struct ct_entry *e);
/* A reset was sent for the current packet (reject with tcp reset): a
 * confirmed TCP entry goes to CLOSE with CLOSE's timeout, as the kernel's
 * nf_conntrack_tcp_set_closing(). */
void ct_entry_set_closing(struct ct_table *t, struct ct_entry *e);
/* p's transport checksum as conntrack sums it, whatever nf_conntrack_checksum
 * says: 1 right, 0 wrong, -1 the capture lacks bytes it covers. */
int ct_transport_checksum(const struct pkt *p);
/* The current packet killed its entry (a RST as the only reply): the entry
 * is out of the table, its reaper has run, the packet still refers to it. */
bool ct_entry_dying(const struct ct_entry *e);
/* TCP picked up mid-stream: the first packet seen was not a SYN.  (Other
 * protocols carry no such evidence: always false.) */
bool ct_entry_began_before_capture(const struct ct_entry *e);
/* A value the caller keeps with the entry (0 when the entry is created);
 * pcap-replay keeps its flow there so that it finds it without a lookup. */
uint64_t ct_entry_user(const struct ct_entry *e);
void ct_entry_set_user(struct ct_entry *e, uint64_t v);
/* TCP conntrack state name ("SYN_SENT", "ESTABLISHED", ...) or NULL. */
const char *ct_entry_tcp_state(const struct ct_entry *e);
/* "COOKIE_WAIT", "ESTABLISHED", ...; NULL for a non-SCTP entry */
const char *ct_entry_sctp_state(const struct ct_entry *e);

#endif
