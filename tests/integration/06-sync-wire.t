#!/bin/bash
# syncd on a hostile or broken wire: a byte flipped between the nodes
# ends the session and changes nothing; killing the receiver or the
# sender in the middle of a transfer leaves every file on the standby
# old or new, never partial, and no temporary file for long; a peer with
# the wrong key is refused, logged with its address, and changes nothing.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT
command -v python3 >/dev/null || skip_all "no python3 (run: make deps)"

TIMING="heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
sync_key a && sync_key b
NODE_PORT[b]=7300	# a reaches b through the proxy in b's namespace
SYNC="interval 2s delay 200ms"
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "$SYNC")"
done
a=$W_TMP/a.data
b=$W_TMP/b.data


# write DIR VERSION: 100 files of 100 KiB, each its version and number
# first; each written aside and renamed, as an application should
write() {
	local d=$1 v=$2 i
	for i in $(seq 1 100); do
		{ echo "$v $i"; head -c 102400 /dev/zero; } > "$d/.w"
		chown _failoverd: "$d/.w"
		mv "$d/.w" "$d/f$i"
	done
}
# arrived VERSION: how many files on b hold it
arrived() { grep -l "^$1 " "$b"/f* 2>/dev/null | wc -l; }
# ended N: b has logged the end of a session from a N times
ended() { [ "$(grep -c 'syncd: peer a (.*): the peer closed the session without' "$W_TMP/b.log")" -ge "$1" ]; }
# census VERSION...: how many files hold each version; "bad" any other,
# or a file cut short (each file read once: renames go on meanwhile)
census() {
	python3 - "$b" "$@" <<'EOF'
import collections, sys
d, ok = sys.argv[1], sys.argv[2:]
c = collections.Counter()
for i in range(1, 101):
    try:
        data = open("%s/f%d" % (d, i), "rb").read()
    except OSError:
        c["bad"] += 1
        continue
    line, _, rest = data.partition(b"\n")
    v = line.decode(errors="replace").split(" ")[0]
    c[v if v in ok and rest == bytes(102400) else "bad"] += 1
print("".join("%s=%d " % (k, c[k]) for k in sorted(c)))
EOF
}
temps() { find "$b" -name '.failoverd.*' | wc -l; }

write "$b" old
write "$a" new

# --- a tampered byte ends the session and changes nothing -------------------
proxy --flip 20000
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 grep -q "syncd: peer a (.*): a frame failed to authenticate" "$W_TMP/b.log"
ok $? "b ends the session on the flipped byte"
sleep 1
is "$(census old new)" "old=100 " "every file on b is as it was"
is "$(temps)" 0 "and no temporary file is left"
check "a logs the session's end" grep -Eq "syncd: peer b \(192.0.2.12\): (Broken pipe|Connection reset by peer|the peer closed the session)" "$W_TMP/a.log"

# --- a large file cut off in the middle resumes where it broke ---------------
head -c $((24 * 1048576)) /dev/urandom > "$a/big.bin"
chown _failoverd: "$a/big.bin"
proxy --rate 4000000
part() { find "$b" -maxdepth 1 -name '.failoverd.*' -size +8M | grep -q .; }
wait_for 20000 part
ok $? "more than 8 MiB of a 24 MiB file arrived"
proxy --rate 4000000	# the session breaks; both nodes run on
wait_for 10000 grep -q "syncd: kept [0-9]* of 25165824 bytes of big.bin to resume" "$W_TMP/b.log"
ok $? "b keeps what came, to resume"
wait_for 20000 grep -q "syncd: peer b: big.bin resumes at [0-9]* of 25165824 bytes" "$W_TMP/a.log"
ok $? "a resumes the file where it broke"
wait_for 5000 grep -q "syncd: peer a: big.bin resumed at" "$W_TMP/b.log"
ok $? "b goes on with the kept part"
wait_for 20000 cmp -s "$a/big.bin" "$b/big.bin"
ok $? "the file arrives whole and identical"

# --- kill the receiver in the middle of a transfer --------------------------
proxy --rate 4000000
wait_for 15000 eval '[ $(arrived new) -gt 5 ]'
ok $? "a transfer at 2 MB/s is under way"
node_kill b
c=$(census old new)
echo "# after kill -9 of b: $c"
check "every file on b is old or new, none partial ($c)" sh -c "[ -n '$c' ] && ! echo '$c' | grep -q bad"
check "the transfer was unfinished at the kill: both are there" sh -c "echo '$c' | grep -q 'new=' && echo '$c' | grep -q 'old='"
node_start b
wait_for 30000 eval '[ $(arrived new) = 100 ]'
ok $? "b back: the transfer completes"
is "$(census old new)" "new=100 " "every file on b is new"
is "$(temps)" 0 "the temporary files of the killed batch are gone"

# --- kill the sender in the middle of a transfer ----------------------------
write "$a" newer
wait_for 15000 eval '[ $(arrived newer) -gt 5 ]'
ok $? "another transfer is under way"
n=$(grep -c 'syncd: peer a (.*): the peer closed the session without' "$W_TMP/b.log")
node_kill a
c=$(census new newer)
echo "# after kill -9 of a: $c"
check "every file on b is new or newer, none partial ($c)" sh -c "[ -n '$c' ] && ! echo '$c' | grep -q bad"
check "the transfer was unfinished at the kill: both are there" sh -c "echo '$c' | grep -q 'new=' && echo '$c' | grep -q 'newer='"
wait_for 15000 ended $((n + 1))
ok $? "b sees the session end without its final frame"
c=$(census new newer)
check "still every file new or newer ($c)" sh -c "[ -n '$c' ] && ! echo '$c' | grep -q bad"
is "$(temps)" 0 "b removed the temporary files of the unfinished batch"

# --- a peer with the wrong key -----------------------------------------------
wait_for 10000 is_role b active
ok $? "b took over"
good=${NODE_KEY[b]}
NODE_KEY[b]=$("$FAILOVERCTL" keygen "$W_TMP/other.key")
node_conf a "$(sync_block a "$SYNC")"	# a pins another key for b
NODE_KEY[b]=$good
echo "from b" > "$b/f1"; chown _failoverd: "$b/f1"
node_start a
wait_for 10000 grep -q "syncd: peer 192.0.2.12: authentication failed" "$W_TMP/a.log"
ok $? "a refuses b's key and logs it with b's address"
wait_for 5000 grep -q "syncd: peer a (192.0.2.11): handshake: closed during the handshake" "$W_TMP/b.log"
ok $? "b logs that a closed during the handshake"
check "and not that authentication failed: it did not, on b" \
    sh -c "! grep -q 'syncd: peer 192.0.2.11: authentication failed' '$W_TMP/b.log'"
sleep 1
check "nothing of b's reached a" sh -c "head -1 $a/f1 | grep -q '^newer'"
node_stop a
node_conf a "$(sync_block a "$SYNC")"
node_start a
wait_for 10000 grep -q "^from b" "$a/f1"
ok $? "with the right key pinned, b's change arrives"

done_testing
