#!/bin/bash
# make bench: syncd beside rsync over ssh, on the same data in the same
# run, between two namespaces: the initial sync of one 1 GiB file and of
# 20,000 files of 4 KiB, and a round with nothing to do over 100,000
# files.  failoverd is timed with "failoverctl sync" (which returns when
# the standby has acknowledged every batch, flushed to disk); rsync with
# "rsync -a -e ssh" to an sshd in the standby's namespace, once as a user
# would run it and once with --fsync, which is what failoverd promises.
# Both receivers write to one fresh ext4 filesystem in a file on the
# machine's disk (a loop device), so that neither meets a directory
# aged by earlier runs; the disk's own limit is measured in the same
# run: reading the staged data, and a local copy of it flushed with
# sync.  Measures; asserts nothing.  SMALL=1 runs a tenth of each data
# set, KINDS="big" or "small" only one of the two initial syncs; RUNS=N
# repeats each initial sync N times (3 by default for the big file).
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/world.sh"
trap 'node_stop b 2>/dev/null; loop_down; world_down' EXIT
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)"; exit 1; }

BIG=$((1024 * 1024 * 1024))
NSMALL=20000
NMANY=100000
if [ -n "$SMALL" ]; then
	BIG=$((BIG / 10)); NSMALL=$((NSMALL / 10)); NMANY=$((NMANY / 10))
fi

world_up >/dev/null || exit 1
pg_start || exit 1
W_NODES="a b"
sync_key a && sync_key b
for n in a b; do
	node_conf "$n" "$(sync_block "$n" "interval 10m delay 100ms max-delete 100%")"
done

# the receivers' filesystem: fresh ext4 in a sparse file; b's synced
# directory is bound from it, rsync's targets are beside
IMG=$W_TMP/recv.img
FS=$W_TMP/recvfs
loop_up=
loop_down() {
	[ -n "$loop_up" ] && { umount "$W_TMP/b.data"; umount "$FS"; } 2>/dev/null
	rm -f "$IMG"
	loop_up=
}
RDIR=$W_TMP
mkdir -p "$FS"
if truncate -s $(( BIG * 16 + (8 << 30) )) "$IMG" && mkfs.ext4 -q -F "$IMG" &&
    mount -o loop "$IMG" "$FS"; then
	loop_up=1
	mkdir "$FS/fo"
	chown _failoverd: "$FS/fo"
	mount --bind "$FS/fo" "$W_TMP/b.data"
	RDIR=$FS
	echo "# receivers on a fresh ext4 on $(findmnt -no SOURCE "$FS")" >&2
else
	echo "# no loop device: the receivers write to $(df --output=source "$W_TMP" | tail -1) as it is" >&2
fi
node_start a
wait_for 10000 is_role a active || { echo "bench: a did not become active"; exit 1; }
node_start b
wait_for 10000 is_role b standby || { echo "bench: b did not become standby"; exit 1; }
: > "$W_TMP/a.data/.keep"	# an empty source is refused
chown _failoverd: "$W_TMP/a.data/.keep"
wait_for 20000 ctl a sync >/dev/null

# --- sshd in b's namespace, root's key for it in a's --------------------------
sshd_up || { echo "bench: sshd did not come up"; exit 1; }

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# timed CMD...: milliseconds it took
timed() { local t; sync; t=$(ms); "$@" >/dev/null 2>&1 || echo "# failed: $*" >&2; echo $(( $(ms) - t )); }
# rate BYTES MS: MB/s
rate() { [ -n "$2" ] && [ "$2" != - ] && [ "$2" -gt 0 ] && echo "$(( $1 * 1000 / $2 / 1000000 )) MB/s" || echo -; }

mkdata() {	# DIR KIND
	case $2 in
	big)	head -c "$BIG" /dev/urandom > "$1/big.bin" ;;
	small)	make_files "$1" 0 "$NSMALL" 4096 d ;;
	many)	make_files "$1" 0 "$NMANY" 512 m ;;
	esac
	chown -R _failoverd: "$1"
}

# median of the numbers on stdin; "min–max" of them
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s-%s", lo, hi }'; }

