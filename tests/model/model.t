#!/bin/bash
# The lease protocol's Promela model (tests/model/lease.pml), checked by
# spin: each configuration of the real design ends without an error, and
# each mutation (a bug put back: the takeover race, a renewal and release
# without the token, on-active after a late bind, no release of a lease
# not acted on) yields a counter-example.  tests/model/README says what
# the model assumes; MODEL_LONG=1 adds the configurations too large for
# make check (make model-long).  Two searches run at a time.
. "$(dirname "$0")/../lib/tap.sh"
PML=$T_TOP/tests/model/lease.pml
if ! command -v spin >/dev/null || ! command -v cc >/dev/null; then
	echo "1..0 # SKIP spin or cc missing (make deps installs spin)"
	exit 0
fi
DIR=$(mktemp -d /tmp/fo-model.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

# NAME KIND WANT DEFINES: KIND safety (assertions) or live (the ltl
# property, weak fairness); WANT ok (no error) or bug (a counter-example)
NONE="-DFAULTS=0 -DPAUSES=0 -DRESTARTS=0 -DOPS=0"
CONFIGS="two-nodes safety ok $NONE
lost-and-late safety ok -DFAULTS=1 -DPAUSES=0 -DRESTARTS=0 -DOPS=0
heartbeatd-stopped safety ok -DFAULTS=0 -DPAUSES=1 -DPAUSEKIND=1 -DRESTARTS=0 -DOPS=0 -DEMAX=2
netd-stopped safety ok -DFAULTS=0 -DPAUSES=1 -DPAUSEKIND=2 -DRESTARTS=0 -DOPS=0 -DEMAX=2
restart safety ok -DFAULTS=0 -DPAUSES=0 -DRESTARTS=1 -DOPS=0 -DEMAX=2
operator safety ok -DFAULTS=0 -DPAUSES=0 -DRESTARTS=0 -DOPS=1 -DEMAX=2
three-nodes safety ok -DN=3 -DFAULTS=0 -DPAUSES=0 -DRESTARTS=0 -DOPS=0 -DEMAX=2
clone safety ok -DCLONE=1 -DFAULTS=0 -DPAUSES=0 -DRESTARTS=0 -DOPS=0 -DEMAX=2
no-lifetime safety ok -DKLIFE=0 -DFAULTS=0 -DPAUSES=1 -DPAUSEKIND=2 -DRESTARTS=0 -DOPS=0 -DEMAX=2
no-lifetime-no-probe safety bug -DPROBE=0 -DKLIFE=0 -DFAULTS=0 -DPAUSES=1 -DPAUSEKIND=2 -DRESTARTS=0 -DOPS=0 -DEMAX=2
netd-stopped-no-probe safety ok -DPROBE=0 -DFAULTS=0 -DPAUSES=1 -DPAUSEKIND=2 -DRESTARTS=0 -DOPS=0 -DEMAX=2
released live ok -DFAULTS=1 -DPAUSES=0 -DRESTARTS=0 -DOPS=0 -DEMAX=2
takeover-race safety bug -DMUT_TAKERACE -DFAULTS=1 -DPAUSES=0 -DRESTARTS=0 -DOPS=0
no-token safety bug -DMUT_NOTOKEN -DCLONE=1 -DFAULTS=0 -DPAUSES=0 -DRESTARTS=0 -DOPS=0 -DEMAX=2
late-bind safety bug -DMUT_LATEBIND -DFAULTS=0 -DPAUSES=1 -DPAUSEKIND=4 -DRESTARTS=0 -DOPS=0 -DEMAX=2
no-release live bug -DMUT_NORELEASE -DFAULTS=1 -DPAUSES=0 -DRESTARTS=0 -DOPS=0 -DEMAX=2"
if [ -n "$MODEL_LONG" ]; then
	CONFIGS="$CONFIGS
vm-frozen safety ok -DFAULTS=0 -DPAUSES=1 -DPAUSEKIND=4 -DRESTARTS=0 -DOPS=0 -DEMAX=2
two-faults safety ok -DFAULTS=2 -DPAUSES=0 -DRESTARTS=0 -DOPS=0
restart-lost safety ok -DFAULTS=1 -DPAUSES=0 -DRESTARTS=1 -DOPS=0
operator-lost safety ok -DFAULTS=1 -DPAUSES=0 -DRESTARTS=0 -DOPS=1
three-nodes-lost safety ok -DN=3 -DFAULTS=1 -DPAUSES=0 -DRESTARTS=0 -DOPS=0 -DEMAX=2
clone-lost safety ok -DCLONE=1 -DFAULTS=1 -DPAUSES=0 -DRESTARTS=0 -DOPS=0 -DEMAX=2"
fi

# search NAME KIND WANT DEFINES...: build the verifier and run it
search() {
	local name=$1 kind=$2 d=$DIR/$1 cflags run
	shift 3
	mkdir -p "$d"
	if [ "$kind" = live ]; then
		cflags="-DNOREDUCE -DNFAIR=6"
		run="-a -f"
	else
		cflags="-DSAFETY -DNOCLAIM"
		run="-E"
	fi
	cd "$d" || exit 1
	spin -a "$@" "$PML" > spin.out 2>&1 &&
	    cc -O1 -w $cflags -DCOLLAPSE -DMEMLIM=${MODEL_MEM:-4000} \
	    -o pan pan.c 2> cc.out || { echo build > status; exit 0; }
	./pan $run -m300000 -w24 > pan.out 2>&1
	echo done > status
}
export -f search
export DIR PML
echo "$CONFIGS" | xargs -P 2 -L 1 bash -c 'search "$@"' _

while read -r name kind want defs; do
	d=$DIR/$name
	if [ "$(cat "$d/status" 2>/dev/null)" != done ]; then
		ok 1 "$name: spin and cc build the verifier"
		cat "$d/spin.out" "$d/cc.out" 2>/dev/null | head -20 | sed 's/^/# /'
		continue
	fi
	errs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$d/pan.out")
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$d/pan.out")
	secs=$(sed -n 's/^pan: elapsed time \([0-9.]*\).*/\1/p' "$d/pan.out")
	# a search that found nothing must have covered everything (one
	# that found its counter-example stops there, not completed)
	if [ -z "$errs" ] || [ -z "$states" ] || { [ "$want" = ok ] &&
	    grep -q "out of memory\|max search depth too small\|MEMLIM\|Search not completed" \
	    "$d/pan.out"; }; then
		ok 1 "$name: the search completes"
		grep "out of memory\|max search depth\|MEMLIM\|not completed" \
		    "$d/pan.out" | sed 's/^/# /'
		continue
	fi
	what="no error"
	[ "$kind" = live ] && what="every lease not acted on released"
	if [ "$want" = ok ]; then
		is "$errs" 0 "$name: $what, $states states, ${secs}s [$defs]" ||
		    (cd "$d" && spin -t $defs "$PML" 2>&1 | grep MSC |
		    tail -40 | sed 's/^ */# /')
	else
		# the counter-example of the kind wanted: an overlap of
		# VIPs or applications, or a cycle that never releases
		if [ "$kind" = live ]; then
			pat="acceptance cycle"
		else
			pat="assertion violated.*\(vip\|app\)\["
		fi
		check "$name: a counter-example, ${secs}s [$defs]" \
		    grep -q "$pat" "$d/pan.out"
		grep "assertion violated\|acceptance cycle" "$d/pan.out" |
		    head -1 | sed 's/^/# /'
	fi
done <<< "$CONFIGS"
done_testing
