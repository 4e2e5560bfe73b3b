#!/usr/bin/env python3
"""Raw clients of failoverd's control socket, for the tests.

  ctlraw.py SOCK idle N SECS       N connections that send nothing, held
                                   SECS seconds; prints how many the daemon
                                   closed meanwhile
  ctlraw.py SOCK pipeline          history -n 1 and status on one
                                   connection: how many of each answered
  ctlraw.py SOCK size              a request of the wrong size
  ctlraw.py SOCK fd                a status request with a descriptor
                                   riding along (SCM_RIGHTS)
  ctlraw.py SOCK history N SECS    history -n N, never read, held SECS s;
                                   prints "closed" or "open"
  ctlraw.py SOCK second N          history -n N, then after 0.5 s a second
                                   history request on the same
                                   connection, then closes; prints "sent"
"""
import array
import os
import re
import socket
import struct
import sys
import time

H = os.path.join(os.path.dirname(__file__), "../../common/failoverd.h")
body = re.search(r"enum imsg_type \{(.*?)\};", open(H).read(), re.S).group(1)
body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
T = {n.strip(): i for i, n in enumerate(x for x in body.split(",") if x.strip())}
REQ = 64 + 8		# struct ctl_req: node[64], int32 value, int32 flags


def req(name, value=0, node=b""):
    data = node.ljust(64, b"\0") + struct.pack("=ii", value, 0)
    return struct.pack("=IIII", T[name], 16 + len(data), 0, 0) + data


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def answers(s, limit=5):
    s.settimeout(limit)
    out, buf = [], b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                out.append("eof")
                break
            buf += b
            while len(buf) >= 16:
                t, ln = struct.unpack("=II", buf[:8])
                ln &= 0x7fffffff
                if len(buf) < ln:
                    break
                name = [k for k, v in T.items() if v == t][0]
                out.append(name)
                buf = buf[ln:]
    except socket.timeout:
        out.append("timeout")
    except OSError:
        out.append("eof")
    return out


def main():
    path, what = sys.argv[1], sys.argv[2]
    if what == "idle":
        socks = [connect(path) for _ in range(int(sys.argv[3]))]
        time.sleep(float(sys.argv[4]))
        closed = 0
        for s in socks:
            s.setblocking(False)
            try:
                closed += s.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        print(closed)
    elif what == "pipeline":
        s = connect(path)
        # a request served later (heartbeatd's), then one served at once
        s.sendall(req("IMSG_CTL_HISTORY", 1) + req("IMSG_CTL_STATUS"))
        a = answers(s)
        print("history %d, status %d, %s" % (a.count("IMSG_CTL_RESULT"),
              a.count("IMSG_CTL_STATUS"), a[-1]))
    elif what == "size":
        s = connect(path)
        t = T["IMSG_CTL_STATUS"]
        s.sendall(struct.pack("=IIII", t, 16 + 10, 0, 0) + b"x" * 10)
        print(" ".join(answers(s)))
    elif what == "fd":
        s = connect(path)
        r, w = os.pipe()
        s.sendmsg([req("IMSG_CTL_STATUS")],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    array.array("i", [r]))])
        print(" ".join(answers(s)))
    elif what == "second":
        s = connect(path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(req("IMSG_CTL_HISTORY", int(sys.argv[3])))
        time.sleep(0.5)
        s.sendall(req("IMSG_CTL_HISTORY", int(sys.argv[3])))
        time.sleep(0.2)
        s.close()
        print("sent")
    elif what == "history":
        s = connect(path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(req("IMSG_CTL_HISTORY", int(sys.argv[3])))
        deadline = time.monotonic() + float(sys.argv[4])
        state = "open"
        while time.monotonic() < deadline:
            time.sleep(0.5)
            # peek at the end without reading what came
            try:
                os.stat("/proc/self/fd/%d" % s.fileno())
            except OSError:
                break
        # the daemon closed it if, after the data, there is an end
        s.setblocking(False)
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    state = "closed"
                    break
        except BlockingIOError:
            pass
        except OSError:
            state = "closed"
        print(state)


main()
