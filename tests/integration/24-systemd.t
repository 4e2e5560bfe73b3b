#!/bin/bash
# systemd: the notification protocol seen from systemd's end, a datagram
# socket of the test's own (tests/lib/notifysock.py).  READY=1 once the
# children are up and the control socket answers; STATUS= with role and
# epoch; WATCHDOG=1 only while every child answers its ping (a stopped
# netd stops it); STOPPING=1 at shutdown.  The node runs with the unit's
# CapabilityBoundingSet and NoNewPrivileges, read from the shipped unit,
# which systemd-analyze verify finds clean.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

UNIT=$T_TOP/conf/failoverd.service
# --- the unit, as make install writes it ------------------------------------
sed "s,@SBINDIR@,$T_TOP/build,g" "$UNIT" > "$W_TMP/failoverd.service"
out=$(systemd-analyze verify --man=no "$W_TMP/failoverd.service" 2>&1)
is "$?:$out" "0:" "systemd-analyze verify: the unit is clean"
check "Type=notify" grep -qx 'Type=notify' "$UNIT"
check "ExecReload runs failoverctl reload" grep -qx 'ExecReload=@SBINDIR@/failoverctl reload' "$UNIT"
check "a watchdog is set" grep -q '^WatchdogSec=' "$UNIT"
score=$(systemd-analyze security --offline=true --no-pager "$W_TMP/failoverd.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for failoverd.service: \([0-9.]*\).*/\1/p')
diag "systemd-analyze security: exposure $score (10 is none of it)"
check "its exposure is 6 or less (was 9.6 before hardening)" \
    awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 6.0) }'

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' |
    sed 's/cap_/+/g; s/ /,/g')
[ -n "$caps" ]
ok $? "the unit names its capabilities ($caps)"

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
node_conf a
node_conf b
node_start a
wait_for 10000 is_role a active
ok $? "a is active"

# b as systemd would start it, in the unit's bounds
python3 "$T_TOP/tests/lib/notifysock.py" "$W_TMP/notify" "$W_TMP/notes" \
    --on-ready "grep -cE '^monitor: (heartbeatd|netd|syncd) ready\$' $W_TMP/b.log > $W_TMP/ready-lines; $FAILOVERCTL -s $W_TMP/b.sock status -j | python3 -c 'import json, sys; json.load(sys.stdin)'" &
W_PIDS="$W_PIDS $!"
wait_for 3000 grep -qs listening "$W_TMP/notes"
NODE_WRAP="env NOTIFY_SOCKET=$W_TMP/notify WATCHDOG_USEC=1500000 setpriv --no-new-privs --bounding-set=-all,$caps" \
    node_start b
wait_for 10000 grep -q 'READY=1' "$W_TMP/notes"
ok $? "READY=1"
wait_for 10000 grep -q "ready-check" "$W_TMP/notes"
check "when it came, the control socket answered (with a JSON status)" grep -q "ready-check 0$" "$W_TMP/notes"
diag "$(grep ready-check "$W_TMP/notes")"
is "$(cat "$W_TMP/ready-lines")" 3 "heartbeatd, netd and syncd had said ready before it"
check "the process is no daemon under systemd: its pid is the one started" \
    kill -0 "${NODE_PID[b]}"
is "$(proc_field "${NODE_PID[b]}" NoNewPrivs)" 1 "it runs with no new privileges"
want=$(setpriv --bounding-set=-all,$caps awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
is "$(proc_field "${NODE_PID[b]}" CapBnd)" "$want" "its bounding set is the unit's ($want)"
wait_for 10000 is_role b standby
ok $? "b is a standby within the unit's bounds"
wait_for 5000 grep -q 'STATUS=standby, epoch 1, active: a' "$W_TMP/notes"
ok $? "STATUS= says role, epoch and the active node"
kids=$(pgrep -P "${NODE_PID[b]}")
leak=
for k in $kids; do
	tr '\0' '\n' < "/proc/$k/environ" | grep -q '^NOTIFY_SOCKET=\|^WATCHDOG_' && leak="$leak $k"
done
check "NOTIFY_SOCKET and WATCHDOG_* are passed on to none of its $(echo $kids | wc -w) children" \
    test -n "$kids" -a -z "$leak"

# the watchdog: a keep-alive every 500 ms, while every child answers
t=$(now_ms)
sleep 3
w=$(grep -c 'WATCHDOG=1' "$W_TMP/notes")
check "WATCHDOG=1 comes (a ping each WATCHDOG_USEC / 3; $w so far)" \
    test "$w" -ge 5
netd=$(child_pid "${NODE_PID[b]}" netd)
kill -STOP "$netd"
sleep 0.7	# the ping in flight may still be answered
w0=$(grep -c 'WATCHDOG=1' "$W_TMP/notes")
sleep 2.5
w1=$(grep -c 'WATCHDOG=1' "$W_TMP/notes")
is "$w1" "$w0" "no WATCHDOG=1 while netd is stopped"
check "the log says which child is silent" \
    grep -q "netd does not answer the watchdog's ping" "$W_TMP/b.log"
kill -CONT "$netd"
wait_for 3000 bash -c "[ \$(grep -c 'WATCHDOG=1' '$W_TMP/notes') -gt $w1 ]"
ok $? "WATCHDOG=1 again once netd answers"
check "and the log says so" grep -q "netd answers the watchdog's ping again" "$W_TMP/b.log"

# a role change is a STATUS=; the end is STOPPING=1
ctl a switchover b > /dev/null 2>&1
wait_for 10000 is_role b active
ok $? "switchover to b"
wait_for 5000 grep -q 'STATUS=active, epoch 2' "$W_TMP/notes"
ok $? "STATUS=active, epoch 2"
p=${NODE_PID[b]}
kill -TERM "$p"
wait_for 15000 dead "$p"
wait "$p" 2>/dev/null
NODE_PID[b]=
check "STOPPING=1 at shutdown" grep -q 'STOPPING=1' "$W_TMP/notes"

done_testing
