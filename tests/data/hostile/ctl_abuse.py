#!/usr/bin/env python3
"""Abusive control-socket clients for tests/live/t_hostile.sh.

  ctl_abuse.py oversize SOCK BYTES   sends BYTES without a newline; prints the
                                     daemon's answer (or "closed" / "timeout")
  ctl_abuse.py slow SOCK             sends half a request and waits; prints
                                     "closed after N.N s" when the daemon hangs up
  ctl_abuse.py flood SOCK N HOLD     opens N connections at once and keeps them
                                     HOLD seconds; prints "accepted A refused R
                                     other O" (refused: answered "too many clients")
"""
import socket
import sys
import time


def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_all(s, timeout):
    s.settimeout(timeout)
    buf = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    except socket.timeout:
        return buf, "timeout"
    except OSError:
        pass
    return buf, "closed"


def oversize(path, n):
    s = conn(path)
    chunk = b"x" * 65536
    sent = 0
    s.settimeout(15)
    try:
        while sent < n:
            sent += s.send(chunk[: min(len(chunk), n - sent)])
    except OSError:
        pass            # the daemon answered and closed while we were sending
    buf, how = read_all(s, 15)
    print(buf.decode(errors="replace").strip() or how)


def slow(path):
    s = conn(path)
    s.sendall(b'{"op":')
    t = time.time()
    buf, how = read_all(s, 30)
    print("%s after %.1f s%s" % (how, time.time() - t, (": " + buf.decode().strip()) if buf else ""))


def flood(path, n, hold):
    socks = []
    for _ in range(n):
        try:
            socks.append(conn(path))
        except OSError:
            socks.append(None)
    time.sleep(0.5)
    acc = ref = other = 0
    for s in socks:
        if s is None:
            other += 1
            continue
        s.setblocking(False)
        try:
            b = s.recv(4096)
        except BlockingIOError:
            acc += 1            # waiting for a request: accepted
            continue
        except OSError:
            other += 1
            continue
        if b"too many" in b:
            ref += 1
        else:
            other += 1
    print("accepted %d refused %d other %d" % (acc, ref, other), flush=True)
    time.sleep(hold)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "oversize":
        oversize(sys.argv[2], int(sys.argv[3]))
    elif cmd == "slow":
        slow(sys.argv[2])
    elif cmd == "flood":
        flood(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("ctl_abuse.py: unknown mode " + cmd)
