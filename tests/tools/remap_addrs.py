#!/usr/bin/env python3
"""remap_addrs.py IN OUT, or remap_addrs.py --dir OUTDIR IN... — a copy of a pcap/pcapng capture whose IP addresses
are moved into the test ranges of DESIGN.md, so that a capture from elsewhere
(tcpdump's regression suite, a customer's trace) can be played through a real
kernel in scratch namespaces (pcap-replay --kernel-check) without any packet
naming a host outside them.

Per capture, every address gets one replacement (injective, first seen first):
  IPv4  10.0.0.0/8 and the documentation ranges stay; other private,
        link-local and CGN addresses -> 10.1.0.0/16 upwards; public
        addresses -> 198.51.100.x, 203.0.113.x, 192.0.2.x in turn, then
        10.200.0.0/16.  Kept as they are: 0.0.0.0, 127.0.0.0/8 (the host's
        own loopback), 224.0.0.0/4 and 255.255.255.255 (groups and the
        link's broadcast, which name no host).
  IPv6  fd00::/8 and 2001:db8::/32 stay; ::, ::1, fe80::/10, ff00::/8 stay;
        any other /64 -> 2001:db8:0:N::/64 (fd00:0:0:N::/64 for fc00::/7 and
        fec0::/10) keeping the interface identifier; ::ffff:a.b.c.d maps its
        IPv4 address.
Rewritten: the outer IPv4/IPv6 source and destination (also inside 802.1Q/
802.1ad, Linux SLL/SLL2, RAW, NULL/LOOP framing), ARP sender/target, the
header an ICMP/ICMPv6 error quotes, and the ND target.  Checksums (IPv4
header, TCP, UDP, UDP-Lite, ICMP, ICMPv6, DCCP) are updated incrementally
(RFC 1624), so a checksum that was right stays right and one that was wrong
stays wrong.  Tunnelled packets' inner headers are payload and left alone.
Frame lengths never change; everything but addresses and checksums is kept
byte for byte.  Other link types pass through unchanged (pcap-replay does not
judge them).
"""
import ipaddress
import os
import struct
import sys

KEEP4 = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
    "127.0.0.0/8", "224.0.0.0/4", "0.0.0.0/32", "255.255.255.255/32")]
LOCAL4 = [ipaddress.ip_network(n) for n in (
    "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10")]
KEEP6 = [ipaddress.ip_network(n) for n in (
    "fd00::/8", "2001:db8::/32", "::/128", "::1/128", "fe80::/10", "ff00::/8")]
ULA6 = [ipaddress.ip_network(n) for n in ("fc00::/7", "fec0::/10")]


