#!/usr/bin/env python3
"""Writes the captures of tests/data/agree/ that t_agree plays under hand-written
tables (saved dumps) found by an evaluator-against-kernel hunt on 2026-11-30:

  inner.pcap (under inner.nft): @ih loads on GRE version 0 (plain, with a key),
      version 1 (PPTP: the kernel finds no inner header), IPIP and IPv4 in
      IPv6, 6in4 (no inner header), UDP and TCP -- nft_payload.c
      __nft_payload_inner_offset()
  ll-out.pcap (under ll-out.nft): @ll loads on packets the host sends, which
      have no MAC header at output (nft_payload_eval: skb_mac_header_was_set)
  rst-close.pcap (under rst-close.nft): a data segment rejected with a TCP
      reset sets its connection closing (nf_send_reset -> nf_ct_set_closing ->
      nf_conntrack_tcp_set_closing: CLOSE, 10 s); the next segment, 1 s
      later, finds the entry in CLOSE (the tracker states are read back
      after every packet).  Before the fix the entry stayed ESTABLISHED.
  rst-close-badsum.pcap (under rst-close.nft): the same with a wrong TCP
      checksum on the rejected segment: the kernel sends no reset
      (nf_reject_ip_tcphdr_get checks the checksum whatever
      nf_conntrack_checksum says), and the entry stays ESTABLISHED
  ll-mcloop.pcap (under ll-mcloop.nft): multicast and broadcast the host
      sends; their looped copies reach input with a MAC header of length 0
      (dev_loopback_xmit), where @ll loads break
  self-tuple.pcap (under self-tuple.nft): packets the host sends itself whose
      conntrack tuple is its own reverse (generic protocol 50, UDP 7777 to
      7777, a TCP self-connect): after the first, the kernel finds the reply
      (__nf_conntrack_hash_insert puts it at the head of the bucket)
  bcast-unicast-mac.pcap (under bcast-unicast-mac.nft): a DHCP-style reply to
      255.255.255.255 in a frame to the host's own MAC is PACKET_HOST
      (--kernel-check sends it to that MAC, not to ff:ff:ff:ff:ff:ff)
  dying.pcap (under dying.nft): a RST that is a connection's only reply (to
      the host's SYN, the host's own to a peer's SYN, and to a segment picked
      up mid-stream) kills its entry inside the tracker (nf_ct_kill_acct ->
      nf_ct_delete sets IPS_DYING) before the filter hooks: that packet's
      `ct status dying` matches (found by a later hunt, the same day)
  self-source-wire.pcap (under the agree policy): frames from the wire (real
      MACs) whose source is the host's own address: IPv4 drops them as
      martians before the hooks (fib_validate_source), IPv6 takes them in on
      the device -- pcap-replay had judged both as loopback traffic
  (self-source-cooked.pcap, not written here: a review's cooked (SLL)
      capture of two frames in on an Ethernet device, one from the host's
      own address, one from 127.0.0.1: both IPv4 martians, 2/2 with the
      kernel; kept as the review wrote it)

    cases_tables.py OUTDIR

Re-running it rewrites the same bytes.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import Pcap, eth, ip4, ip6, udp, tcp

H4, H6 = "10.0.1.4", "fd00:10::4"


def inner():
    c = Pcap()
    inner4 = ip4("192.0.2.100", "192.0.2.101", 17, udp(1, 2, b"in"))
    inner6 = ip6("2001:db8::100", "2001:db8::101", 17, udp(1, 2, b"in"))
    gre0 = struct.pack("!HH", 0x0000, 0x0800) + inner4
    gre0k = struct.pack("!HHI", 0x2000, 0x0800, 7) + inner4
    gre0cks = struct.pack("!HHHHII", 0xb000, 0x0800, 0, 0, 7, 9) + inner4  # C, K, S
    gre1 = struct.pack("!HHHH", 0x2001, 0x880b, len(inner4), 5) + struct.pack("!I", 1) + inner4
    for l4 in (gre0, gre0k, gre0cks, gre1):
        c.add(eth(ip4("192.0.2.5", H4, 47, l4, csum_l4=False), True))
        c.add(eth(ip6("2001:db8::5", H6, 47, l4, csum_l4=False), True))
    c.add(eth(ip4("192.0.2.6", H4, 4, inner4, csum_l4=False), True))     # IPIP
    c.add(eth(ip6("2001:db8::6", H6, 4, inner4, csum_l4=False), True))   # IPv4 in IPv6
    c.add(eth(ip4("192.0.2.6", H4, 41, inner6, csum_l4=False), True))    # 6in4
    c.add(eth(ip4("192.0.2.7", H4, 17, udp(5000, 53, b"hi")), True))
    c.add(eth(ip4("192.0.2.7", H4, 6, tcp(5000, 80, 1, 0, 0x18, payload=b"hi")), True))
    return c


def ll_out():
    c = Pcap()
    c.add(eth(ip4(H4, "192.0.2.5", 17, udp(5000, 53, b"q")), False))
    c.add(eth(ip6(H6, "2001:db8::5", 17, udp(5000, 53, b"q")), False))
    return c


def rst_close(badsum=False):
    c = Pcap()
    for v6, peer, host in ((False, "192.0.2.5", H4), (True, "2001:db8::5", H6)):
        def ipx(s, d, l4):
            return ip6(s, d, 6, l4) if v6 else ip4(s, d, 6, l4)
        a, b = 1000, 5000
        c.add(eth(ipx(peer, host, tcp(40001, 80, a, 0, 0x02)), True))
        c.add(eth(ipx(host, peer, tcp(80, 40001, b, a + 1, 0x12)), False))
        c.add(eth(ipx(peer, host, tcp(40001, 80, a + 1, b + 1, 0x10)), True))
        seg = bytearray(ipx(peer, host, tcp(40001, 80, a + 1, b + 1, 0x18, payload=b"hello")))
        if badsum:
            seg[(40 if v6 else 20) + 16] ^= 0x55	# the TCP checksum's first byte
        c.add(eth(bytes(seg), True))
        c.add(eth(ipx(peer, host, tcp(40001, 80, a + 1, b + 1, 0x10)), True), gap=1.0)
    return c


def ll_mcloop():
    c = Pcap()
    mc4, mc6, bc = bytes.fromhex("01005e000001"), bytes.fromhex("333300000001"), b"\xff" * 6
    hm = bytes.fromhex("020000000001")

    def fr(dst, ip):
        return dst + hm + struct.pack("!H", 0x86dd if ip[0] >> 4 == 6 else 0x0800) + ip
    for dp in (5000, 5001):
        for i in range(2):
            c.add(fr(mc4, ip4(H4, "224.0.0.1", 17, udp(4000, dp, b"x"))))
            c.add(fr(bc, ip4(H4, "255.255.255.255", 17, udp(4001, dp, b"x"))))
            c.add(fr(mc6, ip6(H6, "ff02::1", 17, udp(4002, dp, b"x"))))
    return c


def self_tuple():
    c = Pcap()
    for i in range(2):
        c.add(eth(ip4(H4, H4, 50, struct.pack("!II", 0x300, i + 1) + b"E" * 16, csum_l4=False), False))
    for i in range(2):
        c.add(eth(ip4(H4, H4, 17, udp(7777, 7777, b"u%d" % i)), False))
    c.add(eth(ip4(H4, H4, 6, tcp(8888, 8888, 100, 0, 0x02)), False))
    c.add(eth(ip4(H4, H4, 6, tcp(8888, 8888, 100, 101, 0x12)), False))
    c.add(eth(ip4(H4, H4, 6, tcp(8888, 8888, 101, 101, 0x10)), False))
    return c


def bcast_unicast_mac():
    c = Pcap()
    c.add(eth(ip4("10.0.1.1", "255.255.255.255", 17, udp(67, 68, b"offer")), True))
    return c


def dying():
    c = Pcap()
    peer = "198.51.100.10"
    c.add(eth(ip4(H4, peer, 6, tcp(48000, 443, 1000, 0, 0x02)), False))
    c.add(eth(ip4(peer, H4, 6, tcp(443, 48000, 0, 1001, 0x14)), True))
    c.add(eth(ip4(peer, H4, 6, tcp(48001, 8443, 1000, 0, 0x02)), True))
    c.add(eth(ip4(H4, peer, 6, tcp(8443, 48001, 0, 1001, 0x14)), False))
    c.add(eth(ip4(H4, peer, 6, tcp(48002, 443, 123456, 654321, 0x10, win=1000)), False))
    c.add(eth(ip4(peer, H4, 6, tcp(443, 48002, 654321, 0, 0x04)), True))
    return c


def self_source_wire():
    c = Pcap()
    c.add(eth(ip4(H4, H4, 6, tcp(40000, 22, 1000, 0, 0x02)), True))
    c.add(eth(ip4(H4, H4, 17, udp(40001, 5000, b"x")), True))
    c.add(eth(ip6(H6, H6, 6, tcp(40002, 22, 1000, 0, 0x02)), True))
    c.add(eth(ip6(H6, H6, 17, udp(40003, 5000, b"x")), True))
    return c


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    inner().write(os.path.join(out, "inner.pcap"))
    ll_out().write(os.path.join(out, "ll-out.pcap"))
    rst_close().write(os.path.join(out, "rst-close.pcap"))
    rst_close(badsum=True).write(os.path.join(out, "rst-close-badsum.pcap"))
    self_tuple().write(os.path.join(out, "self-tuple.pcap"))
    ll_mcloop().write(os.path.join(out, "ll-mcloop.pcap"))
    bcast_unicast_mac().write(os.path.join(out, "bcast-unicast-mac.pcap"))
    dying().write(os.path.join(out, "dying.pcap"))
    self_source_wire().write(os.path.join(out, "self-source-wire.pcap"))
