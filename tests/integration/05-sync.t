#!/bin/bash
# syncd: the active node replicates its directories to the standby over
# an authenticated, encrypted session; a tree arrives identical (content,
# modes, mtimes, symlinks), changes and deletions follow within the
# delay, excludes stay home, the direction follows the role, and a peer
# with the wrong key changes nothing.
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

sync_block() {
	echo "sync {
	listen on ${NODE_ADDR[$1]} port 7209
	key-file \"$W_TMP/$1.key\"
	interval 3s delay 300ms alert-after 2s
	directory \"$W_TMP/$1.data\" exclude \"*.tmp\"
}"
}
for n in a b; do
	mkdir -p "$W_TMP/$n.data"
	chown _failoverd: "$W_TMP/$n.data"
	node_conf "$n" "$(sync_block "$n")"
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
ok $? "changes and deletions follow"

ctl a status -j > "$W_TMP/st.json"
check "status -j on a fills sync" grep -q '"sync":{"last_ok":"20' "$W_TMP/st.json"
check "with the peer's state" grep -q '"peers":\[{"node":"b","state":"ok"' "$W_TMP/st.json"
is "$(ctl a sync; echo rc=$?)" "sync: done, 1 peer up to date
rc=0" "failoverctl sync forces a round and waits for it"
is "$(ctl b sync 2>&1; echo rc=$?)" "failoverctl: sync: this node is not active; the active node sends
rc=1" "on the standby it says why not"

done_testing
