#!/bin/bash
# The Debian package: dpkg-buildpackage -us -uc -b in a copy of the tree,
# what the .deb holds (and what it must not: a conffile, an enabled unit),
# lintian without errors, and the package unpacked into a throwaway root
# whose binary runs and whose unit systemd-analyze verify finds clean.
. "$(dirname "$0")/../lib/tap.sh"
require_root
for t in dpkg-buildpackage dh lintian dpkg-deb systemd-analyze; do
	command -v "$t" >/dev/null || skip_all "no $t (run: make deps)"
done
w=$(mktemp -d /tmp/fo-deb.XXXXXX)
trap 'rm -rf "$w"' EXIT
mkdir "$w/failoverd"
tar -C "$T_TOP" --exclude=./build --exclude=./.git -cf - . | tar -C "$w/failoverd" -xf -
(cd "$w/failoverd" && dpkg-buildpackage -us -uc -b) > "$w/build.log" 2>&1
rc=$?
is "$rc" 0 "dpkg-buildpackage -us -uc -b"
[ "$rc" = 0 ] || tail -20 "$w/build.log" | sed 's/^/# /'
V=$(sed -n 's/^VERSION =[[:space:]]*//p' "$T_TOP/Makefile")
deb=$(ls "$w"/failoverd_*_*.deb 2>/dev/null | head -1)
check "the package is failoverd_$V-*" sh -c "echo '$deb' | grep -q 'failoverd_$V-[0-9]*_'"
check "the changelog's version is the Makefile's" \
    grep -q "^failoverd ($V-" "$T_TOP/debian/changelog"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's,^\./,/,' > "$w/files"
for f in /usr/sbin/failoverd /usr/sbin/failoverctl \
    /usr/share/man/man8/failoverd.8.gz /usr/share/man/man8/failoverctl.8.gz \
    /usr/share/man/man5/failoverd.conf.5.gz /lib/systemd/system/failoverd.service \
    /usr/lib/sysusers.d/failoverd.conf /usr/lib/tmpfiles.d/failoverd.conf \
    /usr/share/doc/failoverd/examples/failoverd.conf \
    /usr/share/doc/failoverd/examples/schema.sql; do
	check "it holds $f" grep -qx "$f" "$w/files"
done
check "nothing under /etc: the example configuration is no conffile" \
    sh -c "! grep -q '^/etc' '$w/files'"
dpkg-deb -e "$deb" "$w/control"
check "no conffiles" test ! -s "$w/control/conffiles"
# an enable only where the administrator had enabled it (was-enabled)
check "the unit is neither enabled nor started by the package" \
    awk '/deb-systemd-invoke (start|restart)/ { bad = 1 }
        /deb-systemd-helper (--quiet )?enable/ && prev !~ /was-enabled/ { bad = 1 }
        NF && !/^[ \t]*#/ { prev = $0 } END { exit bad }' "$w/control/postinst"
check "postinst creates _failoverd" grep -q 'adduser --system .*_failoverd\|_failoverd$' "$w/control/postinst"
lintian "$w"/failoverd_*.changes > "$w/lintian" 2>&1
lrc=$?
sed 's/^/# lintian: /' "$w/lintian"
# lintian exits 1 on an error tag, 0 when there is none (warnings pass)
is "$lrc" 0 "lintian ran and found no error"
check "lintian reports no errors" sh -c "! grep -q '^E:' '$w/lintian'"

# unpacked into a throwaway root
dpkg -x "$deb" "$w/root"
is "$("$w/root/usr/sbin/failoverd" -V)" "failoverd $V" "the unpacked binary runs"
is "$(stat -c %i "$w/root/usr/sbin/failoverd")" "$(stat -c %i "$w/root/usr/sbin/failoverctl")" \
    "failoverctl is a hard link to it"
sed "s,/usr/sbin/,$w/root/usr/sbin/,g" "$w/root/lib/systemd/system/failoverd.service" > "$w/failoverd.service"
out=$(systemd-analyze verify --man=no "$w/failoverd.service" 2>&1)
is "$?:$out" "0:" "its unit: systemd-analyze verify is clean"
check "the unit starts /usr/sbin/failoverd" \
    grep -q '^ExecStart=/usr/sbin/failoverd ' "$w/root/lib/systemd/system/failoverd.service"
out=$(MANPATH="$w/root/usr/share/man" man -w failoverctl 2>/dev/null)
check "the manual pages are where man finds them" test -n "$out"
done_testing
