#!/usr/bin/env python3
"""Writes the reassembly and TCP regression captures of tests/data/agree/ that a
kernel-agreement hunt found on 2026-11-30 (regress-frag-*, regress-frag6-*,
regress-tcp-syn-reinit-wscale, and reasm-ecn-ce / reasm-df, which t_agree plays
under tests/data/agree/reasm.nft as a saved dump).  Each function's docstring
says what it holds and what the kernel does with it.

    cases_reasm.py OUTDIR

Re-running it rewrites the same bytes (no randomness).  The two oversize cases
(regress-frag-oversize-*) are written by oversize() at the end.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import Cap, H4, H6, AML4, AML6, STO4, STO6, VNET4, VNET6, MSS
from gen import tcp, udp, icmp, ip4, ip6, csum

F = {}
def f(fn):
    F[fn.__name__.replace("_", "-")] = fn
    return fn

@f
def frag6_none_empty():
    """IPv6 fragment header (offset 0) whose next header is 59 (No Next Header)
    and nothing after it: atomic (M=0), then M=1.  The kernel queues it
    (ipv6frag_thdr_truncated() is false: ipv6_skip_exthdr() returns -1 at
    NEXTHDR_NONE) and drops it as a zero-length fragment (end == offset);
    pcap-replay passes it on unreassembled and judges it at input."""
    c = Cap()
    for ident, m in ((0x107, 0), (0x108, 1)):
        c.inb(ip6(VNET6, H6, 59, b"", ext=[(44, bytes([0]) + struct.pack("!HI", m, ident))]))
    return c


WS7 = struct.pack("!BBB", 3, 3, 7) + b"\x01"
SACKP = b"\x04\x02\x01\x01"

@f
def tcp_syn_reinit_wscale():
    """The client's SYN is followed by a second SYN with a higher ISN (a new
    connect() on the same port before any answer); both offer window scale 7,
    as does the server's SYN/ACK.  The kernel keeps the client's scale (since
    'only evaluate window negotiation for packets in the REPLY direction',
    tcp_init_sender() clears td_scale only for the REPLY direction); the
    emulation's tcp_init_sender() clears it whenever the other side has not
    offered scaling yet, i.e. on this ORIGINAL-direction re-init, so the
    client's windows are read unscaled (502 instead of 502 << 7 = 64256).
    The server then sends 60 x 1400 bytes before the client's next ACK (well
    inside 64256 << ... the advertised 384000-byte window): the kernel accepts
    them all; pcap-replay ignores some and calls the later ones INVALID
    (dropped by the policy's ct state invalid rule).  Outbound connection to
    Storage (allowed)."""
    c = Cap()
    a, a2, b = 1000, 900000, 5000
    o = lambda seq, ack, fl, win, opts=b"", pl=b"": c.out(c.ip(H4, STO4, 6, tcp(50601, 443, seq, ack, fl, win, opts, pl)))
    i = lambda seq, ack, fl, win, opts=b"", pl=b"": c.inb(c.ip(STO4, H4, 6, tcp(443, 50601, seq, ack, fl, win, opts, pl)))
    o(a, 0, 0x02, 64240, MSS + SACKP + WS7)
    o(a2, 0, 0x02, 64240, MSS + SACKP + WS7)          # new ISN, higher
    i(b, a2 + 1, 0x12, 65160, MSS + SACKP + WS7)
    o(a2 + 1, b + 1, 0x10, 3000)                        # 3000 << 7 = 384000
    for k in range(60):
        i(b + 1 + 1400 * k, a2 + 1, 0x18, 509, pl=b"d" * 1400)
    o(a2 + 1, b + 1 + 1400 * 60, 0x10, 3000)
    return c

@f
def tcp_syn_reinit_wscale_min():
    """Minimal form of tcp-syn-reinit-wscale: SYN, SYN with a higher ISN,
    SYN/ACK (all window scale 7), the client's ACK with window 20 (20 << 7 =
    2560), and one 2000-byte segment from the server starting 1 byte after
    the handshake: in window for the kernel; for pcap-replay (window 20,
    client's SYN window 1000) its end is 1981 bytes past td_maxend, more than
    the client's largest window: INVALID, dropped."""
    c = Cap()
    a, a2, b = 1000, 900000, 5000
    o = lambda seq, ack, fl, win, opts=b"", pl=b"": c.out(c.ip(H4, STO4, 6, tcp(50602, 443, seq, ack, fl, win, opts, pl)))
    i = lambda seq, ack, fl, win, opts=b"", pl=b"": c.inb(c.ip(STO4, H4, 6, tcp(443, 50602, seq, ack, fl, win, opts, pl)))
    o(a, 0, 0x02, 1000, WS7)
    o(a2, 0, 0x02, 1000, WS7)
    i(b, a2 + 1, 0x12, 65160, WS7)
    o(a2 + 1, b + 1, 0x10, 20)
    i(b + 1, a2 + 1, 0x18, 509, pl=b"d" * 1000)
    i(b + 1001, a2 + 1, 0x18, 509, pl=b"d" * 1000)
    return c


from gen import frags4, frags6, fill_csum

@f
def frag_max_datagram():
    """The largest datagrams IPv4 and IPv6 carry, in MTU-1500 fragments: a UDP
    datagram with 65,507 bytes of payload (IPv4 total length 65,535) and one
    with 65,527 (IPv6 payload length 65,535), from the VNet (allowed), and
    for contrast one of 1,000 bytes less each.  The kernel reassembles all four
    and accepts them (ip_frag_reasm: ihl + len <= 65535; nf_ct_frag6_queue:
    end <= IPV6_MAXPLEN).  pcap-replay drops the fragment that ends past
    65,475 bytes ('fragment dropped by defrag': conntrack.c defrag(),
    end > FRAG_MAX - 60), so the big datagrams are never completed."""
    c = Cap()
    for n, ident, sp in ((65507, 0x5301, 43400), (64507, 0x5302, 43402)):
        for fr in frags4(ip4(VNET4, H4, 17, udp(sp, 5000, bytes(n)), ident=ident), 1480):
            c.inb(fr)
    for n, ident, sp in ((65527, 0x6301, 43401), (64527, 0x6302, 43403)):
        for fr in frags6(ip6(VNET6, H6, 17, udp(sp, 5000, bytes(n))), 1448, ident):
            c.inb(fr)
    return c


@f
def frag6_long_unfragmentable():
    """IPv6 fragments whose unfragmentable part is long: a segment routing
    header (routing type 4, segments left 0: the host is the final segment)
    listing 13 segments (216 bytes) ahead of the fragment header, carrying a
    300-byte UDP datagram from the VNet in two fragments; then the same with
    3 segments (56 bytes).  The kernel reassembles both and accepts them.
    pcap-replay keeps the first fragment's link header and unfragmentable
    part in a 256-byte buffer (conntrack.c struct frag_queue.head; defrag():
    'if (p->nh_off + unfrag > sizeof(q->head)) goto discard') and throws the
    queue away: the first datagram never completes."""
    c = Cap()
    for nseg, sp, ident in ((13, 43600, 0x7201), (3, 43601, 0x7202)):
        l4 = fill_csum(udp(sp, 5000, bytes(300)), 17, VNET6, H6)
        segs = b"".join(struct.pack("!16s", bytes.fromhex("fd00001000000000000000000000%04x" % (0x100 + k))) for k in range(nseg - 1))
        segs = __import__("ipaddress").ip_address(H6).packed + segs     # segment 0 = final = host
        srh = bytes([44, 2 * nseg, 4, 0, nseg - 1, 0, 0, 0]) + segs       # nh, len, type 4, segleft 0, last entry
        for a in (0, 160):
            b = min(len(l4), a + 160)
            fh = struct.pack("!BBHI", 17, 0, a | (1 if b < len(l4) else 0), ident)
            pl = srh + fh + l4[a:b]
            base = ip6(VNET6, H6, 43, b"", csum_l4=False)
            c.inb(base[:4] + struct.pack("!H", len(pl)) + bytes([43]) + base[7:40] + pl)
    return c


@f
def frag_many_runs():
    """A 40,000-byte UDP datagram from the VNet in 552-byte fragments (an
    MTU of 576), 73 of them, sent last fragment first (as some stacks and
    load balancers deliver them), over IPv4 and over IPv6; then the same in
    order.  The kernel keeps any number of runs (inet_frag_queue_insert(),
    an rbtree) and reassembles all four.  pcap-replay keeps at most 64 runs
    per queue (conntrack.c struct frag_queue.r[64]; frag_insert() ->
    FI_FULL -> discard): in reverse order every fragment is a run of its
    own, and the 65th throws the queue away.  Last, 600 bytes of UDP in 75
    fragments of 8 bytes (fragroute-style evasion tests), last first: same."""
    c = Cap()
    for sp, ident, rev in ((43700, 0x5401, True), (43702, 0x5402, False)):
        fr = frags4(ip4(VNET4, H4, 17, udp(sp, 5000, bytes(40000)), ident=ident), 552)
        for x in (reversed(fr) if rev else fr):
            c.inb(x)
    for sp, ident, rev in ((43701, 0x6401, True), (43703, 0x6402, False)):
        fr = frags6(ip6(VNET6, H6, 17, udp(sp, 5000, bytes(40000))), 528, ident)
        for x in (reversed(fr) if rev else fr):
            c.inb(x)
    # tiny fragments (fragroute-style evasion tests): 600 bytes of UDP in
    # 8-byte IPv4 fragments, last first
    for x in reversed(frags4(ip4(VNET4, H4, 17, udp(43704, 5000, bytes(592)), ident=0x5403), 8)):
        c.inb(x)
    return c


@f
def frag_many_queues():
    """70 UDP datagrams of 2,000 bytes from 70 VNet hosts (10.0.3.1-70),
    each in two fragments, the first halves of all 70 before the second
    halves (many senders at once; any interleaving that keeps more than 64
    datagrams half-way does it).  The kernel holds all 70 queues (its limit
    is memory, net.ipv4.ipfrag_high_thresh = 4 MiB; these take ~150 KiB) and
    accepts all 70 datagrams.  pcap-replay holds at most 64 queues
    (conntrack.h CT_FRAG_QUEUES; fq_find() evicts the oldest): the 65th to
    70th first halves evict the first six queues; each of their second
    halves then opens a queue of its own and evicts the next oldest, and so
    on down the line: none of the 70 datagrams is ever completed (70 of 140
    packets disagree; the report shows no flow at all)."""
    c = Cap()
    dgs = []
    for k in range(70):
        src = "10.0.3.%d" % (k + 1)
        dgs.append(frags4(ip4(src, H4, 17, udp(43800 + k, 5000, bytes(2000)), ident=0x5500 + k), 1480))
    for d in dgs:
        c.inb(d[0])
    for d in dgs:
        c.inb(d[1])
    return c


@f
def frag_max_dist():
    """net.ipv4.ipfrag_max_dist (default 64): the kernel's IPv4 reassembly
    (ip_defrag, which nf_defrag_ipv4 uses too) counts the fragments each
    source sends (inet_peer rid); when more than 64 of its fragments arrived
    between two fragments of one queue, ip_frag_too_far() has the queue
    reinitialised (ip_frag_reinit: what it held is thrown away).  One VNet
    host sends the first half of datagram A, then 33 other datagrams of two
    fragments each (66 fragments), then A's second half.  The kernel accepts
    the 33 and never completes A (its second half starts a fresh queue);
    pcap-replay completes A and accepts it.  Then the same with 31 datagrams
    (62 fragments) in between: both complete A."""
    c = Cap()
    for base, nmid in ((0x5600, 33), (0x5680, 31)):
        a = frags4(ip4(VNET4, H4, 17, udp(44000 + base % 256, 5000, bytes(2000)), ident=base), 1480)
        c.inb(a[0])
        for k in range(nmid):
            for fr in frags4(ip4(VNET4, H4, 17, udp(44100 + k + base % 256, 5000, bytes(2000)), ident=base + 1 + k), 1480):
                c.inb(fr)
        c.inb(a[1])
    return c


def _set_ecn4(fr, ecn):
    h = bytearray(fr); h[1] = (h[1] & 0xfc) | ecn
    h[10:12] = b"\0\0"
    h[10:12] = struct.pack("!H", csum(bytes(h[:20])))
    return bytes(h)

def _set_ecn6(fr, ecn):
    h = bytearray(fr)
    tc = ((h[0] & 0x0f) << 4) | (h[1] >> 4)
    tc = (tc & 0xfc) | ecn
    h[0] = 0x60 | (tc >> 4); h[1] = ((tc & 0x0f) << 4) | (h[1] & 0x0f)
    return bytes(h)

@f
def frag_ecn_mix():
    """RFC 3168 5.3 in reassembly (ip_frag_ecn_table, used by ip_defrag and
    nf_ct_frag6_reasm): a datagram whose fragments mix Not-ECT with ECT(0),
    ECT(1) or CE is dropped when it is reassembled.  A VNet host's UDP
    datagram in two fragments, the first Not-ECT and the second ECT(0)
    (an ECN-bleaching middlebox on one path), IPv4 then IPv6; then the same
    with both halves ECT(0) (accepted by both).  The kernel drops the mixed
    ones; pcap-replay ignores the ECN bits, reassembles and accepts them."""
    c = Cap()
    for sp, ident, e2 in ((44300, 0x5701, 2), (44302, 0x5702, 0)):
        fr = frags4(ip4(VNET4, H4, 17, udp(sp, 5000, bytes(2000)), ident=ident), 1480)
        c.inb(_set_ecn4(fr[0], 0 if e2 == 2 else 2)); c.inb(_set_ecn4(fr[1], 2))
    for sp, ident, e2 in ((44301, 0x6701, 2), (44303, 0x6702, 0)):
        fr = frags6(ip6(VNET6, H6, 17, udp(sp, 5000, bytes(2000))), 1448, ident)
        c.inb(_set_ecn6(fr[0], 0 if e2 == 2 else 2)); c.inb(_set_ecn6(fr[1], 2))
    return c


@f
def frag_ecn_ce():
    """Reassembly ORs CE into the datagram's ECN field when any fragment had
    CE and the rest ECT (ip_frag_ecn_table -> INET_ECN_CE; ip_frag_reasm:
    iph->tos |= ecn; nf_ct_frag6_reasm likewise for the traffic class).  A
    VNet host's datagram whose first fragment is ECT(0) and second CE (a
    router marked congestion on one), IPv4 and IPv6; then both ECT(0).
    Played with ecn.nft (input: 'ip ecn ce drop', 'ip6 ecn ce drop',
    accept): the kernel sees CE on the reassembled datagrams and drops them;
    pcap-replay keeps the first fragment's ECT(0) and accepts them."""
    c = Cap()
    for sp, ident, e2 in ((44400, 0x5801, 3), (44402, 0x5802, 2)):
        fr = frags4(ip4(VNET4, H4, 17, udp(sp, 5000, bytes(2000)), ident=ident), 1480)
        c.inb(_set_ecn4(fr[0], 2)); c.inb(_set_ecn4(fr[1], e2))
    for sp, ident, e2 in ((44401, 0x6801, 3), (44403, 0x6802, 2)):
        fr = frags6(ip6(VNET6, H6, 17, udp(sp, 5000, bytes(2000))), 1448, ident)
        c.inb(_set_ecn6(fr[0], 2)); c.inb(_set_ecn6(fr[1], e2))
    return c


@f
def frag_df_reasm():
    """ip_frag_reasm() sets DF on the reassembled datagram when the largest
    fragment carried DF (qp->max_df_size == qp->q.max_size), 0 otherwise;
    pcap-replay clears the fragment field whole.  A VNet host's datagram in
    two fragments with DF set on both (a sender that fragments and sets DF,
    as some tunnel endpoints do), then one without DF.  Played with df.nft
    (input: 'ip frag-off & 0x4000 != 0 drop', accept): the kernel drops the
    first; pcap-replay accepts both."""
    c = Cap()
    fr = frags4(ip4(VNET4, H4, 17, udp(44500, 5000, bytes(2000)), ident=0x5901, df=True), 1480)
    for x in fr:
        c.inb(x)
    for x in frags4(ip4(VNET4, H4, 17, udp(44501, 5000, bytes(2000)), ident=0x5902), 1480):
        c.inb(x)
    return c


def _oversize(total, opts_first):
    """A UDP datagram from 192.0.2.5 of `total` bytes of IP payload in 1480-byte
    fragments.  opts_first false: 20-byte headers but the last fragment's, which
    carries 40 bytes of options -- the kernel bounds the datagram by the FIRST
    fragment's header at reassembly (20 + 65480 = 65500: delivered).  true: the
    first fragment carries 40 bytes of options, so 60 + 65500 > 65535: the kernel
    drops the datagram as oversize."""
    def ip(off, mf, payload, ihl):
        opts = b"\x01" * ((ihl - 5) * 4)
        fo = (off // 8) | (0x2000 if mf else 0)
        h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 0x77, fo, 64, 17, 0,
                        bytes([192, 0, 2, 5]), bytes([10, 0, 1, 4])) + opts
        return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

    data = struct.pack("!HHHH", 40000, 44224, 0, 0) + b"x" * (total - 8)
    c = Cap()
    off = 0
    while off < total:
        n = min(1480, total - off)
        last = off + n >= total
        ihl = 15 if (opts_first and off == 0) or (not opts_first and last) else 5
        c.inb(ip(off, not last, data[off:off + n], ihl))
        off += n
    return c


NAMES = {
    "frag-max-datagram": "regress-frag-max-datagram", "frag-many-queues": "regress-frag-many-queues",
    "frag-many-runs": "regress-frag-many-runs", "frag6-long-unfragmentable": "regress-frag6-long-unfragmentable",
    "frag-max-dist": "regress-frag-max-dist", "frag-ecn-mix": "regress-frag-ecn-mix",
    "frag6-none-empty": "regress-frag6-none-empty", "tcp-syn-reinit-wscale": "regress-tcp-syn-reinit-wscale",
    "frag-ecn-ce": "reasm-ecn-ce", "frag-df-reasm": "reasm-df",
}

if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for fn, name in NAMES.items():
        F[fn]().write(os.path.join(out, name + ".pcap"))
    _oversize(65480, False).write(os.path.join(out, "regress-frag-oversize-options.pcap"))
    _oversize(65500, True).write(os.path.join(out, "regress-frag-oversize-first.pcap"))
