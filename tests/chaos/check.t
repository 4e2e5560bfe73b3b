#!/usr/bin/env python3
"""The chaos checker itself: records of a clean round pass, and each kind
of breach, written by hand, fails it (so the matrix cannot pass by
checking nothing)."""
import os, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
L = 3000
n = 0
failed = 0


def run(events, vips="", snap="w-a-1-1\n", final="w-a-1-1\n", rounds=1):
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "events"), "w").write(events)
        open(os.path.join(d, "vips"), "w").write(vips)
        open(os.path.join(d, "snap.f.1.b"), "w").write(snap)
        open(os.path.join(d, "final.f.1"), "w").write(final)
        p = subprocess.run([sys.executable, os.path.join(here, "check.py"), d,
                            str(L), str(rounds)], capture_output=True,
                           text=True)
        return p.returncode, p.stdout


def ok(cond, what, out=""):
    global n, failed
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what))
    if not cond:
        failed += 1
        for line in out.splitlines():
            print("# " + line)


# a takeover after a kill: a active at epoch 1, killed; b active at 2
clean = """1000 on-active a 1
2000 FAULT f 1 a
2000 killed a
2000 HEALTHY
5200 on-active b 2
9000 END f 1 b
"""
vips = "1500 a\n3000 -\n5300 b\n"
rc, out = run(clean, vips, "w-a-1-1\nw-a-1-2\n", "w-a-1-1\nw-a-1-2\nw-b-2-1\n")
ok(rc == 0, "a clean takeover passes", out)
ok("f                     1        0        0      0           0         1"
   "       3200" in out, "and is counted: one round, one takeover in 3200 ms",
   out)

rc, out = run(clean.replace("2000 killed a\n", ""), vips)
ok(rc == 1 and "overlaps [(5200" in out,
   "an on-active while another node is active is an overlap", out)

rc, out = run(clean, vips + "5400 ab\n")
ok(rc == 1 and "VIP on two at [(5400" in out,
   "a sample with the VIP on two nodes is a breach", out)

rc, out = run(clean, vips, "w-a-1-1\nw-a-1-2\n", "w-a-1-1\nw-b-2-1\n")
ok(rc == 1 and "lost ['w-a-1-2']" in out,
   "a file the new active had at the fault and lacks after it is lost", out)

rc, out = run(clean.replace("5200 on-active b 2", "7100 on-active b 2"), vips)
ok(rc == 1 and "no active [(2000, 7100)]" in out,
   "no active node for more than L + 2 s after one was healthy", out)

late_healthy = clean.replace("2000 HEALTHY", "4000 HEALTHY").replace(
    "5200 on-active b 2", "7100 on-active b 2")
rc, out = run(late_healthy, vips)
ok(rc == 0, "the same gap, counted from when a node was healthy again, "
   "is within L + 2 s", out)

rc, out = run(clean.replace("5200 on-active b 2", "5200 on-active b 1"), vips)
ok(rc == 1 and "NOT increasing" in out, "an epoch that does not grow", out)

thaw = """1000 on-active a 1
2000 FAULT f 1 a
2000 stopped a
2000 HEALTHY
5200 on-active b 2
6000 woke a
6010 on-standby a 1
9000 END f 1 b
"""
rc, out = run(thaw, vips)
ok(rc == 0, "a thawed node that runs on-standby at once is no overlap", out)
rc, out = run(thaw.replace("6010 on-standby", "7500 on-standby"), vips)
ok(rc == 1 and "thaw without on-standby [(6000, 1500)]" in out,
   "one that takes 1.5 s to run it is a breach", out)
rc, out = run(thaw.replace("6010 on-standby a 1\n", ""), vips)
ok(rc == 1 and "never" in out, "one that never runs it is a breach", out)

rc, out = run(thaw.replace("6010 on-standby a 1", "6005 on-active b 3\n"
                            "6010 on-standby a 1"), vips)
ok(rc == 1 and "overlaps [(6005, 'b', ['a'])]" in out,
   "another on-active while a thawed node's application runs is an overlap",
   out)

rc, out = run(clean, vips, "", "")
ok(rc == 1 and "no synced file to check" in out,
   "takeovers with nothing synced to check is a breach: the check was empty",
   out)

rc, out = run(clean + "9500 on-active a 3\n9600 on-standby a 3\n", vips)
ok(rc == 1 and "between rounds: [('overlap'" in out,
   "an overlap between two rounds is a breach", out)
rc, out = run(clean, vips + "9500 ab\n")
ok(rc == 1 and "between rounds: [('VIP on two'" in out,
   "so is the VIP on two nodes between rounds", out)

rc, out = run(clean + "9500 FAULT f 2 b\n")
ok(rc == 1 and "f round 2: began and never ended" in out,
   "a round that never ended is a breach", out)
rc, out = run(clean, vips, rounds=2)
ok(rc == 1 and "f: 1 of 2 rounds" in out, "fewer rounds than asked", out)
rc, out = run(clean + "9500 NOSTEADY f 1\n", vips)
ok(rc == 1 and "no steady state" in out, "a round that found no steady "
   "state", out)

print("1..%d" % n)
sys.exit(1 if failed else 0)
