#!/bin/bash
# Files that change under syncd's feet.  A file scanned as a regular file
# and replaced by a FIFO before it is sent (the application's user may do
# that) does not hang the active node's syncd: it is not the file that
# was scanned, so it waits for the next round, where the FIFO is skipped.
# A large file's kept part is resumed only by the holder at the epoch that
# started it: after a new epoch the standby drops it and the file comes
# whole, checked against the hash its END carries.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
NODE_PRIO[a]=200
sync_key a && sync_key b
NODE_PORT[b]=7300	# a reaches b through a proxy in b's namespace
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 2s delay 200ms max-delete 100%")"
done
a=$W_TMP/a.data
b=$W_TMP/b.data
echo first > "$a/first"
chown -R _failoverd: "$a"
proxy
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 test -e "$b/first"
ok $? "b is a standby with a's tree"

# --- a FIFO swapped in after the scan ------------------------------------------
proxy --rate 2000000
# written aside and renamed, as an application should
head -c $((8 * 1048576)) /dev/urandom > "$W_TMP/slow" && mv "$W_TMP/slow" "$a/a-slow.bin"
echo "a regular file" > "$a/z-swapped"
chown _failoverd: "$a/a-slow.bin" "$a/z-swapped"
wait_for 10000 sh -c "find '$b' -maxdepth 1 -name '.failoverd.*' -size +1M | grep -q ."
ok $? "a round is under way, shipping a-slow.bin first"
n=$(grep -c 'session from a' "$W_TMP/b.log")
rm "$a/z-swapped"
mkfifo "$a/z-swapped"
chown _failoverd: "$a/z-swapped"
# the same session and round go on, at the same rate, to z-swapped
wait_for 20000 cmp -s "$a/a-slow.bin" "$b/a-slow.bin"
ok $? "a-slow.bin arrived in that round"
check "in the same session" test "$(grep -c 'session from a' "$W_TMP/b.log")" = "$n"
proxy
echo after > "$a/after"
chown _failoverd: "$a/after"
wait_for 10000 test -e "$b/after"
ok $? "and the next rounds too: a's syncd did not hang on it"
check "the FIFO reached b as nothing" test ! -e "$b/z-swapped"
rm "$a/z-swapped"

# --- a kept part is the holder's at its epoch ---------------------------------
ctl b standby > /dev/null
wait_for 5000 is_role b maintenance
ok $? "b in maintenance: it receives but will not take over"
proxy --rate 4000000
head -c $((24 * 1048576)) /dev/urandom > "$W_TMP/big" && mv "$W_TMP/big" "$a/big.bin"
chown _failoverd: "$a/big.bin"
wait_for 20000 sh -c "find '$b' -maxdepth 1 -name '.failoverd.*' -size +8M | grep -q ."
ok $? "more than 8 MiB of a 24 MiB file arrived"
e=$(epoch)
node_kill a
wait_for 10000 grep -q "syncd: kept [0-9]* of 25165824 bytes of big.bin to resume" "$W_TMP/b.log"
ok $? "a killed: b keeps what came, to resume"
proxy
node_start a
wait_for 20000 eval '[ "$(epoch)" -gt '"$e"' ]'
ok $? "a is active again at a new epoch"
wait_for 10000 grep -q "syncd: the kept part of big.bin (from a at epoch $e) goes: this session is a's at epoch $((e + 1))" "$W_TMP/b.log"
ok $? "b drops the part kept from epoch $e"
wait_for 20000 cmp -s "$a/big.bin" "$b/big.bin"
ok $? "and the file arrives whole and identical"
check "not resumed" sh -c "! grep -q 'big.bin resumed at' '$W_TMP/b.log'"
is "$(find "$b" -name '.failoverd.*' | wc -l)" 0 "no temporary file is left"
done_testing
