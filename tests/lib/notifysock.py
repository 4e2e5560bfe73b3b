#!/usr/bin/env python3
"""systemd's end of the notification protocol, for the tests: a datagram
socket at PATH; every datagram is written to OUT as one line per
assignment, "MONOTONIC_MS KEY=VALUE".  On the first READY=1 it runs
--on-ready (a shell command) at once and writes "MS ready-check RC".

  notifysock.py PATH OUT [--on-ready CMD]
"""

import os
import socket
import subprocess
import sys
import time


def main():
    path, out = sys.argv[1], sys.argv[2]
    on_ready = None
    if len(sys.argv) > 4 and sys.argv[3] == "--on-ready":
        on_ready = sys.argv[4]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o600)
    ready = False
    with open(out, "a", buffering=1) as f:
        f.write("%d listening\n" % (time.monotonic() * 1000))
        while True:
            data = s.recv(4096)
            now = time.monotonic() * 1000
            for line in data.decode("utf-8", "replace").split("\n"):
                if line:
                    f.write("%d %s\n" % (now, line))
            if on_ready and not ready and b"READY=1" in data.split(b"\n"):
                ready = True
                rc = subprocess.call(on_ready, shell=True,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                f.write("%d ready-check %d\n" % (time.monotonic() * 1000,
                                                  rc))


if __name__ == "__main__":
    main()
