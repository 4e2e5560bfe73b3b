#!/usr/bin/env python3
"""An SMTP sink for the tests: a relay that takes every message and writes
it to DIR/NNNN.eml (the envelope first, as X-Envelope-From/To lines, then
the message as it came, dot-stuffing undone), or one that misbehaves:

  smtpsink.py --listen ADDR --port P --dir DIR [--mode ok|hang|refuse]

  ok      RFC 5321 as a relay speaks it: 220, EHLO, MAIL, RCPT, DATA, QUIT
  hang    accepts the connection and never says a word
  refuse  greets, then answers RCPT TO with 550

It prints "listening" once it listens, and a line per message or refusal.
"""

import argparse
import os
import socket
import socketserver
import sys
import threading
import time

args = None
count = 0
lock = threading.Lock()


class Session(socketserver.StreamRequestHandler):
    def say(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        global count
        if args.mode == "hang":
            # hold the connection open, silent, until the client goes
            try:
                while self.rfile.read(1):
                    pass
            except OSError:
                pass
            return
        self.say("220 sink.test ESMTP")
        mail_from, rcpt = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "EHLO":
                    self.wfile.write(b"250-sink.test\r\n250 8BITMIME\r\n")
                    self.wfile.flush()
                else:
                    self.say("250 sink.test")
            elif verb == "MAIL":
                mail_from = cmd[10:]
                self.say("250 ok")
            elif verb == "RCPT":
                if args.mode == "refuse":
                    self.say("550 5.7.1 relaying denied")
                    print("refused", cmd, flush=True)
                    continue
                rcpt.append(cmd[8:])
                self.say("250 ok")
            elif verb == "DATA":
                if mail_from is None or not rcpt:
                    self.say("503 bad sequence")
                    continue
                self.say("354 go ahead")
                body = []
                while True:
                    l = self.rfile.readline()
                    if not l:
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    body.append(l)
                with lock:
                    count += 1
                    n = count
                path = os.path.join(args.dir, "%04d.eml" % n)
                with open(path + ".tmp", "wb") as f:
                    f.write(("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n"
                             "X-Received-At: %.3f\r\n" %
                             (mail_from, ",".join(rcpt), time.time())).encode())
                    f.writelines(body)
                os.rename(path + ".tmp", path)
                self.say("250 ok queued as %d" % n)
                print("message", n, flush=True)
                mail_from, rcpt = None, []
            elif verb == "QUIT":
                self.say("221 bye")
                return
            elif verb in ("RSET", "NOOP"):
                self.say("250 ok")
            else:
                self.say("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--dir", required=True)
    p.add_argument("--mode", choices=("ok", "hang", "refuse"), default="ok")
    args = p.parse_args()
    srv = Server((args.listen, args.port), Session)
    print("listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
