#!/bin/bash
# The manual pages are clean under mandoc -Tlint and match the code:
# every keyword of the parser is in failoverd.conf(5), every command of
# failoverctl in failoverctl(8), every option of failoverd in failoverd(8).
. "$(dirname "$0")/../lib/tap.sh"
command -v mandoc >/dev/null || skip_all "mandoc is not installed (run: make deps)"
cd "$T_TOP" || exit 1

for m in monitor/failoverd.8 monitor/failoverctl.8 conf/failoverd.conf.5; do
	# cross-references to pages not installed here, and a stale
	# mandoc.db, depend on the machine, not on the page
	out=$(mandoc -Tlint "$m" 2>&1 | grep -v -e 'referenced manual not found' \
	    -e 'outdated mandoc.db')
	is "$out" "" "mandoc -Tlint $m"
done

missing=
for kw in $(sed -n '/static const struct keywords keywords\[\]/,/};/p' monitor/parse.y |
    grep -o '{ "[a-z-]*"' | tr -d '{" '); do
	grep -Eq "^\..*\<(Ic|Cm)\>.* $kw( |\$)" conf/failoverd.conf.5 ||
	    missing="$missing $kw"
done
is "$missing" "" "failoverd.conf(5) documents every keyword of parse.y"

missing=
for cmd in $(sed -n '/^} commands\[\] = {/,/^};/p' monitor/ctl.c |
    grep -o '{ "[a-z]*"' | tr -d '{" '); do
	grep -q "^\.It Cm $cmd" monitor/failoverctl.8 || missing="$missing $cmd"
done
is "$missing" "" "failoverctl(8) documents every command of ctl.c"

opts=$(grep -o 'getopt(argc, argv, "+[a-zA-Z:]*")' monitor/monitor.c | head -1 |
    sed 's/.*"+\(.*\)")/\1/' | tr -d ':P')
missing=
for o in $(echo "$opts" | grep -o .); do
	grep -q "^\.It Fl $o\b" monitor/failoverd.8 || missing="$missing -$o"
done
is "$missing" "" "failoverd(8) documents every option but the internal -P"

done_testing
