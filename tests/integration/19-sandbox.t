#!/bin/bash
# The sandbox, tried on the real children of a real daemon: each child is
# in a session of its own with standard input on /dev/null and no
# controlling terminal, and so is every hook and check; a system call
# that no child makes, injected into a running child (tests/lib/inject.c),
# ends that child, and with it the daemon: execve, fork, ptrace, a kill of
# another pid and a terminal's TIOCSTI in each child, an open in netd and
# dnsd.  The allowed calls (getpid, and the SIOCGIFINDEX of netd and of
# heartbeatd, for libpq's scoped IPv6 addresses) leave the child running,
# which shows that the injection works.  A descriptor that a child sends the
# monitor is refused.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
SCRIPT=
# the daemon started on a pty is not a child of this shell: found and
# stopped at the end, also when a check failed
trap '[ -n "$SCRIPT" ] && kill $(tmon) 2>/dev/null; world_down' EXIT
INJ=$T_TOP/build/tests/inject
[ -x "$INJ" ] || skip_all "no $INJ (make check builds it)"
[ "$(uname -m)" = x86_64 ] || skip_all "tests/lib/inject.c is for x86-64 only"
if grep -q fsanitize "$T_TOP/build/flags" 2>/dev/null; then
	skip_all "a sanitizer build logs a forbidden call and lets it pass (common/sandbox.c)"
fi

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
sync_key a
sync_key b
echo "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=" > "$W_TMP/ddns.secret"
chmod 600 "$W_TMP/ddns.secret"
# every check, and every hook through it, says its pid, its parent's,
# its session, its terminal and its standard input
cat > "$W_TMP/sess" <<EOF
#!/bin/sh
set -- \$(cat /proc/\$\$/stat)
echo "\$1 \$4 \$6 \$7 \$(readlink /proc/\$\$/fd/0)" >> $W_TMP/sessions
exit 0
EOF
chmod 755 "$W_TMP/sess"
sed -i "2i $W_TMP/sess" "$W_TMP/hook"
node_conf a "$(sync_block a "interval 1s")" \
    "check \"$W_TMP/sess\" interval 200ms fall 100 rise 1" \
    "hostname \"a.example\" {
	server 192.0.2.53 port 53 zone \"example\" ttl 30
	key \"ddns\" secret-file \"$W_TMP/ddns.secret\" algorithm hmac-sha256
}"

CHILDREN="heartbeatd netd syncd dnsd"
# up: a started afresh, every child ready
up() {
	: > "$W_TMP/a.log"
	node_start a
	wait_for 15000 sh -c "[ \$(grep -c '^monitor: [a-z]* ready\$' '$W_TMP/a.log') -ge 4 ]"
}
# down_after: the daemon ends by itself (a child lost), or is stopped
down() {
	if ! wait_for 15000 dead "${NODE_PID[a]}"; then
		node_kill a
		return 1
	fi
	wait "${NODE_PID[a]}" 2>/dev/null
	NODE_PID[a]=
}

up
ok $? "a starts with its four children"
MON=${NODE_PID[a]}

for c in $CHILDREN; do
	p=$(child_pid "$MON" "$c")
	set -- $(cat "/proc/$p/stat")
	is "$6 $7 $(readlink "/proc/$p/fd/0")" "$p 0 /dev/null" \
	    "$c leads a session of its own, has no terminal, reads /dev/null"
done

