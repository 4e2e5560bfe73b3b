#!/bin/bash
# Orchestration in the monitor: hooks run without a shell, as the script
# user, in their own process group, with FAILOVER_* in the environment;
# a hook past its own timeout is killed with its group and a failed
# on-active demotes; the health check with fall/rise demotes an unhealthy active and
# clears the fault; preempt yes hands the role back by switchover.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
# dead 2 s: a loaded two-core machine can stall a process for most of a
# second, which at dead 1 s would be a takeover the test did not ask for
TIMING="heartbeat interval 100ms dead 2s margin 500ms slack 100ms timeout 250ms"

# a hook that records who and what it is, then does as told by a file
cat > "$W_TMP/probe" <<'EOF'
#!/bin/sh
d=$(dirname "$0")
echo "$1 t=$(date +%s%N) uid=$(id -u) pid=$$ pgid=$(ps -o pgid= -p $$ | tr -d ' ') role=$FAILOVER_ROLE epoch=$FAILOVER_EPOCH node=$FAILOVER_NODE cluster=$FAILOVER_CLUSTER path=$PATH home=${HOME:-unset} args=$#" >> "$d/probe.$FAILOVER_NODE"
if [ -f "$d/fail.$FAILOVER_NODE.$1" ]; then
	exit 3
fi
if [ -f "$d/hang.$FAILOVER_NODE.$1" ]; then
	sleep 30 &
	echo "$!" > "$d/hang.$FAILOVER_NODE.child"
	wait
fi
exit 0
EOF
chmod 755 "$W_TMP/probe"
# the hooks run as nobody: the files they write are theirs to write
for f in probe.a probe.b hang.a.child hang.b.child; do
	: > "$W_TMP/$f"
	chmod 666 "$W_TMP/$f"
done
cat > "$W_TMP/check" <<'EOF'
#!/bin/sh
[ ! -f "$(dirname "$0")/sick.$FAILOVER_NODE" ]
EOF
chmod 755 "$W_TMP/check"

hooks_conf() {
	node_conf "$1" "script-user \"nobody\"" \
	    "on-active \"$W_TMP/probe on-active ;touch $W_TMP/pwned |x >y\" timeout 2s" \
	    "on-standby \"$W_TMP/probe on-standby\" timeout 2s" \
	    "on-fault \"$W_TMP/probe on-fault\" timeout 2s" \
	    "check \"$W_TMP/check\" interval 200ms fall 2 rise 2" "$2"
	# the conf of node_conf sets the hooks first; the later ones win
}
hooks_conf a
hooks_conf b
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is standby"

line=$(grep '^on-active' "$W_TMP/probe.a" | tail -1)
check "on-active runs as the script user (nobody)" \
    sh -c "echo '$line' | grep -q 'uid=$(id -u nobody) '"
pid=$(echo "$line" | sed 's/.* pid=\([0-9]*\).*/\1/')
pgid=$(echo "$line" | sed 's/.* pgid=\([0-9]*\).*/\1/')
is "$pgid" "$pid" "in its own process group (pgid = pid)"
check "with FAILOVER_ROLE=active and the epoch" \
    sh -c "echo '$line' | grep -q 'role=active epoch=$(epoch) '"
check "with FAILOVER_NODE and FAILOVER_CLUSTER" \
    sh -c "echo '$line' | grep -q 'node=a cluster=test '"
check "in an environment of its own (PATH set, no HOME)" \
    sh -c "echo '$line' | grep -q 'path=/usr/sbin:/usr/bin:/sbin:/bin home=unset'"
check "argv split on blanks, no shell: ';touch FILE |x >y' are 4 more arguments" \
    sh -c "echo '$line' | grep -q 'args=5$'"
check "and no shell ran them" test ! -e "$W_TMP/pwned" -a ! -e /y -a ! -e "$W_TMP/y"
check "at start on-standby ran with FAILOVER_ROLE=starting, epoch 0" \
    grep -q '^on-standby .* role=starting epoch=0 ' "$W_TMP/probe.b"

# a failed on-active demotes: the node goes to fault, the other takes over
touch "$W_TMP/fail.b.on-active"
ctl a switchover b > /dev/null 2>&1
wait_for 10000 is_role b fault
ok $? "b's on-active exits 3: b demotes into fault (${WAITED} ms)"
wait_for 10000 is_role a active
ok $? "and a takes the role back"
check "b ran on-fault with FAILOVER_ROLE=fault" \
    grep -q '^on-fault .* role=fault ' "$W_TMP/probe.b"
