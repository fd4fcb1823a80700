#!/usr/bin/env python3
"""mixed_pcapng.py IN.pcap OUT.pcapng LOCAL4 — rewrites an Ethernet capture as a
pcapng file that libpcap refuses: interfaces of three link types in two
sections of opposite byte orders, as mergecap or dumpcap on several interfaces
write them.

Packet i (0-based) of the input goes, in order:
  - first half, i < 4 or even: interface 0 of a little-endian section,
    Ethernet as is
  - first half, i >= 4 and odd: interface 1, LINKTYPE_RAW (the IP packet,
    Ethernet header dropped), snapshot 65535, nanosecond time stamps; its
    description comes just before its first packet, so that libpcap returns
    the packets before it and then refuses the file
  - second half: interface 0 of a big-endian section, Linux cooked (SLL),
    packet type "to us" (0) or "outgoing" (4) by whether the IPv4/IPv6 source
    is LOCAL4 (IPv6: fd00:10::4), time stamps of 2^-20 s
Frames that are not plain IPv4/IPv6 over Ethernet (VLAN, ARP) stay on the
Ethernet interface.  Time stamps keep their microsecond values in every
resolution, so the packets' times are the input's."""
import ipaddress
import struct
import sys


def read_pcap(path):
    d = open(path, 'rb').read()
    magic = d[:4]
    if magic == b'\xd4\xc3\xb2\xa1':
        e, nsec = '<', False
    elif magic == b'\xa1\xb2\xc3\xd4':
        e, nsec = '>', False
    elif magic == b'\x4d\x3c\xb2\xa1':
        e, nsec = '<', True
    elif magic == b'\xa1\xb2\x3c\x4d':
        e, nsec = '>', True
    else:
        sys.exit('mixed_pcapng: %s: not a pcap file' % path)
    if struct.unpack(e + 'I', d[20:24])[0] != 1:
        sys.exit('mixed_pcapng: %s: not an Ethernet capture' % path)
    off, pkts = 24, []
    while off + 16 <= len(d):
        sec, frac, caplen, length = struct.unpack(e + 'IIII', d[off:off + 16])
        usec = frac // 1000 if nsec else frac
        pkts.append((sec * 1000000 + usec, d[off + 16:off + 16 + caplen], length))
        off += 16 + caplen
    return pkts


def block(e, btype, body):
    body += b'\0' * ((4 - len(body) % 4) % 4)
    n = 12 + len(body)
    return struct.pack(e + 'II', btype, n) + body + struct.pack(e + 'I', n)


def shb(e):
    return block(e, 0x0A0D0D0A, struct.pack(e + 'IHHq', 0x1A2B3C4D, 1, 0, -1))


def idb(e, linktype, snaplen, tsresol=None):
    opts = b''
    if tsresol is not None:
        opts = struct.pack(e + 'HHB3x', 9, 1, tsresol)
    opts += struct.pack(e + 'HH', 0, 0)
    return block(e, 1, struct.pack(e + 'HHI', linktype, 0, snaplen) + opts)


def epb(e, ifid, ts, frame, length):
    return block(e, 6, struct.pack(e + 'IIIII', ifid, ts >> 32, ts & 0xffffffff,
                                   len(frame), length) + frame)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    pkts = read_pcap(sys.argv[1])
    local4 = ipaddress.ip_address(sys.argv[3]).packed
    local6 = ipaddress.ip_address('fd00:10::4').packed
    half = len(pkts) // 2
    out = shb('<') + idb('<', 1, 262144)
    raw = False
    for i, (us, frame, length) in enumerate(pkts[:half]):
        plain = len(frame) >= 14 and frame[12:14] in (b'\x08\x00', b'\x86\xdd')
        if i >= 4 and i % 2 and plain:
            if not raw:
                out += idb('<', 101, 65535, 9)
                raw = True
            out += epb('<', 1, us * 1000, frame[14:], length - 14)
        else:
            out += epb('<', 0, us, frame, length)
    # the second section: Linux cooked, big-endian, 2^-20 s
    out += shb('>') + idb('>', 113, 262144, 0x80 | 20) + idb('>', 1, 262144)
    for us, frame, length in pkts[half:]:
        et = frame[12:14] if len(frame) >= 14 else b''
        if et not in (b'\x08\x00', b'\x86\xdd'):
            out += epb('>', 1, us, frame, length)	# as it is, on Ethernet
            continue
        ip = frame[14:]
        src = ip[12:16] if et == b'\x08\x00' else ip[8:24]
        ptype = 4 if src in (local4, local6) else 0
        sll = struct.pack('>HHH8s', ptype, 1, 6, frame[6:12] + b'\0\0') + et
        ts = (us // 1000000) << 20 | ((us % 1000000) << 20) // 1000000
        # (rounded up so that reading back to microseconds gives us again)
        while (((ts & 0xfffff) * 1000000) >> 20) < us % 1000000:
            ts += 1
        out += epb('>', 0, ts, sll + ip, length - 14 + 16)
    open(sys.argv[2], 'wb').write(out)


main()
