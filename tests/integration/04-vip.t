#!/bin/bash
# netd and the virtual IPs: a stale VIP is removed at start and at exit;
# a takeover is announced (gratuitous ARP, unsolicited NA), counted on the
# wire, and the client's neighbour entry follows without the client
# sending anything; an ARP probe answered by another host is an address
# conflict; the link going down and the VIP deleted by someone else are
# faults that demote the node.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT
command -v tcpdump >/dev/null || skip_all "no tcpdump (run: make deps)"
command -v arping >/dev/null || skip_all "no arping (run: make deps)"

VIP6=2001:db8::10
VIP_CONF="vip $VIP/24 interface \"eth0\"
vip $VIP6/64 interface \"eth0\"
garp count 3 interval 200ms"
TIMING="heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"
L=3000

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
node_conf a
node_conf b

has_vip6() {
	ip -n "$(ns "$1")" -6 -o addr show dev eth0 | grep -q " $VIP6/"
}

# --- a stale VIP is removed at start ----------------------------------------
node_start b
wait_for 10000 is_role b active
ok $? "b alone is active"
wait_for 3000 has_vip b
ok $? "b has the VIP"
check "b has the IPv6 VIP, flagged nodad" sh -c \
    "ip -n $(ns b) -6 -o addr show dev eth0 | grep ' $VIP6/' | grep -q nodad"
ip -n "$(ns a)" addr add "$VIP/24" dev eth0
check "(a VIP left behind on a, by hand)" has_vip a
node_start a
wait_for 10000 is_role a standby
ok $? "a starts as standby"
check "and removed the stale VIP at start" sh -c "! ip -n $(ns a) -4 -o addr show dev eth0 | grep -q ' $VIP/'"
check "a logged it" grep -q "netd: dropped $VIP/24 from eth0" "$W_TMP/a.log"
check "promote_secondaries was set for the /24" sh -c \
    "[ \$(nsenter --net=/run/netns/$(ns a) cat /proc/sys/net/ipv4/conf/eth0/promote_secondaries) = 1 ]"

# --- announcements: counted on the wire, followed by the client --------------
neigh() {
	ip -n "$(ns client)" neigh show "$VIP" |
	    awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'
}
nsx client ping -c 1 -W 1 "$VIP" >/dev/null 2>&1
is "$(neigh)" "$(mac_of b)" \
    "the client's neighbour entry holds b's MAC"
# the capture runs until every announcement came and 1 s more (five
# intervals: a fourth would have come by then), not for a fixed window
nsx_bg client timeout 60 tcpdump -l -n -e -i eth0 'arp or icmp6' \
    > "$W_TMP/capture" 2> "$W_TMP/capture.err" &
cap=$!
W_PIDS="$W_PIDS $cap"
wait_for 10000 grep -q "listening on eth0" "$W_TMP/capture.err"
ok $? "tcpdump listens on the client's eth0"
ctl b switchover a > /dev/null 2>&1
is "$?" 0 "switchover to a"
macA=$(mac_of a)
macC=$(mac_of client)
announced() {
	[ "$(grep -c " $macA > ff:ff:ff:ff:ff:ff.*Request who-has $VIP tell $VIP," "$W_TMP/capture")" -ge 3 ] &&
	    [ "$(grep -c " $macA > .*neighbor advertisement, tgt is $VIP6" "$W_TMP/capture")" -ge 3 ]
}
wait_for 10000 announced
ok $? "a's announcements came (${WAITED} ms)"
sleep 1
kill "$cap" 2>/dev/null
wait "$cap" 2>/dev/null
n=$(grep -c " $macA > ff:ff:ff:ff:ff:ff.*Request who-has $VIP tell $VIP," "$W_TMP/capture")
is "$n" 3 "a sent 3 gratuitous ARPs for $VIP (garp count 3)"
n=$(grep -c " $macA > .*Request who-has $VIP tell 0.0.0.0" "$W_TMP/capture")
is "$n" 1 "after one ARP probe (sender 0.0.0.0)"
n=$(grep -c " $macA > .*neighbor advertisement, tgt is $VIP6" "$W_TMP/capture")
is "$n" 3 "and 3 unsolicited neighbour advertisements for $VIP6"
check "to ff02::1" grep -q "ff02::1: ICMP6, neighbor advertisement, tgt is $VIP6" "$W_TMP/capture"
is "$(grep -c " $macC > .*ARP" "$W_TMP/capture")" 0 "the client sent no ARP meanwhile"
is "$(neigh)" "$macA" \
    "and its neighbour entry now holds a's MAC"
