#!/bin/bash
# After authentication a peer still gets only what the protocol allows:
# a hostile peer that holds a node's key (tests/lib/hostile_peer.c)
# plays the receiver towards the real active node and the sender towards
# a real standby, and each time the real syncd ends the session at the
# bound and goes on.  As the receiver: a manifest that does not end (the
# active's syncd stops it at its bound, its memory stays bounded) and one
# out of order.  As the sender, the lease holder at the current epoch (the
# real holder frozen, its beat kept going in the database by the test):
# files past a batch's limits, DATA of no file, a COMMIT out of sequence,
# more data than a file's size, an END whose hash is not the data's, a
# name in the attic; nothing of it is applied.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'for p in $STOPPED; do kill -CONT $p 2>/dev/null; done; world_down' EXIT
HP=$T_TOP/build/tests/hostile_peer
[ -x "$HP" ] || skip_all "no $HP (make check builds it)"

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
NODE_PRIO[a]=200
for n in a b; do sync_key "$n"; done
for n in a b; do node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms")"; done
for i in 1 2 3; do echo "file $i" > "$W_TMP/a.data/f$i"; done
chown -R _failoverd: "$W_TMP/a.data"
T_START=$SECONDS
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is a standby"
wait_for 10000 test -e "$W_TMP/b.data/f3"
ok $? "a's files reached b"
# a session begun in the same pass of syncd's loop as the time it tests
# against is not 2^64 ms old (it was closed at once, and the hostile
# peer below, which takes one connection, saw it close)
if [ $((SECONDS - T_START)) -lt 9 ]; then
	check "no opening was closed before its 10 s" \
	    sh -c "! grep -q 'no session within 10 s' '$W_TMP/a.log'"
else
	skip "the start took $((SECONDS - T_START)) s, a 10 s timeout may be real"
fi
ASYNC=$(child_pid "${NODE_PID[a]}" syncd)

# --- a hostile receiver, in b's place -------------------------------------------
node_stop b
hostile_recv() {
	nsx b "$HP" recv "${NODE_ADDR[b]}" 7209 test b "$W_TMP/b.key" a \
	    "${NODE_KEY[a]}" 0 1 "$1" 2>&1
}
out=$(timeout 120 bash -c "$(declare -f nsx ns hostile_recv); W_ID=$W_ID; \
    HP=$HP; W_TMP=$W_TMP; declare -A NODE_ADDR=([b]=${NODE_ADDR[b]}); \
    declare -A NODE_KEY=([a]=${NODE_KEY[a]}); hostile_recv manifest")
diag "a manifest that does not end: $out"
n=$(echo "$out" | sed -n 's/^closed after \([0-9]*\) frames.*/\1/p')
check "a's syncd ends the session at its bound ($out)" \
    test -n "$n" -a "${n:-0}" -ge 1000000 -a "${n:-0}" -lt 1100000
check "a logs why" grep -q "syncd: peer b (${NODE_ADDR[b]}): the receiver's manifest is over its bounds" "$W_TMP/a.log"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$ASYNC/status")
diag "a's syncd peaked at $((hwm / 1024)) MiB"
check "a's syncd still runs, its memory bounded (peak $((hwm / 1024)) MiB)" \
    test -n "$hwm" -a "${hwm:-999999999}" -lt 400000
check "and a is still active" is_role a active
out=$(timeout 60 bash -c "$(declare -f nsx ns hostile_recv); W_ID=$W_ID; \
    HP=$HP; W_TMP=$W_TMP; declare -A NODE_ADDR=([b]=${NODE_ADDR[b]}); \
    declare -A NODE_KEY=([a]=${NODE_KEY[a]}); hostile_recv unsorted")
check "a manifest out of order ends the session ($out)" \
    sh -c "echo '$out' | grep -q '^closed after 2 frames'"
out=$(timeout 60 bash -c "$(declare -f nsx ns hostile_recv); W_ID=$W_ID; \
    HP=$HP; W_TMP=$W_TMP; declare -A NODE_ADDR=([b]=${NODE_ADDR[b]}); \
    declare -A NODE_KEY=([a]=${NODE_KEY[a]}); hostile_recv forge")
wait_for 5000 grep -qF 'refused: no\nsyncd: a forged line' "$W_TMP/a.log"
ok $? "a reason with a newline is logged escaped, on its line ($out)"
check "and forges no line of its own" sh -c "! grep -q '^syncd: a forged line' '$W_TMP/a.log'"

# --- a hostile sender, as the frozen holder ------------------------------------
node_start b
wait_for 10000 is_role b standby
ok $? "b is back as a standby"
wait_for 10000 grep -q "syncd: session from a (${NODE_ADDR[a]})" "$W_TMP/b.log"
ok $? "a's session reached b"
e=$(epoch)
MON=${NODE_PID[a]}
STOPPED=$(node_pids a)
kill -STOP $STOPPED
# the holder's beat goes on, so b does not take over
( while :; do sql "UPDATE failover_lease SET beat = beat + 1 WHERE cluster = 'test'" >/dev/null; sleep 0.2; done ) &
BEATER=$!
W_PIDS="$W_PIDS $BEATER"
hostile_send() {
	nsx a "$HP" send "${NODE_ADDR[b]}" 7209 test a "$W_TMP/a.key" b \
	    "${NODE_KEY[b]}" "$e" 1 "$1" 2>&1
}
for sc in batch order seq overrun badhash reserved; do
	out=$(timeout 60 bash -c "$(declare -f nsx ns hostile_send); W_ID=$W_ID; \
	    HP=$HP; W_TMP=$W_TMP; e=$e; declare -A NODE_ADDR=([a]=${NODE_ADDR[a]} [b]=${NODE_ADDR[b]}); \
	    declare -A NODE_KEY=([b]=${NODE_KEY[b]}); hostile_send $sc")
	eval "out_$sc=\"\$out\""
	diag "$sc: $out"
done
check "files past a batch's limits end the session ($out_batch)" \
    sh -c "echo '$out_batch' | grep -q '^closed after'"
check "b says why" grep -q "syncd: peer a (${NODE_ADDR[a]}): a batch past its limits" "$W_TMP/b.log"
check "DATA of no file ends the session ($out_order)" \
    sh -c "echo '$out_order' | grep -q '^closed after 1 frames'"
check "a COMMIT out of sequence ends it ($out_seq)" \
    sh -c "echo '$out_seq' | grep -q '^closed after 1 frames'"
check "more data than the file's size ends it ($out_overrun)" \
    sh -c "echo '$out_overrun' | grep -q '^closed after 2 frames'"
check "a file whose END names other content ends it ($out_badhash)" \
    sh -c "echo '$out_badhash' | grep -q '^closed after'"
check "b says why" grep -q "syncd: peer a (${NODE_ADDR[a]}): hostile-badhash: not the content the sender read" "$W_TMP/b.log"
check "a name that is syncd's (the attic) ends it ($out_reserved)" \
    sh -c "echo '$out_reserved' | grep -q '^closed after 1 frames'"
check "b says it is reserved" grep -q "syncd: peer a (${NODE_ADDR[a]}): frame 5: a reserved name" "$W_TMP/b.log"
check "b is still a standby" is_role b standby
check "nothing of it reached b's tree" \
    sh -c "! ls -A '$W_TMP/b.data' | grep -q 'hostile\|^\.failoverd\.'"
is "$(ls "$W_TMP/b.data" | tr '\n' ' ')" "f1 f2 f3 " "b's tree is a's"
kill $BEATER
kill -CONT $STOPPED
STOPPED=
done_testing
