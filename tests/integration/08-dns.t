#!/bin/bash
# dnsd and the virtual hostname, against a real BIND: the active node's
# address is in DNS (dig from the client), a takeover after kill -9 moves
# the name within L + 1 s, and a wrong key leaves the record untouched
# and shows BADSIG in status.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT
command -v named >/dev/null || skip_all "no BIND named (run: make deps)"
command -v dig >/dev/null || skip_all "no dig (run: make deps)"

TIMING="heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"
L=3000
VIP_CONF=""
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
dns_start
ok $? "BIND named serves $DNS_ZONE (the name at 192.0.2.99)"
install -m 600 "$W_TMP/dns/ddns.key" "$W_TMP/ddns.key"
W_NODES="a b"
hostname_block() {
	echo "hostname \"${2:-$DNS_NAME}\" {
	server $DB_ADDR port ${3:-53} zone \"$DNS_ZONE\" ttl ${DNS_TTL:-30}
	key \"${4:-ddns}\" secret-file \"$1\" algorithm hmac-sha256
}"
}
node_conf a "$(hostname_block "$W_TMP/ddns.key")"
node_conf b "$(hostname_block "$W_TMP/ddns.key")"

# a_with ARGS: a restarted with hostname_block ARGS, waited for as active
a_with() {
	node_stop a
	node_conf a "$(hostname_block "$@")"
	node_start a
	wait_for 10000 is_role a active
}
# status_says PATTERN: a's status -j matches the extended regex, soon
status_says() {
	wait_for 8000 sh -c "'$FAILOVERCTL' -s '$W_TMP/a.sock' status -j | grep -Eq \"\$0\"" "$1"
}

node_start a
wait_for 10000 is_role a active
ok $? "a is active"
check "a started dnsd" grep -q "monitor: dnsd ready" "$W_TMP/a.log"
DNSD=$(child_pid "${NODE_PID[a]}" dnsd)
check "dnsd runs as _failoverd" sh -c "[ \$(stat -c %U /proc/$DNSD) = _failoverd ]"
check "with no capabilities" grep -q "^CapEff:	0000000000000000" "/proc/$DNSD/status"
check "in the empty chroot" sh -c "[ \$(readlink /proc/$DNSD/root) = /run/failoverd/empty ]"
check "under seccomp" grep -q "^Seccomp:	2" "/proc/$DNSD/status"
wait_for 5000 eval '[ "$(dns_ask)" = "${NODE_ADDR[a]}" ]'
ok $? "dig from the client: $DNS_NAME is a's address (${WAITED} ms)"
check "a logged the update" grep -q "dnsd: dns: $DNS_NAME -> ${NODE_ADDR[a]} (epoch" "$W_TMP/a.log"
check "named applied it under the key" grep -q "/key ddns: updating zone '$DNS_ZONE/IN': adding an RR at '$DNS_NAME' A ${NODE_ADDR[a]}" "$W_TMP/dns/named.log"
node_start b
wait_for 10000 is_role b standby
ok $? "b is standby"
is "$(dns_ask)" "${NODE_ADDR[a]}" "the name stays on a"

# --- kill -9 of the active: the name follows within L + 1 s -------------------
t=$(now_ms)
node_kill a
wait_for $((L + 5000)) eval '[ "$(dns_ask)" = "${NODE_ADDR[b]}" ]'
ok $? "after kill -9 of a, $DNS_NAME is b's address"
took=$(( $(now_ms) - t ))
check "within L + 1 s ($took ms, L = $L ms)" test "$took" -le $((L + 1000))
is "$(nsx client dig +short @"$DB_ADDR" "$DNS_NAME" A | wc -l)" 1 "one A record, not two"

# --- a wrong key: the record stays, status says BADSIG ------------------------
node_stop b
printf 'key "ddns" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
    "$(head -c 32 /dev/urandom | base64)" > "$W_TMP/wrong.key"
