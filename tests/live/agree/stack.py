#!/usr/bin/env python3
"""Endpoints of real Linux-stack traffic for t_agree's captured case (run inside
the test's namespaces with ip netns exec): whatever the kernel's TCP does with
window scaling, SACK, timestamps, delayed ACKs and retransmissions is what the
capture then holds.

    stack.py tcp-server ADDR PORT CONNS      accept CONNS connections: read to EOF,
                                             send as many bytes back, close
    stack.py tcp-client SRC DST PORT BYTES   send BYTES, half-close, read the echo
    stack.py tcp-refused SRC DST PORT        connect to a closed port: refused
    stack.py udp-echo ADDR PORT COUNT        answer COUNT datagrams
    stack.py udp-client SRC DST PORT COUNT [SIZE]
                                             COUNT request/response exchanges (SIZE
                                             bytes: over the MTU, fragments both ways)
    stack.py udp-closed SRC DST PORT         one datagram to a closed port
    stack.py udp-opts SRC DST PORT HEX       one datagram carrying the IPv4 options
                                             (IP_OPTIONS) or the IPv6 hop-by-hop
                                             header (IPV6_HOPOPTS) HEX

Exit status 0 when the exchange went as described; a message on stderr else.
"""
import socket
import sys
import time


def fam(a):
    return socket.AF_INET6 if ":" in a else socket.AF_INET


def tcp_server(addr, port, conns):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(8)
    s.settimeout(30)
    for _ in range(int(conns)):
        c, _ = s.accept()
        c.settimeout(30)
        c.sendall(b"s" * drain(c))
        c.close()


def drain(c):
    """reads to end of stream; returns how many bytes came"""
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            return n
        n += len(b)


def client(kind, src, dst, timeout):
    c = socket.socket(fam(dst), kind)
    c.settimeout(timeout)
    c.bind((src, 0))
    return c


def tcp_client(src, dst, port, nbytes):
    n = int(nbytes)
    c = client(socket.SOCK_STREAM, src, dst, 30)
    c.connect((dst, int(port)))
    c.sendall(b"c" * n)
    c.shutdown(socket.SHUT_WR)
    got = drain(c)
    c.close()
    if got != n:
        sys.exit(f"tcp-client: {got} bytes back, {n} sent")


def tcp_refused(src, dst, port):
    c = client(socket.SOCK_STREAM, src, dst, 5)
    try:
        c.connect((dst, int(port)))
    except ConnectionRefusedError:
        return
    sys.exit("tcp-refused: the connection was accepted")


def udp_echo(addr, port, count):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    s.settimeout(30)
    for _ in range(int(count)):
        b, a = s.recvfrom(65536)
        s.sendto(b, a)


def udp_client(src, dst, port, count, size="0"):
    c = client(socket.SOCK_DGRAM, src, dst, 5)
    for i in range(int(count)):
        q = (b"q%d" % i).ljust(int(size), b".")
        c.sendto(q, (dst, int(port)))
        b, _ = c.recvfrom(65536)
        if b != q:
            sys.exit("udp-client: wrong answer")
        time.sleep(0.05)


def udp_closed(src, dst, port):
    c = client(socket.SOCK_DGRAM, src, dst, 2)
    c.connect((dst, int(port)))
    c.send(b"anyone?")
    try:
        c.recv(2048)
    except ConnectionRefusedError:     # the ICMP port unreachable came back
        return
    sys.exit("udp-closed: an answer, or no ICMP error")


def udp_opts(src, dst, port, hexopts):
    c = client(socket.SOCK_DGRAM, src, dst, 2)
    if fam(dst) == socket.AF_INET:
        c.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes.fromhex(hexopts))
    else:
        c.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, bytes.fromhex(hexopts))
    c.sendto(b"with options", (dst, int(port)))


CMDS = {"tcp-server": tcp_server, "tcp-client": tcp_client, "tcp-refused": tcp_refused,
        "udp-echo": udp_echo, "udp-client": udp_client, "udp-closed": udp_closed,
        "udp-opts": udp_opts}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CMDS:
        sys.exit(__doc__)
    try:
        CMDS[sys.argv[1]](*sys.argv[2:])
    except (OSError, TypeError) as e:
        sys.exit(f"{sys.argv[1]}: {e}")
