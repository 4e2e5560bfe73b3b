#!/bin/bash
# sudo make demo: a failover end to end, on a throwaway PostgreSQL and
# network namespaces that it builds here and removes when it ends.
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/world.sh"
trap world_down EXIT
TIMING="heartbeat interval 200ms dead 3s margin 1s slack 200ms timeout 500ms"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { echo "\$ failoverctl $*"; ctl "$@"; }

say "building a world: a switch, a database host, nodes a and b (192.0.2.0/24)"
world_up || exit 1
pg_start || { echo "PostgreSQL did not start"; exit 1; }
echo "PostgreSQL 192.0.2.5, database failover"
W_NODES="a b"
sync_key a && sync_key b
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 30s delay 200ms")"
done
# the application's data: whoever is active writes here
app_write() {	# NODE TEXT
	echo "$2" > "$W_TMP/$1.data/state"
	chown _failoverd: "$W_TMP/$1.data/state"
}
echo "configuration of node a ($W_TMP/a.conf):"
sed 's/^/    /' "$W_TMP/a.conf"

say "starting failoverd on both nodes at once: exactly one becomes active"
node_start a
node_start b
wait_for 15000 sh -c "grep -q 'role standby -> active' '$W_TMP/a.log' '$W_TMP/b.log'"
sleep 0.5
A=$(holder)
B=$([ "$A" = a ] && echo b || echo a)
show "$A" status
echo
show "$B" status
echo
echo "from the client: who has the VIP $VIP?"
echo "  $(who_has) ($A's eth0 is $(mac_of "$A"))"

say "the application on $A writes its state; syncd ships it to $B, encrypted"
app_write "$A" "written on $A at $(date +%T)"
wait_for 5000 cmp -s "$W_TMP/$A.data/state" "$W_TMP/$B.data/state"
echo "on $B: $(cat "$W_TMP/$B.data/state") (after ${WAITED} ms)"

say "switchover from $A to $B (planned: on-standby, release, acquire)"
t=$(ms_now)
show "$A" switchover "$B"
echo "took $(( $(ms_now) - t )) ms"

say "kill -9 of every failoverd process on $B (the active node)"
node_kill "$B"
t=$(ms_now)
while [ "$(holder)" != "$A" ]; do sleep 0.02; done
echo "$A took over after $(( $(ms_now) - t )) ms (dead interval L = 3 s)"
wait_for 3000 has_vip "$A"
echo "from the client: who has the VIP $VIP now?"
echo "  $(who_has) ($A's eth0 is $(mac_of "$A"))"
echo "the data on $A: $(cat "$W_TMP/$A.data/state")"
show "$A" status

say "$B comes back: it joins as a standby and receives from $A"
app_write "$A" "written on $A after the takeover"
node_start "$B"
wait_for 10000 is_role "$B" standby
wait_for 10000 cmp -s "$W_TMP/$A.data/state" "$W_TMP/$B.data/state"
echo "on $B: $(cat "$W_TMP/$B.data/state")"
show "$B" status

say "the cluster's history, from the database"
show "$A" history -n 12

say "hook runs, as the application would see them (time, node, hook, FAILOVER_ROLE, epoch)"
for n in a b; do sed "s/\$/ $n/" "$W_TMP/hooks.$n"; done | sort -n |
    while read -r ns hook role ep node; do
	printf '  %s.%03d  %s  %-10s %-8s epoch %s\n' \
	    "$(date -d "@$(( ns / 1000000000 ))" +%T)" \
	    $(( ns / 1000000 % 1000 )) "$node" "$hook" "$role" "$ep"
done

say "done: removing the namespaces and the database"
