#!/usr/bin/env python3
"""A TCP proxy for the tests: forwards connections from LISTEN to
TARGET, and in the client-to-server direction can flip one byte at an
offset (a tampered wire) or hold the rate down (a slow link to kill a
transfer in the middle of); --delay holds every chunk of the replies
back that many milliseconds, in order (a slow link where tc netem is
not available).

usage: proxy.py LADDR LPORT TADDR TPORT [--flip OFFSET] [--rate BYTES/S]
    [--delay MS]
"""
import argparse, collections, socket, threading, time

def close_both(src, dst):
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def delayed(src, dst, delay):
    q = collections.deque()
    cv = threading.Condition()
    done = []
    def reader():
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                with cv:
                    q.append((time.monotonic() + delay, data))
                    cv.notify()
        except OSError:
            pass
        with cv:
            done.append(1)
            cv.notify()
    threading.Thread(target=reader, daemon=True).start()
    try:
        while True:
            with cv:
                while not q and not done:
                    cv.wait()
                if not q:
                    break
                due, data = q.popleft()
            left = due - time.monotonic()
            if left > 0:
                time.sleep(left)
            dst.sendall(data)
    except OSError:
        pass
    close_both(src, dst)

def pipe(src, dst, flip, rate):
    n = 0
    start = time.monotonic()
    try:
        while True:
            data = src.recv(16384)
            if not data:
                break
            if flip is not None and n <= flip < n + len(data):
                b = bytearray(data)
                b[flip - n] ^= 0x01
                data = bytes(b)
            n += len(data)
            dst.sendall(data)
            if rate:
                ahead = n / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    close_both(src, dst)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("laddr"); p.add_argument("lport", type=int)
    p.add_argument("taddr"); p.add_argument("tport", type=int)
    p.add_argument("--flip", type=int)
    p.add_argument("--rate", type=int)
    p.add_argument("--delay", type=int)
    a = p.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.laddr, a.lport))
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        try:
            t = socket.create_connection((a.taddr, a.tport))
        except OSError:
            c.close()
            continue
        threading.Thread(target=pipe, args=(c, t, a.flip, a.rate),
                         daemon=True).start()
        if a.delay:
            threading.Thread(target=delayed, args=(t, c, a.delay / 1000.0),
                             daemon=True).start()
        else:
            threading.Thread(target=pipe, args=(t, c, None, None),
                             daemon=True).start()

main()
