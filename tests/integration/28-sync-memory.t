#!/bin/bash
# The sender's memory grows with its tree by what one manifest and the
# scan being compared with it take: not by a copy per receiver nor by an
# inode cache beside them.  At 1,000 and at 21,000 files, the peak
# resident set of the sender's syncd over a no-change round, and what it
# holds after: per file, at most 300 bytes at the peak (two manifests of
# about 110 bytes a path, and the plan's) and 200 held; the code before
# took 526 at the peak.  The receiver, which sends its manifest and
# frees it, stays under 16 MB.  (make bench prints these figures at
# 120,000 files.)  And a round with nothing to do reads no file.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT
world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
if [ -n "${ASAN_OPTIONS:-}" ] || grep -q FO_SANITIZE "$T_TOP/build/flags" 2>/dev/null; then
	skip_all "ASan's shadow memory and quarantine hide what syncd holds"
fi
pg_start
ok $? "PostgreSQL runs"
W_NODES="a b"
for n in a b; do sync_key "$n"; done
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 10m delay 100ms max-delete 100%")"
done


node_start a
wait_for 10000 is_role a active
ok $? "a is active"
node_start b
wait_for 20000 is_role b standby
ok $? "b is standby"

FEW=1000 MANY=21000
mkdir -p "$W_TMP/stage"
make_files "$W_TMP/stage" 0 "$FEW" 64
mv "$W_TMP/stage" "$W_TMP/a.data/many"
check "$FEW files synced" ctl a sync
S=$(child_pid "${NODE_PID[a]}" syncd) R=$(child_pid "${NODE_PID[b]}" syncd)
check "both syncd found (${S:-none}, ${R:-none})" test -n "$S" -a -n "$R"
echo 5 > "/proc/$S/clear_refs"
check "a no-change round" ctl a sync
sleep 1
few_peak=$(proc_field "$S" VmHWM) few_held=$(proc_field "$S" VmRSS)

mkdir -p "$W_TMP/stage"
make_files "$W_TMP/stage" "$FEW" "$MANY" 64
for d in "$W_TMP/stage"/*; do mv "$d" "$W_TMP/a.data/many/"; done
check "$MANY files synced" ctl a sync
check "b has them all" test "$(find "$W_TMP/b.data/many" -type f | wc -l)" = "$MANY"
echo 5 > "/proc/$S/clear_refs"
check "a no-change round over $MANY files" ctl a sync
sleep 1
many_peak=$(proc_field "$S" VmHWM) many_held=$(proc_field "$S" VmRSS)
peak=$(( (many_peak - few_peak) * 1024 / (MANY - FEW) ))
held=$(( (many_held - few_held) * 1024 / (MANY - FEW) ))
diag "sender: peak $few_peak -> $many_peak kB, held $few_held -> $many_held kB"
check "the sender's peak grew by at most 300 bytes a file ($peak)" test "$peak" -le 300
check "what it holds between rounds by at most 200 bytes a file ($held)" test "$held" -le 200
rpeak=$(proc_field "$R" VmHWM)
check "the receiver stayed under 16 MB ($rpeak kB)" test "$rpeak" -lt 16384

# the hashes of an unchanged tree come from the last scan: a round with
# nothing to do reads no file (reading each would take two read calls)
syscr() { awk '$1 == "syscr:" { print $2 }' "/proc/$S/io"; }
r0=$(syscr)
check "another no-change round" ctl a sync
r1=$(syscr)
check "it read no file: $((r1 - r0)) read calls for $MANY files" test $((r1 - r0)) -lt $((MANY / 4))

# a hand-over: the demoting node's last round takes its hashes from its
# snapshot, and its first session as a standby from the cache the
# snapshot seeded: neither reads the tree again
wait_for 10000 is_role b standby
r0=$(syscr)
check "a hands over to b" ctl a switchover b
wait_for 10000 is_role b active
ok $? "b is active"
wait_for 10000 is_role a standby
ok $? "a is standby"
wait_for 20000 sh -c "grep -q 'session from b' '$W_TMP/a.log'"
ok $? "b's first session reached a"
check "b's first round is done" ctl b sync
r1=$(syscr)
check "a read no file over the hand-over: $((r1 - r0)) read calls" test $((r1 - r0)) -lt $((MANY / 4))

done_testing
