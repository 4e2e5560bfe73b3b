#!/bin/bash
# make bench: what failoverd costs while it waits, beside keepalived in
# the same run.  The sender's and the receiver's syncd at 1,000 and at
# 120,000 files (peak resident set of a no-change round, and of the
# initial sync), the bytes each further file costs; idle, the PSS of the
# active node's processes (smaps_rollup) and their CPU time over 60 s at
# "heartbeat interval 1s"; keepalived's PSS and CPU at advert_int 1; the
# peak resident set of rsync -a over ssh on the same 120,000 files.
# Measures; asserts nothing.  SMALL=1: a tenth of the files, 10 s idle.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/world.sh"
trap 'kp_stop; world_down' EXIT
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)"; exit 1; }

NFEW=1000
NMANY=120000
IDLE=60
if [ -n "$SMALL" ]; then
	NMANY=$((NMANY / 10)); IDLE=10
fi
TIMING="heartbeat interval 1s dead 10s margin 2s slack 500ms timeout 1s"

world_up >/dev/null || exit 1
pg_start || exit 1
W_NODES="a b"
sync_key a && sync_key b
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 10m delay 100ms max-delete 100%")"
done

syncd_of() { child_pid "${NODE_PID[$1]}" syncd; }
# peak PID: the peak resident set (kB) since the last reset
peak() { proc_field "$1" VmHWM; }
reset_peak() { echo 5 > "/proc/$1/clear_refs"; }
pss() {	# PIDS...: their PSS in kB, together
	local p t=0 v
	for p; do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
ticks() {	# PIDS...: their user and system CPU time, in clock ticks
	local p t=0
	for p; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)
# cpu_pct TICKS SECONDS: percent of one core, two decimals
cpu_pct() { awk -v t="$1" -v s="$2" -v hz="$HZ" 'BEGIN { printf "%.2f %%", t * 100 / hz / s }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

node_start a
wait_for 10000 is_role a active || { echo "bench: a did not become active"; exit 1; }
node_start b
wait_for 20000 is_role b standby || { echo "bench: b did not become standby"; exit 1; }

# --- 1,000 files ---------------------------------------------------------------
mkdir -p "$W_TMP/stage"
make_files "$W_TMP/stage" 0 "$NFEW" 512
mv "$W_TMP/stage" "$W_TMP/a.data/many"
ctl a sync >/dev/null || echo "# sync of $NFEW files failed" >&2
S=$(syncd_of a) R=$(syncd_of b)
reset_peak "$S"; reset_peak "$R"
ctl a sync >/dev/null
FEW_S=$(peak "$S") FEW_R=$(peak "$R")
sleep 1
FEW_H=$(proc_field "$S" VmRSS)

# idle: the active node's processes, and its standby's
sleep 5
A_PIDS=$(node_pids a) B_PIDS=$(node_pids b)
A_PSS=$(pss $A_PIDS) B_PSS=$(pss $B_PIDS)
A_N=$(echo $A_PIDS | wc -w)
ta=$(ticks $A_PIDS) tb=$(ticks $B_PIDS)
sleep "$IDLE"
A_CPU=$(( $(ticks $A_PIDS) - ta )) B_CPU=$(( $(ticks $B_PIDS) - tb ))

# --- 120,000 files -------------------------------------------------------------
mkdir -p "$W_TMP/stage"
make_files "$W_TMP/stage" "$NFEW" "$NMANY" 512
reset_peak "$S"; reset_peak "$R"
for f in "$W_TMP/stage"/*; do mv "$f" "$W_TMP/a.data/many/"; done
ctl a sync >/dev/null || echo "# sync of $NMANY files failed" >&2
INIT_S=$(peak "$S") INIT_R=$(peak "$R")
reset_peak "$S"; reset_peak "$R"
ctl a sync >/dev/null
MANY_S=$(peak "$S") MANY_R=$(peak "$R")
sleep 1
MANY_H=$(proc_field "$S" VmRSS)
nfiles=$(find "$W_TMP/a.data" -type f | wc -l)
PER=$(( (MANY_S - FEW_S) * 1024 / (NMANY - NFEW) ))
PER_H=$(( (MANY_H - FEW_H) * 1024 / (NMANY - NFEW) ))
node_stop a
node_stop b

# --- keepalived, idle, at advert_int 1 -------------------------------------------
KP_PIDS=""
kp_stop() { local p; for p in $KP_PIDS; do kill "$p" 2>/dev/null; done; KP_PIDS=""; }
KP_PSS=- KP_CPU=-
if command -v keepalived >/dev/null; then
	cat > "$W_TMP/kp.conf" <<EOC
global_defs {
	router_id fo_a
	enable_script_security
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 150
	advert_int 1
	virtual_ipaddress {
		192.0.2.10/24 dev eth0
	}
}
EOC
	nsx_bg a keepalived -n -l -D -f "$W_TMP/kp.conf" -p "$W_TMP/kp.pid" \
	    -r "$W_TMP/kp.vrrp.pid" >> "$W_TMP/kp.log" 2>&1 &
	KP_PIDS=$!
	wait_for 10000 has_vip a
	sleep 5
	k=$(echo $KP_PIDS $(pgrep -P "$KP_PIDS"))
	KP_PSS=$(pss $k)
	t=$(ticks $k)
	sleep "$IDLE"
	KP_CPU=$(cpu_pct $(( $(ticks $k) - t )) "$IDLE")
	KP_PSS=$(mb "$KP_PSS")
	kp_stop
fi

# --- rsync over ssh on the same files: its peak resident set ------------------------
RS_PEAK=-
if command -v rsync >/dev/null && [ -x /usr/sbin/sshd ] && sshd_up; then
	# the largest of rsync and what it ran (ssh), as getrusage sees
	RS_PEAK=$(nsx a python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
	    rsync -a -e "$SSH" "$W_TMP/a.data/many/" "root@${NODE_ADDR[b]}:$W_TMP/rsync.many/")
	RS_PEAK=$(mb "$RS_PEAK")
fi

printf '\nmemory and idle cost, failoverd beside keepalived and rsync, same run\n'
printf '%-52s %14s %14s\n' "figure" "failoverd" "reference"
printf '%-52s %14s %14s\n' "sender syncd, held between rounds, $NFEW files" "$(mb "$FEW_H")" -
printf '%-52s %14s %14s\n' "sender syncd, held between rounds, $NMANY files" "$(mb "$MANY_H")" -
printf '%-52s %14s %14s\n' "  each file past $NFEW, held" "$PER_H B" -
printf '%-52s %14s %14s\n' "sender syncd, peak of a no-change round, $NFEW" "$(mb "$FEW_S")" -
printf '%-52s %14s %14s\n' "sender syncd, peak of a no-change round, $NMANY" "$(mb "$MANY_S")" -
printf '%-52s %14s %14s\n' "  each file past $NFEW, at the peak" "$PER B" -
printf '%-52s %14s %14s\n' "sender syncd, peak of the initial sync, $NMANY" "$(mb "$INIT_S")" "$RS_PEAK"
printf '%-52s %14s %14s\n' "receiver syncd, initial sync of $NMANY files" "$(mb "$INIT_R")" -
printf '%-52s %14s %14s\n' "receiver syncd, no-change round, $NMANY files" "$(mb "$MANY_R")" -
printf '%-52s %14s %14s\n' "idle PSS, active node's $A_N processes" "$(mb "$A_PSS")" "$KP_PSS"
printf '%-52s %14s %14s\n' "idle PSS, standby node's processes" "$(mb "$B_PSS")" -
printf '%-52s %14s %14s\n' "idle CPU over ${IDLE}s, active (interval 1s)" "$(cpu_pct "$A_CPU" "$IDLE")" "$KP_CPU"
printf '%-52s %14s %14s\n' "idle CPU over ${IDLE}s, standby" "$(cpu_pct "$B_CPU" "$IDLE")" -
echo "(held: the resident set a second after a round; peak: the most"
echo " resident during one, when the last scan and the new one are both"
echo " held; reference: keepalived VRRP at advert_int 1, its processes; rsync -a"
echo " over ssh of the same $nfiles files, the peak of rsync and ssh on the"
echo " sending side; goals: sender at most 32 MB at 120,000 files and 200 B"
echo " a file more than at 1,000, receiver under 16 MB, idle PSS at most"
echo " 16 MB for the four processes, idle CPU at most 0.2 % of one core;"
echo " the CPU figures have a resolution of one clock tick, 1/$HZ s)"
