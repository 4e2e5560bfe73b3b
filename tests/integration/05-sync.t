#!/bin/bash
# syncd: the active node replicates its directories to the standby over
# an authenticated, encrypted session; a tree arrives identical (content,
# modes, mtimes, symlinks), changes and deletions follow within the
# delay, excludes stay home, a standby that was down gets the difference
# only, a round past max-delete stops with an alert, and after a takeover
# the direction turns, the first session of the new epoch keeping what it
# replaces in the attic.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT

TIMING="heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
sync_key a && sync_key b
ok $? "keys made with failoverctl keygen"

printf '#!/bin/sh\necho "$@" >> %s/alerts\n' "$W_TMP" > "$W_TMP/alert"
chmod 755 "$W_TMP/alert"
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 20s delay 300ms alert-after 2s" 'exclude "*.tmp"')" \
	    "alert command \"$W_TMP/alert\""
done

# tree NAME: every entry with type, mode, size, mtime and content hash
tree() {
	(cd "$W_TMP/$1.data" && find . -mindepth 1 ! -path './.failoverd-attic*' ! -name '*.tmp' \
	    -printf '%y %m %s %T@ %p -> %l\n' | sort -k5 |
	    while read -r y m s t p rest; do
		h=-
		[ "$y" = f ] && h=$(sha256sum < "$p" | cut -c1-16)
		# a directory's size and mtime are the filesystem's own
		[ "$y" = d ] && { s=-; t=-; }
		echo "$y $m $s $t $p $rest $h"
	    done)
}
same_tree() { [ "$(tree a)" = "$(tree b)" ]; }

# mapwrite FILE TEXT: TEXT over the start of FILE through a shared mapping
# that stays open for a minute: no inotify event, not even a close
mapwrite() {
	exec python3 -c '
import mmap, sys, time
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
t = sys.argv[2].encode()
m[0:len(t)] = t
m.flush()
time.sleep(60)
' "$@"
}

# --- a tree on a, then a starts active and b as standby ------------------
d=$W_TMP/a.data
mkdir -p "$d/conf/deep/er" "$d/data" "$d/empty-dir"
for i in $(seq 1 300); do echo "small $i" > "$d/data/f$i"; done
head -c 5000000 /dev/urandom > "$d/data/large.bin"
: > "$d/conf/empty"
echo secret > "$d/conf/deep/er/key"; chmod 600 "$d/conf/deep/er/key"
echo run > "$d/conf/run.sh"; chmod 750 "$d/conf/run.sh"
ln -s ../data/f1 "$d/conf/link"
echo scratch > "$d/data/skip.tmp"
touch -d '2001-02-03 04:05:06.123456789' "$d/data/f7"
chown -R _failoverd: "$d"
node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 10000 is_role b standby
ok $? "b is standby"
wait_for 20000 same_tree
ok $? "the tree arrives identical: contents, modes, mtimes, symlinks, empty file and directory"
[ "$(tree a)" = "$(tree b)" ] || diff <(tree a) <(tree b) | head -20 | sed 's/^/# /'
check "the excluded file stayed home" test ! -e "$W_TMP/b.data/data/skip.tmp"
check "the link is a link" test -L "$W_TMP/b.data/conf/link"
check "no temporary file left" sh -c "! find $W_TMP/b.data -name '.failoverd.*' | grep -q ."
check "files are owned by the sync user" sh -c "[ \$(stat -c %U $W_TMP/b.data/data/f1) = _failoverd ]"

# --- changes and deletions within the delay ---------------------------------
echo changed > "$d/data/f2"
rm "$d/data/f3"
rm -r "$d/conf/deep"
mkdir "$d/new"; echo hello > "$d/new/file"
chown -R _failoverd: "$d"
wait_for 5000 same_tree
ok $? "changes and deletions follow, found by inotify (${WAITED} ms, delay 300ms, interval 20s)"

ctl a status -j > "$W_TMP/st.json"
check "status -j on a fills sync" grep -q '"sync":{"last_ok":"20' "$W_TMP/st.json"
check "with the peer's state" grep -q '"peers":\[{"node":"b","state":"ok"' "$W_TMP/st.json"
is "$(ctl a sync; echo rc=$?)" "sync: done, 1 peer up to date
rc=0" "failoverctl sync forces a round and waits for it"
is "$(ctl b sync 2>&1; echo rc=$?)" "failoverctl: sync: this node is not active; the active node sends
rc=1" "on the standby it says why not"


