#!/bin/bash
# make bench: takeover as a user feels it, failoverd beside keepalived
# (VRRP) in the same namespaces and the same run.
#
# 1. For each tool, the fastest setting that holds STRESS seconds (60) of
#    stress-ng on every core and the disk without a false failover:
#    failoverd at dead 500ms, 1s, 2s, 3s, 5s; keepalived at advert_int
#    0.1, 0.2, 0.5, 1.
# 2. At those settings, a node's death (kill -9 of its processes and its
#    link down, as when a machine stops) while a TCP client in its own
#    namespace connects to a service on the VIP every 10 ms: the gap
#    between the last answer from the old node and the first from the
#    new one, median of RUNS (5) trials, the dead node alternating.
# 3. failoverd's switchover as the same client sees it.
# Measures; asserts nothing.  SMALL=1: 10 s of stress and 3 trials.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/world.sh"
trap 'bench_stop; world_down' EXIT
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)"; exit 1; }
STRESS=${STRESS:-60}
RUNS=${RUNS:-5}
if [ -n "$SMALL" ]; then
	STRESS=10; RUNS=3
fi
PORT=8080

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s-%s", lo, hi; else print "-" }'; }

world_up >/dev/null || exit 1
pg_start || exit 1
W_NODES="a b"

BG=""
bench_stop() {
	local p
	kp_stop
	for p in $BG; do kill "$p" 2>/dev/null; done
	BG=""
	pkill -f "stress-ng --cpu 0 --hdd 1" 2>/dev/null
}

# --- the service on each node, the client beside them ------------------------
for n in a b; do
	nsx_bg "$n" python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen(128)
while True:
    c, _ = s.accept()
    try:
        c.sendall(sys.argv[1].encode())
    except OSError:
        pass
    c.close()' "$n" "$PORT" &
	BG="$BG $!"
done
# a line "MS NODE" for each answer, "MS -" for each failed try, every 10 ms
CLIENT_LOG=$W_TMP/client.log
nsx_bg client python3 -u -c 'import socket, sys, time
vip, port = sys.argv[1], int(sys.argv[2])
while True:
    t = time.time()
    who = "-"
    try:
        s = socket.create_connection((vip, port), timeout=0.05)
        s.settimeout(0.05)
        who = s.recv(16).decode() or "-"
        s.close()
    except OSError:
        pass
    print("%d %s" % (t * 1000, who))
    d = 0.01 - (time.time() - t)
    if d > 0:
        time.sleep(d)' "$VIP" "$PORT" > "$CLIENT_LOG" &
BG="$BG $!"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# gap FROM_MS OLD NEW: from the client's log, NEW's first answer after
# FROM_MS less OLD's last answer before that one, in ms
gap() {
	awk -v t="$1" -v o="$2" -v n="$3" '
		$1 > t && $2 == n && !first { first = $1 }
		!first && $2 == o { last = $1 }
		END { if (last && first) print first - last }' "$CLIENT_LOG"
}
answering() { tail -3 "$CLIENT_LOG" | grep -q " $1\$"; }

# a node's death and its return, the same for both tools: its processes
# killed, its link down; back up without the address it held
down() { ip -n "$(ns "$1")" link set eth0 down; }
up() {
	ip -n "$(ns "$1")" addr del "$VIP/24" dev eth0 2>/dev/null
	ip -n "$(ns "$1")" link set eth0 up
}

stress_on() {
	stress-ng --cpu 0 --hdd 1 --io 1 --timeout "${1}s" --quiet >/dev/null 2>&1 &
	STRESS_PID=$!
}

# --- failoverd -------------------------------------------------------------------
fo_timing() {	# DEAD_MS: the heartbeat line for it (see failoverd.conf(5))
	local d=$1
	echo "heartbeat interval $((d / 10))ms dead ${d}ms margin $((d * 3 / 10))ms slack $((d / 10))ms timeout $((d / 4))ms"
}
fo_up() {
	TIMING=$(fo_timing "$1")
	node_conf a
	node_conf b
	node_start a
	wait_for 15000 is_role a active || return 1
	node_start b
	wait_for 15000 is_role b standby
}
fo_down() {
	node_kill a
	node_kill b
	up a; up b
	sql "DELETE FROM failover_lease; DELETE FROM failover_node; DELETE FROM failover_event" >/dev/null
}
other() { [ "$1" = a ] && echo b || echo a; }