# --- on a terminal (-d in a root shell): children may write it, not read it ---
node_stop a
: > "$W_TMP/a.log"
nsx_bg a script -qfc "$FAILOVERD -d -v -N a -f $W_TMP/a.conf" "$W_TMP/a.tty" >/dev/null 2>&1 &
SCRIPT=$!
W_PIDS="$W_PIDS $SCRIPT"
# the monitor: script's child, or its shell's
tmon() {
	local p
	for p in $(pgrep -P "$SCRIPT") $(pgrep -P "$(pgrep -P "$SCRIPT" | head -1)"); do
		tr '\0' ' ' < "/proc/$p/cmdline" | grep -q "^failoverd: monitor" && { echo "$p"; return; }
	done
}
wait_for 15000 sh -c "[ \$(grep -c '^monitor: [a-z]* ready' '$W_TMP/a.tty' 2>/dev/null) -ge 4 ]"
ok $? "a starts on a terminal"
NODE_PID[a]=$(tmon)
for c in $CHILDREN; do
	p=$(child_pid "${NODE_PID[a]}" "$c")
	acc=$(awk '/^flags:/ { print substr($2, length($2)) % 4 }' "/proc/$p/fdinfo/2")
	is "$(readlink "/proc/$p/fd/2" | cut -c1-9) $acc $(readlink "/proc/$p/fd/0")" \
	    "/dev/pts/ 1 /dev/null" "$c: its standard error is the terminal, open for writing only"
done
node_stop a
up
ok $? "a starts again, logging to a file"
MON=${NODE_PID[a]}

# --- allowed calls: the child goes on ----------------------------------------------
for c in $CHILDREN; do
	p=$(child_pid "$MON" "$c")
	out=$("$INJ" "$p" getpid 2>&1)
	is "$out" "returned $p" "$c: an injected getpid returns its pid"
	if [ "$c" = netd ] || [ "$c" = heartbeatd ]; then
		out=$("$INJ" "$p" ifindex 2>&1)
		is "$out" "returned 0" "$c: an ioctl it makes (SIOCGIFINDEX) is allowed"
	fi
	sleep 0.3
	check "$c still runs" kill -0 "$p"
done
check "the daemon runs on" kill -0 "$MON"
is_role a active || wait_for 10000 is_role a active
ok $? "a is active"
wait_for 5000 sh -c "[ \$(wc -l < '$W_TMP/sessions') -ge 5 ]"
ok $? "hooks and checks ran ($(wc -l < "$W_TMP/sessions") times)"
node_stop a

# --- forbidden calls: the child ends, and the daemon with it -----------------
# tryit CHILD CASE: the injected call kills CHILD with SIGSYS
tryit() {
	local c=$1 what=$2 p out
	if ! up; then
		ok 1 "$c: $what is fatal (a did not start)"
		return
	fi
	p=$(child_pid "${NODE_PID[a]}" "$c")
	out=$("$INJ" "$p" "$what" "${NODE_PID[a]}" 2>&1)
	is "$out" "killed by signal 31" "$c: an injected $what is fatal (SIGSYS)"
	down
	ok $? "$c: the monitor sees it and shuts down"
}
for c in $CHILDREN; do
	for what in execve fork ptrace kill tiocsti ifindex; do
		# netd's and heartbeatd's own ioctl is allowed
		[ "$c/$what" = netd/ifindex ] && continue
		[ "$c/$what" = heartbeatd/ifindex ] && continue
		tryit "$c" "$what"
	done
done
tryit netd open
tryit dnsd open
check "the monitor names the lost child and its signal" \
    grep -Eq "^monitor: (lost child: dnsd \(|dnsd ended: )killed by signal 31, Bad system call" "$W_TMP/a.log"

# --- a descriptor from a child -----------------------------------------------
up
p=$(child_pid "${NODE_PID[a]}" netd)
out=$("$INJ" "$p" sendfd 2>&1)
is "$out" "returned 16" "netd sends the monitor a message with a descriptor"
down
ok $? "the monitor shuts down"
check "saying netd sent a descriptor" \
    grep -q "^monitor: netd sent a file descriptor: refused" "$W_TMP/a.log"

# --- hooks and checks, many times over: each in a session of its own ---------
# a check is the leader itself; a hook runs sess as its child
bad=$(awk '($3 != $1 && $3 != $2) || $4 != 0 || $5 != "/dev/null"' "$W_TMP/sessions" | head -3)
n=$(wc -l < "$W_TMP/sessions")
check "each of $n hooks and checks led a session of its own, without a terminal (${bad:-all did})" \
    test -z "$bad" -a "$n" -ge 20
done_testing
