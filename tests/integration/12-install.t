#!/bin/bash
# make install with PREFIX and DESTDIR: the binary and its hard link, the
# manual pages, the example configuration, the schema and the unit.
. "$(dirname "$0")/../lib/tap.sh"
d=$(mktemp -d /tmp/fo-install.XXXXXX)
trap 'rm -rf "$d"' EXIT
# install the flavour that was built (make SANITIZE=1 check must not
# have its binary relinked without the sanitizers half-way)
san=
grep -q fsanitize "$T_TOP/build/flags" 2>/dev/null && san=1
make -s -C "$T_TOP" install SANITIZE=$san DESTDIR="$d" PREFIX=/usr/local \
    UNITDIR=/lib/systemd/system > "$d.log" 2>&1
is "$?" 0 "make install DESTDIR=... PREFIX=/usr/local"
check "failoverd installed, executable" test -x "$d/usr/local/sbin/failoverd"
is "$(stat -c %i "$d/usr/local/sbin/failoverd")" \
    "$(stat -c %i "$d/usr/local/sbin/failoverctl")" \
    "failoverctl is a hard link to failoverd"
for m in man8/failoverd.8 man8/failoverctl.8 man5/failoverd.conf.5; do
	check "manual page $m" test -f "$d/usr/local/share/man/$m"
done
check "the example configuration" test -f "$d/usr/local/share/examples/failoverd/failoverd.conf"
check "the schema for a DBA" test -f "$d/usr/local/share/examples/failoverd/schema.sql"
check "the systemd unit" test -f "$d/lib/systemd/system/failoverd.service"
check "the unit starts the installed binary" \
    grep -q "^ExecStart=/usr/local/sbin/failoverd " "$d/lib/systemd/system/failoverd.service"
check "and checks the configuration first" \
    grep -q "^ExecStartPre=/usr/local/sbin/failoverd -n " "$d/lib/systemd/system/failoverd.service"
out=$("$d/usr/local/sbin/failoverctl" pubkey /nonexistent 2>&1)
check "the installed failoverctl runs as failoverctl" \
    sh -c "echo '$out' | grep -q '^failoverctl: /nonexistent'"
rm -f "$d.log"
done_testing
