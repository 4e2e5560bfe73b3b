#!/bin/bash
# make chaos: the fault matrix.  Two nodes (three for the last fault)
# with fast timings, the VIP and a synced directory in which an
# "application" writes a file every 100 ms while its node is active (the
# on-active hook starts it, on-standby and on-fault stop it).  Each fault
# is done CHAOS_ROUNDS times (10); every hook run, kill, stop and thaw
# is stamped on one clock (CLOCK_BOOTTIME, which a wall-clock step does
# not move) and a sampler notes every 20 ms on which nodes the VIP is.
# check.py then holds every round to the same invariants: active periods
# never overlap, nor do VIPs; epochs strictly increase; no file that was
# on the node that is active after the round, when the fault came, is
# missing after it; and whenever a node was healthy, there was an active
# node again within L + 2 s.  It prints one table; any breach fails.
#
# CHAOS_FAULTS selects faults by name (default: all, in this order).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'for p in $STOPPED; do kill -CONT $p 2>/dev/null; done; clock_restore
    for n in a b c; do app_kill $n; done; world_down' EXIT

ROUNDS=${CHAOS_ROUNDS:-10}
ALL="kill-9 stop-active stop-heartbeatd stop-netd cut-active cut-standby
    partition db-restart db-down start-both clock-step three-slow-db"
FAULTS=${CHAOS_FAULTS:-$ALL}
for f in $FAULTS; do
	case " $(echo $ALL) " in
	*" $f "*) ;;
	*) echo "Bail out! no such fault: $f (faults: $(echo $ALL))"; exit 1 ;;
	esac
done
H=100
L=3000
M=1000
TIMING="heartbeat interval ${H}ms dead ${L}ms margin ${M}ms slack 100ms timeout 250ms"
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
host_add c "${NODE_ADDR[c]}" 02:00:00:00:00:13
pg_start
ok $? "PostgreSQL runs"
EV=$W_TMP/events

# up: milliseconds on CLOCK_BOOTTIME (/proc/uptime: 10 ms steps)
up() { local u; read -r u _ < /proc/uptime; echo "${u%.*}${u#*.}0"; }
mark() { echo "$(up) $*" >> "$EV"; }

# the hook: stamps its run; on-active starts the application, the
# others stop it
cat > "$W_TMP/chook" <<EOF
#!/bin/sh
read u _ < /proc/uptime
echo "\${u%.*}\${u#*.}0 \$1 \$FAILOVER_NODE \$FAILOVER_EPOCH" >> $EV
app=$W_TMP/app.\$FAILOVER_NODE
case \$1 in
on-active)
	: > \$app.starting
	setsid sh $W_TMP/writer \$FAILOVER_NODE \$FAILOVER_EPOCH $W_TMP/\$FAILOVER_NODE.data \$app </dev/null >/dev/null 2>&1 &
	;;
*)
	# the application may be starting: its pid file comes first
	i=0
	while [ -e \$app.starting ] && [ \$i -lt 20 ]; do sleep 0.05; i=\$((i + 1)); done
	[ -s \$app ] && kill \$(cat \$app) 2>/dev/null
	rm -f \$app
	;;
esac
exit 0
EOF
# the application: a file every 100 ms, named by node, epoch and number
cat > "$W_TMP/writer" <<'EOF'
#!/bin/sh
echo $$ > "$4"
rm -f "$4.starting"
i=0
while [ -d "$3" ]; do
	i=$((i + 1))
	echo "$1 $2 $i" > "$3/w-$1-$2-$i"
	sleep 0.1
done
EOF
chmod 755 "$W_TMP/chook" "$W_TMP/writer"

for n in a b c; do sync_key "$n"; done
conf_all() {
	local n
	for n in $W_NODES; do
		node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms")" \
		    "on-active \"$W_TMP/chook on-active\" timeout 5s" \
		    "on-standby \"$W_TMP/chook on-standby\" timeout 5s" \
		    "on-fault \"$W_TMP/chook on-fault\" timeout 5s" "$@"
	done
}
app_kill() { [ -s "$W_TMP/app.$1" ] && kill -9 "$(cat "$W_TMP/app.$1")" 2>/dev/null; rm -f "$W_TMP/app.$1"; }
# no_fault WHY: the fault could not be done: a breach, not a quiet pass
no_fault() { mark NOSTEADY "$f" "$r" "$1"; diag "$f $r: $1"; }
app_pid() { cat "$W_TMP/app.$1" 2>/dev/null; }

# the one active node, once the others are standbys and the row agrees
the_active() {
	local n a= c=0
	for n in $RUNNING; do
		case $(role "$n") in
		active) a=$n; c=$((c + 1)) ;;
		standby) ;;
		fault) ctl "$n" resume >/dev/null 2>&1; return 1 ;;
		*) return 1 ;;
		esac
	done
	[ "$c" = 1 ] && [ "$(holder)" = "$a" ] && echo "$a"
}
steady() { wait_for "${1:-20000}" the_active >/dev/null; }
other() { local n; for n in $RUNNING; do [ "$n" != "$1" ] && echo "$n" && return; done; }

