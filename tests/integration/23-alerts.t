#!/bin/bash
# Alerts: mail to a real SMTP sink (tests/lib/smtpsink.py) in the
# database's namespace, beside a relay that hangs and one that refuses;
# the alert command's arguments and environment; hook output in the log,
# tagged; standby-lost and standby-back; a flapping fault mailed once and
# then, when its minute is over, once more with the count of the rest.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
TIMING="heartbeat interval 100ms dead 2s margin 500ms slack 100ms timeout 250ms"
MAIL=$W_TMP/mail
mkdir -p "$MAIL" "$W_TMP/mail-hang" "$W_TMP/mail-refuse"

sink() {	# sink PORT DIR MODE
	nsx_bg db python3 "$T_TOP/tests/lib/smtpsink.py" --listen "$DB_ADDR" \
	    --port "$1" --dir "$2" --mode "$3" > "$W_TMP/sink.$3" 2>&1 &
	W_PIDS="$W_PIDS $!"
}
sink 2525 "$MAIL" ok
sink 2526 "$W_TMP/mail-hang" hang
sink 2527 "$W_TMP/mail-refuse" refuse
all_listen() { for m in ok hang refuse; do grep -qs listening "$W_TMP/sink.$m" || return 1; done; }
wait_for 5000 all_listen
ok $? "three SMTP sinks listen: one takes mail, one hangs, one refuses"

# the alert command records its arguments and environment
cat > "$W_TMP/alertcmd" <<EOF
#!/bin/sh
echo "name=\$1 detail=\$2 alert=\$FAILOVER_ALERT role=\$FAILOVER_ROLE node=\$FAILOVER_NODE epoch=\$FAILOVER_EPOCH" >> $W_TMP/alerts.\$FAILOVER_NODE
EOF
chmod 755 "$W_TMP/alertcmd"
# on-standby talks, on both of its outputs
cat > "$W_TMP/talk" <<EOF
#!/bin/sh
echo "hello from \$1 at epoch \$FAILOVER_EPOCH"
echo "a warning on stderr" >&2
printf 'no newline at the end'
# at start: a daemon that outlives the hook in a session of its own,
# keeping the hook's output (its writes must not kill it)
# (the hook waits for it to be in its session: had the hook ended first,
# the kill of the hook's group would have taken it before its setsid)
if [ "\$FAILOVER_ROLE" = starting ]; then
	setsid sh -c 'touch $W_TMP/daemon.\$FAILOVER_NODE; sleep 1; echo "left behind: one"; sleep 1; echo "left behind: two"' &
	i=0
	while [ ! -e $W_TMP/daemon.\$FAILOVER_NODE ] && [ \$i -lt 300 ]; do sleep 0.01; i=\$((i + 1)); done
fi
exec $W_TMP/hook "\$@"
EOF
chmod 755 "$W_TMP/talk"
# the check fails while $W_TMP/sick.NODE exists
printf '#!/bin/sh\n[ ! -e %s/sick.$FAILOVER_NODE ]\n' "$W_TMP" > "$W_TMP/check"
chmod 755 "$W_TMP/check"

for n in a b; do
	node_conf "$n" \
	    "alert mail to \"hang@example.com\" via $DB_ADDR port 2526" \
	    "alert mail to \"ops@example.com\" from \"fo-$n@example.com\" via $DB_ADDR port 2525" \
	    "alert mail to \"refuse@example.com\" via $DB_ADDR port 2527" \
	    "alert command \"$W_TMP/alertcmd\"" \
	    "on-standby \"$W_TMP/talk on-standby\" timeout 5s" \
	    "check \"$W_TMP/check\" interval 1s fall 1 rise 1"
done

