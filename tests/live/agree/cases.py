#!/usr/bin/env python3
"""Writes the fixed captures of tests/data/agree/ (hand-built stateful cases and
the regression cases of the disagreements --kernel-check found).

    cases.py OUTDIR

Every capture goes with tests/data/agree/policy.yaml and the host addresses
10.0.1.4, fd00:10::4.  Re-running it rewrites the same bytes (no randomness).
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import Pcap, eth, icmp, ip4, ip6, tcp, udp, frags4, frags6  # noqa: E402

H4, H6 = "10.0.1.4", "fd00:10::4"
AML4, AML6 = "192.0.2.5", "2001:db8:1::5"       # AzureMachineLearning
STO4, STO6 = "198.51.100.10", "2001:db8:3::10"   # Storage.EastUS
INET4, INET6 = "203.0.113.10", "2001:db8:ffff::10"
VNET4 = "10.0.1.10"
MSS = struct.pack("!BBH", 2, 4, 1460)


class Cap(Pcap):
    def __init__(self):
        super().__init__()
        self.ident = 100

    def ip(self, src, dst, proto, l4, **kw):
        if ":" in src:
            return ip6(src, dst, proto, l4, **kw)
        self.ident += 1
        return ip4(src, dst, proto, l4, ident=self.ident, **kw)

    def inb(self, ip, **kw):
        self.add(eth(ip, True, **kw))
        return ip

    def out(self, ip):
        self.add(eth(ip, False))
        return ip

    def handshake(self, c, s, cp, sp, inbound, data=b"", close=True):
        """A whole TCP connection from c to s; inbound: c is the peer."""
        send_c = self.inb if inbound else self.out
        send_s = self.out if inbound else self.inb
        a, b = 1000, 5000
        send_c(self.ip(c, s, 6, tcp(cp, sp, a, 0, 0x02, 64240, MSS)))
        send_s(self.ip(s, c, 6, tcp(sp, cp, b, a + 1, 0x12, 65160, MSS)))
        a, b = a + 1, b + 1
        send_c(self.ip(c, s, 6, tcp(cp, sp, a, b, 0x10, 64240)))
        if data:
            send_c(self.ip(c, s, 6, tcp(cp, sp, a, b, 0x18, 64240, payload=data)))
            a += len(data)
            send_s(self.ip(s, c, 6, tcp(sp, cp, b, a, 0x10, 65160)))
        if close:
            send_c(self.ip(c, s, 6, tcp(cp, sp, a, b, 0x11, 64240)))
            send_s(self.ip(s, c, 6, tcp(sp, cp, b, a + 1, 0x11, 65160)))
            send_c(self.ip(c, s, 6, tcp(cp, sp, a + 1, b + 1, 0x10, 64240)))


def handshake_in():
    c = Cap()
    c.handshake(AML4, H4, 40001, 44224, True, b"hello")          # allowed
    c.handshake(AML6, H6, 40002, 44224, True, b"hello")
    c.inb(c.ip(INET4, H4, 6, tcp(40003, 22, 1, 0, 0x02, 64240, MSS)))   # denied, retried
    c.inb(c.ip(INET4, H4, 6, tcp(40003, 22, 1, 0, 0x02, 64240, MSS)))
    c.inb(c.ip(INET6, H6, 6, tcp(40004, 22, 1, 0, 0x02, 64240, MSS)))
    return c


def handshake_out():
    c = Cap()
    c.handshake(H4, STO4, 50001, 443, False, b"GET /")           # approved outbound
    c.handshake(H6, STO6, 50002, 443, False, b"GET /")
    c.handshake(H4, VNET4, 50003, 8080, False, b"x")             # vnet
    c.out(c.ip(H4, INET4, 6, tcp(50004, 445, 1, 0, 0x02, 64240, MSS)))  # DenyInternetSmb
    c.out(c.ip(H4, INET4, 6, tcp(50005, 8443, 1, 0, 0x02, 64240, MSS)))  # not approved
    return c


def established_return():
    c = Cap()
    c.out(c.ip(H4, AML4, 17, udp(51000, 5831, b"q" * 20)))       # required AML udp
    c.inb(c.ip(AML4, H4, 17, udp(5831, 51000, b"r" * 20)))
    c.inb(c.ip(AML4, H4, 17, udp(5831, 51000, b"r" * 20)))
    c.out(c.ip(H4, VNET4, 1, icmp(8, 0, 0x00070001, b"p" * 16)))  # echo in the vnet
    c.inb(c.ip(VNET4, H4, 1, icmp(0, 0, 0x00070001, b"p" * 16)))
    c.out(c.ip(H6, AML6, 58, icmp(128, 0, 0x00080001, b"p" * 16)))  # not approved: dropped
    c.inb(c.ip(AML6, H6, 58, icmp(129, 0, 0x00080001, b"p" * 16)))  # no entry: new, denied
    c.inb(c.ip(INET4, H4, 17, udp(53, 51001, b"unasked")))        # unsolicited
    return c


def invalid():
    c = Cap()
    c.inb(c.ip(INET4, H4, 6, tcp(40100, 44224, 7, 0, 0x03, 1000)))     # SYN+FIN
    c.inb(c.ip(AML4, H4, 6, tcp(40101, 44224, 7, 0, 0x00, 1000)))      # no flags
    c.inb(c.ip(AML4, H4, 6, tcp(40102, 44224, 7, 0, 0x04, 0)))         # RST, no conn
    c.handshake(AML4, H4, 40103, 44224, True, close=False)
    # far outside the window of the established connection
    c.inb(c.ip(AML4, H4, 6, tcp(40103, 44224, 1001 + 0x40000000, 5001, 0x18, 64240, payload=b"x")))
    c.inb(c.ip(AML6, H6, 58, icmp(1, 4, 0, ip6(H6, AML6, 17, udp(1, 2))[:48])))  # error, no flow
    return c


def related_icmp():
    c = Cap()
    q = c.out(c.ip(H4, AML4, 17, udp(51100, 5831, b"q" * 8)))
    c.inb(c.ip(AML4, H4, 1, icmp(3, 3, 0, q[:28])))               # port unreachable
    c.inb(c.ip("192.0.2.99", H4, 1, icmp(11, 0, 0, q[:28])))      # time exceeded from a router
    q6 = c.out(c.ip(H6, AML6, 17, udp(51101, 5831, b"q" * 8)))
    c.inb(c.ip(AML6, H6, 58, icmp(1, 4, 0, q6[:48])))
    c.inb(c.ip("2001:db8:1::99", H6, 58, icmp(2, 0, 1280, q6[:48])))   # packet too big
    t = c.ip(AML4, H4, 6, tcp(40200, 44224, 1, 0, 0x02, 64240, MSS))
    c.inb(t)
    c.out(c.ip(H4, AML4, 1, icmp(3, 1, 0, t[:28])))               # our error about their SYN
    return c


def midstream():
    c = Cap()
    c.out(c.ip(H4, STO4, 6, tcp(50100, 443, 90000, 70000, 0x10, 1000)))
    c.inb(c.ip(STO4, H4, 6, tcp(443, 50100, 70000, 90000, 0x18, 1000, payload=b"d" * 30)))
    c.out(c.ip(H4, STO4, 6, tcp(50100, 443, 90000, 70030, 0x10, 1000)))
    c.inb(c.ip(INET4, H4, 6, tcp(443, 50101, 1, 1, 0x18, 1000, payload=b"e")))  # in, not allowed
    c.inb(c.ip(AML6, H6, 6, tcp(40300, 44224, 5, 5, 0x10, 1000)))
    c.out(c.ip(H6, AML6, 6, tcp(44224, 40300, 5, 5, 0x10, 1000)))
    return c


def fragments():
    c = Cap()
    dg = ip4(AML4, H4, 17, udp(40400, 5000, bytes(100)), ident=7001)
    for f in frags4(dg, 32):
        c.inb(f)
    dg = ip4(H4, STO4, 6, tcp(50200, 443, 1, 0, 0x02, 1000, payload=bytes(60)), ident=7002)
    fr = frags4(dg, 24)
    for f in reversed(fr):
        c.out(f)
    dg = ip6(AML6, H6, 58, icmp(128, 0, 0x00090001, bytes(120)))
    for f in frags6(dg, 48, 0x77):
        c.inb(f)
    dg = ip6(H6, STO6, 6, tcp(50201, 443, 1, 0, 0x02, 1000, payload=bytes(60)))
    fr = frags6(dg, 32, 0x78)
    c.out(fr[1])
    c.out(fr[0])
    c.out(fr[2])
    c.inb(frags4(ip4(INET4, H4, 17, udp(1, 2, bytes(64)), ident=7003), 32)[0])  # never completed
    return c


def regress_ipv6_frag_odd():
    """conntrack.c fix: a non-last IPv6 fragment whose end is not a multiple of 8
    is not dropped by nf_defrag_ipv6; it goes on unreassembled (and its queue dies)."""
    c = Cap()
    dg = ip6(H6, STO6, 17, udp(50300, 443, bytes(85)))
    fr = frags6(dg, 48, 0x79, odd=True)
    for f in fr:
        c.out(f)
    dg = ip6(AML6, H6, 17, udp(40500, 5000, bytes(85)))
    fr = frags6(dg, 48, 0x7a, odd=True)
    c.inb(fr[1])
    c.inb(fr[0])
    return c


def regress_ipv6_frag_thdr():
    """conntrack.c fix: a first IPv6 fragment that cuts its TCP/UDP/ICMPv6 header
    is not reassembled (RFC 8200 4.5, ipv6frag_thdr_truncated): it goes on alone."""
    c = Cap()
    dg = ip6(H6, STO6, 6, tcp(50400, 443, 1, 0, 0x02, 1000, payload=bytes(40)))
    for f in frags6(dg, 16, 0x7b):
        c.out(f)
    dg = ip6(AML6, H6, 6, tcp(40600, 44224, 1, 0, 0x02, 1000, payload=bytes(40)))
    for f in frags6(dg, 8, 0x7c):
        c.inb(f)
    return c


def regress_udplite():
    """conntrack.c fix: udplite_error() -- a zero checksum or a coverage outside
    [8, length] makes a UDP-Lite packet invalid; a good one is tracked."""
    c = Cap()

    def ul(sp, dp, cov, ck):
        return struct.pack("!HHHH", sp, dp, cov, ck) + b"lite-payload"
    c.out(c.ip(H4, VNET4, 136, ul(52000, 5000, 0, 0), csum_l4=False))        # no checksum
    c.inb(c.ip(VNET4, H4, 136, ul(5000, 52000, 0, 0), csum_l4=False))
    c.out(c.ip(H4, VNET4, 136, ul(52001, 5000, 3, 0x1234), csum_l4=False))   # coverage < 8
    c.out(c.ip(H4, VNET4, 136, ul(52002, 5000, 400, 0x1234), csum_l4=False))  # beyond the end
    c.out(c.ip(H4, VNET4, 136, ul(52003, 5000, 8, 0x1234), csum_l4=False))   # good: new
    c.inb(c.ip(VNET4, H4, 136, ul(5000, 52003, 0, 0x4321), csum_l4=False))   # its reply
    return c


def regress_dccp_generic():
    """conntrack.c fix: no DCCP tracker since 6.16, so DCCP is generic: the tuple
    has no ports, and a second 'connection' between the same hosts is the first."""
    c = Cap()
    d1 = struct.pack("!HH", 53000, 5000) + bytes(12)
    d2 = struct.pack("!HH", 53001, 5001) + bytes(12)
    c.out(c.ip(H4, VNET4, 33, d1))
    c.inb(c.ip(VNET4, H4, 33, d2[2:4] + d2[0:2] + d2[4:]))   # other ports: same entry
    c.out(c.ip(H4, VNET4, 33, d2))
    return c


def gre():
    """conntrack.c: GRE is tracked as nf_conntrack_proto_gre does, not as a
    generic protocol.  Plain GRE (version 0) by address pair; PPTP (version 1,
    PPP) with the call ID as key: the peer's packets carry our call ID, and
    without the PPTP helper they do not match our entry (NEW, and inbound NEW
    from the VNet is still allowed, from the Internet denied); version 1 without
    PPP has no tuple (invalid: dropped by the policy's invalid rule).  IPv6 too."""
    c = Cap()

    def g(flags_ver, proto, call_id=None, payload=b"gre-payload"):
        h = struct.pack("!HH", flags_ver, proto)
        if call_id is not None:
            h += struct.pack("!HH", len(payload), call_id)
        return h + payload
    c.out(c.ip(H4, VNET4, 47, g(0x0000, 0x0800)))                 # v0: new
    c.inb(c.ip(VNET4, H4, 47, g(0x0000, 0x0800)))                 # its reply
    c.out(c.ip(H4, VNET4, 47, g(0x3001, 0x880b, 200)))            # PPTP: new
    c.inb(c.ip(VNET4, H4, 47, g(0x3001, 0x880b, 100)))            # peer's: new too
    c.out(c.ip(H4, VNET4, 47, g(0x3001, 0x0800, 200)))            # not PPP: invalid
    c.out(c.ip(H4, INET4, 47, g(0x3001, 0x880b, 300)))            # to the Internet
    c.inb(c.ip(INET4, H4, 47, g(0x3001, 0x880b, 301)))            # peer's: new, denied
    c.inb(c.ip(INET4, H4, 47, g(0x0000, 0x6558)))                 # plain: new, denied
    c.out(c.ip(H6, "fd00:10::10", 47, g(0x0000, 0x86dd)))         # IPv6
    c.inb(c.ip("fd00:10::10", H6, 47, g(0x0000, 0x86dd)))
    return c


def rate_limited_log():
    """Harness case: 40 denied packets in a row run the drop rules' log limit
    (rate 10/s, burst 20) out; the rate-limited log rule is timing, not a verdict."""
    c = Cap()
    for i in range(40):
        c.inb(c.ip(INET4, H4, 17, udp(41000 + i, 9999, b"z")))
    return c


CASES = {
    "handshake-in": handshake_in, "handshake-out": handshake_out,
    "established-return": established_return, "invalid": invalid,
    "related-icmp": related_icmp, "midstream": midstream, "fragments": fragments,
    "regress-ipv6-frag-odd": regress_ipv6_frag_odd,
    "regress-ipv6-frag-thdr": regress_ipv6_frag_thdr,
    "regress-udplite": regress_udplite, "regress-dccp-generic": regress_dccp_generic,
    "rate-limited-log": rate_limited_log, "gre": gre,
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, fn in CASES.items():
        fn().write(os.path.join(out, name + ".pcap"))


if __name__ == "__main__":
    main()
