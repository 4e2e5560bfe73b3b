#!/bin/sh
# Config regress: each NN.conf through "failoverd -nv", compared with
# NN.ok (stdout, stderr, exit status); what parses must parse again from
# its own -nv output to the same text.  NN.mode sets the file's mode
# (default 0644), NN.args the arguments (default -N a); NN.inc and
# NN-*.inc are copied beside it, 0644, NN-secret.inc 0600; NN.dirmode
# sets the mode of the directory they are in, NN.setup (sh) makes files
# there, TMP in NN.conf stands for the cases' directory, and NN.root
# says the case runs only as root.
umask 022
top=$(cd "$(dirname "$0")/../.." && pwd)
fo=$top/build/failoverd
src=$top/tests/config
tmp=$(mktemp -d /tmp/fo-config.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
for conf in "$src"/[0-9][0-9].conf; do
	nn=$(basename "$conf" .conf)
	# NN.root: the case's files must be root's (ownership is the point)
	if [ -f "$src/$nn.root" ] && [ "$(id -u)" != 0 ]; then
		n=$((n + 1))
		echo "ok $n # skip $nn.conf: its files must be root's, and this is not root"
		continue
	fi
	d=$tmp/$nn
	mkdir "$d"
	cp "$src/$nn".* "$d/"
	rm -f "$d/$nn.ok"
	# include files are 0644, but NN-secret.inc is 0600
	for inc in "$src/$nn".inc "$src/$nn"-*.inc; do
		[ -f "$inc" ] && cp "$inc" "$d/" && chmod 644 "$d/$(basename "$inc")"
		case $inc in *-secret.inc) chmod 600 "$d/$(basename "$inc")";; esac
	done
	mode=644
	[ -f "$src/$nn.mode" ] && mode=$(cat "$src/$nn.mode")
	chmod "$mode" "$d/$nn.conf"
	args="-N a"
	[ -f "$src/$nn.args" ] && args=$(cat "$src/$nn.args")
	# NN.setup makes what the case needs, in its directory; TMP in the
	# configuration is the directory of the cases
	[ -f "$src/$nn.setup" ] && (cd "$d" && sh "$src/$nn.setup")
	sed -i "s|TMP|$tmp|g" "$d/$nn.conf"
	[ -f "$src/$nn.dirmode" ] && chmod "$(cat "$src/$nn.dirmode")" "$d"
	(cd "$d" && "$fo" -nv -f "$nn.conf" $args >stdout 2>stderr; echo "exit $?" >status)
	chmod 755 "$d"
	# the case's directory is TMP/NN in what is compared
	cat "$d/stdout" "$d/stderr" "$d/status" | sed "s|$tmp|TMP|g" > "$d/got"
	n=$((n + 1))
	if [ "$UPDATE" = 1 ]; then
		cp "$d/got" "$src/$nn.ok"
	fi
	if diff -u "$src/$nn.ok" "$d/got" > "$d/diff"; then
		echo "ok $n - $nn.conf: $(head -1 "$conf" | sed 's/^# *//')"
	else
		echo "not ok $n - $nn.conf"
		sed 's/^/# /' "$d/diff"
	fi
	if [ "$(cat "$d/status")" = "exit 0" ]; then
		n=$((n + 1))
		cp "$d/stdout" "$d/rt.conf"
		chmod 600 "$d/rt.conf"
		(cd "$d" && "$fo" -nv -f rt.conf $args >rt.out 2>/dev/null)
		if cmp -s "$d/stdout" "$d/rt.out"; then
			echo "ok $n - $nn.conf: -nv output parses again to the same text"
		else
			echo "not ok $n - $nn.conf: -nv round trip differs"
			diff -u "$d/stdout" "$d/rt.out" | sed 's/^/# /'
		fi
	fi
done

# the shipped example is valid wherever it is checked
n=$((n + 1))
cp "$top/conf/failoverd.conf" "$tmp/example.conf"
chmod 644 "$tmp/example.conf"
last=$("$fo" -n -f "$tmp/example.conf" 2>&1 | tail -1)
if [ "$last" = "configuration OK" ]; then
	echo "ok $n - conf/failoverd.conf passes failoverd -n"
else
	echo "not ok $n - conf/failoverd.conf: $last"
fi
n=$((n + 1))
"$fo" -nv -f "$tmp/example.conf" 2>/dev/null > "$tmp/example.out"
cp "$tmp/example.out" "$tmp/example2.conf"
"$fo" -nv -f "$tmp/example2.conf" 2>/dev/null > "$tmp/example2.out"
if [ -s "$tmp/example.out" ] && cmp -s "$tmp/example.out" "$tmp/example2.out"; then
	echo "ok $n - conf/failoverd.conf -nv round trip"
else
	echo "not ok $n - conf/failoverd.conf -nv round trip"
fi
# the owner: root, or the user who runs "failoverd -n"
n=$((n + 1))
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chown nobody "$tmp/example.conf"
	out=$("$fo" -n -f "$tmp/example.conf" 2>&1); rc=$?
	if [ $rc = 1 ] && [ "$out" = "$tmp/example.conf: owner must be root" ]; then
		echo "ok $n - root refuses a configuration another user owns"
	else
		echo "not ok $n - owned by nobody: rc $rc, $out"
	fi
	n=$((n + 1))
	chmod 755 "$tmp"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$fo" -n -f "$tmp/example.conf" 2>&1 | tail -1)
	if [ "$out" = "configuration OK" ]; then
		echo "ok $n - an ordinary user checks a configuration of its own"
	else
		echo "not ok $n - failoverd -n as nobody: $out"
	fi
	chown 0 "$tmp/example.conf"
else
	echo "ok $n # skip the owner check needs root to give a file away"
fi
# a missing file
n=$((n + 1))
out=$("$fo" -n -f "$tmp/nonexistent.conf" 2>&1); rc=$?
if [ $rc = 1 ] && [ "$out" = "$tmp/nonexistent.conf: No such file or directory" ]; then
	echo "ok $n - a missing configuration file is named, exit 1"
else
	echo "not ok $n - missing file: rc $rc, $out"
fi
echo "1..$n"
