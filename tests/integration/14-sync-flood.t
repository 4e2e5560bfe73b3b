#!/bin/bash
# Before authentication a peer gets nothing: from the client's namespace,
# 1,500 connections that say nothing and 200 that send a few random bytes
# to a standby's sync port, while a file written on the active still
# reaches the standby within seconds and the standby's syncd never holds
# more than a few hundred descriptors; from a node's own address at most
# 4 sessions open at once; a replay of the active's captured hello and
# first handshake message, from the active's own address, is closed
# within the 5 s that opening a session may take.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'world_down' EXIT
FLOOD=$T_TOP/tests/lib/flood.py

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
NODE_PRIO[a]=200
for n in a b; do sync_key "$n"; done
for n in a b; do node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms")"; done
echo first > "$W_TMP/a.data/first"
chown -R _failoverd: "$W_TMP/a.data"

# what a sends first, caught by a listener in b's place
nsx b python3 "$FLOOD" --capture "${NODE_ADDR[b]}" 7209 "$W_TMP/opening" &
W_PIDS="$W_PIDS $!"
CAP=$!
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
wait_for 10000 dead "$CAP"
check "a's hello and first handshake message were caught" test -s "$W_TMP/opening"

node_start b
wait_for 10000 is_role b standby
ok $? "b is a standby"
wait_for 10000 test -e "$W_TMP/b.data/first"
ok $? "a's file reached b"
SYNCD=$(child_pid "${NODE_PID[b]}" syncd)
check "b's syncd runs" test -n "$SYNCD"

# --- the flood ---------------------------------------------------------------
( max=0; while kill -0 "$SYNCD" 2>/dev/null; do
	n=$(ls "/proc/$SYNCD/fd" 2>/dev/null | wc -l)
	[ "$n" -gt "$max" ] && max=$n && echo "$max" > "$W_TMP/fds"
	sleep 0.1
done ) &
W_PIDS="$W_PIDS $!"
nsx client python3 "$FLOOD" "${NODE_ADDR[b]}" 7209 1500 200 8 > "$W_TMP/flood" &
W_PIDS="$W_PIDS $!"
FL=$!
sleep 3
t0=$(now_ms)
echo "during the flood" > "$W_TMP/a.data/during"
chown _failoverd: "$W_TMP/a.data/during"
wait_for 10000 test -e "$W_TMP/b.data/during"
ok $? "a file written during the flood reached b ($(( $(now_ms) - t0 )) ms)"
wait "$FL"
diag "$(cat "$W_TMP/flood") flood connections made; b's syncd held at most $(cat "$W_TMP/fds") descriptors"
check "b's syncd never held more than 300 descriptors" test "$(cat "$W_TMP/fds")" -le 300
check "b's syncd still runs" kill -0 "$SYNCD"
check "the refusals name the address, at most once a minute" \
    test "$(grep -c "syncd: $CLIENT_ADDR: not a node of the cluster" "$W_TMP/b.log")" = 1

# --- from a node's own address: at most 4 openings at a time ---------------
nsx a python3 "$FLOOD" "${NODE_ADDR[b]}" 7209 20 0 7 > /dev/null
check "b refuses the fifth opening from one address" \
    grep -q "syncd: ${NODE_ADDR[a]}: too many sessions opening at once" "$W_TMP/b.log"
wait_for 8000 grep -q "syncd: peer ${NODE_ADDR[a]}: no hello, handshake and fence within 5 s" "$W_TMP/b.log"
ok $? "the four it took are closed after 5 s"

# --- a replayed opening ------------------------------------------------------
secs=$(nsx a python3 "$FLOOD" --replay "${NODE_ADDR[b]}" 7209 "$W_TMP/opening" 20)
diag "the replayed opening was closed after $secs s"
check "a replayed opening is closed within the deadline (closed after $secs s)" \
    awk -v s="$secs" 'BEGIN { exit !(s >= 4 && s < 8) }'
echo after > "$W_TMP/a.data/after"
chown _failoverd: "$W_TMP/a.data/after"
wait_for 10000 test -e "$W_TMP/b.data/after"
ok $? "replication goes on"
done_testing
