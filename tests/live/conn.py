#!/usr/bin/env python3
"""A connection kept open across policy changes (t_inbound.sh).

  conn.py server PORT
      Echo server on PORT (TCP, IPv4 and IPv6): answers every read with
      "echo:" and the data, for as long as the connection lasts.  Prints
      "ready" once bound.
  conn.py client SRC DST PORT DIR STEPS
      Connects from SRC to DST:PORT and sends once (step 0), then for each
      step 1..STEPS waits for the file DIR/go.N (60 s at most) and sends
      again.  After each send it waits 3 s for the echo and writes "ok",
      "timeout" or "error: ..." to DIR/step.N.
"""
import os
import socket
import sys
import threading
import time


def server(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(16)
    print("ready", flush=True)

    def echo(c):
        with c:
            while True:
                d = c.recv(100)
                if not d:
                    return
                c.sendall(b"echo:" + d)

    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def put(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def client(src, dst, port, d, steps):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(3)
    try:
        c.bind((src, 0))
        c.connect((dst, port))
    except OSError as e:
        put(os.path.join(d, "step.0"), "error: %s" % e)
        return
    for n in range(steps + 1):
        if n:
            go = os.path.join(d, "go.%d" % n)
            for _ in range(600):
                if os.path.exists(go):
                    break
                time.sleep(0.1)
        msg = b"step%d" % n
        try:
            c.sendall(msg)
            got = c.recv(100)
            res = "ok" if got == b"echo:" + msg else "error: got %r" % got
        except socket.timeout:
            res = "timeout"
        except OSError as e:
            res = "error: %s" % e
        put(os.path.join(d, "step.%d" % n), res)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