# mails NODE ALERT: how many of the sink's messages are that alert's
mails() {
	grep -l "^Alert:   $2" "$MAIL"/*.eml 2>/dev/null |
	    xargs -r grep -l "^Node:    $1" | wc -l
}
mail_of() {	# the newest message of NODE ALERT
	grep -l "^Alert:   $2" "$MAIL"/*.eml 2>/dev/null |
	    xargs -r grep -l "^Node:    $1" | sort | tail -1
}
has_mail() { [ "$(mails "$1" "$2")" -ge "${3:-1}" ]; }

node_start a
wait_for 10000 is_role a active
ok $? "a is active"
wait_for 5000 has_mail a takeover
ok $? "a's takeover mail arrived, though a relay before it hangs"
node_start b
wait_for 10000 is_role b standby
ok $? "b is a standby"

# hook output, tagged, in order, the last line without its newline too
check "the hook's standard output is in the log, tagged with the hook" bash -c "grep -q 'on-standby output: hello from on-standby at epoch 0' $W_TMP/a.log"
check "so is its standard error" bash -c "grep -q 'on-standby output: a warning on stderr' $W_TMP/a.log"
check "and a last line without a newline" bash -c "grep -q 'on-standby output: no newline at the end' $W_TMP/a.log"
o=$(grep -n 'on-standby output: hello' "$W_TMP/a.log" | head -1 | cut -d: -f1)
e=$(grep -n 'on-standby: .* exited 0' "$W_TMP/a.log" | head -1 | cut -d: -f1)
wait_for 6000 grep -q 'on-standby output: left behind: two' "$W_TMP/a.log"
ok $? "what a hook left running is still logged after the hook, and lives on (its second line)"
check "the output comes before the line of the hook's end" bash -c "[ -n '$o' ] && [ -n '$e' ] && [ '$o' -lt '$e' ]"

# the takeover: a is killed (its monitor first: netd drops the VIP as it
# goes, which at dead 2 s has no kernel lifetime), b takes over and mails
kill -9 "${NODE_PID[a]}"
t0=$(now_ms)
wait_for 2000 sh -c "! ip -n $(ns a) -4 -o addr show dev eth0 | grep -q ' $VIP/'"
node_kill a
wait_for 10000 is_role b active
ok $? "b takes over"
wait_for 8000 has_mail b takeover
ok $? "b's takeover mail arrived"
dt=$(( $(now_ms) - t0 ))
diag "the takeover mail arrived $dt ms after the kill (dead 2 s)"
m=$(mail_of b takeover)
e=$(epoch)
check "the epoch is known ($e), the mail is there ($m)" test -n "$e" -a -n "$m"
check "the mail names the epoch ($e)" bash -c "tr -d '\r' < $m | grep -qx 'Epoch:   $e'"
check "its Subject names cluster, alert and node" bash -c "grep -q '^Subject: failoverd test: takeover on b' $m"
check "From and To are the configured addresses" bash -c "grep -q '^From: <fo-b@example.com>' $m && grep -q '^To: <ops@example.com>' $m"
check "Date is an RFC 5322 date" bash -c "grep -Eq '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} [0-9:]{8} [-+][0-9]{4}' $m"
check "it has a Message-ID" bash -c "grep -Eq '^Message-ID: <[0-9]+\\.[0-9]+\\.[0-9]+@b>' $m"
check "the body names node, cluster, time and cause" bash -c "grep -q '^Cluster: test' $m && grep -q '^Node:    b' $m && grep -Eq '^Time:    20[0-9-]+T[0-9:.]+Z' $m && grep -q '^Cause:   b active at epoch $e' $m"
check "the envelope sender is the From" bash -c "grep -q '^X-Envelope-From: <fo-b@example.com>' $m"

# the refusing relay is logged with what it said; the hanging one is
# given up at its deadline; each mail is sent as _failoverd
wait_for 5000 grep -q 'alert mail to refuse@example.com via 192.0.2.5:2527: the relay refused RCPT TO: 550 5.7.1 relaying denied' "$W_TMP/b.log"
ok $? "the refusal is logged, with the relay's answer"
uid=$(id -u _failoverd)
socks=$(nsx b ss -tnpe state established "( dport = :2526 )" 2>/dev/null)
check "the sender connected as _failoverd (uid $uid)" bash -c "echo '$socks' | grep -q 'uid:$uid '"
wait_for 15000 grep -q 'alert mail to hang@example.com via 192.0.2.5:2526: the greeting: no answer in time' "$W_TMP/b.log"
ok $? "the hanging relay is given up, and logged"
wait_for 5000 grep -q 'alert mail: to hang@example.com (takeover) exited 1' "$W_TMP/b.log"
ok $? "the sender of the takeover ended by itself"
check "the sender said why before its deadline came" bash -c "! grep -q 'alert mail: to hang@example.com .* killed at its deadline' $W_TMP/b.log"

# the alert command
wait_for 3000 grep -q "name=takeover" "$W_TMP/alerts.b"
ok $? "the alert command ran for the takeover"
check "with the name, the detail, FAILOVER_ALERT, the node's role and the epoch" bash -c "grep -q 'name=takeover detail=b active at epoch $e .* alert=takeover role=active node=b epoch=$e\$' $W_TMP/alerts.b"

# redundancy: b alone, then a back as a standby
wait_for 8000 has_mail b standby-lost
ok $? "standby-lost: b sees no standby"
check "the mail says what it means" bash -c "grep -q 'redundancy\\|stops the service' $(mail_of b standby-lost)"
node_start a
wait_for 10000 is_role a standby
ok $? "a is back as a standby"
wait_for 8000 has_mail b standby-back
ok $? "standby-back"

# a flapping fault on a: fault, healthy, fault, ... for 65 s; one mail
# at once, then none for the rest of the minute, then one with the count
flap_until=$(( $(now_ms) + 65000 ))
first=
while [ "$(now_ms)" -lt "$flap_until" ]; do
	touch "$W_TMP/sick.a"
	wait_for 3000 is_role a fault
	rm -f "$W_TMP/sick.a"
	wait_for 3000 is_role a standby
	if [ -z "$first" ] && has_mail a fault; then
		first=$(now_ms)
	fi
	if [ -n "$first" ] && [ $(( $(now_ms) - first )) -lt 50000 ] &&
	    [ "$(mails a fault)" -gt 1 ]; then
		break
	fi
done
n_log=$(grep -c 'alert fault:' "$W_TMP/a.log")
ok "$([ -n "$first" ]; echo $?)" "the first fault mail came at once"
diag "$n_log fault alerts in a's log"
check "the fault flapped (8 alerts at least)" bash -c "[ '$n_log' -ge 8 ]"
wait_for 15000 has_mail a fault 2
ok $? "when the minute is over, one more fault mail"
is "$(mails a fault)" 2 "two fault mails for $n_log faults"
m=$(mail_of a fault)
held=$(sed -n 's/^Held back: \([0-9]*\) fault alerts since .*/\1/p' "$m" | tr -d '\r')
diag "the second says: $(grep '^Held back' "$m" | tr -d '\r')"
check "and it counts the ones held back ($held)" bash -c "[ -n '$held' ] && [ '$held' -ge 7 ] && [ '$held' -le '$n_log' ]"
rm -f "$W_TMP/sick.a"

done_testing