check "the fault names on-active" sh -c \
    "\"$FAILOVERCTL\" -s '$W_TMP/b.sock' status -j | grep -q 'on-active failed'"
rm -f "$W_TMP/fail.b.on-active"
ctl b resume > /dev/null 2>&1
wait_for 5000 is_role b standby
ok $? "resume clears the fault"

# a hook past its timeout is killed with its whole process group
touch "$W_TMP/hang.a.on-standby"
t=$(ms_now)
ctl b switchover > /dev/null 2>&1
wait_for 10000 is_role a fault
ok $? "a's on-standby hangs: killed (at its timeout or the lease's deadline, the earlier), a is in fault ($(( $(ms_now) - t )) ms)"
child=$(cat "$W_TMP/hang.a.child" 2>/dev/null)
check "the hung hook had started a child (${child:-none})" test -n "$child"
wait_for 2000 dead ${child:-0}
ok $? "the hook's own child (sleep) was killed with its group"
wait_for 5000 is_role b active
ok $? "the lease ran out and b took over"
rm -f "$W_TMP/hang.a.on-standby"
ctl a resume > /dev/null 2>&1
wait_for 5000 is_role a standby
ok $? "a resumes as standby"

# a hook's own timeout: on-active has no lease deadline (the node renews
# while it runs), so a hung one is killed at its 2 s and no sooner; b is
# active now, a standby
: > "$W_TMP/hang.a.child"
touch "$W_TMP/hang.a.on-active"
t=$(ms_now)
ctl b switchover a > /dev/null 2>&1
wait_for 10000 grep -q "on-active: $W_TMP/probe did not finish within its time" "$W_TMP/a.log"
rc=$?
tk=$(date +%s%N)
ok $rc "a's on-active hangs: killed at its own timeout"
ts=$(grep '^on-active ' "$W_TMP/probe.a" | tail -1 | sed 's/.* t=\([0-9]*\) .*/\1/')
dt=$(( (tk - ts) / 1000000 ))
check "at its 2 s, not before, and not much after ($dt ms after it started)" \
    test "$dt" -ge 1950 -a "$dt" -le 4000
wait_for 5000 is_role a fault
ok $? "a is in fault"
child=$(cat "$W_TMP/hang.a.child" 2>/dev/null)
check "it had started a child (${child:-none})" test -n "$child"
wait_for 2000 dead ${child:-0}
ok $? "which was killed with it"
wait_for 5000 is_role b active
ok $? "b takes the role back"
rm -f "$W_TMP/hang.a.on-active"
ctl a resume > /dev/null 2>&1
wait_for 5000 is_role a standby
ok $? "a resumes as standby"

# the health check: fall bad checks demote the active, rise good clear it
touch "$W_TMP/sick.b"
wait_for 10000 is_role b fault
ok $? "b's check fails twice: b demotes into fault (${WAITED} ms)"
wait_for 5000 is_role a active
ok $? "a takes over"
rm -f "$W_TMP/sick.b"
wait_for 5000 is_role b standby
ok $? "two good checks: b is standby again (${WAITED} ms)"
touch "$W_TMP/sick.b"
wait_for 5000 is_role b fault
ok $? "a failing check puts a standby in fault: it will not take over"
rm -f "$W_TMP/sick.b"
wait_for 5000 is_role b standby
ok $? "and it recovers"

# preempt yes: the node of higher priority takes the role back by a
# switchover after the delay, never by force
node_stop a
node_stop b
wait_for 5000 sh -c "true"
NODE_PRIO[a]=200
hooks_conf a "preempt yes delay 1s"
hooks_conf b "preempt yes delay 1s"
node_start b
wait_for 10000 is_role b active
ok $? "b alone is active"
e0=$(epoch)
node_start a
t=$(ms_now)
wait_for 10000 is_role a active
ok $? "a, of higher priority, becomes active after the delay ($(( $(ms_now) - t )) ms)"
is "$(sql "SELECT event || ' ' || coalesce(detail, '') FROM failover_event WHERE node = 'b' AND event = 'switchover' ORDER BY id DESC LIMIT 1")" \
    "switchover preempt: to a" "by a switchover of b, logged as preempt"
is "$(sql "SELECT event FROM failover_event WHERE node = 'a' ORDER BY id DESC LIMIT 1")" \
    acquire "a acquired the handed-over lease (no takeover)"
ok $(( $(epoch) != e0 + 1 )) "at the next epoch"

done_testing