# the same data for both tools: staged once, copied for each run (not
# timed) and moved in for failoverd, copied from a's directory by rsync;
# the tools alternate, run after run
declare -A FO RS RSF BYTES SP
RUNS=${RUNS:-3}
for kind in ${KINDS:-big small}; do
	st=$W_TMP/stage.$kind
	mkdir -p "$st"
	mkdata "$st" "$kind"
	BYTES[$kind]=$(du -sb "$st" | cut -f1)
	for r in $(seq 1 "$RUNS"); do
		cp -a "$st" "$st.$r"
		sync
		# failoverd: the copy moves into a's directory; sync returns
		# when b has acknowledged it all, flushed
		t=$(ms)
		mv "$st.$r" "$W_TMP/a.data/$kind.$r"
		ctl a sync >/dev/null || echo "# failoverctl sync failed" >&2
		echo $(( $(ms) - t )) >> "$W_TMP/fo.$kind"
		# rsync over ssh, from the same (cached) data, to a fresh directory
		timed nsx a rsync -a -e "$SSH" "$W_TMP/a.data/$kind.$r/" "root@${NODE_ADDR[b]}:$RDIR/rsync.$kind.$r/" >> "$W_TMP/rs.$kind"
		timed nsx a rsync -a --fsync -e "$SSH" "$W_TMP/a.data/$kind.$r/" "root@${NODE_ADDR[b]}:$RDIR/rsyncf.$kind.$r/" >> "$W_TMP/rsf.$kind"
		echo "# $kind, run $r: failoverd $(tail -1 "$W_TMP/fo.$kind") ms, rsync $(tail -1 "$W_TMP/rs.$kind") ms, rsync --fsync $(tail -1 "$W_TMP/rsf.$kind") ms" >&2
		if [ "$kind" = big ] && ! cmp -s "$W_TMP/a.data/$kind.$r/big.bin" "$W_TMP/b.data/$kind.$r/big.bin"; then
			echo "# failoverd's copy differs" >&2
		fi
	done
	FO[$kind]=$(median < "$W_TMP/fo.$kind")
	RS[$kind]=$(median < "$W_TMP/rs.$kind")
	RSF[$kind]=$(median < "$W_TMP/rsf.$kind")
	SP[$kind]="$(spread < "$W_TMP/fo.$kind") / $(spread < "$W_TMP/rs.$kind") / $(spread < "$W_TMP/rsf.$kind")"
done

# --- the disk's limit, in the same run ------------------------------------------
# reading the staged data from the disk (caches dropped), and a plain
# local copy of it to the receivers' filesystem, flushed
declare -A RD CP
for kind in ${KINDS:-big small}; do
	sync
	echo 3 > /proc/sys/vm/drop_caches
	RD[$kind]=$(timed sh -c "find '$W_TMP/stage.$kind' -type f -exec cat {} + > /dev/null")
	CP[$kind]=$(timed sh -c "cp -a '$W_TMP/stage.$kind' '$RDIR/copy.$kind' && sync -f '$RDIR/copy.$kind'")
done

# --- a round with nothing to do over many files -------------------------------
mkdir -p "$W_TMP/stage.many"
mkdata "$W_TMP/stage.many" many
mv "$W_TMP/stage.many" "$W_TMP/a.data/many"
ctl a sync >/dev/null
nsx a rsync -a -e "$SSH" "$W_TMP/a.data/many/" "root@${NODE_ADDR[b]}:$RDIR/rsync.many/" >/dev/null 2>&1
FO[none]=$(timed ctl a sync)
RS[none]=$(timed nsx a rsync -a -e "$SSH" "$W_TMP/a.data/many/" "root@${NODE_ADDR[b]}:$RDIR/rsync.many/")
files=$(find "$W_TMP/a.data" -type f | wc -l)

rss() { awk '/VmHWM/ { print $2 " kB" }' "/proc/$(child_pid "${NODE_PID[$1]}" syncd)/status" 2>/dev/null; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", b / a; else print "-" }'; }
printf '\nfile replication, failoverd beside rsync over ssh, same data, same run\n'
printf '(ms, median of %s runs; "rsync/fo": how many times faster failoverd is)\n' "$RUNS"
printf '%-30s %10s %10s %12s %9s %10s %10s\n' "data" "failoverd" "rsync -a" "rsync --fsync" "rsync/fo" "disk read" "local cp"
row() {	# LABEL KIND
	printf '%-30s %10s %10s %12s %9s %10s %10s\n' "$1" "${FO[$2]:--}" "${RS[$2]:--}" "${RSF[$2]:--}" \
	    "$(ratio "${FO[$2]:-0}" "${RS[$2]:-0}")" "${RD[$2]:--}" "${CP[$2]:--}"
}
row "one file of $((BIG / 1048576)) MiB" big
row "$NSMALL files of 4 KiB" small
printf '%-30s %10s %10s %12s %9s\n' "no-change round, $files files" "${FO[none]}" "${RS[none]}" - "$(ratio "${FO[none]}" "${RS[none]}")"
[ -n "${FO[big]}" ] && printf '%-30s %10s %10s %12s %9s %10s %10s\n' "  big file, throughput" \
    "$(rate "${BYTES[big]}" "${FO[big]}")" "$(rate "${BYTES[big]}" "${RS[big]}")" "$(rate "${BYTES[big]}" "${RSF[big]}")" "" \
    "$(rate "${BYTES[big]}" "${RD[big]}")" "$(rate "${BYTES[big]}" "${CP[big]}")"
for kind in ${KINDS:-big small}; do
	echo "  spread of the $kind runs (failoverd / rsync / rsync --fsync): ${SP[$kind]} ms"
done
printf 'peak memory of syncd: sender %s, receiver %s\n' "$(rss a)" "$(rss b)"
echo "(failoverd: mv of the staged data into the synced directory until"
echo " failoverctl sync returns: scan and BLAKE2b of new files, Noise/"
echo " secretstream session, batches flushed with syncfs before each ACK;"
echo " rsync: ssh with its default cipher to sshd in the standby's namespace;"
echo " no-change: failoverd plans against the standby's manifest it keeps,"
echo " rsync lists both trees over the wire; disk read: the staged data read"
echo " with the page cache dropped; local cp: cp -a of it to the receivers'"
echo " filesystem and sync -f, the disk's write limit.  Noisy: every time"
echo " here depends on the disk and on what else the machine does; the"
echo " spread says how much, and only figures of one run compare)"
