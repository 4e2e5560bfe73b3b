#!/bin/bash
# make bench: syncd beside rsync over ssh, on the same data in the same
# run, between two namespaces: the initial sync of one 1 GiB file and of
# 20,000 files of 4 KiB, and a round with nothing to do over 100,000
# files.  failoverd is timed with "failoverctl sync" (which returns when
# the standby has acknowledged every batch, flushed to disk); rsync with
# "rsync -a -e ssh" to an sshd in the standby's namespace, once as a user
# would run it and once with --fsync, which is what failoverd promises.
# Measures; asserts nothing.  SMALL=1 runs a tenth of each data set,
# KINDS="big" or "small" only one of the two initial syncs.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/world.sh"
trap 'sshd_stop; world_down' EXIT
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
node_start a
wait_for 10000 is_role a active || { echo "bench: a did not become active"; exit 1; }
node_start b
wait_for 10000 is_role b standby || { echo "bench: b did not become standby"; exit 1; }
: > "$W_TMP/a.data/.keep"	# an empty source is refused
chown _failoverd: "$W_TMP/a.data/.keep"
wait_for 20000 ctl a sync >/dev/null

# --- sshd in b's namespace, root's key for it in a's --------------------------
sshd_pid=
sshd_stop() { [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null; }
S=$W_TMP/ssh
mkdir -p "$S" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$S/host" && ssh-keygen -q -t ed25519 -N '' -f "$S/user"
cp "$S/user.pub" "$S/authorized_keys"
chmod 600 "$S/authorized_keys"
cat > "$S/sshd_config" <<EOF
Port 2222
ListenAddress ${NODE_ADDR[b]}
HostKey $S/host
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
PidFile none
EOF
nsx_bg b /usr/sbin/sshd -D -e -f "$S/sshd_config" 2>"$S/sshd.log" &
sshd_pid=$!
SSH="ssh -p 2222 -i $S/user -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
wait_for 5000 nsx a $SSH root@"${NODE_ADDR[b]}" true || { echo "bench: sshd did not come up"; cat "$S/sshd.log"; exit 1; }

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# timed CMD...: milliseconds it took
timed() { local t; sync; t=$(ms); "$@" >/dev/null 2>&1 || echo "# failed: $*" >&2; echo $(( $(ms) - t )); }
# rate BYTES MS: MB/s
rate() { [ "$2" -gt 0 ] && echo "$(( $1 * 1000 / $2 / 1000000 )) MB/s" || echo -; }

# files DIR PREFIX N SIZE: N files of SIZE random bytes, 1,000 a directory
files() {
	python3 - "$@" <<'EOF'
import os, sys
d, pre, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    sub = os.path.join(d, "%s%03d" % (pre, i // 1000))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%06d" % i), "wb") as f:
        f.write(os.urandom(size))
EOF
}
mkdata() {	# DIR KIND
	case $2 in
	big)	head -c "$BIG" /dev/urandom > "$1/big.bin" ;;
	small)	files "$1" d "$NSMALL" 4096 ;;
	many)	files "$1" m "$NMANY" 512 ;;
	esac
	chown -R _failoverd: "$1"
}

# the same data for both tools: staged once, moved in for failoverd,
# copied from the stage by rsync
declare -A FO RS RSF BYTES
for kind in ${KINDS:-big small}; do
	st=$W_TMP/stage.$kind
	mkdir -p "$st"
	mkdata "$st" "$kind"
	BYTES[$kind]=$(du -sb "$st" | cut -f1)
	sync
	# failoverd: the stage moves into a's directory; sync returns when
	# b has acknowledged it all
	t=$(ms)
	mv "$st" "$W_TMP/a.data/$kind"
	ctl a sync >/dev/null || echo "# failoverctl sync failed" >&2
	FO[$kind]=$(( $(ms) - t ))
	# rsync over ssh, from the same (cached) data, to a fresh directory
	RS[$kind]=$(timed nsx a rsync -a -e "$SSH" "$W_TMP/a.data/$kind/" "root@${NODE_ADDR[b]}:$W_TMP/rsync.$kind/")
	RSF[$kind]=$(timed nsx a rsync -a --fsync -e "$SSH" "$W_TMP/a.data/$kind/" "root@${NODE_ADDR[b]}:$W_TMP/rsyncf.$kind/")
	echo "# $kind: failoverd ${FO[$kind]} ms, rsync ${RS[$kind]} ms, rsync --fsync ${RSF[$kind]} ms" >&2
	cmp -s "$W_TMP/a.data/$kind/big.bin" "$W_TMP/b.data/$kind/big.bin" 2>/dev/null ||
	    [ "$kind" = small ] || echo "# failoverd's copy differs" >&2
done

# --- a round with nothing to do over many files -------------------------------
mkdir -p "$W_TMP/stage.many"
mkdata "$W_TMP/stage.many" many
mv "$W_TMP/stage.many" "$W_TMP/a.data/many"
ctl a sync >/dev/null
nsx a rsync -a -e "$SSH" "$W_TMP/a.data/many/" "root@${NODE_ADDR[b]}:$W_TMP/rsync.many/" >/dev/null 2>&1
FO[none]=$(timed ctl a sync)
RS[none]=$(timed nsx a rsync -a -e "$SSH" "$W_TMP/a.data/many/" "root@${NODE_ADDR[b]}:$W_TMP/rsync.many/")
files=$(find "$W_TMP/a.data" -type f | wc -l)

rss() { awk '/VmHWM/ { print $2 " kB" }' "/proc/$(child_pid "${NODE_PID[$1]}" syncd)/status" 2>/dev/null; }

printf '\nfile replication, failoverd beside rsync over ssh, same data, same run (ms)\n'
printf '%-34s %12s %12s %16s\n' "data" "failoverd" "rsync -a" "rsync -a --fsync"
printf '%-34s %12s %12s %16s\n' "one file of $((BIG / 1048576)) MiB" "${FO[big]}" "${RS[big]}" "${RSF[big]}"
printf '%-34s %12s %12s %16s\n' "$NSMALL files of 4 KiB" "${FO[small]}" "${RS[small]}" "${RSF[small]}"
printf '%-34s %12s %12s %16s\n' "no-change round, $files files" "${FO[none]}" "${RS[none]}" -
printf '%-34s %12s %12s %16s\n' "  big file, throughput" "$(rate "${BYTES[big]}" "${FO[big]}")" "$(rate "${BYTES[big]}" "${RS[big]}")" "$(rate "${BYTES[big]}" "${RSF[big]}")"
printf 'peak memory of syncd: sender %s, receiver %s\n' "$(rss a)" "$(rss b)"
echo "(failoverd: mv of the staged data into the synced directory until"
echo " failoverctl sync returns: scan and BLAKE2b of new files, Noise/"
echo " secretstream session, batches flushed with syncfs before each ACK;"
echo " rsync: ssh with its default cipher to sshd in the standby's namespace;"
echo " no-change: failoverd plans against the standby's manifest it keeps,"
echo " rsync lists both trees over the wire)"
