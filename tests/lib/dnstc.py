#!/usr/bin/env python3
"""A DNS front for the TCP fallback test: every UDP query gets an empty
answer with TC set (as a server whose answer does not fit would send);
TCP connections are relayed to the real server.  With --bad, a TCP
connection gets instead a malformed message of 5 bytes, then the next
message's length one byte at a time, 200 ms apart, never its end.

usage: dnstc.py [--bad] LADDR LPORT SERVER SERVERPORT
"""
import socket, sys, threading, time

bad = sys.argv[1] == "--bad"
if bad:
    del sys.argv[1]
laddr, lport, saddr, sport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((laddr, lport))
    while True:
        q, a = s.recvfrom(65535)
        if len(q) < 12:
            continue
        # the header alone: same ID and opcode, QR and TC set, no records
        h = bytearray(q[:12])
        h[2] |= 0x80 | 0x02
        h[4:12] = bytes(8)
        s.sendto(bytes(h), a)

def relay(src, dst):
    try:
        while True:
            d = src.recv(65535)
            if not d:
                break
            dst.sendall(d)
    except OSError:
        pass
    for x in (src, dst):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def drip(c):
    try:
        c.recv(65535)
        c.sendall(b"\x00\x05xxxxx")
        for b in b"\x00\x30" * 5:
            time.sleep(0.2)
            c.sendall(bytes([b]))
        time.sleep(5)
    except OSError:
        pass
    c.close()

def tcp():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((laddr, lport))
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        if bad:
            threading.Thread(target=drip, args=(c,), daemon=True).start()
            continue
        t = socket.create_connection((saddr, sport))
        threading.Thread(target=relay, args=(c, t), daemon=True).start()
        threading.Thread(target=relay, args=(t, c), daemon=True).start()

threading.Thread(target=udp, daemon=True).start()
tcp()
