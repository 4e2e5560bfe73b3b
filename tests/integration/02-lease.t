#!/bin/bash
# The lease with a real PostgreSQL and both nodes in their own namespaces:
# one active; kill -9, a cut from the database, SIGSTOP and SIGTERM of the
# active; a database restart; switchover; maintenance; history.  After
# every case the hook stamps of both nodes (one clock) must show that no
# two nodes were ever active at once.  CHAOS=1 repeats each fault 5 times.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

H=100
L=3000
ROUNDS=1
[ -n "$CHAOS" ] && ROUNDS=5

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs in its namespace at $DB_ADDR"
W_NODES="a b"

other() { [ "$1" = a ] && echo b || echo a; }

# the active node, once exactly one says so and the row agrees
the_active() {
	local n
	for n in $W_NODES; do
		if [ "$(role "$n")" = active ] && [ "$(holder)" = "$n" ] &&
		    [ "$(actives)" = 1 ]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# wait_holder NODE MS: until the row names NODE; WAITED is set
wait_holder() {
	local t
	t=$(ms_now)
	while [ "$(holder)" != "$1" ]; do
		WAITED=$(( $(ms_now) - t ))
		[ "$WAITED" -ge "$2" ] && return 1
		sleep 0.02
	done
	WAITED=$(( $(ms_now) - t ))
}

wait_active() {
	wait_for "${1:-10000}" the_active >/dev/null && the_active
}


# --- both started at the same instant: exactly one active ---------------
node_conf a
node_conf b
vip_sampler_start
node_start a
node_start b
A=$(wait_active 15000)
ok $? "both started at once: exactly one active ($A, ${WAITED} ms)"
B=$(other "$A")
wait_for 5000 is_role "$B" standby
ok $? "the other, $B, is standby"
is "$(sql "SELECT count(*) FROM failover_event WHERE event = 'acquire'")" 1 \
    "one acquire in failover_event"
is "$(sql "SELECT string_agg(node, ',' ORDER BY node) FROM failover_event WHERE event = 'start'")" \
    "a,b" "each node logged its start"
ctl "$A" status -j > "$W_TMP/st.json"
python3 - "$W_TMP/st.json" "$A" > "$W_TMP/st.check" 2>&1 <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
me = sys.argv[2]
assert s["role"] == "active" and s["holder"] == me, s
assert s["db"] == "up"
assert isinstance(s["epoch"], int) and s["epoch"] >= 1
assert 0 < s["lease_left_ms"] <= 2000, s["lease_left_ms"]
names = sorted(n["node"] for n in s["nodes"])
assert names == ["a", "b"], names
assert all(0 <= n["seen_ms_ago"] < 3000 for n in s["nodes"]), s["nodes"]
assert s["fault"] is None
print("valid")
EOF
is "$(cat "$W_TMP/st.check")" valid "status -j on the active: role, holder, epoch, lease_left_ms, nodes"
ctl "$B" status -j | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["role"] == "standby" and s["holder"] == sys.argv[1], s
assert s["lease_left_ms"] is not None and 0 <= s["lease_left_ms"] <= 3000, s
' "$A"
ok $? "status -j on the standby: the holder and the time until it may take over"
wait_for 3000 has_vip "$A"
ok $? "the VIP is bound on $A"
check "and not on $B" sh -c "! ip -n $(ns "$B") -4 -o addr show dev eth0 | grep -q ' $VIP/'"
is "$(who_has)" "$(mac_of "$A")" "arping from the client: $A's MAC answers for the VIP"
check "status -j shows the VIP bound on $A" sh -c \
    "\"$FAILOVERCTL\" -s '$W_TMP/$A.sock' status -j | grep -q '\"bound\":true'"
check "and not bound on $B" sh -c \
    "\"$FAILOVERCTL\" -s '$W_TMP/$B.sock' status -j | grep -q '\"bound\":false'"
check "the kernel lifetime of the VIP is at most L - 1 s" sh -c \
    "ip -n $(ns "$A") -4 -o addr show dev eth0 | grep ' $VIP/' | grep -Eq 'valid_lft [12]sec'"
check "the VIP carries the label eth0:fo" sh -c \
    "ip -n $(ns "$A") -4 -o addr show dev eth0 | grep ' $VIP/' | grep -q 'eth0:fo'"
beat1=$(sql "SELECT beat FROM failover_lease")
sleep 0.5
beat2=$(sql "SELECT beat FROM failover_lease")
ok $(( beat2 <= beat1 )) "the active renews: beat $beat1 -> $beat2 in 0.5 s"

# --- switchover, from the standby and from the active --------------------
e0=$(epoch)
nb=$(count_hook "$B" on-active)
nsa=$(count_hook "$A" on-standby)
t=$(ms_now)
ctl "$B" switchover > "$W_TMP/out" 2>&1
rc=$?
dt=$(( $(ms_now) - t ))
is "$rc" 0 "switchover asked on the standby $B exits 0 ($dt ms): $(cat "$W_TMP/out")"
is "$(holder)" "$B" "and $B holds the lease when it returns"
is "$(epoch)" "$((e0 + 1))" "at the next epoch"
wait_for 3000 is_role "$A" standby
ok $? "$A is standby"
wait_for 3000 sh -c "[ \$(grep -c ' on-active ' '$W_TMP/hooks.$B') -gt $nb ]"
# the on-standby of the switchover, not the one of $A's start
check "$A ran on-standby ($(count_hook "$A" on-standby) times, $nsa before), before $B's on-active" \
    test "$(count_hook "$A" on-standby)" -gt "$nsa" -a \
    "$(last_hook "$A" on-standby)" -lt "$(last_hook "$B" on-active)"
t=$(ms_now)
ctl "$B" switchover "$A" > "$W_TMP/out" 2>&1
rc=$?
dt=$(( $(ms_now) - t ))
is "$rc" 0 "switchover $A asked on the active exits 0 ($dt ms)"
is "$(holder)" "$A" "and $A holds the lease"
ctl "$A" switchover "$A" > "$W_TMP/out" 2>&1
is "$?:$(cat "$W_TMP/out")" "1:failoverctl: switchover: $A is not a live standby" \
    "a switchover to the active itself is refused, saying why"
ctl "$A" switchover nosuchnode > "$W_TMP/out" 2>&1
is "$?:$(cat "$W_TMP/out")" "1:failoverctl: switchover: no node nosuchnode in the configuration" \
    "a switchover to an unknown node is refused, naming it"
check "no split brain through the switchovers" no_split_brain

for round in $(seq 1 $ROUNDS); do
	# --- a database restart shorter than L - M changes nothing ---------------
	A=$(wait_active 5000)
	B=$(other "$A")
	e0=$(epoch)
	na=$(count_hook "$A" on-standby)
	pg_stop
	wait_for 3000 db_is "$A" down
	ok $? "round $round: status shows the database down"
	pg_start
	ok $? "round $round: database back"
	sleep $(( 2 * L / 1000 ))
	is "$(holder):$(epoch)" "$A:$e0" "round $round: after the restart $A still holds epoch $e0"
	is "$(role "$A"):$(role "$B")" "active:standby" "round $round: no role changed"
	is "$(count_hook "$A" on-standby)" "$na" "round $round: no on-standby ran on $A"
	wait_for 3000 db_is "$A" up
	ok $? "round $round: status shows the database up again"

	# --- kill -9 of the active: the standby takes over within L + 2H ---
	A=$(wait_active 10000)
	B=$(other "$A")
	e0=$(epoch)
	stamp "$A" killed
	node_kill "$A"
	t=$(ms_now)
	# both watched in one loop, each time taken when it is first seen
	# (the VIP looked at first): the VIP must be gone no later than the
	# takeover, whichever comes first
	tgone= dt=
	while [ -z "$tgone" ] || [ -z "$dt" ]; do
		[ $(( $(ms_now) - t )) -ge $(( 3 * L )) ] && break
		[ -z "$tgone" ] && ! ip -n "$(ns "$A")" -4 -o addr show dev eth0 |
		    grep -q " $VIP/" && tgone=$(( $(ms_now) - t ))
		[ -z "$dt" ] && [ "$(holder)" = "$B" ] && dt=$(( $(ms_now) - t ))
		sleep 0.02
	done
	check "round $round: the kernel dropped $A's VIP by itself (${tgone:-never} ms) before $B took over (${dt:-never} ms)" \
	    test -n "$tgone" -a -n "$dt" -a "${tgone:-0}" -le "${dt:-0}"
	dt=${dt:-$(( 3 * L ))}
	is "$(holder)" "$B" "round $round: kill -9 of $A: $B takes the lease ($dt ms)"
	# the test samples every 20 ms and psql takes some: 300 ms for that
	ok $(( dt > L + 2 * H + 300 )) "round $round: within L + 2H = $(( L + 2 * H )) ms"
	is "$(sql "SELECT event FROM failover_event WHERE node = '$B' ORDER BY id DESC LIMIT 1")" \
	    takeover "round $round: logged as takeover"
	wait_for 3000 is_role "$B" active
	ok $? "round $round: $B says active"
	wait_for 3000 has_vip "$B"
	ok $? "round $round: $B has the VIP"
	is "$(who_has)" "$(mac_of "$B")" "round $round: arping from the client answers with $B's MAC"
	node_start "$A"
	wait_for 10000 is_role "$A" standby
	ok $? "round $round: $A comes back as standby"
	sleep $(( L / 1000 ))
	is "$(role "$A"):$(holder)" "standby:$B" "round $round: and stays so"
	check "round $round: no split brain (kill -9)" no_split_brain

	# --- the active cut off from the database demotes before the other
	# takes over ---
	A=$B
	B=$(other "$A")
	nsa=$(count_hook "$A" on-standby)
	nft_cut "$A"
	wait_holder "$B" $(( 3 * L ))
	is "$(holder)" "$B" "round $round: $A cut from the database: $B takes over ($WAITED ms)"
	wait_for 3000 is_role "$B" active
	ts=$(last_hook "$A" on-standby)
	ta=$(last_hook "$B" on-active)
	check "round $round: $A ran on-standby (a new one) $(( (ta - ts) / 1000000 )) ms before $B's on-active" \
	    test "$(count_hook "$A" on-standby)" -gt "$nsa" -a "$ts" -lt "$ta"
	nft_heal "$A"
	wait_for 10000 is_role "$A" standby
	ok $? "round $round: $A, reconnected, is standby"
	check "round $round: no split brain (cut)" no_split_brain

	# --- SIGSTOP of the active for longer than L ---
	A=$B
	B=$(other "$A")
	na=$(count_hook "$A" on-active)
	nsa=$(count_hook "$A" on-standby)
	pids=$(node_pids "$A")
	# the whole node is taken as paused (its application too): its
	# active time ends here; that it stops the application when it
	# resumes is checked below
	stamp "$A" stopped
	kill -STOP $pids
	sleep $(( L / 1000 + 1 ))
	is "$(holder)" "$B" "round $round: $A stopped longer than L: $B took over"
	kill -CONT $pids
	tc=$(date +%s%N)
	wait_for 5000 is_role "$A" standby
	ok $? "round $round: after SIGCONT $A finds itself demoted (${WAITED} ms)"
	wait_for 5000 sh -c "[ \$(awk '\$2 == \"on-standby\"' '$W_TMP/hooks.$A' | wc -l) -gt $nsa ]"
	ok $? "round $round: and runs on-standby to stop its application"
	is "$(count_hook "$A" on-active)" "$na" "round $round: $A ran no on-active after SIGCONT"
	is "$(holder)" "$B" "round $round: $B still holds the lease"
	is "$(role "$B")" active "round $round: and is active"
	check "round $round: no split brain (stop)" no_split_brain

	# --- SIGTERM of the active hands over within H + a round trip ---
	A=$B
	B=$(other "$A")
	kill -TERM "${NODE_PID[$A]}"
	wait_holder "$B" $(( 2 * L ))
	dt=$WAITED
	wait_for 10000 dead "${NODE_PID[$A]}"
	wait "${NODE_PID[$A]}" 2>/dev/null
	is "$(holder)" "$B" "round $round: SIGTERM of $A: $B takes the lease ($dt ms)"
	ok $(( dt >= L )) "round $round: well before L ($dt < $L ms)"
	is "$(sql "SELECT event FROM failover_event WHERE node = '$B' AND event IN ('acquire', 'takeover') ORDER BY id DESC LIMIT 1")" \
	    acquire "round $round: $B acquired the released lease (not a takeover at its expiry)"
	is "$(sql "SELECT string_agg(event, ',' ORDER BY id) FROM (SELECT * FROM failover_event WHERE node = '$A' ORDER BY id DESC LIMIT 3) e")" \
	    "demote,release,stop" "round $round: $A logged demote, release, stop"
	NODE_PID[$A]=
	node_start "$A"
	wait_for 10000 is_role "$A" standby
	ok $? "round $round: $A restarted as standby"
	check "round $round: no split brain (SIGTERM)" no_split_brain

	# --- both stopped, then started at the same instant ---
	node_stop a
	node_stop b
	is "$(holder)" "" "round $round: both stopped cleanly: the lease is free"
	node_start a
	node_start b
	A=$(wait_active 15000)
	ok $? "round $round: started at once: exactly one active ($A, ${WAITED} ms)"
	wait_for 5000 is_role "$(other "$A")" standby
	ok $? "round $round: the other is standby"
	check "round $round: no split brain (simultaneous start)" no_split_brain
done

# --- maintenance: a node in maintenance never takes over -----------------
A=$(wait_active 5000)
B=$(other "$A")
ctl "$B" standby > "$W_TMP/out" 2>&1
is "$?" 0 "standby on the standby $B: maintenance"
is "$(role "$B")" maintenance "$B is in maintenance"
stamp "$A" killed
node_kill "$A"
sleep $(( L / 1000 + 1 ))
is "$(holder)" "$A" "with $A dead past L, $B in maintenance does not take over"
node_stop "$B"
node_start "$B"
wait_for 10000 is_role "$B" maintenance
ok $? "maintenance survives a restart of $B"
t=$(ms_now)
ctl "$B" resume > "$W_TMP/out" 2>&1
is "$?" 0 "resume"
wait_for 5000 is_role "$B" active
ok $? "after resume $B takes over the dead lease ($(( $(ms_now) - t )) ms)"
node_start "$A"
wait_for 10000 is_role "$A" standby
ok $? "$A is back as standby"
ctl "$B" standby > "$W_TMP/out" 2>&1
is "$?" 0 "standby on the active $B: switchover, then maintenance"
is "$(holder):$(role "$B")" "$A:maintenance" "$A holds the lease, $B is in maintenance"
ctl "$B" resume > /dev/null 2>&1
wait_for 3000 is_role "$B" standby
ok $? "resume: $B is standby again"
check "no split brain (maintenance)" no_split_brain

# --- the VIP was never on two nodes at once ---------------------------------
read -r nsamples ntwo <<< "$(vip_sampler_check)"
is "$ntwo" 0 "sampled every 20 ms over the whole run ($nsamples samples): the VIP never on two nodes"

# --- history ---------------------------------------------------------------
ctl "$A" history -n 5 > "$W_TMP/hist"
is "$?" 0 "history -n 5"
is "$(wc -l < "$W_TMP/hist")" 5 "prints 5 lines"
check "as TIME NODE EVENT epoch N DETAIL, TIME in RFC 3339 with ms" \
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z [a-z]+ [a-z-]+ epoch [0-9-]+' "$W_TMP/hist"
is "$(tail -1 "$W_TMP/hist" | awk '{print $3}')" \
    "$(sql "SELECT event FROM failover_event ORDER BY id DESC LIMIT 1")" \
    "oldest first: the last line is the newest event"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$FAILOVERCTL" \
    -s "$W_TMP/$A.sock" history >/dev/null 2>&1
ok $(( $? == 0 )) "the socket's group is root here: nobody may not even read"
epochs=$(sql "SELECT string_agg(epoch::text, ' ' ORDER BY id) FROM failover_event WHERE event IN ('acquire', 'takeover')")
sorted=$(echo "$epochs" | tr ' ' '\n' | sort -n | uniq | tr '\n' ' ' | sed 's/ $//')
is "$epochs" "$sorted" "epochs of acquire and takeover strictly increase ($epochs)"

done_testing