# fo_holds DEAD_MS: no role changes under stress
fo_holds() {
	local e0 e1
	fo_up "$1" || { fo_down; return 1; }
	e0=$(epoch)
	stress_on "$STRESS"
	wait "$STRESS_PID"
	sleep 1
	e1=$(epoch)
	is_role a active && is_role b standby && [ "$e0" = "$e1" ]
	local rc=$?
	[ $rc = 0 ] || echo "# failoverd at dead ${1}ms: a false failover under stress (epoch $e0 -> $e1)" >&2
	fo_down
	return $rc
}

fo_trials() {
	local d=$1 i act oth t g
	fo_up "$d" || return 1
	wait_for 5000 answering a
	for i in $(seq 1 "$RUNS"); do
		act=$(holder); oth=$(other "$act")
		wait_for 15000 is_role "$oth" standby
		wait_for 5000 answering "$act"
		sleep 1
		t=$(ms)
		node_kill "$act"
		down "$act"
		wait_for 30000 answering "$oth"
		g=$(gap "$t" "$act" "$oth")
		echo "# failoverd, dead ${d}ms, trial $i: $act died, $oth answered after ${g:-?} ms" >&2
		[ -n "$g" ] && echo "$g" >> "$W_TMP/fo.gap"
		up "$act"
		node_start "$act"
		wait_for 15000 is_role "$act" standby
	done
	for i in $(seq 1 "$RUNS"); do
		act=$(holder); oth=$(other "$act")
		wait_for 15000 is_role "$oth" standby
		wait_for 5000 answering "$act"
		sleep 1
		t=$(ms)
		ctl "$act" switchover "$oth" >/dev/null
		wait_for 10000 answering "$oth"
		g=$(gap "$t" "$act" "$oth")
		[ -n "$g" ] && echo "$g" >> "$W_TMP/fo.switch"
	done
	fo_down
}

# --- keepalived ------------------------------------------------------------------
KP_PIDS=""
declare -A KP_PID
# tree PID: it and every process under it
tree() { local c; echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
kp_kill() { kill -9 $(tree "$1") 2>/dev/null; }
kp_stop() {
	local p
	for p in $KP_PIDS; do kp_kill "$p"; done
	KP_PIDS=""
}
kp_start() {	# NODE PRIORITY ADVERT
	local n=$1
	rm -f "$W_TMP/kp.$n.pid" "$W_TMP/kp.$n.vrrp.pid"
	cat > "$W_TMP/kp.$n.conf" <<EOC
global_defs {
	router_id fo_$n
	vrrp_version 3
	enable_script_security
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority $2
	advert_int $3
	nopreempt
	virtual_ipaddress {
		$VIP/24 dev eth0
	}
}
EOC
	nsx_bg "$n" keepalived -n -l -D -f "$W_TMP/kp.$n.conf" \
	    -p "$W_TMP/kp.$n.pid" -r "$W_TMP/kp.$n.vrrp.pid" \
	    >> "$W_TMP/kp.$n.log" 2>&1 &
	KP_PID[$n]=$!
	KP_PIDS="$KP_PIDS $!"
	disown "$!"	# no "Killed" from the shell at each death
}
kp_master() { has_vip a && ! has_vip b && echo a; has_vip b && ! has_vip a && echo b; }
kp_has_master() { [ -n "$(kp_master)" ]; }
kp_up() {
	kp_start a 150 "$1"
	wait_for 20000 has_vip a || return 1
	kp_start b 100 "$1"
	sleep 3
}
kp_down() { kp_stop; up a; up b; }

# kp_holds ADVERT: the VIP never moves nor doubles under stress
kp_holds() {
	local moved=0
	kp_up "$1" || { kp_down; return 1; }
	stress_on "$STRESS"
	while kill -0 "$STRESS_PID" 2>/dev/null; do
		[ "$(kp_master)" = a ] || moved=1
		sleep 0.1
	done
	wait "$STRESS_PID"
	[ "$(kp_master)" = a ] || moved=1
	[ $moved = 0 ] || echo "# keepalived at advert_int $1: a false failover under stress" >&2
	kp_down
	return $moved
}

kp_trials() {
	local adv=$1 i act oth t g p
	kp_up "$adv" || return 1
	for i in $(seq 1 "$RUNS"); do
		wait_for 20000 kp_has_master
		act=$(kp_master); oth=$(other "$act")
		[ -n "$act" ] || break
		wait_for 5000 answering "$act"
		sleep 2
		t=$(ms)
		kp_kill "${KP_PID[$act]}"
		down "$act"
		wait_for 30000 answering "$oth"
		g=$(gap "$t" "$act" "$oth")
		echo "# keepalived, advert_int $adv, trial $i: $act died, $oth answered after ${g:-?} ms" >&2
		[ -n "$g" ] || awk -v t="$t" '$1 > t - 300 && $1 < t + 3000' "$CLIENT_LOG" | uniq -f1 -c | head -8 >&2
		[ -n "$g" ] && echo "$g" >> "$W_TMP/kp.gap"
		up "$act"
		kp_start "$act" 100 "$adv"
		sleep 3
	done
	kp_down
}

# --- the search, then the trials -------------------------------------------------
# FO_SET (a dead interval in ms) or KP_SET (an advert_int) skips that
# tool's search; TOOLS="fo" or "kp" runs one of them
FO_SET=${FO_SET:--}
KP_SET=${KP_SET:--}
TOOLS=${TOOLS:-fo kp}
case " $TOOLS " in *" fo "*)
	if [ "$FO_SET" = - ]; then
		for d in 500 1000 2000 3000 5000; do
			if fo_holds "$d"; then FO_SET=$d; break; fi
		done
	fi ;;
