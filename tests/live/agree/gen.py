#!/usr/bin/env python3
"""Seeded generator of random filterd policies and traffic for them.

    gen.py --seed N --out DIR [--packets N]

writes DIR/policy.yaml, DIR/capture.pcap (Ethernet) and DIR/local (the host's
addresses, for pcap-replay --local).  The same seed always gives the same files.

Policies: tags of examples/servicetags.json, CIDRs, port specs, priorities,
allow/deny, the three isolation modes, hbi_workspace, private endpoints,
managed outbound rules.  Traffic between the host and peers drawn from the
addresses the policy mentions (so rules match as often as they miss): TCP
handshakes and teardown (FIN, RST), refused SYNs with retransmissions,
mid-stream segments, UDP exchanges, ICMP and ICMPv6 echo, ICMP errors quoting
earlier flows (from the peer or from a router on the path), ICMPv6 neighbour
discovery, IPv4 fragments (in and out of order), IPv6 extension headers and
fragments, VLAN-tagged frames, truncated captures (snaplen).  Addresses only
from 10.0.0.0/8, fd00::/8, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
2001:db8::/32 (DESIGN.md "Test addresses").
"""
import argparse
import ipaddress
import json
import os
import random
import struct

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
TAGS_FILE = os.path.join(ROOT, "examples/servicetags.json")

ALLOWED = [ipaddress.ip_network(n) for n in
           ("10.0.0.0/8", "fd00::/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
            "2001:db8::/32")]


def allowed(a):
    a = ipaddress.ip_address(a)
    return any(a.version == n.version and a in n for n in ALLOWED)


# ---------------------------------------------------------------- packets

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def fam(a):
    return 6 if ":" in a else 4


def abytes(a):
    return ipaddress.ip_address(a).packed


def tcp(sport, dport, seq, ack, flags, win=64240, opts=b"", payload=b""):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                       off << 4, flags, win, 0, 0) + opts + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(t, c, rest=0, payload=b""):
    return struct.pack("!BBHI", t, c, 0, rest) + payload


L4_CSUM_OFF = {6: 16, 17: 6, 1: 2, 58: 2}


def fill_csum(l4, proto, src, dst):
    off = L4_CSUM_OFF.get(proto)
    if off is None or len(l4) < off + 2:
        return l4
    l4 = bytearray(l4)
    l4[off:off + 2] = b"\0\0"
    if proto == 1:
        c = csum(bytes(l4))
    else:
        ph = abytes(src) + abytes(dst) + struct.pack("!IxxxB", len(l4), proto)
        c = csum(ph + bytes(l4))
        if proto == 17 and c == 0:
            c = 0xffff
    l4[off:off + 2] = struct.pack("!H", c)
    return bytes(l4)


# SCTP (RFC 9260): chunk types, and a packet with its CRC32c
SC_DATA, SC_INIT, SC_INIT_ACK, SC_SACK, SC_HB, SC_HB_ACK, SC_ABORT = 0, 1, 2, 3, 4, 5, 6
SC_SHUTDOWN, SC_SHUTDOWN_ACK, SC_ERROR, SC_ECHO, SC_COOKIE_ACK, SC_SHUTDOWN_DONE = 7, 8, 9, 10, 11, 14


def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff


def chunk(t, body=b"", flags=0, length=None):
    """One chunk, padded to 4 bytes; length: a length field other than the real one."""
    n = 4 + len(body) if length is None else length
    return struct.pack("!BBH", t, flags, n) + body + bytes(-len(body) % 4)


def init_body(tag, tsn=1):
    return struct.pack("!IIHHI", tag, 65536, 10, 10, tsn)


def data_body(tsn, payload=b"sctp-data"):
    return struct.pack("!IHHI", tsn, 0, 0, 0) + payload


def sctp(sport, dport, vtag, chunks):
    """chunks: chunk() byte strings, bundled in this order."""
    pkt = struct.pack("!HHII", sport, dport, vtag, 0) + b"".join(chunks)
    return pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:]