is "$(who_has)" "$macA" "arping answers with a's MAC"

# --- the VIP goes with the monitor ------------------------------------------
m=${NODE_PID[a]}
kill -9 "$m"
wait "$m" 2>/dev/null
wait_for 1000 sh -c "! ip -n $(ns a) -4 -o addr show dev eth0 | grep -q ' $VIP/'"
ok $? "kill -9 of a's monitor: netd drops the VIP at exit (${WAITED} ms)"
node_kill a
wait_for $(( 3 * L )) is_role b active
ok $? "b takes over"
node_start a
wait_for 10000 is_role a standby
ok $? "a is standby again"

# --- an answered ARP probe is an address conflict ---------------------------
node_stop a
node_stop b
is "$(holder)" "" "both stopped: the lease is free"
ip -n "$(ns client)" addr add "$VIP/24" dev eth0
node_start a
wait_for 10000 is_role a fault
ok $? "a acquires, its probe is answered by the client: fault (${WAITED} ms)"
check "logged as address conflict with the client's MAC" \
    grep -q "address conflict: $VIP is already at $macC" "$W_TMP/a.log"
check "a did not bind the VIP" sh -c "! ip -n $(ns a) -4 -o addr show dev eth0 | grep -q ' $VIP/'"
check "status names the conflict" sh -c \
    "\"$FAILOVERCTL\" -s '$W_TMP/a.sock' status -j | grep -q 'address conflict'"
is "$(holder)" "" "and a let the lease go"
ip -n "$(ns client)" addr del "$VIP/24" dev eth0
ctl a resume > /dev/null
wait_for 10000 is_role a active
ok $? "conflict gone, resume: a is active"
wait_for 3000 has_vip a
ok $? "with the VIP"
node_start b
wait_for 10000 is_role b standby
ok $? "b is standby"

# --- the VIP deleted by someone else is a fault ------------------------------
ip -n "$(ns a)" addr del "$VIP/24" dev eth0
wait_for 5000 is_role a fault
ok $? "the VIP deleted by hand on a: a goes into fault (${WAITED} ms)"
wait_for 5000 is_role b active
ok $? "b becomes active (${WAITED} ms)"
check "within the dead interval L (${WAITED} < 3000 ms)" test "$WAITED" -lt 3000
is "$(sql "SELECT event FROM failover_event WHERE node = 'b' AND event IN ('acquire', 'takeover') ORDER BY id DESC LIMIT 1")" \
    acquire "at once: a released the lease, b acquired it (no takeover at its expiry)"
check "a logged who did it" grep -q "was deleted from eth0 by someone else" "$W_TMP/a.log"
ctl a resume > /dev/null
wait_for 5000 is_role a standby
ok $? "resume: a is standby"

# --- the link going down is a fault; it clears when the link returns --------
ip -n "$(ns b)" link set eth0 down
wait_for 5000 is_role b fault
ok $? "b's link down: b demotes into fault (${WAITED} ms)"
check "status shows the link" sh -c \
    "\"$FAILOVERCTL\" -s '$W_TMP/b.sock' status -j | grep -q 'link: eth0 is down'"
check "the VIP is gone from b" sh -c "! ip -n $(ns b) -4 -o addr show dev eth0 | grep -q ' $VIP/'"
wait_for $(( 3 * L )) is_role a active
ok $? "a takes over after the dead interval"
ip -n "$(ns b)" link set eth0 up
wait_for 10000 is_role b standby
ok $? "the link is back: b's fault clears, standby (${WAITED} ms)"

done_testing
