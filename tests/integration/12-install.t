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

# PREFIX alone places the unit, sysusers.d and tmpfiles.d too; uninstall
# removes what install wrote
e=$d/prefix
make -s -C "$T_TOP" install SANITIZE=$san DESTDIR="$e" PREFIX=/opt/fo > "$d.log" 2>&1
is "$?" 0 "make install PREFIX=/opt/fo"
check "the unit under PREFIX" test -f "$e/opt/fo/lib/systemd/system/failoverd.service"
check "which starts PREFIX's binary" \
    grep -q "^ExecStart=/opt/fo/sbin/failoverd " "$e/opt/fo/lib/systemd/system/failoverd.service"
check "and reloads with failoverctl" \
    grep -q "^ExecReload=/opt/fo/sbin/failoverctl reload$" "$e/opt/fo/lib/systemd/system/failoverd.service"
check "sysusers.d creates _failoverd" \
    grep -q "^u _failoverd " "$e/opt/fo/lib/sysusers.d/failoverd.conf"
check "tmpfiles.d creates /run/failoverd" \
    grep -q "^d /run/failoverd " "$e/opt/fo/lib/tmpfiles.d/failoverd.conf"
make -s -C "$T_TOP" uninstall DESTDIR="$e" PREFIX=/opt/fo > "$d.log" 2>&1
is "$?" 0 "make uninstall"
is "$(find "$e" ! -type d | wc -l)" 0 "it leaves no file behind"

# WERROR=0: a packager's newer compiler warns, and the build goes on
cflags() { make -s --no-print-directory -C "$T_TOP" --eval 'pc: ; @echo $(CFLAGS)' pc "$@"; }
c0=$(cflags WERROR=0)
check "WERROR=0 leaves -Werror out" sh -c "echo '$c0' | grep -q -- '-Wall -Wextra' && ! echo '$c0' | grep -q -- -Werror"
check "by default it is in" sh -c "echo '$(cflags)' | grep -q -- '-Wall -Wextra -Werror'"

# keygen makes the keys' directory, 0700
k=$d/etc/failoverd
mkdir -p "$d/etc"
"$FAILOVERCTL" keygen "$k/node.key" > "$d/pub" 2> "$d/err"
is "$?" 0 "keygen into a directory that does not exist"
is "$(stat -c %a "$k") $(stat -c %a "$k/node.key")" "700 600" "it made the directory 0700, the key 0600"
check "and said so" grep -q "created $k (mode 0700)" "$d/err"
rm -f "$d.log"
done_testing