def ip4(src, dst, proto, l4, ident=1, df=False, ttl=64, frag=None, csum_l4=True):
    if csum_l4:
        l4 = fill_csum(l4, proto, src, dst)
    flags = 0x4000 if df else 0
    if frag:
        off, mf = frag
        flags |= (0x2000 if mf else 0) | (off // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, flags, ttl, proto, 0,
                    abytes(src), abytes(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def ip6(src, dst, proto, l4, ext=(), hlim=64, csum_l4=True):
    """ext: list of (type, bytes-after-the-2-byte-header-prefix) built below."""
    if csum_l4:
        l4 = fill_csum(l4, proto, src, dst)
    chain = b""
    nh = proto
    for t, body in reversed(list(ext)):
        hdr = bytes([nh]) + body
        chain = hdr + chain
        nh = t
    return struct.pack("!IHBB16s16s", 0x60000000, len(chain) + len(l4), nh, hlim,
                       abytes(src), abytes(dst)) + chain + l4


def ext_opts():
    """Hop-by-hop / destination options body: len 0, PadN(4)."""
    return bytes([0, 1, 4, 0, 0, 0, 0])


def ext_routing():
    """Routing header type 4 (segment routing shape not needed): segleft 0."""
    return bytes([0, 4, 0, 0, 0, 0, 0])


def cut(pl, size, odd):
    """Fragment payload pieces: non-last ones a multiple of 8 bytes (odd: one
    that is not, as a broken sender would make it)."""
    out, off = [], 0
    while off < len(pl):
        n = size
        if odd and not out:
            n = size + 3
        if off + n >= len(pl):
            out.append((off, pl[off:], False))
            break
        out.append((off, pl[off:off + n], True))
        off += n
    return out


def frags4(pkt, size, odd=False):
    """Cut an IPv4 datagram (no options) into fragments."""
    hdr, pl = pkt[:20], pkt[20:]
    out = []
    for off, part, mf in cut(pl, size, odd):
        flags = (struct.unpack("!H", hdr[6:8])[0] & 0x4000) | (0x2000 if mf else 0) | (off // 8)
        h = hdr[:2] + struct.pack("!H", 20 + len(part)) + hdr[4:6] + struct.pack("!H", flags) + \
            hdr[8:10] + b"\0\0" + hdr[12:]
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        out.append(h + part)
    return out


def frags6(pkt, size, ident, odd=False):
    """Cut an IPv6 datagram without extension headers: fragment header after the base."""
    base, nh, pl = pkt[:40], pkt[6], pkt[40:]
    out = []
    for off, part, mf in cut(pl, size, odd):
        fh = struct.pack("!BBHI", nh, 0, off | (1 if mf else 0), ident)
        h = base[:4] + struct.pack("!H", 8 + len(part)) + bytes([44]) + base[7:]
        out.append(h + fh + part)
    return out


HOST_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000002")


def eth(ip, inbound, vlan=None):
    et = 0x86dd if ip[0] >> 4 == 6 else 0x0800
    dst, src = (HOST_MAC, PEER_MAC) if inbound else (PEER_MAC, HOST_MAC)
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", et) + ip


class Pcap:
    def __init__(self, linktype=1):
        self.recs = []
        self.t = 1700000000.0
        self.linktype = linktype

    def add(self, frame, snap=None, gap=0.0002):
        self.t += gap
        cap = frame if snap is None else frame[:snap]
        self.recs.append((self.t, cap, len(frame)))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, self.linktype))
            for t, cap, wl in self.recs:
                sec = int(t)
                usec = int(round((t - sec) * 1e6))
                f.write(struct.pack("<IIII", sec, usec, len(cap), wl))
                f.write(cap)


# ---------------------------------------------------------------- policy

def load_tags():
    d = json.load(open(TAGS_FILE))
    return {v["name"]: v["properties"]["addressPrefixes"] for v in d["values"]}


def yq(s):
    return '"%s"' % s


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.seed = seed
        self.sctp_weight = 0
        self.tags = load_tags()
        self.tagnames = sorted(self.tags)
        self.peers4, self.peers6 = set(), set()

    # -- addresses
    def rand_in(self, net):
        net = ipaddress.ip_network(net)
        if net.num_addresses <= 2:
            return str(net.network_address)
        off = self.r.randrange(1, min(net.num_addresses - 1, 1 << 20))
        return str(net.network_address + off)

    def note_net(self, net):
        net = ipaddress.ip_network(net, strict=False)
        a = self.rand_in(net)
        if allowed(a):
            (self.peers6 if net.version == 6 else self.peers4).add(a)

    def port_spec(self):
        r = self.r
        k = r.random()
        if k < 0.25:
            return "*"
        if k < 0.55:
            return str(r.choice([22, 80, 443, 445, 5000, 8080, 29876, 44224, 53, 123]))
        if k < 0.75:
            return ",".join(str(p) for p in sorted(r.sample([22, 80, 139, 443, 445, 5000, 8443], 2)))
        lo = r.choice([1024, 5000, 29876, 40000])
        return "%d-%d" % (lo, lo + r.choice([1, 10, 1000]))

    def addr_spec(self, inbound_allow_hbi=False, in_list=False):
        r = self.r
        if inbound_allow_hbi:
            c = r.choice(["VirtualNetwork", "AzureMachineLearning", "BatchNodeManagement",
                          "AzureLoadBalancer"])
            if c in self.tags:
                for p in self.tags[c]:
                    self.note_net(p)
            return yq(c)
        k = r.uniform(0.2, 0.85) if in_list else r.random()
        if k < 0.2:
            return yq("*")
        if k < 0.45:
            t = r.choice(self.tagnames)
            for p in self.tags[t]:
                self.note_net(p)
            return yq(t)
        if k < 0.55:
            return yq(r.choice(["VirtualNetwork", "Internet"]))
        if k < 0.85:
            base = r.choice(["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                             "2001:db8:%x::/48" % r.randrange(1, 0xffff), self.vnet4, self.vnet6])
            net = ipaddress.ip_network(base)
            plen = r.randrange(net.prefixlen, net.max_prefixlen + 1)
            sub = ipaddress.ip_network("%s/%d" % (self.rand_in(net), plen), strict=False)
            self.note_net(sub)
            return yq(str(sub) if plen != net.max_prefixlen else str(sub.network_address))
        return "[%s, %s]" % (self.addr_spec(in_list=True), self.addr_spec(in_list=True))

    def families(self, line):
        """The address families a source or destination line can match: a
        CIDR its own, a tag those of its prefixes, a list the union; "*",
        VirtualNetwork and Internet both."""
        v = line.split(": ", 1)[1].strip()
        items = [x.strip().strip('"\'') for x in v.strip("[]").split(",")]
        fams = set()
        for x in items:
            if x in self.tags:
                fams |= {ipaddress.ip_network(p, strict=False).version for p in self.tags[x]}
                continue
            try:
                fams.add(ipaddress.ip_network(x, strict=False).version)
            except ValueError:
                fams |= {4, 6}
        return fams

    def families_differ(self, src_line, dst_line):
        return not (self.families(src_line) & self.families(dst_line))

    def policy(self):
        r = self.r
        self.v4x = r.randrange(0, 200)
        self.vnet4 = "10.%d.0.0/16" % self.v4x
        self.vnet6 = "fd00:%x::/48" % r.randrange(1, 0xffff)
        self.host4 = str(ipaddress.ip_network(self.vnet4).network_address + 256 + 4)
        self.host6 = str(ipaddress.ip_network(self.vnet6).network_address + 4)
        self.note_net(self.vnet4)
        self.note_net(self.vnet6)
        self.hbi = r.random() < 0.3
        L = ["# generated by tests/live/agree/gen.py --seed %d" % self.seed, "version: 1",
             "workspace: agree-%d" % self.seed]
        if r.random() < 0.7:
            L.append("region: eastus")
        if self.hbi:
            L.append("hbi_workspace: true")
        L += ["virtual_network:", "  address_space: [%s, %s]" % (self.vnet4, yq(self.vnet6))]
        self.pe = []
        if r.random() < 0.6:
            L.append("private_endpoints:")
            for i in range(r.randrange(1, 3)):
                a = str(ipaddress.ip_network(self.vnet4).network_address + 512 + 5 + i)
                self.pe.append(a)
                self.peers4.add(a)
                L += ["  - name: pe%d" % i, "    addresses: [%s]" % a,
                      "    ports: %s" % yq(r.choice(["443", "443,8443", "1433"]))]
        rules = []
        used = {"inbound": set(), "outbound": set()}
        for i in range(r.randrange(0, 9)):
            d = r.choice(["inbound", "outbound"])
            pr = r.randrange(100, 4097)
            while pr in used[d]:
                pr = r.randrange(100, 4097)
            used[d].add(pr)
            acc = r.choice(["allow", "deny"])
            proto = r.choice(["tcp", "tcp", "udp", "icmp", "*", "*", "esp"])
            hbi_src = self.hbi and d == "inbound" and acc == "allow"
            rl = ["  - name: R%d_%s" % (i, acc), "    priority: %d" % pr,
                  "    direction: %s" % d, "    access: %s" % acc, "    protocol: %s" % yq(proto),
                  "    source: %s" % (self.addr_spec(hbi_src) if (hbi_src or d == "inbound")
                                      else (yq(r.choice(["*", "VirtualNetwork"])) if r.random() < 0.7
                                            else self.addr_spec())),
                  "    destination: %s" % (self.addr_spec() if d == "outbound"
                                           else yq(r.choice(["*", "VirtualNetwork", "*"])))]
            if acc == "deny" and self.families_differ(rl[5], rl[6]):
                # a deny of one family's source to another's destination
                # denies nothing, which the compiler refuses: any destination
                # (no randomness drawn: the other seeds stay as they were)
                rl[6] = "    destination: %s" % yq("*")
            if proto in ("tcp", "udp", "*"):
                if r.random() < 0.2:
                    rl.append("    source_ports: %s" % yq(self.port_spec()))
                rl.append("    destination_ports: %s" % yq(self.port_spec()))
            rules += rl
        if rules:
            L.append("security_rules:")
            L += rules
        mode = r.choice(["disabled", "allow_internet_outbound", "allow_only_approved_outbound",
                         "allow_only_approved_outbound"])
        L += ["managed_network:", "  isolation_mode: %s" % mode]
        orules = []
        for i in range(r.randrange(0, 4)):
            k = r.random()
            if k < 0.4:
                t = r.choice(self.tagnames)
                for p in self.tags[t]:
                    self.note_net(p)
                orules += ["    - name: o%d" % i, "      type: service_tag",
                           "      destination: {service_tag: %s, protocol: %s, port_ranges: %s}" %
                           (t, yq(r.choice(["TCP", "UDP", "*"])), yq(self.port_spec()))]
            elif k < 0.8:
                net = r.choice(["203.0.113.128/25", "198.51.100.64/26", "2001:db8:77::/48",
                                "192.0.2.200/29"])
                self.note_net(net)
                proto = r.choice(["TCP", "UDP", "ICMP"])
                orules += ["    - name: o%d" % i, "      type: service_tag",
                           "      destination: {address_prefixes: [%s], protocol: %s, port_ranges: %s}" %
                           (yq(net), proto, yq("*" if proto == "ICMP" else self.port_spec()))]
            else:
                a = str(ipaddress.ip_network(self.vnet4).network_address + 768 + i)
                self.peers4.add(a)
                orules += ["    - name: o%d" % i, "      type: private_endpoint", "      destination:",
                           "        service_resource_id: /subscriptions/x/resourceGroups/y/providers/"
                           "Microsoft.Storage/storageAccounts/s%d" % i,
                           "        subresource_target: blob", "        spark_enabled: false",
                           "        addresses: [%s]" % a]
        if orules:
            L.append("  outbound_rules:")
            L += orules
        # a few fixed peers in every range
        for a in ("203.0.113.10", "198.51.100.10", "192.0.2.5", "192.0.2.20",
                  str(ipaddress.ip_network(self.vnet4).network_address + 256 + 10)):
            self.peers4.add(a)
        for a in ("2001:db8:ffff::10", "2001:db8:1::5", "2001:db8:3::10",
                  str(ipaddress.ip_network(self.vnet6).network_address + 0x10)):
            self.peers6.add(a)
        self.peers4 = sorted(a for a in self.peers4 if allowed(a) and a != self.host4)
        self.peers6 = sorted(a for a in self.peers6 if allowed(a) and a != self.host6)
        return "\n".join(L) + "\n"

    # -- traffic
    def port(self):
        r = self.r
        return r.choice([22, 80, 139, 443, 445, 1433, 5000, 5831, 8080, 8443, 18881, 29876,
                         29877, 44224, 53, 123, r.randrange(1, 65536)])

    def eport(self):
        return self.r.randrange(32768, 61000)

    def traffic(self, n):
        r = self.r
        cap = Pcap()
        self.cap = cap
        self.sent_for_errors = []   # (ip packet, inbound) that an ICMP error may quote
        self.ident = r.randrange(1, 60000)
        kinds = [(self.tcp_flow, 30), (self.udp_flow, 15), (self.echo, 10), (self.icmp_error, 10),
                 (self.frag_flow, 8), (self.v6ext, 6), (self.nd, 4), (self.midstream, 8),
                 (self.odd, 5), (self.more, 8)]
        if self.sctp_weight:
            kinds.append((self.sctp_flow, self.sctp_weight))
        total = sum(w for _, w in kinds)
        while len(cap.recs) < n:
            x = r.uniform(0, total)
            for fn, w in kinds:
                x -= w
                if x <= 0:
                    fn()
                    break
        cap.recs = cap.recs[:n]
        return cap

    def next_id(self):
        self.ident = self.ident % 65000 + 1
        return self.ident

    def pair(self, v6=None):
        r = self.r
        if v6 is None:
            v6 = r.random() < 0.35
        if v6:
            return self.host6, r.choice(self.peers6)
        return self.host4, r.choice(self.peers4)

    def emit(self, ip, inbound, snap=None, vlan=None):
        if vlan is None and inbound and self.r.random() < 0.05:
            vlan = self.r.randrange(1, 4095)
        if snap is None and self.r.random() < 0.02:
            # a short snaplen: mostly inside the payload, sometimes inside a header
            hl = 14 + (4 if vlan is not None else 0) + (40 if ip[0] >> 4 == 6 else 20)
            snap = hl + self.r.choice([8, 20, 28, 60]) if self.r.random() < 0.8 else hl - 4
        self.cap.add(eth(ip, inbound, vlan), snap)
        return ip

    def mkip(self, src, dst, proto, l4, **kw):
        if fam(src) == 6:
            return ip6(src, dst, proto, l4, **{k: v for k, v in kw.items() if k in ("ext", "hlim")})
        return ip4(src, dst, proto, l4, ident=self.next_id(),
                   **{k: v for k, v in kw.items() if k in ("df", "ttl")})

    def tcp_flow(self):
        r = self.r
        host, peer = self.pair()
        inbound = r.random() < 0.5
        c, s = (peer, host) if inbound else (host, peer)
        cp, sp = self.eport(), self.port()
        iseq, rseq = r.getrandbits(32), r.getrandbits(32)
        wsc = r.random() < 0.5
        opts = struct.pack("!BBH", 2, 4, 1460) + (struct.pack("!BBBB", 1, 3, 3, 7) if wsc else b"")
        cin, sin_ = inbound, not inbound     # is a packet from c / from s inbound?
        pkt = self.emit(self.mkip(c, s, 6, tcp(cp, sp, iseq, 0, 0x02, 64240, opts)), cin)
        self.sent_for_errors.append((pkt, cin))
        if r.random() < 0.15:   # retransmitted, unanswered SYN
            self.emit(self.mkip(c, s, 6, tcp(cp, sp, iseq, 0, 0x02, 64240, opts)), cin)
            return
        if r.random() < 0.1:    # refused: RST
            self.emit(self.mkip(s, c, 6, tcp(sp, cp, 0, iseq + 1, 0x14, 0)), sin_)
            return
        self.emit(self.mkip(s, c, 6, tcp(sp, cp, rseq, iseq + 1, 0x12, 65160, opts)), sin_)
        a, b = iseq + 1, rseq + 1
        self.emit(self.mkip(c, s, 6, tcp(cp, sp, a, b, 0x10, 502 if wsc else 64240)), cin)
        for _ in range(r.randrange(0, 4)):
            if r.random() < 0.5:
                d = bytes(r.randrange(1, 200))
                self.emit(self.mkip(c, s, 6, tcp(cp, sp, a, b, 0x18, 502 if wsc else 64240,
                                                 payload=d)), cin)
                a += len(d)
                self.emit(self.mkip(s, c, 6, tcp(sp, cp, b, a, 0x10, 509 if wsc else 65160)), sin_)
            else:
                d = bytes(r.randrange(1, 400))
                pk = self.emit(self.mkip(s, c, 6, tcp(sp, cp, b, a, 0x18, 509 if wsc else 65160,
                                                      payload=d)), sin_)
                self.sent_for_errors.append((pk, sin_))
                b += len(d)
                self.emit(self.mkip(c, s, 6, tcp(cp, sp, a, b, 0x10, 502 if wsc else 64240)), cin)
        k = r.random()
        if k < 0.6:     # FIN handshake
            self.emit(self.mkip(c, s, 6, tcp(cp, sp, a, b, 0x11, 502 if wsc else 64240)), cin)
            self.emit(self.mkip(s, c, 6, tcp(sp, cp, b, a + 1, 0x11, 509 if wsc else 65160)), sin_)
            self.emit(self.mkip(c, s, 6, tcp(cp, sp, a + 1, b + 1, 0x10, 502 if wsc else 64240)), cin)
            if r.random() < 0.2:   # a late segment after the close
                self.emit(self.mkip(c, s, 6, tcp(cp, sp, a + 1, b + 1, 0x10, 502)), cin)
        elif k < 0.8:   # RST
            self.emit(self.mkip(s, c, 6, tcp(sp, cp, b, 0, 0x04, 0)), sin_)
        elif k < 0.9:   # a segment far outside the window
            self.emit(self.mkip(c, s, 6, tcp(cp, sp, a + 0x40000000, b, 0x18, 502, payload=b"x")), cin)

    def midstream(self):
        r = self.r
        host, peer = self.pair()
        inbound = r.random() < 0.5
        c, s = (peer, host) if inbound else (host, peer)
        cp, sp = self.eport(), self.port()
        a, b = r.getrandbits(32), r.getrandbits(32)
        flags = r.choice([0x10, 0x18, 0x11, 0x04, 0x12])
        self.emit(self.mkip(c, s, 6, tcp(cp, sp, a, b, flags, 1000, payload=bytes(r.randrange(0, 50)))),
                  inbound)
        for _ in range(r.randrange(0, 3)):
            self.emit(self.mkip(s, c, 6, tcp(sp, cp, b, a + 10, 0x10, 1000)), not inbound)
            self.emit(self.mkip(c, s, 6, tcp(cp, sp, a + 10, b, 0x18, 1000, payload=b"y" * 10)),
                      inbound)
            a += 10

    def udp_flow(self):
        r = self.r
        host, peer = self.pair()
        inbound = r.random() < 0.5
        c, s = (peer, host) if inbound else (host, peer)
        cp, sp = self.eport(), self.port()
        for i in range(r.randrange(1, 4)):
            pk = self.emit(self.mkip(c, s, 17, udp(cp, sp, bytes(r.randrange(0, 64)))), inbound)
            self.sent_for_errors.append((pk, inbound))
            if r.random() < 0.7:
                self.emit(self.mkip(s, c, 17, udp(sp, cp, bytes(r.randrange(0, 64)))), not inbound)

    def echo(self):
        r = self.r
        host, peer = self.pair()
        inbound = r.random() < 0.5
        c, s = (peer, host) if inbound else (host, peer)
        v6 = fam(c) == 6
        ident = r.randrange(1, 65536)
        for seq in range(1, r.randrange(2, 4)):
            req = icmp(128 if v6 else 8, 0, ident << 16 | seq, bytes(16))
            pk = self.emit(self.mkip(c, s, 58 if v6 else 1, req), inbound)
            self.sent_for_errors.append((pk, inbound))
            if r.random() < 0.7:
                rep = icmp(129 if v6 else 0, 0, ident << 16 | seq, bytes(16))
                self.emit(self.mkip(s, c, 58 if v6 else 1, rep), not inbound)

    def icmp_error(self):
        r = self.r
        if not self.sent_for_errors or r.random() < 0.15:
            self.udp_flow()
            return
        pk, pin = r.choice(self.sent_for_errors[-30:])
        v6 = pk[0] >> 4 == 6
        src = str(ipaddress.ip_address(pk[8:24] if v6 else pk[12:16]))
        dst = str(ipaddress.ip_address(pk[24:40] if v6 else pk[16:20]))
        quote = pk[:48 if v6 else 28 + r.choice([0, 0, 20])]
        # the error goes back to the quoted packet's source, from its destination
        # or from a router on the path
        err_src = dst
        if r.random() < 0.3:
            err_src = r.choice(self.peers6 if v6 else self.peers4)
        if r.random() < 0.1:     # an error about a flow with the wrong outer destination
            src = self.pair(v6)[1]
        if v6:
            t, c = r.choice([(1, 4), (1, 0), (2, 0), (3, 0), (4, 0)])
            rest = 1280 if t == 2 else 0
            l4 = icmp(t, c, rest, quote)
            ip = ip6(err_src, src, 58, l4)
        else:
            t, c = r.choice([(3, 3), (3, 1), (3, 4), (11, 0), (12, 0)])
            rest = 1400 if (t, c) == (3, 4) else 0
            ip = ip4(err_src, src, 1, icmp(t, c, rest, quote), ident=self.next_id())
        # the error travels opposite to the quoted packet
        self.emit(ip, not pin)

    def frag_flow(self):
        r = self.r
        host, peer = self.pair()
        inbound = r.random() < 0.5
        s, d = (peer, host) if inbound else (host, peer)
        proto = r.choice([17, 17, 1, 6])
        if proto == 17:
            l4 = udp(self.eport(), self.port(), bytes(r.randrange(60, 300)))
        elif proto == 6:
            l4 = tcp(self.eport(), self.port(), r.getrandbits(32), 0, 0x02, 1000,
                     payload=bytes(r.randrange(60, 200)))
        else:
            l4 = icmp(128 if fam(s) == 6 else 8, 0, r.randrange(1, 1 << 32), bytes(r.randrange(60, 300)))
            proto = 58 if fam(s) == 6 else 1
        size = r.choice([16, 24, 32, 48, 64])
        odd = r.random() < 0.08
        if fam(s) == 6:
            dg = ip6(s, d, proto, l4)
            fr = frags6(dg, size, r.getrandbits(32) or 1, odd)
        else:
            dg = ip4(s, d, proto, l4, ident=self.next_id())
            fr = frags4(dg, size, odd)
        fr = fr[:6]
        if r.random() < 0.3:
            r.shuffle(fr)
        if r.random() < 0.15:
            fr = fr[:-1]        # never completed
        for f in fr:
            self.emit(f, inbound, snap=len(f) + 14 + 4)
        if r.random() < 0.2 and fr:
            self.emit(fr[0], inbound, snap=len(fr[0]) + 18)   # a duplicate fragment

    def v6ext(self):
        r = self.r
        host, peer = self.pair(True)
        inbound = r.random() < 0.5
        s, d = (peer, host) if inbound else (host, peer)
        ext = []
        for t in r.sample([0, 60, 43], r.randrange(1, 3)):
            if t == 0 and ext:
                continue      # hop-by-hop only first
            ext.append((t, ext_opts() if t in (0, 60) else ext_routing()))
        proto = r.choice([6, 17, 58])
        if proto == 6:
            l4 = tcp(self.eport(), self.port(), r.getrandbits(32), 0, 0x02, 1000)
        elif proto == 17:
            l4 = udp(self.eport(), self.port(), b"z" * 8)
        else:
            l4 = icmp(128, 0, 0x10001, b"e" * 8)
        self.emit(ip6(s, d, proto, l4, ext=ext), inbound)

    def nd(self):
        r = self.r
        peer = r.choice(self.peers6)
        ll = "fe80::%x" % r.randrange(1, 0xffff)
        host = self.host6
        sn = "ff02::1:ff" + ("%06x" % (int(ipaddress.ip_address(host)) & 0xffffff))[:2] + ":" + \
            ("%06x" % (int(ipaddress.ip_address(host)) & 0xffffff))[2:]
        tgt = ipaddress.ip_address(host).packed
        k = r.random()
        if k < 0.4:     # NS for the host, to its solicited-node group
            self.emit(ip6(ll, sn, 58, icmp(135, 0, 0, tgt), hlim=255), True)
        elif k < 0.7:   # NA from the host
            self.emit(ip6(host, ll, 58, icmp(136, 0, 0x60000000, tgt), hlim=255), False)
        elif k < 0.85:  # RA to all nodes
            self.emit(ip6(ll, "ff02::1", 58, icmp(134, 0, 0x40000708, bytes(8)), hlim=255), True)
        else:           # MLDv2 report from the host
            self.emit(ip6(host, "ff02::16", 58, icmp(143, 0, 0, b""), hlim=1), False)
        del peer

    def odd(self):
        r = self.r
        host, peer = self.pair()
        k = r.random()
        if k < 0.3:     # ESP
            pk = self.mkip(peer, host, 50, struct.pack("!II", 0x1000, 1) + bytes(24))
            self.emit(pk, True)
        elif k < 0.5:   # TCP with SYN+FIN (invalid) inbound
            self.emit(self.mkip(peer, host, 6, tcp(self.eport(), self.port(), 1, 0, 0x03, 1000)), True)
        elif k < 0.7:   # IPv4 with a bad header checksum: ip_rcv drops it
            pk = bytearray(ip4(peer if fam(peer) == 4 else "203.0.113.10",
                               host if fam(host) == 4 else self.host4, 17, udp(1, 2)))
            pk[10] ^= 0x55
            self.emit(bytes(pk), True)
        elif k < 0.85:  # broadcast UDP in (DHCP-ish answer)
            if fam(host) == 4:
                self.emit(ip4(peer, "255.255.255.255", 17, udp(67, 68, bytes(32)),
                              ident=self.next_id()), True)
        else:           # a UDP packet for another host (transit)
            if fam(host) == 4:
                self.emit(ip4(peer, "10.%d.9.9" % self.v4x, 17, udp(5, 6), ident=self.next_id()),
                          True)


def _more(self):
    """Rarer shapes: loopback, IPv4 options, other protocols, TCP reopen and
    duplicate SYNs, multicast, errors about errors, IPv6 AH / no next header."""
    r = self.r
    host, peer = self.pair()
    v6 = fam(host) == 6
    k = r.randrange(10)
    if k == 0:      # loopback: the host talks to itself
        sp, dp = self.eport(), self.port()
        self.emit(self.mkip(host, host, 17, udp(sp, dp, b"lo")), False)
        self.emit(self.mkip(host, host, 17, udp(dp, sp, b"ol")), False)
    elif k == 1 and not v6:   # IPv4 with options (NOPs)
        l4 = fill_csum(udp(self.eport(), self.port(), b"opt"), 17, peer, host)
        h = struct.pack("!BBHHHBBH4s4s", 0x47, 0, 28 + len(l4), self.next_id(), 0, 64, 17, 0,
                        abytes(peer), abytes(host)) + bytes([1] * 8)
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        self.emit(h + l4, r.random() < 0.5 or True)
    elif k == 2:    # other transport protocols (generic conntrack)
        proto = r.choice([132, 136, 136, 47, 33, 33])
        inbound = r.random() < 0.5
        if proto == 132 and r.random() < 0.75:
            self.sctp_assoc(host, peer, inbound)
            return
        s_, d_ = (peer, host) if inbound else (host, peer)
        body = struct.pack("!HH", self.eport(), r.choice([self.port(), 5000])) + bytes(16)
        if proto == 136:    # UDP-Lite: coverage 0 / 8 / broken, checksum or none
            body = body[:4] + struct.pack("!HH", r.choice([0, 8, 8, 3, 400]),
                                          r.choice([0, 0x1234, 0x1234])) + body[8:]
        self.emit(self.mkip(s_, d_, proto, body), inbound)
        self.emit(self.mkip(d_, s_, proto, body[2:4] + body[0:2] + body[4:]), not inbound)
    elif k == 3:    # TCP: a connection reopened after its close (TIME_WAIT)
        inbound = r.random() < 0.5
        c, s_ = (peer, host) if inbound else (host, peer)
        cp, sp = self.eport(), self.port()
        a, b = r.getrandbits(32), r.getrandbits(32)
        seq = [(c, s_, cp, sp, a, 0, 0x02), (s_, c, sp, cp, b, a + 1, 0x12),
               (c, s_, cp, sp, a + 1, b + 1, 0x10), (c, s_, cp, sp, a + 1, b + 1, 0x11),
               (s_, c, sp, cp, b + 1, a + 2, 0x11), (c, s_, cp, sp, a + 2, b + 2, 0x10),
               (c, s_, cp, sp, a + 100000, 0, 0x02)]
        for x, y, xp, yp, sq, ak, fl in seq:
            self.emit(self.mkip(x, y, 6, tcp(xp, yp, sq, ak, fl, 1000)), (x == peer))
    elif k == 4:    # TCP: SYN retransmitted with another sequence number, then SYN-ACK
        inbound = r.random() < 0.5
        c, s_ = (peer, host) if inbound else (host, peer)
        cp, sp = self.eport(), self.port()
        a, b = r.getrandbits(32), r.getrandbits(32)
        self.emit(self.mkip(c, s_, 6, tcp(cp, sp, a, 0, 0x02, 1000)), inbound)
        self.emit(self.mkip(c, s_, 6, tcp(cp, sp, a + 5000, 0, 0x02, 1000)), inbound)
        self.emit(self.mkip(s_, c, 6, tcp(sp, cp, b, a + 1, 0x12, 1000)), not inbound)
        self.emit(self.mkip(s_, c, 6, tcp(sp, cp, b, a + 5001, 0x12, 1000)), not inbound)
        self.emit(self.mkip(c, s_, 6, tcp(cp, sp, a + 5001, b + 1, 0x10, 1000)), inbound)
    elif k == 5:    # multicast in: a group the host has joined, and one it has not
        if v6:
            self.emit(ip6(peer, "ff02::1", 17, udp(5353, 5353, b"m")), True)
        else:
            self.emit(ip4(peer, "224.0.0.1", 17, udp(5353, 5353, b"m"), ident=self.next_id()), True)
    elif k == 6:    # ICMP timestamp / ICMPv6 echo with no reply, ICMP info
        if v6:
            self.emit(ip6(peer, host, 58, icmp(128, 0, 0x00420001, b"t")), True)
        else:
            ident = r.randrange(1, 65536)
            self.emit(ip4(peer, host, 1, icmp(13, 0, ident << 16 | 1, bytes(12)), ident=self.next_id()), True)
            self.emit(ip4(host, peer, 1, icmp(14, 0, ident << 16 | 1, bytes(12)), ident=self.next_id()), False)
    elif k == 7:    # an ICMP error about an ICMP error
        inner = self.mkip(host, peer, 58 if v6 else 1, icmp(1 if v6 else 3, 3, 0, bytes(28)))
        quote = inner[:48 if v6 else 28]
        self.emit(self.mkip(peer, host, 58 if v6 else 1, icmp(1 if v6 else 3, 1, 0, quote)), True)
    elif k == 8 and v6:     # IPv6 AH, then no next header
        ah = bytes([6, 4, 0, 0]) + struct.pack("!II", 0x100, 1) + bytes(12)
        l4 = fill_csum(tcp(self.eport(), self.port(), 1, 0, 0x02, 1000), 6, peer, host)
        pkt = struct.pack("!IHBB16s16s", 0x60000000, len(ah) + len(l4), 51, 64, abytes(peer),
                          abytes(host)) + ah + l4
        self.emit(pkt, True)
        self.emit(ip6(peer, host, 59, b"", ext=[(60, ext_opts())]), True)
    else:           # UDP with a zero checksum and no payload
        self.emit(self.mkip(peer, host, 17, udp(self.eport(), self.port())), True)


Gen.more = _more


def _sctp_assoc(self, host, peer, inbound):
    """An SCTP association with random faults: steps left out, repeated or
    swapped, a wrong verification tag, chunks bundled where they may not be,
    the T bit, a heartbeat from another path, ABORT instead of SHUTDOWN."""
    r = self.r
    c, s_ = (peer, host) if inbound else (host, peer)
    cp, sp = self.eport(), r.choice([self.port(), 5000])
    A, B = r.getrandbits(32) | 1, r.getrandbits(32) | 1

    def tag(v):
        return v if r.random() > 0.08 else r.choice([0, r.getrandbits(32), A ^ B])

    def body(n):
        return bytes(r.getrandbits(8) for _ in range(n))
    steps = [(True, 0, [chunk(SC_INIT, init_body(A))]),
             (False, A, [chunk(SC_INIT_ACK, init_body(B))]),
             (True, B, [chunk(SC_ECHO, body(8))] +
              ([chunk(SC_DATA, data_body(1))] if r.random() < 0.3 else [])),
             (False, A, [chunk(SC_COOKIE_ACK)]),
             (True, B, [chunk(SC_DATA, data_body(2))]),
             (False, A, [chunk(SC_SACK, bytes(12))])]
    if r.random() < 0.3:
        steps.append((r.random() < 0.5, None, [chunk(SC_HB, bytes(8))]))
        steps.append((None, None, [chunk(SC_HB_ACK, bytes(8))]))
    end = r.randrange(4)
    if end == 0:
        steps += [(True, B, [chunk(SC_SHUTDOWN, bytes(4))]),
                  (False, A, [chunk(SC_SHUTDOWN_ACK)]),
                  (True, B, [chunk(SC_SHUTDOWN_DONE)])]
    elif end == 1:
        steps += [(False, A, [chunk(SC_SHUTDOWN, bytes(4))]),
                  (True, B, [chunk(SC_SHUTDOWN_ACK)]),
                  (False, B, [chunk(SC_SHUTDOWN_DONE, flags=1)])]
    elif end == 2:
        side = r.random() < 0.5
        steps.append((side, (B if side else A) if r.random() < 0.5 else (A if side else B),
                      [chunk(SC_ABORT, flags=r.choice([0, 1]))]))
    last = True
    for i, (from_c, vt, chunks) in enumerate(steps):
        if r.random() < 0.1:
            continue                                    # lost
        if from_c is None:
            from_c = not last                           # the answer
        if vt is None:
            vt = B if from_c else A
        if r.random() < 0.05:
            chunks = chunks + [chunk(SC_DATA, data_body(9))]    # bundled
        if r.random() < 0.03:
            chunks = [chunk(r.choice([SC_DATA, SC_ERROR]), length=0)]
        x, y, xp, yp = (c, s_, cp, sp) if from_c else (s_, c, sp, cp)
        pkt = self.mkip(x, y, 132, sctp(xp, yp, tag(vt), chunks))
        self.emit(pkt, x == peer)
        if r.random() < 0.08:
            self.emit(pkt, x == peer)                   # repeated
        last = from_c


def _sctp_flow(self):
    host, peer = self.pair()
    self.sctp_assoc(host, peer, self.r.random() < 0.5)


Gen.sctp_assoc = _sctp_assoc
Gen.sctp_flow = _sctp_flow


# transport checksum offsets (TCP, UDP, UDP-Lite, ICMP, ICMPv6, SCTP)
CK_OFF = {6: 16, 17: 6, 136: 6, 1: 2, 58: 2, 132: 8}


def corrupt_checksums(cap, rng, share):
    """Flips one bit of the transport checksum in about `share` of the whole
    frames whose transport header follows the IP header directly (IPv4 first
    fragments and unfragmented, IPv6 without extension headers); UDP checksums
    of 0 (none) are left alone.  Returns how many."""
    n = 0
    for i, (t, fr, wl) in enumerate(cap.recs):
        if len(fr) != wl or rng.random() >= share:
            continue
        off = 14 + (4 if fr[12:14] == b"\x81\x00" else 0)
        ip = fr[off:]
        if len(ip) < 20:
            continue
        if ip[0] >> 4 == 4:
            if struct.unpack("!H", ip[6:8])[0] & 0x3fff:
                continue
            proto, l4 = ip[9], off + (ip[0] & 15) * 4
        elif ip[0] >> 4 == 6 and len(ip) >= 40:
            proto, l4 = ip[6], off + 40
        else:
            continue
        c = CK_OFF.get(proto)
        if c is None or l4 + c + 2 > len(fr) or (proto == 17 and fr[l4 + c:l4 + c + 2] == b"\0\0"):
            continue
        b = bytearray(fr)
        b[l4 + c] ^= 0x04
        cap.recs[i] = (t, bytes(b), wl)
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--packets", type=int, default=200)
    ap.add_argument("--sctp", type=int, default=0,
                    help="weight of SCTP associations in the traffic mix (the others sum to 104)")
    a = ap.parse_args()
    g = Gen(a.seed)
    g.sctp_weight = a.sctp
    os.makedirs(a.out, exist_ok=True)
    pol = g.policy()
    with open(os.path.join(a.out, "policy.yaml"), "w") as f:
        f.write(pol)
    cap = g.traffic(a.packets)
    # every third seed: wrong checksums in 5 % of the frames, replayed with
    # --verify-checksums (nf_conntrack_checksum=1 on both sides); their own
    # generator, so that the traffic is the same with or without
    args = []
    if a.seed % 3 == 0:
        corrupt_checksums(cap, random.Random(a.seed * 7919 + 1), 0.05)
        args.append("--verify-checksums")
    with open(os.path.join(a.out, "args"), "w") as f:
        f.write(" ".join(args) + "\n")
    cap.write(os.path.join(a.out, "capture.pcap"))
    with open(os.path.join(a.out, "local"), "w") as f:
        f.write("%s,%s\n" % (g.host4, g.host6))


if __name__ == "__main__":
    main()
