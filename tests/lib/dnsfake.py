#!/usr/bin/env python3
"""A DNS server that updates nothing, for the tests of what dnsd trusts.
MODE badtime: its clock is 1000 s ahead, so every signed UPDATE gets
NOTAUTH with TSIG error BADTIME, signed with the key (RFC 8945 5.2.3),
the server's time in the other data.  MODE nomac: every UPDATE gets
NOERROR with no TSIG, as a forger on the path who does not know the key
would send.  MODE badmac: NOERROR with a TSIG whose MAC is the key's but
for its last bit.

usage: dnsfake.py MODE LADDR LPORT KEYNAME BASE64SECRET
"""
import base64, hashlib, hmac, socket, struct, sys

mode = sys.argv[1]
laddr, lport, keyname, secret = sys.argv[2], int(sys.argv[3]), sys.argv[4], base64.b64decode(sys.argv[5])

def name_end(m, off):
    while True:
        l = m[off]
        if l & 0xc0 == 0xc0:
            return off + 2
        if l == 0:
            return off + 1
        off += 1 + l

def wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.lower().encode()
    return out + b"\0"

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((laddr, lport))
while True:
    q, a = s.recvfrom(65535)
    qid, flags, zo, pr, up, ar = struct.unpack("!6H", q[:12])
    off = name_end(q, 12) + 4          # the zone
    zone = q[12:off]
    for _ in range(pr + up):           # to the TSIG, the last record
        off = name_end(q, off)
        off += 10 + struct.unpack("!H", q[off + 8:off + 10])[0]
    off = name_end(q, off) + 10        # its owner, type ... rdlength
    off = name_end(q, off)             # the algorithm
    t = int.from_bytes(q[off:off + 6], "big")
    maclen = struct.unpack("!H", q[off + 8:off + 10])[0]
    reqmac = q[off + 10:off + 10 + maclen]
    if mode == "nomac":
        s.sendto(struct.pack("!6H", qid, 0xa800, 1, 0, 0, 0) + zone, a)
        continue
    rcode, err = (9, 18) if mode == "badtime" else (0, 0)
    other = (t + 1000).to_bytes(6, "big") if mode == "badtime" else b""
    body = struct.pack("!6H", qid, 0xa800 | rcode, 1, 0, 0, 0) + zone
    tvars = (wire(keyname) + struct.pack("!HI", 255, 0) + wire("hmac-sha256") +
             t.to_bytes(6, "big") + struct.pack("!HHH", 300, err, len(other)) + other)
    mac = hmac.new(secret, struct.pack("!H", len(reqmac)) + reqmac + body +
                   tvars, hashlib.sha256).digest()
    if mode == "badmac":
        mac = mac[:-1] + bytes([mac[-1] ^ 1])
    rdata = (wire("hmac-sha256") + t.to_bytes(6, "big") +
             struct.pack("!HH", 300, len(mac)) + mac +
             struct.pack("!HHH", qid, err, len(other)) + other)
    tsig = wire(keyname) + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata
    reply = struct.pack("!6H", qid, 0xa800 | rcode, 1, 0, 0, 1) + zone + tsig
    s.sendto(reply, a)
