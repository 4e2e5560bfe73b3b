#!/usr/bin/env python3
"""The invariant checker of make chaos, over the records of matrix.t.

usage: check.py DIR L_MS [ROUNDS]

DIR/events, one line per instant on one clock (ms of CLOCK_BOOTTIME):
    T on-active|on-standby|on-fault NODE EPOCH   a hook ran
    T killed|stopped|woke|stopped-clean NODE       the test did it
    T FAULT NAME ROUND NODE                        a round began (NODE active)
    T HEALTHY                                      a healthy node exists again
    T END NAME ROUND NODE                          the round ended (NODE active)
    T NOSTEADY NAME ROUND                          no steady state came
DIR/vips: "T NODES" every 20 ms, NODES the nodes with the VIP bound ("-").
DIR/snap.NAME.ROUND.NODE: NODE's files when the round began;
DIR/final.NAME.ROUND: the files of the node active at its end.

A node's active period opens at its on-active and closes at its
on-standby, on-fault, kill or clean stop.  A SIGSTOP of the whole node
(a frozen host) closes it too: nothing there runs; the thaw opens it
again, since the application runs on until on-standby stops it.  That
interval, from thaw to on-standby, is counted apart ("thaw") and not as
an overlap: no process of a frozen host can shorten it, and the kernel
lifetime of the VIP already ended; but it must end, with on-standby or
on-fault, within 1 s of the thaw, or it is a breach.

Per round: overlaps of active periods; samples with the VIP on two
nodes; files on the round's last active node when the fault came that
are gone at its end; whether a time with no active node lasted more than
L + 2 s after a node was healthy; the time from the fault (or from the
instant a node was healthy again) to a new on-active.  Epochs must grow
with every on-active.  Exit status 1 on any breach.
"""
import collections, glob, os, sys

d, L = sys.argv[1], int(sys.argv[2])
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 0
GRACE = L + 2000
THAW_MAX = 1000         # ms from a frozen node's thaw to its on-standby

events = []
for line in open(os.path.join(d, "events")):
    p = line.split()
    if len(p) >= 2:
        events.append((int(p[0]), p[1], p[2:]))
events.sort(key=lambda e: e[0])
vips = []
if os.path.exists(os.path.join(d, "vips")):
    for line in open(os.path.join(d, "vips")):
        p = line.split()
        if len(p) == 2:
            vips.append((int(p[0]), "" if p[1] == "-" else p[1]))

# the rounds
rounds = []
incomplete = []
nosteady = []
cur = None
for t, kind, a in events:
    if kind == "FAULT" and len(a) >= 3:
        if cur:
            incomplete.append(cur)
        cur = {"fault": a[0], "round": a[1], "from": a[2], "t0": t,
               "healthy": t}
    elif kind == "HEALTHY" and cur:
        cur["healthy"] = t
    elif kind == "END" and cur and len(a) >= 3:
        cur["t1"] = t
        cur["to"] = a[2]
        rounds.append(cur)
        cur = None
    elif kind == "NOSTEADY":
        nosteady.append((t, a))
if cur:
    incomplete.append(cur)


def in_round(t):
    return any(r["t0"] <= t <= r["t1"] for r in rounds)


# active periods, overlaps, thaws, epochs
open_at = {}            # node -> since
frozen = set()          # nodes stopped while active
periods = []            # (node, start, end, thawed)
overlaps = []           # instants at which a second period opened
thaw = []               # (t, ms from thaw to the close)
epoch_bad = []
last_epoch = 0
active_runs = []        # (t, node, epoch)
thawed_since = {}


def close(node, t):
    if node in open_at:
        s = open_at.pop(node)
        periods.append((node, s, t))
        if node in thawed_since:
            w = thawed_since.pop(node)
            thaw.append((w, t - w))


for t, kind, a in events:
    if kind == "on-active" and len(a) >= 2:
        node, ep = a[0], int(a[1])
        # another node's period, thawed or not, is an overlap
        others = [n for n in open_at if n != node]
        if others:
            overlaps.append((t, node, others))
        if node in thawed_since:
            # active again without the on-standby the thaw owes
            w = thawed_since.pop(node)
            thaw.append((w, "never"))
        open_at[node] = t
        active_runs.append((t, node, ep))
        if ep <= last_epoch:
            epoch_bad.append((t, node, ep, last_epoch))
        last_epoch = max(last_epoch, ep)
    elif kind in ("on-standby", "on-fault", "killed", "stopped-clean") and a:
        close(a[0], t)
        frozen.discard(a[0])
    elif kind == "stopped" and a:
        if a[0] in open_at:
            close(a[0], t)
            frozen.add(a[0])
    elif kind == "woke" and a:
        if a[0] in frozen:
            # the application runs again until on-standby stops it:
            # not an overlap, but bounded (THAW_MAX)
            frozen.discard(a[0])
            open_at[a[0]] = t
            thawed_since[a[0]] = t
for node, w in list(thawed_since.items()):
    thaw.append((w, "never"))
    del thawed_since[node]
for node in list(open_at):
    close(node, events[-1][0] if events else 0)


