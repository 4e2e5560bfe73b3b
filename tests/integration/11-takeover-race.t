#!/bin/bash
# The takeover race with three nodes: c reaches the database through a
# proxy that holds every reply back close to H, so its takeover timer
# often fires while a poll is in flight.  The active is killed again and
# again; the takeover must name the (epoch, beat) its timer was armed for,
# so c never steals the lease b took a moment ago from the dead one, and
# the hook stamps never show two nodes past on-active at once.
# (tc netem is not in these kernels: the proxy stands in for it.)
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

H=100
L=3000
ROUNDS=6
[ -n "$CHAOS" ] && ROUNDS=15
DELAY=90

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
host_add c "${NODE_ADDR[c]}" 02:00:00:00:00:13
W_NODES="a b c"
nsx_bg c python3 "$T_TOP/tests/lib/proxy.py" 127.0.0.1 5433 "$DB_ADDR" 5432 \
    --delay "$DELAY" &
W_PIDS="$W_PIDS $!"
# a longer probe keeps a new holder's beat at 0 for a while: the window
# in which a stale takeover naming (epoch, 0) would succeed
for n in a b c; do
	node_conf "$n" "probe wait 500ms"
done
sed -i "s/hostaddr=$DB_ADDR /hostaddr=127.0.0.1 port=5433 /" "$W_TMP/c.conf"
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
node_start c
wait_for 10000 is_role c standby
ok $? "c, whose replies come $DELAY ms late, is standby"
wait_for 10000 is_role b standby

active_node() {
	local n
	for n in $W_NODES; do
		[ "$(role "$n")" = active ] && [ "$(holder)" = "$n" ] &&
		    echo "$n" && return 0
	done
	return 1
}

for round in $(seq 1 "$ROUNDS"); do
	A=$(wait_for 15000 active_node >/dev/null && active_node)
	[ -n "$A" ] || { ok 1 "round $round: an active node"; break; }
	e0=$(epoch)
	stamp "$A" killed
	node_kill "$A"
	new_holder() { local h; h=$(holder); [ -n "$h" ] && [ "$h" != "$A" ]; }
	wait_for $(( 4 * L )) new_holder
	ok $? "round $round: $A killed, $(holder) takes over at epoch $(epoch)"
	# let a stolen lease show: c's timer fires H after b's
	sleep 1
	is "$(epoch)" "$((e0 + 1))" "round $round: one grant, no second takeover"
	check "round $round: never two nodes past on-active" no_split_brain
	node_start "$A"
	wait_for 10000 is_role "$A" standby
done
is "$(sql "SELECT count(*) FROM failover_event WHERE event = 'takeover' AND detail <> 'from a' AND detail <> 'from b' AND detail <> 'from c'")" 0 \
    "every takeover names the node it took from"
check "no split brain over all rounds" no_split_brain
done_testing