esac
case " $TOOLS " in *" kp "*)
	if [ "$KP_SET" = - ] && command -v keepalived >/dev/null; then
		for adv in 0.1 0.2 0.5 1; do
			if kp_holds "$adv"; then KP_SET=$adv; break; fi
		done
	fi ;;
esac
case " $TOOLS " in *" fo "*) [ "$FO_SET" != - ] && fo_trials "$FO_SET" ;; esac
case " $TOOLS " in *" kp "*) [ "$KP_SET" != - ] && kp_trials "$KP_SET" ;; esac

FO_GAP=$(median < "$W_TMP/fo.gap" 2>/dev/null)
KP_GAP=$(median < "$W_TMP/kp.gap" 2>/dev/null)
printf '\ntakeover as a TCP client sees it, failoverd beside keepalived, same run\n'
printf '(the fastest setting that held %s s of stress-ng on every core and the disk;\n' "$STRESS"
printf ' ms from the last answer of the node that died to the first of the other,\n'
printf ' median and spread of %s trials)\n' "$RUNS"
printf '%-50s %10s %12s\n' "tool and setting" "median" "spread"
printf '%-50s %10s %12s\n' "failoverd, $( [ "$FO_SET" = - ] && echo "no setting held" || fo_timing "$FO_SET" | sed 's/heartbeat //; s/ margin.*//')" \
    "${FO_GAP:--}" "$(spread < "$W_TMP/fo.gap" 2>/dev/null)"
printf '%-50s %10s %12s\n' "keepalived VRRPv3, advert_int $KP_SET" \
    "${KP_GAP:--}" "$(spread < "$W_TMP/kp.gap" 2>/dev/null)"
printf '%-50s %10s\n' "failoverd / keepalived (goal: at most 0.5)" \
    "$(awk -v a="${FO_GAP:-0}" -v b="${KP_GAP:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }')"
printf '%-50s %10s %12s\n' "failoverd switchover (goal: under 100)" \
    "$(median < "$W_TMP/fo.switch" 2>/dev/null)" "$(spread < "$W_TMP/fo.switch" 2>/dev/null)"
echo "(a death: kill -9 of every process of the node and its eth0 down, as"
echo " when the machine stops; the client connects to the VIP every 10 ms"
echo " from its own namespace, 50 ms timeout.  Noisy: a gap is a whole"
echo " dead interval plus what the loaded machine adds; the spread says how"
echo " much.  keepalived's own gap is about 3 advert_int and a skew)"