chmod 600 "$W_TMP/wrong.key"
node_conf a "$(hostname_block "$W_TMP/wrong.key")"
node_start a
wait_for 10000 is_role a active
ok $? "a, with a wrong key, is active"
wait_for 5000 sh -c "'$FAILOVERCTL' -s '$W_TMP/a.sock' status -j | grep -q '\"fault\":\"dns: $DNS_NAME: the server answers BADSIG'"
ok $? "status -j shows the BADSIG fault"
check "the log names it" grep -q "dnsd: dns: $DNS_NAME: the server answers BADSIG (key \"ddns\")" "$W_TMP/a.log"
is "$(dns_ask)" "${NODE_ADDR[b]}" "the record is untouched"

# --- a key the server does not know: BADKEY -------------------------------------
a_with "$W_TMP/ddns.key" "$DNS_NAME" 53 unknown
ok $? "a, with a key named unknown, is active"
status_says 'the server answers BADKEY'
ok $? "status -j shows BADKEY"
check "the log says the server does not know the key" grep -q "dnsd: dns: $DNS_NAME: the server answers BADKEY (key \"unknown\"): the server does not know the key" "$W_TMP/a.log"

# --- a server whose clock is 1000 s ahead: BADTIME --------------------------------
nsx_bg db python3 "$T_TOP/tests/lib/dnsfake.py" badtime "$DB_ADDR" 5302 ddns "$DNS_SECRET" &
W_PIDS="$W_PIDS $!"
a_with "$W_TMP/ddns.key" "$DNS_NAME" 5302
ok $? "a, with a server 1000 s ahead, is active"
status_says 'BADTIME: this clock and the server.s differ by (999|1000) s, more than the fudge of 300 s'
ok $? "status -j shows BADTIME with the difference of the clocks"

# --- a reply that does not verify is not trusted ------------------------------
# (a NOERROR with no MAC, or with the right MAC but for its last bit, as
# a forger on the path would send: the update is not done, retries go on)
port=5304
for mode in nomac badmac; do
	nsx_bg db python3 "$T_TOP/tests/lib/dnsfake.py" $mode "$DB_ADDR" $port ddns "$DNS_SECRET" &
	W_PIDS="$W_PIDS $!"
	done0=$(grep -c "dnsd: dns: $DNS_NAME -> " "$W_TMP/a.log")
	[ $mode = nomac ] && w=missing what="no MAC" || w=bad what="a MAC one bit off"
	ign0=$(grep -c "dnsd: update of $DNS_NAME: reply with a $w MAC ignored" "$W_TMP/a.log")
	a_with "$W_TMP/ddns.key" "$DNS_NAME" $port
	ok $? "a, behind a server that answers NOERROR with $what, is active"
	status_says 'no answer from the server within 2000 ms'
	ok $? "status -j says there is no answer: the forged one is not taken"
	check "the log says the reply with a $w MAC was ignored" test "$(grep -c "dnsd: update of $DNS_NAME: reply with a $w MAC ignored" "$W_TMP/a.log")" -gt "$ign0"
	is "$(grep -c "dnsd: dns: $DNS_NAME -> " "$W_TMP/a.log")" "$done0" "no update is logged as done"
	port=$((port + 1))
done

# --- a name the key may not update: REFUSED, with the zone and the name -------
a_with "$W_TMP/ddns.key" "other.$DNS_ZONE"
ok $? "a, for a name the key may not update, is active"
wait_for 5000 sh -c "'$FAILOVERCTL' -s '$W_TMP/a.sock' status -j | grep -q 'REFUSED: the server does not allow key \\\\\"ddns\\\\\" to update other.$DNS_ZONE in zone $DNS_ZONE'"
ok $? "status -j shows REFUSED with the zone and the name"

# --- a truncated reply over UDP: the update again over TCP -----------------------
nsx_bg db python3 "$T_TOP/tests/lib/dnstc.py" "$DB_ADDR" 5300 "$DB_ADDR" 53 &
W_PIDS="$W_PIDS $!"
wait_for 3000 sh -c "nsenter --net=/run/netns/$(ns db) ss -ltn | grep -q ':5300 '"
a_with "$W_TMP/ddns.key" "$DNS_NAME" 5300
ok $? "a, behind a server that truncates every UDP reply, is active"
wait_for 5000 eval '[ "$(dns_ask)" = "${NODE_ADDR[a]}" ]'
ok $? "the name is a's address again"
check "the update went again over TCP" grep -q "dnsd: update of $DNS_NAME: reply truncated, again over TCP" "$W_TMP/a.log"