def slow_thaw(ms):
    return ms == "never" or ms > THAW_MAX


def active_at(t):
    return any(s <= t < e for _, s, e in periods)


def gaps(t0, t1):
    """Intervals within [t0, t1] with no active period."""
    edges = sorted({t0, t1} | {s for _, s, _ in periods if t0 < s < t1} |
                   {e for _, _, e in periods if t0 < e < t1})
    out = []
    start = None
    for x in edges:
        if not active_at(x) and x < t1:
            if start is None:
                start = x
        elif start is not None:
            out.append((start, x))
            start = None
    if start is not None:
        out.append((start, t1))
    return out


rows = collections.OrderedDict()
breach = 0
details = []
for r in rounds:
    f = r["fault"]
    row = rows.setdefault(f, {"rounds": 0, "overlaps": 0, "vip2": 0,
                              "lost": 0, "late": 0, "worst": None,
                              "takeovers": 0, "thaw": 0})
    row["rounds"] += 1
    t0, t1, h = r["t0"], r["t1"], r["healthy"]
    ov = [o for o in overlaps if t0 <= o[0] <= t1]
    row["overlaps"] += len(ov)
    v2 = [v for v in vips if t0 <= v[0] <= t1 and len(v[1]) >= 2]
    row["vip2"] += len(v2)
    snap = os.path.join(d, "snap.%s.%s.%s" % (f, r["round"], r["to"]))
    fin = os.path.join(d, "final.%s.%s" % (f, r["round"]))
    lost = set()
    if os.path.exists(snap) and os.path.exists(fin):
        lost = set(open(snap).read().split()) - set(open(fin).read().split())
    row["lost"] += len(lost)
    late = [(s, e) for s, e in gaps(t0, t1) if e - max(s, h) > GRACE]
    if late:
        row["late"] += 1
    new = [a for a in active_runs if t0 <= a[0] <= t1]
    if new:
        row["takeovers"] += 1
        took = new[0][0] - h
        row["worst"] = took if row["worst"] is None else max(row["worst"], took)
    slow = []
    for t, ms in thaw:
        if t0 <= t <= t1:
            row["thawed"] = 1
            if ms != "never":
                row["thaw"] = max(row["thaw"], ms)
            if slow_thaw(ms):
                slow.append((t, ms))
    row["checked"] = row.get("checked", 0) + (len(open(snap).read().split())
                                              if os.path.exists(snap) else 0)
    if ov or v2 or lost or late or slow:
        breach = 1
        details.append("%s round %s: overlaps %s, VIP on two at %s, lost %s, "
                       "no active %s, thaw without on-standby %s" % (
                           f, r["round"], ov, v2[:3], sorted(lost)[:5],
                           late, slow))

print("%-16s %6s %8s %8s %6s %11s %9s %10s %8s" % (
    "fault", "rounds", "overlaps", "VIP-on-2", "lost", "no-active>", "takeovers",
    "worst-ms", "thaw-ms"))
print("%-16s %6s %8s %8s %6s %11s %9s %10s %8s" % (
    "", "", "", "samples", "files", "L+2s", "", "", ""))
for f, row in rows.items():
    print("%-16s %6d %8d %8d %6d %11d %9d %10s %8s" % (
        f, row["rounds"], row["overlaps"], row["vip2"], row["lost"],
        row["late"], row["takeovers"],
        "-" if row["worst"] is None else row["worst"],
        row["thaw"] if row.get("thawed") else "-"))
print("epochs: %d on-active runs, %s" % (
    len(active_runs), "each at a higher epoch than the last" if not epoch_bad
    else "NOT increasing: %s" % epoch_bad[:5]))
print("VIP samples: %d; files that had to survive the rounds: %d; "
      "files the application wrote: %d" % (
          len(vips), sum(r.get("checked", 0) for r in rows.values()),
          len(set(x for f in glob.glob(os.path.join(d, "final.*"))
                  for x in open(f).read().split()))))
if epoch_bad:
    breach = 1
# what no round window holds is checked all the same
between = ([("overlap", o) for o in overlaps if not in_round(o[0])] +
           [("VIP on two", v) for v in vips if len(v[1]) >= 2 and
            not in_round(v[0])] +
           [("slow thaw", x) for x in thaw if slow_thaw(x[1]) and
            not in_round(x[0])])
if between:
    breach = 1
    details.append("between rounds: %s" % between[:5])
for r in incomplete:
    breach = 1
    details.append("%s round %s: began and never ended" % (r["fault"],
                                                            r["round"]))
for t, a in nosteady:
    breach = 1
    details.append("no steady state at %d: %s" % (t, " ".join(a)))
for f, row in rows.items():
    if ROUNDS and row["rounds"] < ROUNDS:
        breach = 1
        details.append("%s: %d of %d rounds" % (f, row["rounds"], ROUNDS))
    if row["takeovers"] and not row.get("checked"):
        breach = 1
        details.append("%s: no synced file to check in any round" % f)
for line in details:
    print("BREACH: " + line)
sys.exit(breach)
