#!/bin/bash
# Two processes under one node name, as a cloned VM or a second daemon
# started by mistake on another host would be: a1 in a's namespace and
# a2 in c's, both "a".  The token tells them apart: a2 never takes a
# lease that a1 renews; a row with a's name but another token at a1's
# own epoch (as a database that lost a write could hand out) is not
# renewed by a1; a row with a's name and neither token is taken over
# once it is L old; and when one of them dies the other takes over.  A
# VIP sampler sees the address on one of them at most.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'for p in $STOPPED; do kill -CONT $p 2>/dev/null; done; world_down' EXIT

TIMING="heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"
L=3000
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
host_add c "${NODE_ADDR[c]}" 02:00:00:00:00:13
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
node_conf a
# a2: the same configuration on host c; its hooks stamp into hooks.a2
printf '#!/bin/sh\nFAILOVER_NODE=a2 exec %s/hook "$@"\n' "$W_TMP" > "$W_TMP/hook2"
chmod 755 "$W_TMP/hook2"
node_conf c
sed -i "s,\"$W_TMP/hook ,\"$W_TMP/hook2 ,g" "$W_TMP/c.conf"
start_a2() {
	: >> "$W_TMP/c.log"
	nsx_bg c "$FAILOVERD" -d -v -N a -f "$W_TMP/c.conf" >> "$W_TMP/c.log" 2>&1 &
	NODE_PID[c]=$!
}
beat() { sql "SELECT beat FROM failover_lease WHERE cluster = 'test'"; }
token() { sql "SELECT token FROM failover_lease WHERE cluster = 'test'"; }

node_start a
wait_for 10000 is_role a active
ok $? "a1 (node a, in a's namespace) is active"
e=$(epoch)
t1=$(token)
W_NODES="a c" vip_sampler_start

# --- a second daemon named a: it waits, a1 keeps the lease ------------------
start_a2
wait_for 10000 is_role c standby
ok $? "a2 (node a too, in c's namespace) is a standby"
sleep $(( 2 * L / 1000 ))
is "$(role a)" active "after 2 L, a1 is still active"
is "$(role c)" standby "and a2 a standby"
is "$(epoch)/$(token)" "$e/$t1" "the row is a1's: epoch $e, a1's token"
is "$(count_hook a2 on-active)" 0 "a2 ran no on-active"
check "a2 names the holder it waits for" grep -q "heartbeatd: lease: holder a, epoch $e" "$W_TMP/c.log"

# --- the row at a1's epoch with another token: a1 must not renew it ------
# (a1's heartbeatd is stopped while the row changes, so that its next
# statement is the renewal, not the poll that would also see it)
# every change of the row, for the check below
sql "CREATE TABLE lease_audit (old_beat bigint, new_beat bigint,
  old_token uuid, new_token uuid);
CREATE FUNCTION lease_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS \$\$
BEGIN INSERT INTO lease_audit VALUES (OLD.beat, NEW.beat, OLD.token,
  NEW.token); RETURN NEW; END \$\$;
CREATE TRIGGER lease_audit AFTER UPDATE ON failover_lease
  FOR EACH ROW EXECUTE FUNCTION lease_audit()" >/dev/null
ok $? "(a trigger records every update of the lease row)"
HB=$(child_pid "${NODE_PID[a]}" heartbeatd)
check "a1's heartbeatd found (${HB:-none})" test -n "$HB"
STOPPED=$HB
kill -STOP "$HB"
sql "UPDATE failover_lease SET token = md5(random()::text)::uuid WHERE cluster = 'test'" >/dev/null
t2=$(token)
since=$(date +%s%N)
kill -CONT "$HB"
STOPPED=
wait_for 5000 grep -q "heartbeatd: renew-lost: renewal affected no row (epoch $e)" "$W_TMP/a.log"
ok $? "a1's renewal of the row with another token affects no row"
wait_for 5000 awk -v s="$since" '$1 > s && $2 == "on-standby" { f = 1 } END { exit !f }' "$W_TMP/hooks.a"
ok $? "a1 demotes: its on-standby ran"
is "$(sql "SELECT count(*) FROM lease_audit WHERE old_token = '$t2' AND new_token = '$t2' AND new_beat > old_beat")" 0 \
    "nobody renewed the row with the other token"

# --- a row with a's name and neither token: taken over after L ----------------
# (a1, now a standby, and a2 both wait L for it; one of them wins)
one_a() { is_role a active || is_role c active; }
wait_for $(( 3 * L )) one_a
ok $? "the row that names a with a token of neither is taken over"
X=a; Y=c; XN=a1; YN=a2
is_role c active && { X=c; Y=a; XN=a2; YN=a1; }
is "$(epoch)" "$((e + 1))" "by $XN, at epoch $((e + 1))"
check "$XN's token is in the row, not the foreign one" sh -c "[ -n '$(token)' ] && [ '$(token)' != '$t2' ]"
is "$(role $Y)" standby "$YN is a standby"
wait_for 3000 has_vip $X
ok $? "$XN has the VIP"
tx=$(token)

# --- the active one killed: the other takes the lease -----------------------
node_kill $X
[ "$XN" = a1 ] && stamp a killed || stamp a2 killed
wait_for $(( 3 * L )) is_role $Y active
ok $? "$XN killed: $YN is active"
is "$(epoch)" "$((e + 2))" "at epoch $((e + 2))"
[ "$YN" = a1 ] && is "$(token)" "$t1" "a1's token, the one it started with"
check "with its own token" sh -c "[ -n '$(token)' ] && [ '$(token)' != '$tx' ] && [ '$(token)' != '$t2' ]"

kill "$W_SAMPLER" 2>/dev/null
read -r n two <<EOF
$(vip_sampler_check)
EOF
check "the VIP was never on a1 and a2 at once ($two of $n samples)" test "$n" -gt 100 -a "$two" = 0
check "the hook stamps show no two active periods" no_split_brain

done_testing
