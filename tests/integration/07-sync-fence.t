#!/bin/bash
# syncd's fence, with three nodes: the active node is frozen (its monitor,
# heartbeatd and netd stopped, its syncd left running, as a hung host
# might be), another takes the lease; the frozen node's syncd keeps
# trying to send at its old epoch and changes nothing: the new active
# refuses any inbound session, the remaining standby ends the old
# session when it sees the new epoch and refuses the stale one since,
# and keeps what the new active sends.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'for p in $STOPPED; do kill -CONT $p 2>/dev/null; done; world_down' EXIT

TIMING="heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
host_add c "${NODE_ADDR[c]}" 02:00:00:00:00:13
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b c"
NODE_PRIO[a]=200	# a first; then b before c
NODE_PRIO[b]=150
for n in a b c; do sync_key "$n"; done
for n in a b c; do
	node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms")"
done
for i in $(seq 1 20); do echo "original $i" > "$W_TMP/a.data/f$i"; done
chown -R _failoverd: "$W_TMP/a.data"

node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
node_start c
wait_for 10000 eval 'is_role b standby && is_role c standby'
ok $? "b and c are standbys"
f1() { cat "$W_TMP/$1.data/f1" 2>/dev/null; }
wait_for 10000 eval '[ "$(f1 b)" = "original 1" ] && [ "$(f1 c)" = "original 1" ]'
ok $? "a's files reached b and c"
e=$(epoch)

# --- freeze a: all but its syncd ----------------------------------------------
MON=${NODE_PID[a]}
STOPPED="$MON $(child_pid "$MON" heartbeatd) $(child_pid "$MON" netd)"
kill -STOP $STOPPED
ok $? "a's monitor, heartbeatd and netd stopped; its syncd runs on"
wait_for 10000 is_role b active
ok $? "b took the lease"
is "$(epoch)" "$((e + 1))" "at epoch $((e + 1))"
wait_for 5000 grep -q "syncd: peer a (192.0.2.11): epoch $e went stale (holder b, epoch $((e + 1)))" "$W_TMP/c.log"
ok $? "c ended a's session when it saw the new epoch" ||
	grep -E "peer a|lease:" "$W_TMP/c.log" | tail -20 | sed 's/^/# c: /' >&2

# --- the stale active keeps sending -------------------------------------------
echo "stale write on a" > "$W_TMP/a.data/f1"
echo "new file on a" > "$W_TMP/a.data/stale-only"
chown _failoverd: "$W_TMP/a.data/f1" "$W_TMP/a.data/stale-only"
wait_for 5000 grep -q "syncd: peer a (192.0.2.11): refused: stale: the lease is b's at epoch $((e + 1))" "$W_TMP/c.log"
ok $? "c refuses a's new sessions as stale"
wait_for 5000 grep -q "syncd: peer a (192.0.2.11): refused: this node is active" "$W_TMP/b.log"
ok $? "b, active, refuses any inbound session"
check "a's syncd hears the refusals" grep -q "syncd: peer c (192.0.2.13): refused: stale" "$W_TMP/a.log"
echo "written by b" > "$W_TMP/b.data/f2"
chown _failoverd: "$W_TMP/b.data/f2"
wait_for 5000 eval '[ "$(cat $W_TMP/c.data/f2)" = "written by b" ]'
ok $? "c gets what b, the new active, sends"
n=$(grep -c "refused: stale" "$W_TMP/c.log")
sleep 2
m=$(grep -c "refused: stale" "$W_TMP/c.log")
check "a keeps trying ($n, then $m refusals)" test "$m" -gt "$n"
is "$(f1 b)" "original 1" "b's f1 is untouched by the stale active"
is "$(f1 c)" "original 1" "c's f1 too"
check "the stale new file reached neither" sh -c "! test -e $W_TMP/b.data/stale-only && ! test -e $W_TMP/c.data/stale-only"
is "$(cat "$W_TMP/c.data/f2")" "written by b" "c keeps b's change"

# --- a wakes: it demotes and receives ------------------------------------------
kill -CONT $STOPPED
STOPPED=
wait_for 10000 is_role a standby
ok $? "a, woken, is a standby"
wait_for 10000 eval '[ "$(f1 a)" = "original 1" ] && [ "$(cat $W_TMP/a.data/f2)" = "written by b" ]'
ok $? "and gets b's tree"
check "what b's tree replaced on a is in the attic" test -f "$W_TMP/a.data/.failoverd-attic/$((e + 1))/stale-only"

done_testing
