#!/bin/bash
# make valgrind: two nodes run under valgrind memcheck (each process of
# each node: the monitor and its forked children, one log each) through
# a start, a sync, a takeover after a stalled heartbeatd, a sync the
# other way, a switchover back and a stop.  Every process's log must end
# with no error and nothing definitely lost.  The build is build/vg
# (VALGRIND=1): valgrind runs no seccomp filter and knows no openat2, so
# that build loads no filter and opens beneath a directory with openat.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'for p in $STOPPED; do kill -CONT $p 2>/dev/null; done; world_down' EXIT
command -v valgrind >/dev/null || skip_all "no valgrind (run: make deps)"
VG=$T_TOP/build/vg/failoverd
[ -x "$VG" ] || skip_all "no valgrind build in build/vg (run: make valgrind)"

# slow enough for valgrind: it runs every process many times slower
TIMING="heartbeat interval 500ms dead 10s margin 3s slack 500ms timeout 2s"
L=10000
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
sync_key a && sync_key b
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms")"
done
# one wrapper a node, one log a process; the children are executed
# anew (proc_exec), so valgrind follows the exec, but not into the hooks
for n in a b; do
	cat > "$W_TMP/vgd.$n" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \\
    --errors-for-leak-kinds=definite --log-file=$W_TMP/vg/$n.%p \\
    --trace-children=yes --trace-children-skip='*/hook,/bin/*,/usr/bin/*' \\
    --suppressions=$T_TOP/tests/valgrind/suppressions "$VG" "\$@"
EOF
	chmod 755 "$W_TMP/vgd.$n"
done

mkdir -p "$W_TMP/vg"
for i in $(seq 1 50); do echo "file $i" > "$W_TMP/a.data/f$i"; done
chown -R _failoverd: "$W_TMP/a.data"
FAILOVERD=$W_TMP/vgd.a node_start a
wait_for 60000 is_role a active
ok $? "a, under valgrind, is active"
FAILOVERD=$W_TMP/vgd.b node_start b
wait_for 60000 is_role b standby
ok $? "b, under valgrind, is standby"
wait_for 60000 test -e "$W_TMP/b.data/f50"
ok $? "a's files reached b"

# a takeover: a's heartbeatd stalls, the monitor demotes at its deadline
# (under valgrind a child's title is valgrind's command line: "-P heartbeatd")
vg_child() {
	local p
	for p in $(pgrep -P "$1"); do
		tr '\0' ' ' < "/proc/$p/cmdline" | grep -q -- "-P $2 " && echo "$p"
	done
}
HB=$(vg_child "${NODE_PID[a]}" heartbeatd)
check "a's heartbeatd found ($HB)" test -n "$HB"
STOPPED=$HB
kill -STOP "$HB"
wait_for $(( 4 * L )) is_role b active
ok $? "a's heartbeatd stopped: b takes over"
kill -CONT "$HB"
STOPPED=
wait_for 30000 eval 'is_role a standby || { is_role a fault && ctl a resume >/dev/null 2>&1; false; }'
ok $? "a, woken, is a standby"
echo "from b" > "$W_TMP/b.data/g1"
chown _failoverd: "$W_TMP/b.data/g1"
wait_for 60000 test -e "$W_TMP/a.data/g1"
ok $? "b's new file reached a"

# (b must first see a as a live standby again)
wait_for 30000 ctl b switchover a > "$W_TMP/out" 2>&1
ok $? "switchover to a: $(tail -1 "$W_TMP/out")"
wait_for 30000 is_role a active
ok $? "a is active again"
VGPIDS="${NODE_PID[a]} ${NODE_PID[b]}"
node_stop b
node_stop a
check "both stopped" dead ${VGPIDS}
check "no child had to be killed at the stop" sh -c "! grep -q 'did not exit, killing it' '$W_TMP/a.log' '$W_TMP/b.log'"

# a process that exited under valgrind ends its log with the summaries
summed=$(grep -l "ERROR SUMMARY:" "$W_TMP"/vg/* 2>/dev/null | wc -l)
is "$summed" 8 "valgrind summed up every process (two monitors, three children each)"
bad=0
for f in $(grep -l "ERROR SUMMARY:" "$W_TMP"/vg/*); do
	if ! grep -q "ERROR SUMMARY: 0 errors" "$f" ||
	    grep -q "definitely lost: [1-9]" "$f"; then
		bad=$((bad + 1))
		sed 's/^/#   /' "$f" | tail -60 >&2
	fi
	diag "$(basename "$f") $(grep -m1 -o "Command: .*" "$f" | sed 's,Command: [^ ]*failoverd,failoverd,' | cut -c1-30): $(grep -o "in use at exit: .*" "$f") | $(grep -o "definitely lost: .*" "$f" || echo "definitely lost: none") | $(grep -o "ERROR SUMMARY: [0-9]* errors" "$f")"
done
is "$bad" 0 "no process reported an error or a definite leak"
done_testing
