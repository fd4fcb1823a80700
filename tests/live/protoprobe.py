#!/usr/bin/env python3
"""Probes for the protocols probe.py does not speak (t_outbound.sh, t_inbound.sh).

  protoprobe.py listen OUT PORT,PORT.. [--icmpv6]
      Receives UDP-Lite datagrams on each PORT (IPv4 and IPv6), and with
      --icmpv6 every ICMPv6 message (a raw socket), appending one line per
      packet to OUT: "udplite PORT FROM", "icmpv6 TYPE FROM LEN".  Prints
      "ready" once bound.
  protoprobe.py udplite ADDR PORT
      Sends one UDP-Lite datagram (no answer is waited for: whether it came
      is read from the listener's OUT).
  protoprobe.py icmpv6 ADDR TYPE HOPLIMIT SIZE [SRC]
      Sends one ICMPv6 message of TYPE, SIZE bytes long (header included),
      from SRC when given,
      with the hop limit given, from a raw socket: a neighbour solicitation
      or advertisement (135, 136) names ADDR as its target, the rest is
      filler -- data a process could hide in it.
Exit status 0 when sent or bound, 1 when the local stack refused (EPERM).
"""
import errno
import select
import socket
import struct
import sys

IPPROTO_UDPLITE = 136


def listen(out, ports, icmpv6):
    socks = []
    for p in ports:
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            s = socket.socket(fam, socket.SOCK_DGRAM, IPPROTO_UDPLITE)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, p))
            socks.append((s, "udplite", p))
    if icmpv6:
        socks.append((socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
                      "icmpv6", 0))
    print("ready", flush=True)
    by_fd = {s.fileno(): (s, kind, p) for s, kind, p in socks}
    while True:
        r, _, _ = select.select(list(by_fd), [], [])
        for fd in r:
            s, kind, p = by_fd[fd]
            data, peer = s.recvfrom(65535)
            with open(out, "a") as f:
                if kind == "udplite":
                    f.write("udplite %d %s\n" % (p, peer[0]))
                else:
                    f.write("icmpv6 %d %s %d\n" % (data[0], peer[0], len(data)))


def send_udplite(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM, IPPROTO_UDPLITE)
    s.sendto(b"protoprobe", (addr, port))


def send_icmpv6(addr, typ, hoplimit, size, src):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    if src:
        s.bind((src, 0))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hoplimit)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hoplimit)
    body = struct.pack("!BBHI", typ, 0, 0, 0)
    if typ in (135, 136):
        body += socket.inet_pton(socket.AF_INET6, addr)
    body += b"x" * max(0, size - len(body))
    s.sendto(body[:max(size, 8)], (addr, 0))


def main(argv):
    try:
        if argv[1] == "listen":
            listen(argv[2], [int(p) for p in argv[3].split(",")], "--icmpv6" in argv[4:])
        elif argv[1] == "udplite":
            send_udplite(argv[2], int(argv[3]))
        elif argv[1] == "icmpv6":
            send_icmpv6(argv[2], int(argv[3]), int(argv[4]), int(argv[5]),
                        argv[6] if len(argv) > 6 else None)
        else:
            sys.stderr.write(__doc__)
            return 2
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES):
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
