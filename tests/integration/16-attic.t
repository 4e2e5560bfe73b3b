#!/bin/bash
# The attic keeps what a takeover would otherwise destroy, and only that:
# after the initial sync a deletion and a rewrite leave the standby an
# exact mirror with no attic; the application's own ".failoverd.*" file
# is neither deleted nor shipped; a takeover where the old active had a
# file it never shipped keeps that file in its attic when it comes back
# as a standby, status shows it, the alert "attic" is raised, later
# rounds replace in place, and attics past "attic keep" are removed.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap 'world_down' EXIT

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
NODE_PRIO[a]=200
for n in a b; do sync_key "$n"; done
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms max-delete 100% attic keep 1")"
done
A=$W_TMP/a.data
B=$W_TMP/b.data
for i in 1 2 3 4 5; do echo "file $i" > "$A/f$i"; done
chown -R _failoverd: "$A"
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is a standby"
wait_for 10000 test -e "$B/f5"
ok $? "a's tree reached b"
check "b's first round replaced nothing, so it made no attic" test ! -e "$B/.failoverd-attic"

# --- later rounds change in place ---------------------------------------------
rm "$A/f5"
echo "rewritten" > "$A/f2"
chown _failoverd: "$A/f2"
wait_for 10000 eval '[ ! -e "$B/f5" ] && [ "$(cat "$B/f2")" = rewritten ]'
ok $? "a deletion and a rewrite reach b"
check "b is an exact mirror of a" diff -r "$A" "$B"
check "with no attic" test ! -e "$B/.failoverd-attic"

# --- names that are syncd's ------------------------------------------------------
echo "the application's" > "$A/.failoverd.mine"
chown _failoverd: "$A/.failoverd.mine"
echo more > "$A/f3"
chown _failoverd: "$A/f3"
wait_for 10000 eval '[ "$(cat "$B/f3")" = more ]'
ok $? "a round after it"
sleep 2
is "$(cat "$A/.failoverd.mine" 2>/dev/null)" "the application's" \
    "a's scans leave the application's .failoverd.mine alone"
check "and do not ship it" test ! -e "$B/.failoverd.mine"
rm "$A/.failoverd.mine"

# --- a takeover: what the old active never shipped --------------------------------
nsx a nft -f - <<EOF2
table inet peers {
	chain out { type filter hook output priority 0; ip daddr ${NODE_ADDR[b]} tcp dport 7209 drop; }
}
EOF2
echo "never shipped" > "$A/unshipped"
chown _failoverd: "$A/unshipped"
sleep 1
check "the file did not reach b" test ! -e "$B/unshipped"
e=$(epoch)
node_kill a
wait_for 10000 is_role b active
ok $? "b took over"
# only now: what a's kernel still retransmits finds b active
nsx a nft delete table inet peers
is "$(epoch)" "$((e + 1))" "at epoch $((e + 1))"
# an attic of an older epoch, for "attic keep 1" to remove
mkdir -p "$A/.failoverd-attic/$e"
echo old > "$A/.failoverd-attic/$e/ancient"
chown -R _failoverd: "$A/.failoverd-attic"
node_start a
wait_for 10000 is_role a standby
ok $? "a is back as a standby"
wait_for 10000 test ! -e "$A/unshipped"
ok $? "b's first round removed a's unshipped file from its tree"
is "$(cat "$A/.failoverd-attic/$((e + 1))/unshipped" 2>/dev/null)" "never shipped" \
    "and kept it in a's attic of epoch $((e + 1))"
wait_for 5000 grep -q "monitor: alert attic: the first round of epoch $((e + 1)) kept 1 replaced or deleted entries" "$W_TMP/a.log"
ok $? "a raised the alert attic"
check "attic keep 1: the attic of epoch $e is gone" test ! -e "$A/.failoverd-attic/$e"
wait_for 5000 eval 'ctl a status | grep -q "^attic: *epoch $((e + 1)) (1 files)$"'
ok $? "status shows the attic"
js=$(ctl a status -j)
is "$(echo "$js" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sync"]["attic"])')" \
    "[{'epoch': $((e + 1)), 'files': 1}]" "status -j too"
check "the attic is not shipped back" test ! -e "$B/.failoverd-attic"

# --- and in place again ----------------------------------------------------------
echo "from b" > "$B/f1"
chown _failoverd: "$B/f1"
wait_for 10000 eval '[ "$(cat "$A/f1")" = "from b" ]'
ok $? "b's next change reaches a"
is "$(find "$A/.failoverd-attic" -type f | wc -l)" 1 "and replaces in place: the attic holds one file"
check "a is an exact mirror of b, but for the attic" diff -r -x .failoverd-attic "$B" "$A"
done_testing
