#!/bin/bash
# make bench: takeover time after kill -9 of the active node and switchover
# time, median of several runs, failoverd beside keepalived (VRRP) in the
# same namespaces and the same run.  Measures; asserts nothing.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/world.sh"
trap 'kp_stop; world_down' EXIT
RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)"; exit 1; }

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }

world_up >/dev/null || exit 1
pg_start || exit 1
W_NODES="a b"

# failoverd: kill -9 of the active, time until the other holds the lease
fo_round() {
	local a b t
	a=$(holder)
	b=$([ "$a" = a ] && echo b || echo a)
	echo "$(date +%s%N) killed" >> "$W_TMP/hooks.$a"
	node_kill "$a"
	t=$(ms_now)
	if [ "$2" = lease ]; then
		while [ "$(holder)" != "$b" ] && [ $(( $(ms_now) - t )) -lt 30000 ]; do
			sleep 0.01
		done
		[ "$(holder)" = "$b" ] && echo $(( $(ms_now) - t )) >> "$W_TMP/takeover.$1"
	else
		# the VIP on the other node, as for keepalived
		while ! has_vip "$b" && [ $(( $(ms_now) - t )) -lt 30000 ]; do
			sleep 0.01
		done
		has_vip "$b" && echo $(( $(ms_now) - t )) >> "$W_TMP/takeover.$1"
	fi
	node_start "$a"
	wait_for 15000 is_role "$a" standby
	wait_for 15000 sh -c "! ip -n $(ns "$a") -4 -o addr show dev eth0 | grep -q ' $VIP/'"
}

fo_bench() {
	local label=$1 i a b t measure=$3
	TIMING=$2
	node_conf a
	node_conf b
	node_start a
	node_start b
	wait_for 15000 sh -c '[ -n "$1" ]' _ "$(holder)"
	wait_for 15000 is_role a standby || wait_for 15000 is_role b standby
	for i in $(seq 1 "$RUNS"); do
		fo_round "$label" "$measure"
	done
	for i in $(seq 1 "$RUNS"); do
		a=$(holder)
		b=$([ "$a" = a ] && echo b || echo a)
		wait_for 15000 is_role "$b" standby
		t=$(date +%s%N)
		ctl "$a" switchover "$b" >/dev/null
		echo $(( ($(date +%s%N) - t) / 1000000 )) >> "$W_TMP/switch.$label"
	done
	node_stop a
	node_stop b
	sql "DELETE FROM failover_lease; DELETE FROM failover_node; DELETE FROM failover_event" >/dev/null
}

# keepalived: two VRRP routers, kill -9 of the master, time until the
# backup holds the VIP
KP_PIDS=""
kp_stop() {
	local p
	for p in $KP_PIDS; do kill -9 "$p" 2>/dev/null; done
	KP_PIDS=""
}

kp_start() {
	local n=$1 prio=$2
	cat > "$W_TMP/kp.$n.conf" <<EOC
global_defs {
	router_id fo_$n
	enable_script_security
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority $prio
	advert_int 1
	nopreempt
	virtual_ipaddress {
		192.0.2.10/24 dev eth0
	}
}
EOC
	nsx_bg "$n" keepalived -n -l -D -f "$W_TMP/kp.$n.conf" \
	    -p "$W_TMP/kp.$n.pid" -r "$W_TMP/kp.$n.vrrp.pid" \
	    >> "$W_TMP/kp.$n.log" 2>&1 &
	KP_PID[$n]=$!
	KP_PIDS="$KP_PIDS $!"
}

has_vip() {
	ip -n "$(ns "$1")" -4 -o addr show dev eth0 | grep -q "192.0.2.10/"
}

kp_bench() {
	local i m b t p
	W_NODES=""
	declare -gA KP_PID
	kp_start a 150
	kp_start b 100
	for i in $(seq 1 "$RUNS"); do
		wait_for 20000 sh -c "ip -n $(ns a) -4 -o addr show dev eth0 | grep -q 192.0.2.10/ || ip -n $(ns b) -4 -o addr show dev eth0 | grep -q 192.0.2.10/"
		if has_vip a; then m=a; b=b; else m=b; b=a; fi
		sleep 2
		# keepalived, its VRRP child and everything under it
		p=${KP_PID[$m]}
		kill -9 $p $(pgrep -P "$p") 2>/dev/null
		ip -n "$(ns "$m")" addr del 192.0.2.10/24 dev eth0 2>/dev/null
		t=$(date +%s%N)
		while ! has_vip "$b" && [ $(( ($(date +%s%N) - t) / 1000000 )) -lt 30000 ]; do
			sleep 0.01
		done
		has_vip "$b" && echo $(( ($(date +%s%N) - t) / 1000000 )) >> "$W_TMP/takeover.keepalived"
		kp_start "$m" 100
	done
	kp_stop
}

# with dead < 3 s the VIP has no kernel lifetime: a killed node keeps it
# and the standby's probe reports the conflict (failoverd(8)), so the fast
# setting is timed until the other node holds the lease
fo_bench fast "heartbeat interval 100ms dead 1s margin 300ms slack 100ms timeout 250ms" lease
fo_bench default3 "heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms" vip
if command -v keepalived >/dev/null; then
	kp_bench
fi

printf '\nfailover after kill -9 of the active node, median of %s runs (ms)\n' "$RUNS"
printf '%-58s %10s %12s\n' "tool and settings" "takeover" "switchover"
printf '%-58s %10s %12s\n' "failoverd (interval 100ms dead 1s margin 300ms) lease" \
    "$(median < "$W_TMP/takeover.fast")" "$(median < "$W_TMP/switch.fast")"
printf '%-58s %10s %12s\n' "failoverd (interval 100ms dead 3s margin 1s) VIP" \
    "$(median < "$W_TMP/takeover.default3")" "$(median < "$W_TMP/switch.default3")"
if [ -s "$W_TMP/takeover.keepalived" ]; then
	printf '%-58s %10s %12s\n' "keepalived VRRP (advert_int 1, priority 150/100)" \
	    "$(median < "$W_TMP/takeover.keepalived")" "n/a"
else
	printf '%-58s %10s %12s\n' "keepalived (not installed: make deps)" - -
fi
echo "(takeover: kill -9 of every process of the active node until the VIP is"
echo " bound on the other, or for 'lease' until it holds the lease: with dead"
echo " under 3 s a killed node keeps its VIP and the standby reports a conflict;"
echo " switchover: failoverctl switchover until it returns)"
