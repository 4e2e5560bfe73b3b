#!/bin/bash
# make check-unit needs no root: a copy of the tree, owned by an ordinary
# user, builds and passes its unit tests, configuration regress and manual
# checks as that user.
. "$(dirname "$0")/../lib/tap.sh"
require_root
id nobody >/dev/null 2>&1 || skip_all "no user nobody to build as"
d=$(mktemp -d /tmp/fo-unpriv.XXXXXX)
trap 'rm -rf "$d" "$d.log"' EXIT
tar -C "$T_TOP" --exclude=./build --exclude=./.git -cf - . | tar -C "$d" -xf -
chown -R nobody: "$d"
chmod 755 "$d"
setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$d" \
    make -C "$d" -j2 check-unit > "$d.log" 2>&1
rc=$?
is "$rc" 0 "make check-unit as nobody"
check "prove ran the unit tests and passed" grep -q '^Result: PASS' "$d.log"
check "the configuration regress ran among them" grep -q '^tests/config/run.t' "$d.log"
[ "$rc" = 0 ] || tail -20 "$d.log" | sed 's/^/# /'
done_testing
