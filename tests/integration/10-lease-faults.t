#!/bin/bash
# The lease under faults that once broke it: a stalled heartbeatd, a
# stalled netd, an alert command that hangs while the active is cut from
# the database, a forced demotion with the only other node in
# maintenance, and a schema that cannot be created.  Hook stamps of both
# nodes on one clock show that the old active's on-standby (or on-fault)
# ran before the new active's on-active.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'kill -CONT $PG 2>/dev/null; world_down' EXIT

H=100
L=3000
M=1000
TIMING="heartbeat interval ${H}ms dead ${L}ms margin ${M}ms slack 100ms timeout 250ms"

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"

other() { [ "$1" = a ] && echo b || echo a; }
one_active() { [ "$(actives)" = 1 ]; }
the_active() {
	local n
	for n in $W_NODES; do
		[ "$(role "$n")" = active ] && echo "$n" && return 0
	done
	return 1
}

# stamps_in_order OLD NEW SINCE [HOOK]: OLD's first on-standby or
# on-fault (or HOOK) after SINCE (ns) is before NEW's first on-active
stamps_in_order() {
	local old new
	old=$(awk -v s="$3" -v h="${4:-}" '$1 > s && (h == "" ? ($2 == "on-standby" || $2 == "on-fault") : $2 == h) { print $1; exit }' "$W_TMP/hooks.$1")
	new=$(awk -v s="$3" '$1 > s && $2 == "on-active" { print $1; exit }' "$W_TMP/hooks.$2")
	diag "$1 stopped at ${old:-never}, $2 started at ${new:-never}"
	[ -n "$old" ] && [ -n "$new" ] && [ "$old" -lt "$new" ]
}

# ran_since NODE HOOK SINCE: NODE ran HOOK after SINCE (ns)
ran_since() {
	awk -v s="$3" -v h="$2" '$1 > s && $2 == h { f = 1 } END { exit !f }' \
	    "$W_TMP/hooks.$1" 2>/dev/null
}
vip_gone() { ! has_vip "$1"; }

node_conf a
node_conf b
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is standby"

# --- a stalled heartbeatd: the monitor keeps t0 + L - M itself ---------
for proc in heartbeatd netd; do
	A=$(the_active)
	B=$(other "$A")
	pid=$(child_pid "${NODE_PID[$A]}" "$proc")
	since=$(date +%s%N)
	kill -STOP "$pid"
	wait_for $(( 4 * L )) ran_since "$B" on-active "$since"
	ok $? "$A's $proc stopped: $B takes over and runs on-active"
	check "$A's on-standby or on-fault ran before $B's on-active" \
	    stamps_in_order "$A" "$B" "$since"
	kill -CONT "$pid"
	wait_for 10000 vip_gone "$A"
	ok $? "$A holds no VIP after SIGCONT"
	ctl "$A" resume > /dev/null 2>&1
	wait_for 10000 is_role "$A" standby
	ok $? "$A ends as standby (after resume when it was in fault)"
	is "$(holder)" "$B" "the lease names $B"
done

# --- a stalled heartbeatd and an on-standby that fails: on-fault runs ---
A=$(the_active)
B=$(other "$A")
touch "$W_TMP/fail.$A.on-standby"
pid=$(child_pid "${NODE_PID[$A]}" heartbeatd)
since=$(date +%s%N)
kill -STOP "$pid"
wait_for $(( 4 * L )) ran_since "$B" on-active "$since"
ok $? "$A's heartbeatd stopped, its on-standby fails: $B takes over"
check "$A's on-fault ran before $B's on-active" \
    stamps_in_order "$A" "$B" "$since" on-fault
kill -CONT "$pid"
rm -f "$W_TMP/fail.$A.on-standby"
wait_for 10000 is_role "$A" fault
ok $? "$A, woken, is in fault"
ctl "$A" resume > /dev/null 2>&1
wait_for 10000 is_role "$A" standby
ok $? "and standby after resume"

