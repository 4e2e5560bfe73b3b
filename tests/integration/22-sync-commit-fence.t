#!/bin/bash
# The fence at the commit of a batch: the standby's syncd is held (by
# strace) in the syncfs() that comes before the renames of a batch, the
# active is killed meanwhile and the standby takes over; when the syncfs
# returns, the batch of the dead active's epoch is not renamed into
# place, since this node is active now.  Its files were never
# acknowledged, so nothing acknowledged is lost.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT
command -v strace >/dev/null || skip_all "no strace (run: make deps)"

TIMING="heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"
L=3000
HOLD=8		# seconds the syncfs is held: more than L and the takeover
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
for n in a b; do sync_key "$n"; done
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms")"
done
echo "before" > "$W_TMP/a.data/first"
chown -R _failoverd: "$W_TMP/a.data"

node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is standby"
wait_for 10000 test -e "$W_TMP/b.data/first"
ok $? "a's first file reached b"

SYNCD=$(child_pid "${NODE_PID[b]}" syncd)
check "b's syncd found (${SYNCD:-none})" test -n "$SYNCD"
strace -q -p "$SYNCD" -e trace=syncfs -e inject=syncfs:delay_enter=${HOLD}000000 \
    -o "$W_TMP/strace.b" &
W_PIDS="$W_PIDS $!"
traced() { [ -n "$SYNCD" ] && [ "$(proc_field "$SYNCD" TracerPid)" != 0 ]; }
wait_for 5000 traced
ok $? "strace holds every syncfs of b's syncd for $HOLD s"
# whole, by one rename: a scan between the create and the write of an
# echo into the directory (the interval's round can come just then)
# would ship an empty file
echo "late" > "$W_TMP/late"
chown _failoverd: "$W_TMP/late"
mv "$W_TMP/late" "$W_TMP/a.data/late"
# held: stopped by its tracer in syncfs (strace stops at every call, so
# the state alone is not enough: the call must be syncfs, and the batch's
# temporary file must hold the new file's bytes)
SYNCFS=$(python3 -c 'import platform; print({"x86_64": 306, "aarch64": 267}.get(platform.machine(), -1))')
in_syncfs() { [ "$(cut -d' ' -f1 /proc/$SYNCD/syscall 2>/dev/null)" = "$SYNCFS" ]; }
held() { [ "$(awk '{print $3}' /proc/$SYNCD/stat)" = t ] && in_syncfs; }
wait_for 5000 held
ok $? "b's syncd received the batch with the new file and is in its syncfs"
check "the batch's temporary file holds it" sh -c "grep -lx late $W_TMP/b.data/.failoverd.* | grep -q ."
check "and it is not in place yet" test ! -e "$W_TMP/b.data/late"
node_kill a
stamp a killed
wait_for $(( HOLD * 1000 + 2 * L )) is_role b active
ok $? "a killed: b takes over"
wait_for $(( HOLD * 1000 )) eval '! held'
ok $? "b's syncd runs again"
check "the same process ($SYNCD)" alive "$SYNCD"
sleep 1
check "the batch of a's epoch was not renamed into place on b" test ! -e "$W_TMP/b.data/late"
check "and no temporary file of it is left" sh -c "[ \$(ls -A '$W_TMP/b.data' | wc -l) = 1 ]"
is "$(cat "$W_TMP/b.data/first")" before "the files acknowledged before are all there"

done_testing