# host_kill N: the host dies: every failoverd process and the application
host_kill() { app_kill "$1"; node_kill "$1"; mark killed "$1"; }
stop_all() { [ -n "$*" ] || { no_fault "nothing to stop"; return 1; }; STOPPED="$*"; kill -STOP $STOPPED; }
cont_all() { kill -CONT $STOPPED; STOPPED=; }
clock_step() { python3 -c "import time; time.clock_settime(time.CLOCK_REALTIME, time.time() + $1)"; }
# wall_minus_boot: the wall clock's seconds less the boot clock's (a step
# moves the one, not the other)
wall_minus_boot() { local u; read -r u _ < /proc/uptime; echo $(( $(date +%s) - ${u%.*} )); }
STEPPED=0
clock_restore() { [ "$STEPPED" = 0 ] || clock_step $(( -STEPPED )); STEPPED=0; }
cut_peers() {
	nsx a nft -f - <<EOF
table inet peers {
	chain out { type filter hook output priority 0; ip daddr ${NODE_ADDR[b]} drop; }
	chain in { type filter hook input priority 0; ip saddr ${NODE_ADDR[b]} drop; }
}
EOF
}
heal_peers() { nsx a nft delete table inet peers; }

# one round of FAULT: mark it, note what each node has, do it, wait for
# one active node, undo it, wait again
round() {
	local f=$1 r=$2 A B n pids
	steady 30000 || no_fault "no steady state before the round"
	A=$(the_active)
	B=$(other "$A")
	sleep 0.5
	for n in $RUNNING; do
		ls "$W_TMP/$n.data" > "$W_TMP/snap.$f.$r.$n"
	done
	mark FAULT "$f" "$r" "$A"
	case $f in
	kill-9)
		host_kill "$A"; mark HEALTHY
		steady
		node_start "$A" ;;
	stop-active)
		stop_all $(node_pids "$A") $(app_pid "$A")
		mark stopped "$A"; mark HEALTHY
		wait_for $(( 3 * L )) is_role "$B" active
		sleep 1
		cont_all; mark woke "$A" ;;
	stop-heartbeatd|stop-netd)
		stop_all "$(child_pid "${NODE_PID[$A]}" "${f#stop-}")"; mark HEALTHY
		wait_for $(( 3 * L )) is_role "$B" active
		cont_all ;;
	cut-active)
		nft_cut "$A"; mark HEALTHY
		wait_for $(( 3 * L )) is_role "$B" active
		nft_heal "$A" ;;
	cut-standby)
		nft_cut "$B"; mark HEALTHY
		sleep $(( L / 1000 + 1 ))
		nft_heal "$B" ;;
	partition)
		cut_peers; mark HEALTHY
		sleep $(( L / 1000 + 1 ))
		heal_peers ;;
	db-restart)
		pg_stop; pg_start; mark HEALTHY ;;
	db-down)
		pg_stop; sleep $(( L / 1000 + 1 )); pg_start; mark HEALTHY ;;
	start-both)
		for n in $RUNNING; do node_stop "$n"; mark stopped-clean "$n"; done
		for n in $RUNNING; do node_start "$n"; done
		mark HEALTHY ;;
	clock-step)
		w0=$(wall_minus_boot)
		clock_step 3600 && STEPPED=3600
		[ $(( $(wall_minus_boot) - w0 )) -ge 3500 ] || no_fault "the clock did not step"
		mark HEALTHY
		sleep 2
		clock_restore ;;
	three-slow-db)
		host_kill "$A"; mark HEALTHY
		steady
		node_start "$A" ;;
	esac
	steady 30000 || no_fault "no steady state after the round"
	sleep 1
	A=$(the_active)
	ls "$W_TMP/$A.data" > "$W_TMP/final.$f.$r"
	mark END "$f" "$r" "$A"
}

W_NODES="a b"
RUNNING="a b"
conf_all
vip_sampler() {
	local n c
	while :; do
		c=
		for n in a b c; do
			has_vip "$n" && c="$c$n"
		done
		echo "$(up) ${c:--}" >> "$W_TMP/vips"
		sleep 0.02
	done
}
vip_sampler &
W_PIDS="$W_PIDS $!"
node_start a
node_start b
steady 30000
ok $? "two nodes: one active, one standby"
# synced(): the standbys have some of what the application wrote
synced() {
	local a n
	a=$(the_active) || return 1
	for n in $RUNNING; do
		[ "$n" = "$a" ] && continue
		[ "$(ls "$W_TMP/$n.data" | wc -l)" -ge 10 ] || return 1
	done
}
wait_for 30000 synced
ok $? "the standby receives the application's files (${WAITED} ms)"
T0=$(date +%s)
for f in $FAULTS; do
	if [ "$f" = three-slow-db ]; then
		# c reaches the database through a proxy that holds every
		# reply back 80 ms, as a slow link would
		for n in $RUNNING; do node_stop "$n"; mark stopped-clean "$n"; done
		nsx_bg c python3 "$T_TOP/tests/lib/proxy.py" 127.0.0.1 5433 \
		    "$DB_ADDR" 5432 --delay 80 &
		W_PIDS="$W_PIDS $!"
		W_NODES="a b c"
		RUNNING="a b c"
		conf_all
		sed -i "s/hostaddr=$DB_ADDR dbname/hostaddr=127.0.0.1 port=5433 dbname/" "$W_TMP/c.conf"
		for n in $RUNNING; do node_start "$n"; done
		steady 30000 && wait_for 30000 synced
		ok $? "three nodes, c's database link slowed: the standbys receive the files"
	fi
	t=$(date +%s)
	for r in $(seq 1 "$ROUNDS"); do
		round "$f" "$r"
	done
	diag "$f: $ROUNDS rounds in $(( $(date +%s) - t )) s"
done
diag "the matrix took $(( $(date +%s) - T0 )) s"

python3 "$T_TOP/tests/chaos/check.py" "$W_TMP" "$L" "$ROUNDS" > "$W_TMP/table" 2>&1
rc=$?
sed 's/^/# /' "$W_TMP/table"
ok $rc "every round holds the invariants"
done_testing
