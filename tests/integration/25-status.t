#!/bin/bash
# failoverctl for a person and for monitoring: status at a glance (one
# line per node, the active marked, since when and why; a row older than
# L shown as gone; human units; exit 1 when this node is unwell), status
# -j with "schema": 1, history -j, metrics in the Prometheus text format,
# log debug, -V.  And a new cluster whose sync directories are both
# empty is in sync: no error on the active, no failed peer.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

V=$(sed -n 's/^VERSION =[[:space:]]*//p' "$T_TOP/Makefile")
is "$("$FAILOVERD" -V)" "failoverd $V" "failoverd -V prints the version of the Makefile"
is "$("$FAILOVERCTL" -V)" "failoverctl $V" "failoverctl -V too"

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
sync_key a && sync_key b
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 2s delay 200ms")"
done
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is a standby"
# both directories are empty: a round completes all the same
wait_for 10000 sh -c "$FAILOVERCTL -s $W_TMP/a.sock status -j | grep -q '\"peers\":\[{\"node\":\"b\",\"state\":\"ok\"'"
ok $? "two empty directories are in sync: the peer is ok"
ctl a status > "$W_TMP/sa"
is "$?" 0 "status on the healthy active exits 0"
sed 's/^/# a: /' "$W_TMP/sa"
check "no 'source directory is empty' error" bash -c "! grep -q 'empty' '$W_TMP/sa'"
check "the active is marked, with its role and since when and why" \
    grep -Eq '^  \* a +active +since [0-9]{2}:[0-9]{2}:[0-9]{2} \([0-9.]+ (s|min) ago\): acquire +<- this node$' "$W_TMP/sa"
check "the standby: its role and when it was seen" \
    grep -Eq '^    b +standby +seen [0-9.]+ s ago$' "$W_TMP/sa"
check "the lease left, in seconds" grep -Eq '^lease: +[0-9]\.[0-9] s left before this node must renew or step down$' "$W_TMP/sa"
check "the VIP and where it is bound" grep -q '^vip:      192.0.2.10/24 on eth0: bound here$' "$W_TMP/sa"
check "the last sync in human units" \
    grep -Eq '^sync: +last ok [0-9:]{8} \([0-9.]+ s ago\), 0 files, 0 bytes since the start$' "$W_TMP/sa"
check "the peer in words" grep -Eq '^ +peer b: ok, last ok [0-9.]+ s ago$' "$W_TMP/sa"
check "no fault, and healthy" bash -c "grep -q '^fault:    none$' '$W_TMP/sa' && grep -q '^health:   ok$' '$W_TMP/sa'"
ctl b status > "$W_TMP/sb"
is "$?" 0 "status on the healthy standby exits 0"
check "on b, a is the active" grep -Eq '^  \* a +active +seen [0-9.]+ s ago$' "$W_TMP/sb"
check "and the VIP is not here" grep -q '^vip:      192.0.2.10/24 on eth0: not here (the active node holds it)$' "$W_TMP/sb"
check "the lease left before a may be taken over" grep -Eq '^lease: +[0-9]\.[0-9] s left before a may be taken over$' "$W_TMP/sb"
check "no error on the standby either" bash -c "! grep -qi 'error\\|failed' '$W_TMP/sb'"

# status -j: the same keys as before, and schema, healthy, since, why
ctl a status -j > "$W_TMP/ja"
python3 - "$W_TMP/ja" > "$W_TMP/jcheck" 2>&1 <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["schema"] == 1, s
for k in ("node", "cluster", "role", "epoch", "holder", "lease_left_ms", "db",
          "vips", "nodes", "sync", "fault"):
    assert k in s, k
assert s["healthy"] is True and s["role"] == "active" and s["why"] == "acquire", s
assert s["since"].endswith("Z") and "T" in s["since"], s["since"]
assert all("gone" in n for n in s["nodes"]), s["nodes"]
print("valid")
PY
is "$(cat "$W_TMP/jcheck")" valid 'status -j: "schema": 1, the keys kept, healthy, since, why'

