#!/usr/bin/env python3
"""Hostile clients of a TCP port, for the tests.

  flood.py HOST PORT SILENT NOISY HOLD
      open SILENT connections that send nothing and NOISY that send 32
      random bytes each, keep them HOLD seconds, then close them all;
      prints how many connected
  flood.py --capture HOST PORT FILE
      listen on HOST:PORT for one connection and write the first bytes it
      sends (until it is quiet for 1 s) to FILE
  flood.py --replay HOST PORT FILE LIMIT
      connect, send FILE, then print the seconds until the other side
      closes (or LIMIT if it did not)
"""
import os
import resource
import socket
import sys
import time


def flood(host, port, silent, noisy, hold):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks, n = [], 0
    for i in range(silent + noisy):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        socks.append((s, i >= silent))
    deadline = time.monotonic() + 5
    for s, noisy_one in socks:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            s.send(os.urandom(32) if noisy_one else b"")
            n += 1
        except OSError:
            pass
    print(n, flush=True)
    time.sleep(hold)
    for s, _ in socks:
        s.close()


def capture(host, port, path):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    c, _ = ls.accept()
    c.settimeout(1)
    data = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        pass
    with open(path, "wb") as f:
        f.write(data)
    c.close()
    ls.close()


def replay(host, port, path, limit):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(open(path, "rb").read())
    start = time.monotonic()
    s.settimeout(limit)
    try:
        while s.recv(65536):
            pass
        print("%.1f" % (time.monotonic() - start))
    except socket.timeout:
        print("%.1f" % limit)
    except OSError:
        print("%.1f" % (time.monotonic() - start))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "--capture":
        capture(a[1], int(a[2]), a[3])
    elif a[0] == "--replay":
        replay(a[1], int(a[2]), a[3], float(a[4]))
    else:
        flood(a[0], int(a[1]), int(a[2]), int(a[3]), float(a[4]))