# --- an alert command that hangs does not delay on-standby --------------
node_stop a
node_stop b
printf '#!/bin/sh\nsleep 30\n' > "$W_TMP/slow-alert"
chmod 755 "$W_TMP/slow-alert"
node_conf a "alert command \"$W_TMP/slow-alert\""
node_conf b "alert command \"$W_TMP/slow-alert\""
node_start a
node_start b
A=$(wait_for 10000 the_active >/dev/null && the_active)
ok $? "one node is active ($A)"
B=$(other "$A")
wait_for 10000 is_role "$B" standby
since=$(date +%s%N)
nft_cut "$A"
wait_holder_b() { [ "$(holder)" = "$B" ]; }
wait_for $(( 4 * L )) wait_holder_b
ok $? "$A cut from the database: $B takes the lease"
wait_for 3000 ran_since "$B" on-active "$since"
check "with an alert command sleeping 30 s, $A's on-standby ran before $B's on-active" \
    stamps_in_order "$A" "$B" "$since"
nft_heal "$A"
wait_for 10000 is_role "$A" standby
ok $? "$A is standby once healed"

# --- a forced demotion is followed by a release --------------------------
node_stop a
node_stop b
node_conf a
node_conf b
node_start a
wait_for 10000 is_role a active
node_start b
wait_for 10000 is_role b standby
ctl b standby > /dev/null 2>&1
wait_for 5000 is_role b maintenance
ok $? "b is in maintenance"
pg_stop
wait_for $(( 2 * L )) is_role a standby
ok $? "the database is gone for longer than L - M: a demotes to standby"
sleep 1
pg_start
t=$(ms_now)
wait_for $(( L + 20 * H )) is_role a active
ok $? "the database is back: a is active again within L + 20 H ($(( $(ms_now) - t )) ms)"
is "$(holder)" a "the row names a"

# --- a database stall between L/2 and L - M leaves the VIP bound --------
# (the kernel lifetime is set from the new t0 at every extension; it was
# renewed only when less than half was left, so the kernel removed the
# VIP during such a stall and the node went on renewing without it)
node_stop a
node_stop b
TIMING="heartbeat interval 500ms dead 20s margin 2s slack 1s timeout 1s"
node_conf a
node_conf b
node_start a
wait_for 15000 is_role a active
node_start b
wait_for 15000 is_role b maintenance
ctl b resume > /dev/null 2>&1
wait_for 15000 is_role b standby
ok $? "dead 20s margin 2s: a active, b standby (resumed)"
lft_of() {
	ip -n "$(ns "$1")" -4 -o addr show dev eth0 | grep " $VIP/" |
	    sed -n 's/.*valid_lft \([0-9]*\)sec.*/\1/p'
}
lft_small() { local l; l=$(lft_of a); [ -n "$l" ] && [ "$l" -le 10 ]; }
wait_for 12000 lft_small
diag "valid_lft of the VIP on a when PostgreSQL stops: $(lft_of a) s"
pg_stop
sleep 12
pg_start
both_up() { db_is a up && db_is b up; }
wait_for 15000 both_up
ok $? "PostgreSQL back after 12 s: both nodes see it"
h=$(holder)
wait_for 5000 has_vip "$h"
ok $? "the node the lease row names ($h) has the VIP"
is "$(who_has)" "$(mac_of "$h")" "and its MAC answers the client's arping"
TIMING="heartbeat interval ${H}ms dead ${L}ms margin ${M}ms slack 100ms timeout 250ms"

# --- a VIP bound with no kernel lifetime gets one at the next renewal ---
# (probe wait 2.5 s of dead 4 s: less than 2 s are left at the bind)
node_stop a
node_stop b
TIMING="heartbeat interval 100ms dead 4s margin 1s slack 100ms timeout 250ms"
node_conf a "probe wait 2500ms"
: > "$W_TMP/a.log"
node_start a
wait_for 15000 grep -q 'no kernel lifetime' "$W_TMP/a.log"
ok $? "a binds the VIP with no kernel lifetime (too little was left)"
lft_set() { [ -n "$(lft_of a)" ]; }
wait_for 3000 lft_set
ok $? "the next renewal gives it one ($(lft_of a) s, ${WAITED} ms later)"
TIMING="heartbeat interval ${H}ms dead ${L}ms margin ${M}ms slack 100ms timeout 250ms"