# metrics: the Prometheus text format, checked line by line
ctl a metrics > "$W_TMP/m"
is "$?" 0 "metrics exits 0"
python3 - "$W_TMP/m" > "$W_TMP/mcheck" 2>&1 <<'PY'
import re, sys
typed, seen = {}, {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    m = re.match(r"# (HELP|TYPE) (failoverd_[a-z_]+) (.+)$", line)
    if m:
        if m.group(1) == "TYPE":
            assert m.group(3) in ("gauge", "counter"), line
            typed[m.group(2)] = m.group(3)
        continue
    m = re.match(r'(failoverd_[a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+]+)$', line)
    assert m, "not a sample: " + line
    assert m.group(1) in typed, "no TYPE before " + line
    if typed[m.group(1)] == "counter":
        assert m.group(1).endswith("_total"), line
    seen[m.group(1) + (m.group(2) or "")] = float(m.group(4))
want = {'failoverd_role{role="active"}': 1, 'failoverd_role{role="standby"}': 0,
        "failoverd_db_up": 1, "failoverd_healthy": 1, "failoverd_fault": 0,
        "failoverd_takeovers_total": 1,
        'failoverd_vip_bound{address="192.0.2.10/24",interface="eth0"}': 1}
for k, v in want.items():
    assert seen.get(k) == v, (k, seen.get(k))
for k in ("failoverd_epoch", "failoverd_lease_left_seconds",
          "failoverd_sync_last_ok_age_seconds", "failoverd_sync_bytes_total",
          "failoverd_faults_total", 'failoverd_node_seen_seconds{node="b",role="standby"}'):
    assert k in seen, k
print("valid")
PY
is "$(cat "$W_TMP/mcheck")" valid "metrics: role, epoch, lease left, db up, sync age, bytes, faults, takeovers"

# history -j
ctl a history > "$W_TMP/h"
ctl a history -j > "$W_TMP/hj"
python3 - "$W_TMP/hj" "$W_TMP/h" > "$W_TMP/hcheck" 2>&1 <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
lines = [l for l in open(sys.argv[2]).read().splitlines() if l]
assert len(rows) == len(lines) > 0, (len(rows), len(lines))
for r, l in zip(rows, lines):
    assert set(r) == {"time", "node", "event", "epoch", "detail"}, r
    e = "-" if r["epoch"] is None else "%d" % r["epoch"]
    assert l.startswith("%s %s %s epoch %s" % (r["time"], r["node"], r["event"], e)), (r, l)
    assert l.endswith(r["detail"]), (r, l)
print("valid")
PY
is "$(cat "$W_TMP/hcheck")" valid "history -j: the rows as a JSON array of time, node, event, epoch, detail"

# log debug
is "$(grep -c '^heartbeatd: sent renew$' "$W_TMP/a.log")" 0 "at -v, no debug lines (heartbeatd's renewals)"
is "$(ctl a log debug 2>&1)" "logging debug" "log debug"
wait_for 5000 grep -q '^heartbeatd: sent renew$' "$W_TMP/a.log"
ok $? "then the children's debug lines appear"
is "$(ctl a log brief 2>&1)" "logging brief" "and back to brief"

# a killed node is shown as gone, with when it was last seen
kill -9 "${NODE_PID[a]}"
wait_for 2000 sh -c "! ip -n $(ns a) -4 -o addr show dev eth0 | grep -q ' $VIP/'"
node_kill a
wait_for 10000 is_role b active
ok $? "b takes over"
sleep 3
ctl b status > "$W_TMP/sb2"
sed 's/^/# b: /' "$W_TMP/sb2"
check "a, whose row is older than L, is gone, with when it was last seen" \
    grep -Eq '^    a +gone +last seen [0-9:]{8} \([0-9.]+ s ago\) as (active|demoting|standby)$' "$W_TMP/sb2"
check "b is the active now, since its takeover" \
    grep -Eq '^  \* b +active +since .*: takeover +<- this node$' "$W_TMP/sb2"

# the database down: not healthy, exit 1, said in words
pg_stop
wait_for 10000 db_is b down
ctl b status > "$W_TMP/sb3"
is "$?" 1 "with the database down, status exits 1"
check "and says so" bash -c "grep -q '^database: DOWN' '$W_TMP/sb3' && grep -q '^health:   NOT OK' '$W_TMP/sb3'"
ctl b metrics | grep -q '^failoverd_db_up 0$'
ok $? "metrics: failoverd_db_up 0"

done_testing
