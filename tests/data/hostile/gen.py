#!/usr/bin/env python3
"""Generators of hostile inputs for tests/live/t_hostile.sh (nothing here is
committed output: every file is made at test time, in a temporary directory).

  gen.py tags-million OUT        a tags file of 1,000,000 prefixes (1000 tags)
  gen.py zero-len OUT            pcap: a zero-length frame between two good ones
  gen.py giant OUT               pcap: a frame with caplen 300000 (> 256 KiB)
  gen.py snaplen0 OUT            pcap: file header snaplen 0, frames of every size
  gen.py caplen-over-len OUT     pcap: caplen larger than the wire length
  gen.py pcapng-lying OUT        pcapng: an EPB whose block length runs past the file
  gen.py pcapng-short OUT        pcapng: a block length smaller than its header
  gen.py pcapng-mismatch OUT     pcapng: trailing block length differs from the leading
  gen.py flows N [OUT|-]         pcap of N TCP SYNs, N distinct flows, 203.0.113.0/24
                                 ports 1024.. -> 10.0.1.4:443 (stdout with -)

Addresses: only DESIGN.md's test ranges (10.0.0.0/8, fd00::/8 and the
documentation ranges).
"""
import json
import struct
import sys

LE = "<"


def pcap_header(snaplen=262144, linktype=1, magic=0xA1B2C3D4):
    return struct.pack(LE + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def rec(ts, data, caplen=None, wirelen=None):
    caplen = len(data) if caplen is None else caplen
    wirelen = len(data) if wirelen is None else wirelen
    return struct.pack(LE + "IIII", ts, 0, caplen, wirelen) + data


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def eth_tcp_syn(src, dst, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + iph + tcp


GOOD = eth_tcp_syn(ip4("203.0.113.7"), ip4("10.0.1.4"), 40000, 443)


def tags_million(out):
    values = []
    n = 0
    for t in range(1000):
        prefixes = []
        for i in range(1000):
            # 10.x.y.z/32 and fd00::/8 host prefixes: distinct, never merged
            if i % 4 == 3:
                prefixes.append("fd00:%x:%x::%x/128" % (t, i, n & 0xFFFF))
            else:
                prefixes.append("10.%d.%d.%d/32" % ((n >> 16) & 255, (n >> 8) & 255, n & 255))
            n += 1
        values.append({"name": "Bulk%d" % t, "id": "Bulk%d" % t,
                       "properties": {"changeNumber": 1, "region": "", "regionId": 0,
                                      "platform": "Azure", "systemService": "Bulk",
                                      "addressPrefixes": prefixes, "networkFeatures": None}})
    with open(out, "w") as f:
        json.dump({"changeNumber": 1, "cloud": "Public", "values": values}, f)


def write(out, b):
    with open(out, "wb") as f:
        f.write(b)


def epb(data, caplen=None, total=None):
    caplen = len(data) if caplen is None else caplen
    pad = (4 - len(data) % 4) % 4
    body = struct.pack(LE + "IIIII", 0, 0, 1, caplen, len(data)) + data + b"\0" * pad
    tl = 12 + len(body)
    lead = tl if total is None else total
    return struct.pack(LE + "II", 6, lead) + body + struct.pack(LE + "I", tl)


def pcapng_head():
    shb_body = struct.pack(LE + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb = struct.pack(LE + "II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + \
        struct.pack(LE + "I", 12 + len(shb_body))
    idb_body = struct.pack(LE + "HHI", 1, 0, 262144)
    idb = struct.pack(LE + "II", 1, 12 + len(idb_body)) + idb_body + \
        struct.pack(LE + "I", 12 + len(idb_body))
    return shb + idb


def flows(n, out):
    f = sys.stdout.buffer if out == "-" else open(out, "wb")
    f.write(pcap_header())
    tmpl = bytearray(rec(1700000000, GOOD))
    # offsets in the record: 16 header + 14 ethernet
    o_ip = 16 + 14
    # the header checksum with the last source octet zero; that octet is the
    # low byte of the 16-bit word at offset 14, so it adds to the sum as is
    tmpl[o_ip + 15] = 0
    tmpl[o_ip + 10:o_ip + 12] = b"\0\0"
    base = sum(struct.unpack("!10H", bytes(tmpl[o_ip:o_ip + 20])))
    chunk = []
    for i in range(n):
        host = i % 256
        sport = 1024 + (i // 256) % 64512
        t = 1700000000 + i // 100000
        s = base + host
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        tmpl[0:4] = struct.pack(LE + "I", t)
        tmpl[o_ip + 15] = host
        tmpl[o_ip + 10:o_ip + 12] = struct.pack("!H", (~s) & 0xFFFF)
        tmpl[o_ip + 20:o_ip + 22] = struct.pack("!H", sport)
        chunk.append(bytes(tmpl))
        if len(chunk) == 4096:
            f.write(b"".join(chunk))
            chunk = []
    f.write(b"".join(chunk))
    f.flush()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tags-million":
        tags_million(args[0])
    elif cmd == "zero-len":
        write(args[0], pcap_header() + rec(1, GOOD) + rec(2, b"") + rec(3, GOOD))
    elif cmd == "giant":
        write(args[0], pcap_header() + rec(1, GOOD) + rec(2, b"\0" * 300000) + rec(3, GOOD))
    elif cmd == "snaplen0":
        frames = [GOOD[:k] for k in (0, 1, 13, 14, 20, 33, 34, 53, len(GOOD))]
        write(args[0], pcap_header(snaplen=0) + b"".join(rec(i + 1, fr, wirelen=len(GOOD))
                                                          for i, fr in enumerate(frames)))
    elif cmd == "caplen-over-len":
        write(args[0], pcap_header() + rec(1, GOOD, wirelen=20) + rec(2, GOOD))
    elif cmd == "pcapng-lying":
        write(args[0], pcapng_head() + epb(GOOD) + epb(GOOD, total=1 << 20))
    elif cmd == "pcapng-short":
        write(args[0], pcapng_head() + epb(GOOD) + epb(GOOD, total=8))
    elif cmd == "pcapng-mismatch":
        b = bytearray(epb(GOOD))
        b[-4:] = struct.pack(LE + "I", len(b) + 64)
        write(args[0], pcapng_head() + epb(GOOD) + bytes(b))
    elif cmd == "flows":
        flows(int(args[0]), args[1] if len(args) > 1 else "-")
    else:
        sys.exit("gen.py: unknown generator %s" % cmd)


if __name__ == "__main__":
    main()