# --- a change inotify cannot see is found by the rescan every interval ------
# (a write through a shared mapping raises no inotify event)
# (the mapping keeps the file open: no close event until it goes)
mapwrite "$d/data/f20" MMAPD &
mapper=$!
W_PIDS="$W_PIDS $mapper"
wait_for 30000 grep -q "^MMAPD" "$W_TMP/b.data/data/f20"
ok $? "a write through mmap arrives with the rescan (interval 20s, ${WAITED} ms)"
kill "$mapper"; wait "$mapper" 2>/dev/null

# --- a standby that was down gets the difference only -----------------------
node_stop b
ok $? "b stopped"
wait_for 10000 grep -q "^peer-down peer b (192.0.2.12)" "$W_TMP/alerts"
ok $? "after alert-after (2s) a raises peer-down"
echo "while b was down" > "$d/data/f10"
echo "also while b was down" > "$d/data/f11"
chown -R _failoverd: "$d"
node_start b
wait_for 10000 same_tree
ok $? "b back: the tree is identical again"
check "and only the 2 changed files were sent" sh -c \
    "grep 'syncd: peer b: round done' $W_TMP/a.log | tail -1 | grep -q 'round done, 2 files'"

# --- max-delete: a round that would delete too much stops --------------------
mkdir -p "$W_TMP/hold"
mv "$d"/data/f1?? "$W_TMP/hold/"
wait_for 5000 grep -q "max-delete 10%" "$W_TMP/a.log"
ok $? "a round deleting 200 of ~310 entries stops (max-delete 10%)"
wait_for 3000 grep -q "^sync-failed .*max-delete" "$W_TMP/alerts"
ok $? "and raises sync-failed at once"
check "b keeps the files" test -f "$W_TMP/b.data/data/f150"
out=$(ctl a sync 2>&1)
is "$?" 1 "failoverctl sync fails then"
check "saying why" sh -c "echo '$out' | grep -q 'more than max-delete'"
ctl a status -j | grep -q '"last_error":"[^"]*max-delete'
ok $? "status -j shows the last error"
mv "$W_TMP/hold"/* "$d/data/"
wait_for 5000 same_tree
ok $? "the files back, rounds go on"
ctl a status -j | grep -q '"last_error":null'
ok $? "and the error is cleared"

# --- takeover: the direction turns, the attic keeps what is replaced --------
old_f2=$(cat "$d/data/f2")
node_kill a
wait_for 10000 is_role b active
ok $? "a killed: b is active"
e=$(epoch)
b=$W_TMP/b.data
echo "written on b" > "$b/data/f2"
rm "$b/data/f5"
chown -R _failoverd: "$b"
node_start a
wait_for 10000 is_role a standby
ok $? "a back as standby"
wait_for 10000 same_tree
ok $? "a receives b's tree"
is "$(cat "$d/data/f2")" "written on b" "b's change is on a"
check "the deletion too" test ! -e "$d/data/f5"
is "$(cat "$d/.failoverd-attic/$e/data/f2" 2>/dev/null)" "$old_f2" \
    "the first session of epoch $e kept a's old f2 in the attic"
check "and the deleted f5" test -f "$d/.failoverd-attic/$e/data/f5"
check "the attic is not sent back" test ! -e "$b/.failoverd-attic/$e"
check "a logged the session with its epoch" grep -q "syncd: session from b (192.0.2.12) at epoch $e, attic" "$W_TMP/a.log"

# --- a switchover ships a last round after on-standby ----------------------
# a write that raises no inotify event (a shared mapping held open), right
# before the hand-over: only the last round can carry it
mapwrite "$b/data/f30" 'LAST!' &
mapper=$!
W_PIDS="$W_PIDS $mapper"
sleep 0.5
ctl b switchover a >/dev/null
ok $? "switchover from b to a"
kill "$mapper"; wait "$mapper" 2>/dev/null
is "$(head -c 5 "$d/data/f30")" "LAST!" "the write made just before it is on a: the last round carried it"
check "b logged the last round" grep -q "monitor: demote: last sync round done" "$W_TMP/b.log"

done_testing
