# TAP helpers for the shell tests.  Source it; end with done_testing.

# failoverd refuses configuration files others may write: make none
umask 022

T_N=0
T_FAIL=0
T_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAILOVERD=$T_TOP/build/failoverd
FAILOVERCTL=$T_TOP/build/failoverctl

# ok STATUS DESCRIPTION: STATUS 0 is a pass (and ok returns 1 on a failure)
ok() {
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAIL=$((T_FAIL + 1))
		return 1
	fi
}

# check DESCRIPTION COMMAND...: a pass when the command succeeds
check() {
	local desc=$1
	shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
	fi
}

# skip REASON: a point that cannot be judged in this run, said why
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP $*"
}

diag() {
	echo "# $*"
}

done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (run: sudo make check)"
}

now_ms() {
	local up
	read -r up _ < /proc/uptime
	echo $(( ${up%.*} * 1000 + 10#${up#*.} * 10 ))
}

# wait_for MS COMMAND...: poll every 20 ms until the command succeeds;
# sets WAITED to the milliseconds it took; fails after MS
wait_for() {
	local limit=$1 start
	shift
	start=$(now_ms)
	while ! "$@"; do
		WAITED=$(( $(now_ms) - start ))
		[ "$WAITED" -ge "$limit" ] && return 1
		sleep 0.02
	done
	WAITED=$(( $(now_ms) - start ))
	return 0
}

# proc_field PID FIELD: a field of /proc/PID/status
proc_field() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# child_pid MONITORPID NAME: the child of the monitor titled NAME
child_pid() {
	local p
	for p in $(pgrep -P "$1" 2>/dev/null); do
		if tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null |
		    grep -q "^failoverd: $2 *\$"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

alive() {
	kill -0 "$1" 2>/dev/null
}

# dead PID...: every one exited (a zombie not yet reaped counts as dead)
dead() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || continue
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || return 1
	done
	return 0
}
