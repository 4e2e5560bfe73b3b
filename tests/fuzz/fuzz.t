#!/bin/bash
# A short run of each libFuzzer target (make fuzz runs them longer): the
# seed corpus and a few seconds of mutations, under ASan and UBSan, end
# without a finding.  The configuration parser's target runs as root (it
# refuses a file that is not root's) and without leak checks: a syntax
# error leaves the tokens it read (see tests/fuzz/fuzz_config.c).
. "$(dirname "$0")/../lib/tap.sh"
SECS=${FUZZ_CHECK_SECONDS:-5}
for f in dns proto config imsg session; do
	bin=$T_TOP/build/fuzz/fuzz_$f
	if [ ! -x "$bin" ]; then
		skip "fuzz_$f: not built (make fuzz-build needs clang: make deps)"
		continue
	fi
	if [ "$f" = config ] && [ "$(id -u)" != 0 ]; then
		skip "fuzz_config: needs root (the parser refuses a file not root's)"
		continue
	fi
	corpus=$(mktemp -d /tmp/fo-fuzz.XXXXXX)
	leaks=1
	[ "$f" = config ] && leaks=0
	ASAN_OPTIONS=detect_leaks=$leaks "$bin" -max_total_time="$SECS" \
	    -detect_leaks=$leaks -print_final_stats=1 "$corpus" \
	    "$T_TOP/tests/fuzz/seed-$f" > "$corpus.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus.log")
	ok $rc "fuzz_$f: ${runs:-no} inputs in $SECS s, no finding"
	[ $rc -eq 0 ] || grep -E "ERROR|SUMMARY|#[0-9] " "$corpus.log" | head -20 | sed 's/^/# /'
	rm -rf "$corpus" "$corpus.log"
done
done_testing
