#!/bin/bash
# The control socket holds against a member of its group: 33 idle
# connections do not lock root out, idle ones are closed after 10 s, one
# request is served per connection, a request of the wrong size and one
# with a descriptor riding along are refused, a client that asks for
# history -n 100000 and reads nothing for 10 s is closed before the
# monitor grows, one that pauses gets its history whole (it flows at the
# reader's pace),
# heartbeatd keeps at most 4 history requests waiting and cancels one
# whose reader went, 100,000 events come whole without costing the
# lease (read in short steps on its connection), and failoverctl
# gives up on a stopped daemon within its timeout, saying why.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'world_down' EXIT
RAW=$T_TOP/tests/lib/ctlraw.py
# the world's timing: a statement timeout Q of 250 ms, which a history of
# 100,000 rows read in one statement did not keep (heartbeatd dropped the
# lease's connection, and the active its lease)
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
E0=$(epoch)
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
    sh -c "echo '$out' | grep -q '^  \* a  *active'"
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
is "$(member /usr/bin/python3 "$RAW" "$SOCK" history 100000 13)" "closed" "a client that never reads its history is closed"
check "saying why" grep -q "control: uid 65534 pid [0-9]*: history: read nothing within 10 s; closed" "$W_TMP/a.log"
hwm=$(awk '/^VmHWM/ { print $2 }' /proc/${NODE_PID[a]}/status)
diag "the monitor's resident set: $rss0 KiB before, peak $hwm KiB"
if grep -q fsanitize "$T_TOP/build/flags" 2>/dev/null; then
	# ASan keeps what is freed in quarantine: the resident set grows
	# with every allocation, bounded or not
	T_N=$((T_N + 1)); echo "ok $T_N # skip the monitor's growth: not measurable under ASan"
else
	check "the monitor did not grow by the history (peak $hwm KiB)" test "$hwm" -lt $((rss0 + 20000))
fi
t0=$(now_ms)
ctl a history -n 100000 > "$W_TMP/whole" 2>&1
t1=$(now_ms)
diag "history -n 100000 took $((t1 - t0)) ms"
check "a history of 100,000 events comes whole, oldest first ($(wc -l < "$W_TMP/whole") lines)" \
    sh -c "[ \$(wc -l < '$W_TMP/whole') -eq 100000 ] &&
    grep -o '[0-9]*\$' '$W_TMP/whole' | sort -n -c"
# a second request on a connection whose first is still served is not
# read: the first is cancelled when the connection closes (the second
# used to take its place, and the first waited in heartbeatd for a
# reader that was gone, blocking every history after it)
is "$(member /usr/bin/python3 "$RAW" "$SOCK" second 100000)" sent "a second history request on one connection, then a close"
t0=$(now_ms)
n=$(ctl a history -n 10 2>&1 | wc -l)
is "$n" 10 "history still answers after it ($(( $(now_ms) - t0 )) ms)"

# a reader that pauses, as a pager does: the history waits for it
n=$(ctl a history -n 5000 | { sleep 4; wc -l; })
is "$n" 5000 "a reader that pauses 4 s gets the whole history (it flows at the reader's pace)"
check "the history of the client that was closed was cancelled in heartbeatd" \
    grep -q "heartbeatd: history request [0-9]*: its reader went, [0-9]* of 100000 rows unsent; cancelled" "$W_TMP/a.log"
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
check "the histories were read in pages, the lease's statements first: heartbeatd kept its database ($(grep -c 'heartbeatd: database: connected' "$W_TMP/a.log") connects)" \
    test "$(grep -c 'heartbeatd: database: connected' "$W_TMP/a.log")" -eq 1
check "and a its lease, at its epoch" \
    sh -c "'$FAILOVERCTL' -s '$SOCK' status -j | grep -q '\"role\":\"active\",\"epoch\":$E0,'"

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
