#!/usr/bin/env python3
"""Tiny traffic probe for the live tests (no socat needed).

  probe.py serve [--tcp P,P..] [--udp P,P..]
      Listens on every given port, TCP and UDP, IPv4 and IPv6 (dual-stack
      socket on ::).  TCP: sends "filterd-ok <port>\\n" and closes.  UDP: echoes
      "filterd-ok <port> <data>".  Prints "ready" on stdout once bound.
  probe.py tcp|udp ADDR PORT [--src ADDR[#SPORT]] [--timeout S]
      Connects (TCP) or sends a request and waits for the reply (UDP).
      Prints one word and exits:
        allowed  0   the server answered
        denied   1   timeout, or the local stack refused to send (EPERM/EACCES)
        refused  3   a RST / ICMP port unreachable came back (no server?)
        error    4   anything else (bad address, ...)
"""
import errno
import selectors
import socket
import sys

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def ports(arg):
    return [int(p) for p in arg.split(",") if p] if arg else []


def serve(tcp_ports, udp_ports):
    sel = selectors.DefaultSelector()
    for p in tcp_ports:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", p))
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("tcp", p))
    for p in udp_ports:
        # one socket per family, replying from the address the request was sent
        # to (the peers namespace holds many addresses on one interface)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.bind(("0.0.0.0", p))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("udp", p))
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s.bind(("::", p))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("udp", p))
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            proto, p = key.data
            try:
                if proto == "tcp":
                    c, _ = s.accept()
                    try:
                        c.settimeout(1)
                        c.sendall(b"filterd-ok %d\n" % p)
                    finally:
                        c.close()
                else:
                    data, anc, _, peer = s.recvmsg(2048, 256)
                    reply = [(lvl, typ, val) for lvl, typ, val in anc
                             if (lvl, typ) in ((socket.IPPROTO_IP, IP_PKTINFO),
                                               (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO))]
                    if reply and reply[0][0] == socket.IPPROTO_IP:
                        # in_pktinfo: ifindex, spec_dst, addr -> reply from addr
                        v = reply[0][2]
                        reply = [(socket.IPPROTO_IP, IP_PKTINFO, bytes(4) + v[8:12] + bytes(4))]
                    s.sendmsg([b"filterd-ok %d " % p + data], reply, 0, peer)
            except OSError:
                pass


def client(proto, addr, port, src, timeout):
    fam = family(addr)
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        if src:
            # ADDR#SPORT binds a source port too; fe80::1%IF a link-local source
            a, _, sp = src.partition("#")
            ai = socket.getaddrinfo(a, int(sp or 0), fam, s.type)[0][4]
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(ai)
        s.connect((addr, port))
        if proto == "tcp":
            data = s.recv(100)
        else:
            s.send(b"probe")
            data = s.recv(2048)
        if data.startswith(b"filterd-ok"):
            return "allowed"
        return "error"
    except socket.timeout:
        return "denied"
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES, errno.ETIMEDOUT):
            return "denied"
        if e.errno == errno.ECONNREFUSED:
            return "refused"
        sys.stderr.write("probe: %s %s:%d: %s\n" % (proto, addr, port, e))
        return "error"
    finally:
        s.close()


def main(argv):
    if len(argv) >= 2 and argv[1] == "serve":
        tcp, udp = [], []
        i = 2
        while i < len(argv):
            if argv[i] == "--tcp":
                tcp = ports(argv[i + 1]); i += 2
            elif argv[i] == "--udp":
                udp = ports(argv[i + 1]); i += 2
            else:
                sys.exit("probe: bad argument %r" % argv[i])
        serve(tcp, udp)
        return 0
    if len(argv) < 4 or argv[1] not in ("tcp", "udp"):
        sys.stderr.write(__doc__)
        return 2
    proto, addr, port = argv[1], argv[2], int(argv[3])
    src, timeout = None, 1.0
    i = 4
    while i < len(argv):
        if argv[i] == "--src":
            src = argv[i + 1]; i += 2
        elif argv[i] == "--timeout":
            timeout = float(argv[i + 1]); i += 2
        else:
            sys.exit("probe: bad argument %r" % argv[i])
    res = client(proto, addr, port, src, timeout)
    print(res)
    return {"allowed": 0, "denied": 1, "refused": 3}.get(res, 4)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