# --- a stalled monitor, dead 2 s: netd drops the VIP at its own deadline --
# (under 3 s the VIP has no kernel lifetime, and with the monitor stopped
# no drop and no extension reaches netd: its own timer is all there is)
node_stop a
node_stop b
TIMING="heartbeat interval 100ms dead 2s margin 500ms slack 100ms timeout 250ms"
node_conf a
node_conf b
: > "$W_TMP/a.log"
node_start a
wait_for 10000 is_role a active
ok $? "dead 2s: a is active"
node_start b
wait_for 10000 is_role b standby
check "a's VIP has no kernel lifetime" grep -q "netd: bound $VIP/24 on eth0 (epoch [0-9]*, no kernel lifetime" "$W_TMP/a.log"
MON=${NODE_PID[a]}
kill -STOP "$MON"
t=$(ms_now)
wait_for 4000 vip_gone a
ok $? "a's monitor stopped: its netd dropped the VIP by itself ($(( $(ms_now) - t )) ms)"
check "at the lease deadline" grep -q "netd: dropped $VIP/24 from eth0 (epoch [0-9]*): lease deadline t0 + L - M" "$W_TMP/a.log"
kill -CONT "$MON"
one_vip() { [ "$(has_vip a && echo 1)$(has_vip b && echo 1)" = 1 ]; }
wait_for 10000 one_vip
ok $? "a's monitor woken: one node has the VIP again"

# --- the standby cut from the database for longer than L: no takeover ----
# (its takeover timer ran out meanwhile, for the (epoch, beat) it saw
# last; the takeover it sends on reconnecting names that beat, which the
# active has long renewed past, and so changes nothing)
ctl a resume >/dev/null 2>&1; ctl b resume >/dev/null 2>&1
steady() { A=$(the_active) && B=$(other "$A") && is_role "$B" standby; }
wait_for 15000 steady
ok $? "one active ($A), one standby ($B)"
e=$(epoch)
since=$(date +%s%N)
nft_cut "$B"
sleep $(( L / 1000 + 2 ))
nft_heal "$B"
wait_for 10000 db_is "$B" up
ok $? "$B, cut from the database for L + 2 s, reaches it again"
sleep 2		# its stale takeover goes first, at once
is "$(holder)/$(epoch)" "$A/$e" "the lease stays $A's at epoch $e"
check "$B ran no on-active" sh -c "! awk -v s=$since '\$1 > s && \$2 == \"on-active\"' '$W_TMP/hooks.$B' | grep -q ."
is "$(role "$A")" active "$A is still active"

# --- the database frozen between L - M and L: the renewal queued in it
# must not commit when it thaws (dead 2 s, margin 500 ms: frozen 1.8 s).
# The active gave up on it and demoted at its deadline; committed, it
# would hold the lease for another L with nobody acting on it.
sql "CREATE TABLE lease_audit (old_beat bigint, new_beat bigint,
  old_token uuid, new_token uuid, old_at timestamptz, new_at timestamptz);
CREATE FUNCTION lease_audit() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER AS \$\$ BEGIN INSERT INTO lease_audit VALUES (OLD.beat,
  NEW.beat, OLD.token, NEW.token, OLD.changed_at, NEW.changed_at);
  RETURN NEW; END \$\$;
CREATE TRIGGER lease_audit AFTER UPDATE ON failover_lease
  FOR EACH ROW EXECUTE FUNCTION lease_audit()" >/dev/null
ok $? "(a trigger records every update of the lease row)"
wait_for 15000 steady
ok $? "one active ($A), one standby ($B)"
PG=$(echo "$W_PG_PID" $(pgrep -P "$W_PG_PID"))
kill -STOP $PG
sleep 1.8
kill -CONT $PG
wait_for 15000 steady
ok $? "PostgreSQL frozen for 1.8 s, then thawed: one active ($A) again"
is "$(sql "SELECT count(*) FROM lease_audit WHERE new_beat = old_beat + 1
  AND new_token = old_token AND new_at - old_at > interval '1550 ms'")" 0 \
    "no renewal committed on a row older than L - M"
diag "updates of the row: $(sql "SELECT count(*) FROM lease_audit")"

TIMING="heartbeat interval ${H}ms dead ${L}ms margin ${M}ms slack 100ms timeout 250ms"

# --- a schema that cannot be created ends the daemon, naming schema.sql --
node_stop a
node_stop b
psql_db postgres -c "CREATE DATABASE noschema OWNER postgres" >/dev/null
psql_db noschema -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC" >/dev/null
W_NODES="a b c"
host_add c "${NODE_ADDR[c]}" 02:00:00:00:00:13
node_conf c
sed -i 's/dbname=failover /dbname=noschema /' "$W_TMP/c.conf"
node_start c
wait_for 15000 dead "${NODE_PID[c]}"
ok $? "with no tables and no right to create them, failoverd exits"
check "the log names schema.sql" grep -q 'schema.sql' "$W_TMP/c.log"

done_testing