class Mapper:
    def __init__(self):
        self.m4, self.m6 = {}, {}
        self.next_local = 1 << 8          # 10.1.0.0 + n
        self.next_pub = 0
        self.next_more = 1                 # 10.200.0.0 + n
        self.p64, self.next64 = {}, 1

    def v4(self, b):
        if b in self.m4:
            return self.m4[b]
        a = ipaddress.IPv4Address(b)
        if any(a in n for n in KEEP4):
            out = b
        elif any(a in n for n in LOCAL4):
            out = bytes([10, 1 + (self.next_local >> 16), (self.next_local >> 8) & 255,
                         self.next_local & 255])
            self.next_local += 1
        else:
            i = self.next_pub
            self.next_pub += 1
            if i < 3 * 254:
                nets = ((198, 51, 100), (203, 0, 113), (192, 0, 2))
                out = bytes(nets[i % 3]) + bytes([1 + i // 3])
            else:
                n = self.next_more
                self.next_more += 1
                out = bytes([10, 200 + (n >> 16), (n >> 8) & 255, n & 255])
        self.m4[b] = out
        return out

    def v6(self, b):
        if b in self.m6:
            return self.m6[b]
        a = ipaddress.IPv6Address(b)
        if a.ipv4_mapped is not None:
            out = b[:12] + self.v4(b[12:])
        elif any(a in n for n in KEEP6):
            out = b
        else:
            pre = b[:8]
            if pre not in self.p64:
                n = self.next64
                self.next64 += 1
                head = b"\xfd\x00" if any(a in x for x in ULA6) else b"\x20\x01\x0d\xb8"
                self.p64[pre] = (head + b"\x00" * 8)[:4] + struct.pack(">HH", n >> 16, n & 0xffff)
            out = self.p64[pre] + b[8:]
        self.m6[b] = out
        return out


def csum_adjust(c, old, new):
    """RFC 1624 eqn. 3 over equal-length, 16-bit aligned old/new bytes."""
    s = (~c) & 0xffff
    for i in range(0, len(old), 2):
        s += (~struct.unpack_from(">H", old, i)[0]) & 0xffff
        s += struct.unpack_from(">H", new, i)[0]
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


class Frame:
    def __init__(self, data, mapper):
        self.d = bytearray(data)
        self.m = mapper

    def fix16(self, off, old, new, udp=False):
        """adjust the checksum at off for old->new, if it was captured"""
        d = self.d
        if off + 2 > len(d) or old == new:
            return
        c = struct.unpack_from(">H", d, off)[0]
        if udp and c == 0:
            return
        c = csum_adjust(c, old, new)
        if udp and c == 0:
            c = 0xffff
        struct.pack_into(">H", d, off, c)

    def swap(self, off, n, fn):
        """replace the n-byte address at off; returns (old, new) or None"""
        d = self.d
        if off + n > len(d):
            return None
        old = bytes(d[off:off + n])
        new = fn(old)
        d[off:off + n] = new
        return old, new

    def swap_pair(self, off, n, fn):
        """source and destination, n bytes each from off: (olds, news)
        concatenated, as far as the frame holds them"""
        olds, news = b"", b""
        for a in (off, off + n):
            r = self.swap(a, n, fn)
            if r:
                olds += r[0]
                news += r[1]
        return olds, news

    def l4_csum_off(self, proto, l4, first):
        if not first:
            return None, False
        return {6: (l4 + 16, False), 17: (l4 + 6, True), 136: (l4 + 6, False),
                33: (l4 + 6, False), 58: (l4 + 2, False)}.get(proto, (None, False))

    def ipv4(self, o, inner=False):
        d = self.d
        if o + 20 > len(d) or d[o] >> 4 != 4:
            return
        olds, news = self.swap_pair(o + 12, 4, self.m.v4)
        self.fix16(o + 10, olds, news)
        proto = d[o + 9]
        frag = struct.unpack_from(">H", d, o + 6)[0] & 0x1fff
        l4 = o + (d[o] & 15) * 4
        co, udp = self.l4_csum_off(proto, l4, frag == 0)
        if co is not None and proto != 58:
            self.fix16(co, olds, news, udp)
        if proto == 1 and frag == 0 and not inner and l4 + 8 <= len(d) and \
                d[l4] in (3, 4, 5, 11, 12):
            self.icmp_inner(l4 + 2, l4 + 8, 4)

    def ipv6(self, o, inner=False):
        d = self.d
        if o + 40 > len(d) or d[o] >> 4 != 6:
            return
        olds, news = self.swap_pair(o + 8, 16, self.m.v6)
        if len(olds) != 32:
            return
        nh, p, first = d[o + 6], o + 40, True
        while nh in (0, 43, 60, 44, 51) and p + 8 <= len(d):
            if nh == 44:
                first = (struct.unpack_from(">H", d, p + 2)[0] & 0xfff8) == 0
                nh, p = d[p], p + 8
            elif nh == 51:
                nh, p = d[p], p + (d[p + 1] + 2) * 4
            elif nh == 43 and d[p + 2] in (0, 2):
                # type 0/2 routing header: its addresses are rewritten too,
                # and with segments left the pseudo-header's destination is
                # the last of them (RFC 8200 8.1)
                n = d[p + 1] // 2
                last = None
                for i in range(n):
                    last = self.swap(p + 8 + 16 * i, 16, self.m.v6) or last
                if d[p + 3] and last and n:
                    olds, news = olds[:16] + last[0], news[:16] + last[1]
                nh, p = d[p], p + (d[p + 1] + 1) * 8
            else:
                nh, p = d[p], p + (d[p + 1] + 1) * 8
        co, udp = self.l4_csum_off(nh, p, first)
        if co is None:
            return
        self.fix16(co, olds, news, udp)
        if nh == 58 and first and not inner and p + 8 <= len(d):
            t = d[p]
            if t in (1, 2, 3, 4):
                self.icmp_inner(co, p + 8, 6)
            elif t in (135, 136, 137):
                r = self.swap(p + 8, 16, self.m.v6)
                if r:
                    self.fix16(co, r[0], r[1])

    def icmp_inner(self, co, qo, fam):
        before = bytes(self.d[qo:])
        if fam == 4:
            self.ipv4(qo, inner=True)
        else:
            self.ipv6(qo, inner=True)
        after = bytes(self.d[qo:])
        n = len(before) & ~1
        if (qo % 2) != (co % 2):
            return
        self.fix16(co, before[:n], after[:n])

    def arp(self, o):
        d = self.d
        if o + 28 <= len(d) and d[o + 2:o + 6] == b"\x08\x00\x06\x04":
            self.swap(o + 14, 4, self.m.v4)
            self.swap(o + 24, 4, self.m.v4)

    def l3(self, et, o):
        if et == 0x0800:
            self.ipv4(o)
        elif et == 0x86dd:
            self.ipv6(o)
        elif et == 0x0806:
            self.arp(o)

    def raw(self, o):
        if o < len(self.d):
            v = self.d[o] >> 4
            self.l3({4: 0x0800, 6: 0x86dd}.get(v, 0), o)

    def ether(self, o):
        d = self.d
        if o + 14 > len(d):
            return
        et, p = struct.unpack_from(">H", d, o + 12)[0], o + 14
        while et in (0x8100, 0x88a8, 0x9100) and p + 4 <= len(d):
            et, p = struct.unpack_from(">H", d, p + 2)[0], p + 4
        self.l3(et, p)

    def link(self, lt):
        d = self.d
        if lt == 1:
            self.ether(0)
        elif lt in (101, 12, 14):
            self.raw(0)
        elif lt == 228:
            self.l3(0x0800, 0)
        elif lt == 229:
            self.l3(0x86dd, 0)
        elif lt == 113 and len(d) >= 16:
            self.l3(struct.unpack_from(">H", d, 14)[0], 16)
        elif lt == 276 and len(d) >= 20:
            self.l3(struct.unpack_from(">H", d, 0)[0], 20)
        elif lt in (0, 108) and len(d) >= 4:
            fam = struct.unpack_from("<I" if lt == 0 else ">I", d, 0)[0]
            if lt == 0 and fam > 0xffff:
                fam = struct.unpack_from(">I", d, 0)[0]
            self.l3({2: 0x0800, 24: 0x86dd, 28: 0x86dd, 30: 0x86dd}.get(fam, 0), 4)
        return bytes(d)


def remap_pcap(b, m):
    magic = b[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    lt = struct.unpack_from(e + "I", b, 20)[0] & 0x0fffffff
    out, p = bytearray(b[:24]), 24
    while p + 16 <= len(b):
        incl = struct.unpack_from(e + "I", b, p + 8)[0]
        data = b[p + 16:p + 16 + incl]
        out += b[p:p + 16] + Frame(data, m).link(lt)
        p += 16 + incl
    out += b[p:]
    return bytes(out)


def remap_pcapng(b, m):
    out, p, e, lts = bytearray(), 0, "<", []
    while p + 12 <= len(b):
        bt = struct.unpack_from(e + "I", b, p)[0]
        if bt == 0x0a0d0d0a:
            e = "<" if b[p + 8:p + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            lts = []
        bt = struct.unpack_from(e + "I", b, p)[0]
        bl = struct.unpack_from(e + "I", b, p + 4)[0]
        if bl < 12 or p + bl > len(b):
            break
        blk = bytearray(b[p:p + bl])
        if bt == 1:
            lts.append(struct.unpack_from(e + "H", blk, 8)[0])
        elif bt in (6, 2) and bl >= 32:
            ifid = struct.unpack_from(e + ("I" if bt == 6 else "H"), blk, 8)[0]
            cap = struct.unpack_from(e + "I", blk, 20)[0]
            if ifid < len(lts) and 28 + cap <= bl:
                blk[28:28 + cap] = Frame(blk[28:28 + cap], m).link(lts[ifid])
        elif bt == 3 and bl >= 16 and lts:
            cap = min(struct.unpack_from(e + "I", blk, 8)[0], bl - 16)
            blk[12:12 + cap] = Frame(blk[12:12 + cap], m).link(lts[0])
        out += blk
        p += bl
    out += b[p:]
    return bytes(out)


def remap_file(src, dst):
    b = open(src, "rb").read()
    m = Mapper()
    if b[:4] == b"\x0a\x0d\x0d\x0a":
        o = remap_pcapng(b, m)
    elif len(b) >= 24:
        o = remap_pcap(b, m)
    else:
        o = b
    open(dst, "wb").write(o)


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "--dir":
        for src in a[2:]:
            remap_file(src, os.path.join(a[1], os.path.basename(src)))
    elif len(a) == 2:
        remap_file(a[0], a[1])
    else:
        sys.exit("usage: remap_addrs.py IN OUT | remap_addrs.py --dir OUTDIR IN...")


if __name__ == "__main__":
    main()
