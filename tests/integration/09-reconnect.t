#!/bin/bash
# A healed network is noticed within (L - M)/4 + Q: cut a node from the
# database with nftables for various lengths, on the active and on the
# standby, heal, and the node's status shows the database up again in
# time, with nothing else waking its heartbeatd.  CHAOS=1: more rounds.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

TIMING="heartbeat interval 100ms dead 1s margin 300ms slack 100ms timeout 250ms"
CUTS="300 1200 2500"
[ -n "$CHAOS" ] && CUTS="200 700 1200 1200 1200 2000 3500 5000"
# (L - M)/4 + Q = 425 ms; the test polls status through psql-free ctl
# calls every 20 ms, a loaded machine takes some: allow 1 s
LIMIT=1000

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
node_conf a
node_conf b
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is standby"

# wait_db_up NODE MS: poll status every 200 ms only, so the polling
# itself does not wake heartbeatd (it does not: status goes to the monitor)
for n in a b; do
	for cut in $CUTS; do
		wait_for 10000 db_is "$n" up
		nft_cut "$n"
		t=$(ms_now)
		wait_for "$cut" db_is "$n" down
		down=$?
		left=$(( cut - ($(ms_now) - t) ))
		[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
		nft_heal "$n"
		[ "$cut" -ge 600 ] && ok "$down" "$n cut for $cut ms: status shows the database down"
		t=$(ms_now)
		wait_for 15000 db_is "$n" up
		dt=$(( $(ms_now) - t ))
		ok $(( dt > LIMIT )) "$n cut for $cut ms: the database is up again $dt ms after the heal (at most $LIMIT)"
	done
done
# both nodes still take part
one_active() { [ "$(actives)" = 1 ]; }
wait_for 10000 one_active
ok $? "exactly one node is active at the end"
done_testing