# --- over TCP, a malformed message and then more bytes: read once -----------
nsx_bg db python3 "$T_TOP/tests/lib/dnstc.py" --bad "$DB_ADDR" 5303 "$DB_ADDR" 53 &
W_PIDS="$W_PIDS $!"
wait_for 3000 sh -c "nsenter --net=/run/netns/$(ns db) ss -ltn | grep -q ':5303 '"
n0=$(grep -c "malformed reply" "$W_TMP/a.log")
t0=$(grep -c "reply truncated, again over TCP" "$W_TMP/a.log")
a_with "$W_TMP/ddns.key" "$DNS_NAME" 5303
ok $? "a, behind a server that sends a malformed message over TCP, is active"
sleep 3
n=$(( $(grep -c "malformed reply" "$W_TMP/a.log") - n0 ))
t=$(( $(grep -c "reply truncated, again over TCP" "$W_TMP/a.log") - t0 ))
check "the malformed message is read once a connection, not again with every byte that follows ($n for $t connections)" \
    test "$n" -ge 1 -a "$n" -le "$t" -a "$n" -ge $((t - 1))	# the last may be on its way

# --- no answer: retried with backoff until done ---------------------------------
nsx_bg db python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.5", 5301))
time.sleep(120)' &
silent=$!
W_PIDS="$W_PIDS $silent"
a_with "$W_TMP/ddns.key" "$DNS_NAME" 5301
ok $? "a, with a server that does not answer, is active"
status_says 'no answer from the server within 2000 ms'
ok $? "status -j says there is no answer"
kill "$silent"; wait "$silent" 2>/dev/null
# move the name away by hand, so only a's retry can bring it back
printf 'server %s\nzone %s\nupdate delete %s A\nupdate add %s 30 A 192.0.2.98\nsend\n' \
    "$DB_ADDR" "$DNS_ZONE" "$DNS_NAME" "$DNS_NAME" |
    nsx client nsupdate -k "$W_TMP/dns/ddns.key"
is "$(dns_ask)" 192.0.2.98 "(the name moved away by nsupdate)"
nsx_bg db python3 "$T_TOP/tests/lib/dnstc.py" "$DB_ADDR" 5301 "$DB_ADDR" 53 &
W_PIDS="$W_PIDS $!"
wait_for 20000 eval '[ "$(dns_ask)" = "${NODE_ADDR[a]}" ]'
ok $? "once the server answers, a's retry puts the name back (${WAITED} ms)"
wait_for 3000 sh -c "'$FAILOVERCTL' -s '$W_TMP/a.sock' status -j | grep -q '\"fault\":null'"
ok $? "and the fault is cleared"

# while active, dnsd checks the name every ttl and repairs it: a late
# UPDATE of a demoted node cannot leave the name pointing there
DNS_TTL=2 a_with "$W_TMP/ddns.key"
wait_for 10000 eval '[ "$(dns_ask)" = "${NODE_ADDR[a]}" ]'
ok $? "a (ttl 2) is active and the name points to it"
printf 'server %s\nzone %s\nupdate delete %s A\nupdate add %s 30 A %s\nsend\n' \
    "$DB_ADDR" "$DNS_ZONE" "$DNS_NAME" "$DNS_NAME" "${NODE_ADDR[b]}" |
    nsx client nsupdate -k "$W_TMP/dns/ddns.key"
is "$(dns_ask)" "${NODE_ADDR[b]}" "(a late UPDATE moved the name to b)"
wait_for 10000 eval '[ "$(dns_ask)" = "${NODE_ADDR[a]}" ]'
ok $? "within a ttl or two a's check repairs it (${WAITED} ms)"
check "the log says why" grep -q 'no longer points to' "$W_TMP/a.log"

done_testing
