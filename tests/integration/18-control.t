#!/bin/bash
# The control socket holds against a member of its group: 33 idle
# connections do not lock root out, idle ones are closed after 10 s, one
# request is served per connection, a request of the wrong size and one
# with a descriptor riding along are refused, a client that asks for
# history -n 100000 and never reads is closed before the monitor grows,
# heartbeatd keeps at most 4 history requests waiting, and failoverctl
# gives up on a stopped daemon within its timeout, saying why.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'world_down' EXIT
RAW=$T_TOP/tests/lib/ctlraw.py
# history -n 100000 is one statement: it needs a timeout Q of seconds
TIMING="heartbeat interval 100ms dead 10s margin 2s slack 100ms timeout 3s"
getent group nogroup >/dev/null || skip_all "no group nogroup for the socket"

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a"
node_conf a
sed -i 's/group "root"/group "nogroup"/' "$W_TMP/a.conf"
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
SOCK=$W_TMP/a.sock
member() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
check "a member of the group may look" sh -c "setpriv --reuid=nobody --regid=nogroup --clear-groups \"$FAILOVERCTL\" -s \"$SOCK\" status >/dev/null"

# --- idle connections ------------------------------------------------------------
member /usr/bin/python3 "$RAW" "$SOCK" idle 33 13 > "$W_TMP/idle" &
IDLE=$!
W_PIDS="$W_PIDS $IDLE"
sleep 1
t0=$(now_ms)
out=$(ctl a status 2>&1)
check "with 33 idle connections of a member, root's status answers ($(( $(now_ms) - t0 )) ms)" \
    sh -c "echo '$out' | grep -q '^role: *active'"
check "the monitor made room, and logged it" grep -q "monitor: control: uid 65534 pid [0-9]*: closed to make room for uid 0" "$W_TMP/a.log"
wait "$IDLE"
is "$(cat "$W_TMP/idle")" 33 "all 33 were closed: to make room, or after 10 s idle"
check "idle ones are closed after 10 s" grep -q "control: uid 65534 pid [0-9]*: sent no request within 10 s; closed" "$W_TMP/a.log"

# --- malformed and pipelined requests --------------------------------------------
is "$(member /usr/bin/python3 "$RAW" "$SOCK" pipeline)" "history 1, status 0, eof" \
    "history and status on one connection: the first is answered, then the end"
is "$(member /usr/bin/python3 "$RAW" "$SOCK" size)" "IMSG_CTL_RESULT eof" "a request of the wrong size is answered once and closed"
check "as malformed" grep -q "control: uid 65534 pid [0-9]*: malformed request" "$W_TMP/a.log"
fds0=$(ls /proc/${NODE_PID[a]}/fd | wc -l)
is "$(member /usr/bin/python3 "$RAW" "$SOCK" fd)" "eof" "a request with a descriptor riding along is closed unanswered"
is "$(ls /proc/${NODE_PID[a]}/fd | wc -l)" "$fds0" "and the descriptor is not kept ($fds0 open)"

# --- history to a client that does not read -------------------------------------
sql "INSERT INTO failover_event (cluster, node, epoch, event, detail)
    SELECT 'test', 'a', 1, 'filler', repeat('x', 200) || g FROM generate_series(1, 100000) g" >/dev/null
is "$(sql "SELECT count(*) FROM failover_event WHERE event = 'filler'")" 100000 "100,000 events in the history"
rss0=$(awk '/^VmRSS/ { print $2 }' /proc/${NODE_PID[a]}/status)
is "$(member /usr/bin/python3 "$RAW" "$SOCK" history 100000 8)" "closed" "a client that never reads its history is closed"
check "saying why" grep -q "control: uid 65534 pid [0-9]*: history: 256 lines left unread; closed" "$W_TMP/a.log"
hwm=$(awk '/^VmHWM/ { print $2 }' /proc/${NODE_PID[a]}/status)
diag "the monitor's resident set: $rss0 KiB before, peak $hwm KiB"
if grep -q fsanitize "$T_TOP/build/flags" 2>/dev/null; then
	# ASan keeps what is freed in quarantine: the resident set grows
	# with every allocation, bounded or not
	T_N=$((T_N + 1)); echo "ok $T_N # skip the monitor's growth: not measurable under ASan"
else
	check "the monitor did not grow by the history (peak $hwm KiB)" test "$hwm" -lt $((rss0 + 20000))
fi
hp=
for i in 1 2 3 4 5 6 7 8; do
	member "$FAILOVERCTL" -s "$SOCK" history -n 100000 > /dev/null 2> "$W_TMP/h$i" &
	hp="$hp $!"
done
W_PIDS="$W_PIDS $hp"
wait $hp
check "heartbeatd keeps at most 4 history requests waiting: the others are told to try again" \
    sh -c "cat $W_TMP/h? | grep -q 'history: busy (4 requests before this one); try again'"
check "root's status still answers" sh -c "\"$FAILOVERCTL\" -s \"$SOCK\" status >/dev/null"

# --- a stopped daemon --------------------------------------------------------------
STOPPED=$(node_pids a)
kill -STOP $STOPPED
t0=$(now_ms)
out=$(ctl a status 2>&1)
rc=$?
t=$(( $(now_ms) - t0 ))
kill -CONT $STOPPED
is "$rc:$out" "1:failoverctl: no answer from failoverd within 10 s" "failoverctl gives up on a stopped daemon and says why"
check "within its timeout ($t ms)" test "$t" -lt 15000
done_testing
