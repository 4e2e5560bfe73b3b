#!/bin/bash
# Odd files in a synced tree, as an application's user may write them:
# names with spaces, a newline, a tab, UTF-8, a leading dash and 255
# bytes, and a tree 40 directories deep arrive intact; a FIFO, a unix
# socket and a dozen more FIFOs are not synced, and say so (a line a path
# in each scan at the interval, the first ten of a scan, then a count,
# and the count in status); hard links within the tree arrive as hard
# links, stay linked when the file changes, follow when a name is added
# or removed, and become a copy where the standby may not link.
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
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 1s delay 100ms")"
done
a=$W_TMP/a.data
b=$W_TMP/b.data

# --- names and depth -----------------------------------------------------------
nl='
'
mkdir -p "$a/with space" "$a/ütf-8 ✓"
echo one > "$a/with space/a file"
echo two > "$a/new${nl}line"
echo three > "$a/tab	here"
echo four > "$a/ütf-8 ✓/naïve café"
echo five > "$a/-leading-dash"
echo six > "$a/$(printf 'x%.0s' $(seq 255))"
deep=$a
for i in $(seq 40); do deep="$deep/d$i"; done
mkdir -p "$deep"
echo bottom > "$deep/bottom"
# --- hard links ------------------------------------------------------------------
mkdir -p "$a/links/sub"
echo "linked twice" > "$a/links/h1"
ln "$a/links/h1" "$a/links/sub/h2"
echo "linked three times" > "$a/links/t1"
ln "$a/links/t1" "$a/links/t2"
ln "$a/links/t1" "$a/links/t3"
echo "its other name is outside" > "$a/links/outside"
ln "$a/links/outside" "$W_TMP/outside-name"
chown -R _failoverd: "$a"

node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 15000 test -e "$deep/bottom" -a -e "${deep/$a/$b}/bottom"
ok $? "b is a standby, and the bottom of the deep tree arrived"

