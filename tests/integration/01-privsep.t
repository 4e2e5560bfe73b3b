#!/bin/bash
# The daemon as root: each child's user, capabilities, no_new_privs,
# seccomp and chroot read from /proc; the control socket and who may do
# what; reload; a dead child ends the daemon; a dead monitor ends the
# children; SIGTERM ends everything cleanly.
. "$(dirname "$0")/../lib/tap.sh"
require_root
getent passwd _failoverd >/dev/null || skip_all "no _failoverd user (run: make deps)"

tmp=$(mktemp -d /tmp/fo-privsep.XXXXXX)
chmod 755 "$tmp"
MON=
cleanup() {
	[ -n "$MON" ] && kill -9 "$MON" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

FO_UID=$(id -u _failoverd)
NOBODY_UID=$(id -u nobody)
SOCK=$tmp/ctl.sock
ctl() { "$FAILOVERCTL" -s "$SOCK" "$@"; }

"$FAILOVERCTL" keygen "$tmp/node.key" > "$tmp/pub" 2>&1
is "$?" 0 "keygen exits 0"
is "$(stat -c %a "$tmp/node.key")" 600 "keygen writes the key with mode 0600"
check "keygen prints a base64 public key" grep -Eq '^[A-Za-z0-9+/]{43}=$' "$tmp/pub"
is "$("$FAILOVERCTL" pubkey "$tmp/node.key")" "$(cat "$tmp/pub")" \
    "pubkey prints the same public key"
"$FAILOVERCTL" keygen "$tmp/node.key" >/dev/null 2>&1
ok $(( $? == 0 )) "keygen refuses to overwrite a key"

mkdir -p "$tmp/data"
chown nobody "$tmp/data"
write_conf() {
	cat > "$tmp/fo.conf" <<EOF
cluster "${1:-privsep}"
node "a" { address 192.0.2.11 public-key "$(cat "$tmp/pub")" }
node "b" { address 192.0.2.12 public-key "$(cat "$tmp/pub")" }
database "hostaddr=192.0.2.5 dbname=failover user=failover"
vip 192.0.2.10/24 interface "fotest0"
sync {
	listen on 127.0.0.1 port 17209
	key-file "$tmp/node.key"
	user "nobody"
	directory "$tmp/data"
}
control socket "$tmp/unused.sock" group "nogroup"
${2:-}
EOF
	chmod 644 "$tmp/fo.conf"
}
write_conf

start() {
	: > "$tmp/log"
	"$FAILOVERD" -d -v -N a -f "$tmp/fo.conf" -s "$SOCK" >> "$tmp/log" 2>&1 &
	MON=$!
	wait_for 10000 sh -c "[ \$(grep -c ' ready\$' '$tmp/log') -ge 3 ]"
}

start
ok $? "the monitor starts heartbeatd, netd and syncd (${WAITED} ms)"
HB=$(child_pid "$MON" heartbeatd)
NET=$(child_pid "$MON" netd)
SYN=$(child_pid "$MON" syncd)
[ -n "$HB" ] && [ -n "$NET" ] && [ -n "$SYN" ]; ok $? \
    "children titled failoverd: heartbeatd, netd, syncd ($HB $NET $SYN)"

is "$(proc_field "$MON" Uid)" 0 "monitor runs as root"
check "monitor is titled failoverd: monitor" \
    sh -c "tr '\\0' ' ' < /proc/$MON/cmdline | grep -q '^failoverd: monitor'"
for p in "heartbeatd:$HB" "syncd:$SYN" "netd:$NET"; do
	name=${p%%:*}
	pid=${p#*:}
	want_uid=$FO_UID
	want_cap=0000000000000000
	[ "$name" = syncd ] && want_uid=$NOBODY_UID
	[ "$name" = netd ] && want_cap=0000000000003000
	is "$(proc_field "$pid" Uid | head -1)" "$want_uid" "$name: real uid"
	is "$(awk '/^Uid:/ {print $2,$3,$4,$5}' /proc/$pid/status)" \
	    "$want_uid $want_uid $want_uid $want_uid" "$name: all four uids"
	is "$(awk '/^Gid:/ {print ($2==$3 && $3==$4 && $4==$5) ? "same" : "differ"}' /proc/$pid/status)" \
	    same "$name: all four gids the same"
	is "$(proc_field "$pid" CapEff)" "$want_cap" "$name: CapEff"
	is "$(proc_field "$pid" CapPrm)" "$want_cap" "$name: CapPrm"
	is "$(proc_field "$pid" CapBnd)" "$want_cap" "$name: CapBnd"
	is "$(proc_field "$pid" CapAmb)" 0000000000000000 "$name: CapAmb"
	is "$(proc_field "$pid" NoNewPrivs)" 1 "$name: NoNewPrivs"
	is "$(proc_field "$pid" Seccomp)" 2 "$name: seccomp filter"
	is "$(tr -d '\0' < /proc/$pid/environ | wc -c)" 0 "$name: empty environment"
	is "$(readlink /proc/$pid/fd/3 | cut -d: -f1)" socket "$name: fd 3 is its socket"
done
is "$(readlink /proc/$NET/root)" /run/failoverd/empty "netd: chroot /run/failoverd/empty"
is "$(readlink /proc/$HB/root)" / "heartbeatd: no chroot (libpq needs files)"
is "$(stat -c '%U %a' /run/failoverd/empty)" "root 555" "/run/failoverd/empty is root's, 0555"

# the control socket
is "$(stat -c '%a %G' "$SOCK")" "660 nogroup" "socket mode 0660, group from the config"
ctl status > "$tmp/status"
rc=$?
# 0 only when healthy: active or standby, the database up, no fault
if grep -q '^health:   ok$' "$tmp/status"; then want=0; else want=1; fi
is "$rc" "$want" "status exits $want, as its health line says"
check "status names node and cluster" grep -q "^cluster privsep, seen from node a" "$tmp/status"
check "status shows the role" grep -Eq "^  . a +(starting|standby) .*<- this node" "$tmp/status"
ctl status -j > "$tmp/status.json"
python3 - "$tmp/status.json" > "$tmp/json.check" 2>&1 <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["node"] == "a" and s["cluster"] == "privsep", s
assert s["role"] in ("starting", "standby"), s["role"]
for k in ("epoch", "holder", "lease_left_ms", "fault"):
    assert k in s and s[k] is None, k
assert s["db"] in ("up", "down")
assert s["vips"] == [{"address": "192.0.2.10/24", "interface": "fotest0", "bound": False}], s["vips"]
assert s["nodes"] == []
assert s["sync"] == {"last_ok": None, "last_error": None, "files": 0, "bytes": 0, "skipped": 0, "attic": [],
    "peers": [{"node": "b", "state": "standby", "last_ok": None, "error": None}]}, s["sync"]
print("valid")
EOF
is "$(cat "$tmp/json.check")" valid "status -j is one JSON object with the fields failoverctl(8) documents"

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$FAILOVERCTL" -s "$SOCK" "$@"; }
as_nobody status 2>&1 | grep -q '^cluster privsep'
is "$?" 0 "a member of the socket's group may run status"
as_nobody reload > "$tmp/out" 2>&1
is "$?" 1 "a member of the socket's group may not reload"
check "and is told why" grep -q "permission denied" "$tmp/out"
check "the refusal is logged with uid and pid" \
    grep -Eq "control: uid $NOBODY_UID pid [0-9]+: reload refused" "$tmp/log"
out=$(setpriv --reuid=_failoverd --regid=_failoverd --clear-groups \
    "$FAILOVERCTL" -s "$SOCK" status 2>&1)
is "$?:$out" "1:failoverctl: connect $SOCK: Permission denied" \
    "a user outside the group cannot connect at all"
check "every command is logged with uid and pid" \
    grep -Eq "control: uid 0 pid [0-9]+: status" "$tmp/log"

ctl log verbose > "$tmp/out" 2>&1
is "$?" 0 "log verbose"
ctl log brief > "$tmp/out" 2>&1
is "$?" 0 "log brief"
ctl sync > "$tmp/out" 2>&1
is "$?:$(cat "$tmp/out")" "1:failoverctl: sync: this node is not active; the active node sends" \
    "sync on a node that is not active says why not"
ctl switchover > "$tmp/out" 2>&1
is "$?:$(cat "$tmp/out")" "1:failoverctl: switchover: the database is down" \
    "switchover without a database says so"
ctl frobnicate > "$tmp/out" 2>&1
is "$?:$(head -1 "$tmp/out")" "1:failoverctl: unknown command: frobnicate" \
    "an unknown command exits 1, naming it"
check "and shows the usage" grep -q "^usage: failoverctl" "$tmp/out"

# reload: good, broken, and a change that needs a restart
write_conf privsep 'on-standby "/bin/true" timeout 2s'
is "$(ctl reload 2>&1)" "configuration reloaded" "reload of a changed hook"
write_conf privsep 'on-standby "/bin/true" timeout'
out=$(ctl reload 2>&1)
is "$?" 1 "reload of a broken configuration fails"
check "and says the old one is kept" sh -c "echo '$out' | grep -q 'keeping the old configuration'"
check "the log names file and line" grep -q "fo.conf:13: syntax error" "$tmp/log"
write_conf renamed
out=$(ctl reload 2>&1)
is "$?" 1 "reload refuses a new cluster name"
check "naming what changed" sh -c "echo '$out' | grep -q 'cluster \"renamed\"'"
write_conf privsep 'check "/bin/true" interval'
kill -HUP "$MON"
wait_for 3000 grep -q "SIGHUP: reloading" "$tmp/log"
wait_for 3000 sh -c "grep -c 'keeping the old configuration' '$tmp/log' | grep -q 2"
ok $? "SIGHUP with a broken configuration keeps the old one"
check "the daemon still answers" sh -c "ctl() { \"$FAILOVERCTL\" -s \"$SOCK\" \"\$@\"; }; ctl status | grep -q '^cluster'"
write_conf privsep

# a request whose node name has no NUL within its field is refused, not
# cut short, and the daemon goes on
out=$(python3 - "$SOCK" "$T_TOP/common/failoverd.h" <<'PY'
import re, socket, struct, sys
h = open(sys.argv[2]).read()
body = re.search(r'enum imsg_type \{(.*?)\};', h, re.S).group(1)
body = re.sub(r'/\*.*?\*/', '', body, flags=re.S)
names = [n.strip() for n in body.split(',') if n.strip()]
t = names.index('IMSG_CTL_SWITCHOVER')
req = b'x' * 64 + struct.pack('=ii', 0, 0)	# struct ctl_req
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(struct.pack('=IIII', t, 16 + len(req), 0, 0) + req)
hdr = s.recv(16, socket.MSG_WAITALL)
typ, ln = struct.unpack('=II', hdr[:8])
data = s.recv(ln - 16, socket.MSG_WAITALL)
code = struct.unpack('=i', data[:4])[0]
print(code, data[4:].split(b'\0')[0].decode())
PY
)
is "$out" "1 malformed request" "a switchover naming a node without its NUL is refused"
check "the log says why" grep -q "a node name without its end" "$tmp/log"
check "the daemon still answers" sh -c "\"$FAILOVERCTL\" -s \"$SOCK\" status | grep -q '^cluster'"

# a second instance is refused
"$FAILOVERD" -d -N a -f "$tmp/fo.conf" -s "$SOCK" > "$tmp/out" 2>&1
is "$?" 1 "a second instance on the same socket exits 1"
check "saying another failoverd answers" grep -q "another failoverd answers" "$tmp/out"

# a child that dies ends the daemon
kill -9 "$NET"
wait_for 5000 dead "$MON"
ok $? "killing netd ends the monitor (${WAITED} ms)"
wait "$MON" 2>/dev/null
is "$?" 1 "the monitor exits 1"
check "logging lost child: netd" grep -q "lost child: netd" "$tmp/log"
wait_for 5000 dead "$HB" "$SYN"
ok $? "and the other children end with it"
check "the socket is removed" test ! -e "$SOCK"

# a dead monitor ends every child
start
HB=$(child_pid "$MON" heartbeatd)
NET=$(child_pid "$MON" netd)
SYN=$(child_pid "$MON" syncd)
kill -9 "$MON"
wait "$MON" 2>/dev/null
wait_for 5000 dead "$HB" "$NET" "$SYN"
ok $? "kill -9 of the monitor ends all children (${WAITED} ms)"

# children ignore a stray SIGTERM (systemd signals the whole cgroup):
# only the monitor decides, and SIGTERM to it ends everything cleanly
start
HB=$(child_pid "$MON" heartbeatd)
kill -TERM "$HB"
sleep 0.2
check "a child ignores SIGTERM: the monitor orchestrates" alive "$HB"
kill -TERM "$MON"
wait_for 5000 dead "$MON"
ok $? "SIGTERM ends the monitor (${WAITED} ms)"
wait "$MON" 2>/dev/null
is "$?" 0 "with exit status 0"
MON=
check "logging terminating" grep -q "monitor: terminating" "$tmp/log"
check "no lost child on a clean shutdown" sh -c "! grep -q 'lost child' '$tmp/log'"
check "the socket is removed" test ! -e "$SOCK"
wait_for 3000 dead "$HB"
ok $? "the children are gone"

done_testing