# listing DIR: every path (NUL-separated, so a newline is a character)
# with its type and content hash, sorted
listing() {
	(cd "$1" && find . -mindepth 1 -not -path './.failoverd-attic*' \
	    -printf '%y %P\0' | sort -z | while IFS= read -r -d '' l; do
		p=${l#? }
		if [ -f "$p" ]; then
			printf '%s %s\0' "$l" "$(sha256sum < "$p" | cut -c1-16)"
		else
			printf '%s\0' "$l"
		fi
	done) | sha256sum
}
wait_for 10000 sh -c "[ -e '$b/links/t3' ]"
is "$(listing "$b")" "$(listing "$a")" "b's tree is a's, name for name and byte for byte"
check "the name with a newline is one name" test "$(cat "$b/new${nl}line")" = two
check "the UTF-8 name arrived as its bytes" test -f "$b/ütf-8 ✓/naïve café"
check "the 255-byte name arrived" test -f "$b/$(printf 'x%.0s' $(seq 255))"
check "40 directories deep" test -f "${deep/$a/$b}/bottom"

inode() { stat -c %i "$1"; }
links() { stat -c %h "$1"; }
is "$(inode "$b/links/sub/h2")" "$(inode "$b/links/h1")" "two names of a file on a are one file on b"
is "$(links "$b/links/h1")" 2 "with two links"
is "$(inode "$b/links/t1") $(inode "$b/links/t2") $(inode "$b/links/t3") $(links "$b/links/t1")" \
    "$(inode "$b/links/t1") $(inode "$b/links/t1") $(inode "$b/links/t1") 3" \
    "three names are one file with three links"
is "$(links "$b/links/outside")" 1 "a file whose other name is outside the tree is a plain file"

# the file changes: both names follow, still one file
echo "changed" >> "$a/links/h1"
wait_for 10000 grep -q changed "$b/links/sub/h2"
ok $? "a change to a linked file reaches both names"
is "$(inode "$b/links/sub/h2") $(links "$b/links/h1")" "$(inode "$b/links/h1") 2" "and they are still one file"
# a name added to a file in place, and one removed
ln "$a/links/h1" "$a/links/h4"
rm "$a/links/t3"
wait_for 10000 test -e "$b/links/h4" -a ! -e "$b/links/t3"
ok $? "a name added and a name removed on a follow on b"
is "$(inode "$b/links/h4") $(links "$b/links/h1") $(links "$b/links/t1")" \
    "$(inode "$b/links/h1") 3 2" "the new name is a link to the same file; the other file has two names left"

# a file the standby's sync user may not link (root's, as a copy seeded
# by root leaves it; fs.protected_hardlinks): the new name gets a copy
if [ "$(cat /proc/sys/fs/protected_hardlinks 2>/dev/null)" = 1 ]; then
	chown root: "$b/links/h1"
	ln "$a/links/h1" "$a/links/h5"
	wait_for 10000 test -e "$b/links/h5"
	ok $? "a name of a file b may not link arrives"
	check "as a copy of it" cmp -s "$b/links/h5" "$a/links/h1"
	check "and b says why" grep -q "syncd: peer a: 1 names got a copy of their file, which could not be hard-linked here" "$W_TMP/b.log"
else
	skip "fs.protected_hardlinks is off: syncd may link any file it reads"
	skip "fs.protected_hardlinks is off"
	skip "fs.protected_hardlinks is off"
fi

# --- what is not synced ------------------------------------------------------------
# status_has STRING: a's status -j holds it
status_has() { ctl a status -j 2>/dev/null | grep -qF "$1"; }
# made beside the tree and moved in by one rename: a scan sees both or
# neither (made in place, a scan between the two saw the FIFO alone)
mkdir "$W_TMP/odd"
mkfifo "$W_TMP/odd/a-fifo"
/usr/bin/python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$W_TMP/odd/a-socket"
mv "$W_TMP/odd" "$a/odd"
chown -R _failoverd: "$a"
echo "a round" > "$a/after-fifos"
wait_for 10000 test -e "$b/after-fifos"
ok $? "a round with a FIFO and a socket in the tree completes"
check "neither reached b" test ! -e "$b/odd/a-fifo" -a ! -e "$b/odd/a-socket"
wait_for 5000 grep -qF "syncd: $a/odd/a-fifo: not synced: a FIFO" "$W_TMP/a.log"
ok $? "a says the FIFO is not synced"
check "and the socket" grep -qF "syncd: $a/odd/a-socket: not synced: a socket" "$W_TMP/a.log"
wait_for 5000 status_has '"skipped":2,'
ok $? "status counts the 2 paths not synced"
check "and says so in words" sh -c "'$FAILOVERCTL' -s '$W_TMP/a.sock' status | grep -q '^ *2 paths skipped (not a file, directory or symlink)$'"
n1=$(grep -cF "$a/odd/a-fifo: not synced" "$W_TMP/a.log")
echo "another round" > "$a/after-fifos"
wait_for 10000 grep -q another "$b/after-fifos"
sleep 2.5	# and rescans at the interval
n2=$(grep -cF "$a/odd/a-fifo: not synced" "$W_TMP/a.log")
m2=$(grep -cF "$a/odd/a-socket: not synced" "$W_TMP/a.log")
check "a line for each path in each scan at the interval (the FIFO $n1, then $n2 times; the socket $m2)" \
    test "$n2" -gt "$n1" -a "$n2" -eq "$m2"
# a busy tree: a round each change, not a line each round
for i in $(seq 20); do echo "$i" > "$a/busy"; sleep 0.1; done
wait_for 10000 grep -qx 20 "$b/busy"
n3=$(grep -cF "$a/odd/a-fifo: not synced" "$W_TMP/a.log")
check "twenty changes in 2 s bring no twenty lines (the FIFO $((n3 - n2)) times more)" \
    test "$((n3 - n2))" -le 5
mkdir "$a/fifos"
for i in $(seq 12); do mkfifo "$a/fifos/f$i"; done
chown -R _failoverd: "$a"
wait_for 5000 grep -q "^syncd: 4 more paths not synced in this scan" "$W_TMP/a.log"
ok $? "past ten paths in a scan, a count"
wait_for 5000 status_has '"skipped":14,'
ok $? "status counts all 14"
check "none reached b" test ! -e "$b/fifos/f1"
rm -r "$a/fifos" "$a/odd"
wait_for 5000 status_has '"skipped":0,'
ok $? "with them gone, status counts none"
done_testing
