# A world of hosts on one machine (see ../shared/TESTING.md): a switch
# namespace with a bridge, one namespace per host joined to it by a veth
# pair, a throwaway PostgreSQL in the database namespace, and failoverd
# nodes with hooks that stamp every run into a file.  Source after tap.sh.
#
#   world_up            namespaces, bridge, addresses
#   pg_start / pg_stop  PostgreSQL at 192.0.2.5 (database "failover")
#   node_conf NAME ...  write NAME's configuration (extra lines as args)
#   node_start NAME     start failoverd in NAME's namespace
#   node_kill NAME      kill -9 every failoverd process of NAME
#   world_down          undo all of it (the EXIT trap calls it)

W_ID=$$
W_TMP=$(mktemp -d /tmp/fo-world.XXXXXX)
chmod 755 "$W_TMP"
W_SW=fo-sw-$W_ID
W_PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
W_NODES=""
W_PIDS=""
DB_ADDR=192.0.2.5
CLIENT_ADDR=192.0.2.100
TIMING=${TIMING:-"heartbeat interval 100ms dead 3s margin 1s slack 100ms timeout 250ms"}
VIP=192.0.2.10
VIP_CONF=${VIP_CONF-"vip $VIP/24 interface \"eth0\"
garp count 3 interval 200ms"}

declare -A NODE_ADDR=([a]=192.0.2.11 [b]=192.0.2.12 [c]=192.0.2.13)
declare -A NODE_PRIO=([a]=100 [b]=100 [c]=100)
declare -A NODE_PID
declare -A NODE_KEY	# public keys, for the sync blocks
declare -A NODE_PORT	# sync ports other than the listen port

ns() { echo "fo-$1-$W_ID"; }
# nsenter execs the command itself (ip netns exec may fork), so $! is
# the process the test started
nsx() { local n=$1; shift; nsenter --net="/run/netns/$(ns "$n")" -- "$@"; }
# for "nsx_bg NAME CMD &": the backgrounded subshell becomes CMD
nsx_bg() { local n=$1; shift; exec nsenter --net="/run/netns/$(ns "$n")" -- "$@"; }

# host NAME ADDRESS MAC: a namespace with eth0 on the bridge
host_add() {
	local n=$1 addr=$2 mac=$3 nsn
	nsn=$(ns "$n")
	ip netns add "$nsn"
	ip -n "$W_SW" link add "p-$n" type veth peer name eth0 netns "$nsn"
	ip -n "$W_SW" link set "p-$n" master br0 up
	ip -n "$nsn" link set lo up
	ip -n "$nsn" link set eth0 address "$mac"
	ip -n "$nsn" addr add "$addr/24" dev eth0
	ip -n "$nsn" link set eth0 up
}

world_up() {
	command -v ip >/dev/null || skip_all "no iproute2 (run: make deps)"
	[ -n "$W_PGBIN" ] || skip_all "no PostgreSQL server (run: make deps)"
	getent passwd postgres >/dev/null || skip_all "no postgres user (run: make deps)"
	getent passwd _failoverd >/dev/null || skip_all "no _failoverd user (run: make deps)"
	ip netns add "$W_SW" || return 1
	ip -n "$W_SW" link add br0 type bridge
	ip -n "$W_SW" link set br0 up
	host_add db "$DB_ADDR" 02:00:00:00:00:05
	host_add client "$CLIENT_ADDR" 02:00:00:00:01:00
	host_add a "${NODE_ADDR[a]}" 02:00:00:00:00:11
	host_add b "${NODE_ADDR[b]}" 02:00:00:00:00:12
	# the hook stamps its run; it fails while $W_TMP/fail.NODE.HOOK exists
	printf '#!/bin/sh\n# stamp: ns-since-epoch hook role epoch\necho "$(date +%%s%%N) $1 $FAILOVER_ROLE $FAILOVER_EPOCH" >> %s/hooks.$FAILOVER_NODE\n[ -e %s/fail.$FAILOVER_NODE.$1 ] && exit 1\nexit 0\n' \
	    "$W_TMP" "$W_TMP" > "$W_TMP/hook"
	chmod 755 "$W_TMP/hook"
}

world_down() {
	local n p
	# a failed check leaves the nodes' last words in the CI log
	if [ "${T_FAIL:-0}" -gt 0 ] && [ -d "$W_TMP" ]; then
		for n in a b c; do
			[ -s "$W_TMP/$n.log" ] || continue
			echo "# --- the last 60 lines of $n.log" >&2
			tail -n 60 "$W_TMP/$n.log" | sed 's/^/# /' >&2
		done
	fi
	for p in $W_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	for n in a b c; do
		[ -n "${NODE_PID[$n]}" ] && node_kill "$n"
	done
	pg_stop
	for n in a b c client db; do
		ip netns del "$(ns "$n")" 2>/dev/null
	done
	ip netns del "$W_SW" 2>/dev/null
	[ -n "$KEEP" ] || rm -rf "$W_TMP"
}

pg_start() {
	local d=$W_TMP/pg
	if [ ! -d "$d" ]; then
		mkdir -p "$d"
		chown postgres "$d"
		setpriv --reuid=postgres --regid=postgres --init-groups \
		    "$W_PGBIN/initdb" -D "$d/data" -A trust -U postgres \
		    --no-sync >"$W_TMP/initdb.log" 2>&1 || return 1
		cat >> "$d/data/postgresql.conf" <<EOF
listen_addresses = '$DB_ADDR'
unix_socket_directories = '$d'
fsync = off
synchronous_commit = on
max_connections = 30
EOF
		echo "host all all 192.0.2.0/24 trust" >> "$d/data/pg_hba.conf"
	fi
	nsx_bg db setpriv --reuid=postgres --regid=postgres --init-groups \
	    "$W_PGBIN/postgres" -D "$d/data" >>"$W_TMP/pg.log" 2>&1 &
	W_PG_PID=$!
	wait_for 15000 nsx db "$W_PGBIN/pg_isready" -q -h "$DB_ADDR" || return 1
	if [ ! -f "$d/created" ]; then
		psql_db postgres -c "CREATE ROLE failover LOGIN" >/dev/null &&
		psql_db postgres -c "CREATE DATABASE failover OWNER failover" \
		    >/dev/null && touch "$d/created"
	fi
}

pg_stop() {
	[ -n "$W_PG_PID" ] || return 0
	kill -INT "$W_PG_PID" 2>/dev/null
	wait_for 15000 dead "$W_PG_PID"
	wait "$W_PG_PID" 2>/dev/null
	W_PG_PID=
}

# psql_db DBNAME ARGS...: as postgres, from the database namespace
psql_db() {
	local db=$1
	shift
	# HOME: root's would make libpq look for a client certificate in
	# /root/.postgresql, which postgres may not read, on a TLS server
	HOME=/nonexistent nsx db setpriv --reuid=postgres --regid=postgres --init-groups \
	    psql -X -q -h "$DB_ADDR" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"
}

# sql QUERY: one value, as the failover role
sql() {
	psql_db failover -At -c "$1" 2>/dev/null
}

node_conf() {
	local n=$1 m
	shift
	{
		echo "cluster \"test\""
		for m in $W_NODES; do
			echo "node \"$m\" { address ${NODE_ADDR[$m]} priority ${NODE_PRIO[$m]}${NODE_KEY[$m]:+ public-key \"${NODE_KEY[$m]}\"}${NODE_PORT[$m]:+ port ${NODE_PORT[$m]}} }"
		done
		echo "database \"hostaddr=$DB_ADDR dbname=failover user=failover\""
		echo "$TIMING"
		[ -n "$VIP_CONF" ] && echo "$VIP_CONF"
		echo "control socket \"$W_TMP/$n.sock\" group \"root\""
		echo "on-active \"$W_TMP/hook on-active\" timeout 5s"
		echo "on-standby \"$W_TMP/hook on-standby\" timeout 5s"
		echo "on-fault \"$W_TMP/hook on-fault\" timeout 5s"
		for m in "$@"; do
			echo "$m"
		done
	} > "$W_TMP/$n.conf"
	chmod 644 "$W_TMP/$n.conf"
}

node_start() {
	local n=$1
	: >> "$W_TMP/$n.log"
	# NODE_WRAP: a command (env, setpriv) that execs failoverd in the end
	nsx_bg "$n" ${NODE_WRAP:-} "$FAILOVERD" -d -v ${NODE_VERBOSE:-} -N "$n" -f "$W_TMP/$n.conf" \
	    >> "$W_TMP/$n.log" 2>&1 &
	NODE_PID[$n]=$!
}

# every process of the node: the monitor and its children
node_pids() {
	local p=${NODE_PID[$1]}
	[ -n "$p" ] || return 0
	echo "$p" $(pgrep -P "$p" 2>/dev/null)
}

node_kill() {
	local n=$1 pids
	pids=$(node_pids "$n")
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	wait "${NODE_PID[$n]}" 2>/dev/null
	NODE_PID[$n]=
}

node_stop() {
	local n=$1 p=${NODE_PID[$1]}
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	wait_for 15000 dead "$p"
	wait "$p" 2>/dev/null
	NODE_PID[$n]=
}

# sync_block NAME SETTINGS [EXCLUDES]: NAME's sync block (after sync_key
# NAME), SETTINGS its interval/delay/... line; makes $W_TMP/NAME.data,
# owned by the sync user
sync_block() {
	mkdir -p "$W_TMP/$1.data"
	chown _failoverd: "$W_TMP/$1.data"
	echo "sync {
	listen on ${NODE_ADDR[$1]} port 7209
	key-file \"$W_TMP/$1.key\"
	$2
	directory \"$W_TMP/$1.data\"${3:+ $3}
}"
}

# proxy [ARGS]: (re)start tests/lib/proxy.py in b's namespace, from b's
# port 7300 to its sync port 7209 (a node reaches b through it when
# NODE_PORT[b]=7300); ARGS as proxy.py takes them (--rate, --flip)
proxy_pid=
proxy() {
	[ -n "$proxy_pid" ] && { kill "$proxy_pid"; wait "$proxy_pid"; } 2>/dev/null
	nsx_bg b python3 "$T_TOP/tests/lib/proxy.py" "${NODE_ADDR[b]}" 7300 \
	    "${NODE_ADDR[b]}" 7209 "$@" &
	proxy_pid=$!
	W_PIDS="$W_PIDS $proxy_pid"
	wait_for 3000 sh -c "nsenter --net=/run/netns/$(ns b) ss -ltn | grep -q ':7300 '"
}

# make_files DIR FROM TO SIZE [PREFIX]: files FROM..TO-1 of SIZE random
# bytes under DIR, 1,000 a directory (PREFIX, default "m", and three
# digits), owned by the sync user
make_files() {
	python3 - "$1" "$2" "$3" "$4" "${5:-m}" <<'EOF'
import os, sys
d, lo, hi, size, pre = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
for i in range(lo, hi):
    sub = os.path.join(d, "%s%03d" % (pre, i // 1000))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%06d" % i), "wb") as f:
        f.write(os.urandom(size))
EOF
	chown -R _failoverd: "$1"
}

# sshd_up: sshd in b's namespace on port 2222, root's key for it; SSH is
# the ssh command that reaches it from a's namespace (for rsync -e)
sshd_up() {
	local k=$W_TMP/ssh
	mkdir -p "$k" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$k/host" &&
	    ssh-keygen -q -t ed25519 -N '' -f "$k/user" || return 1
	cp "$k/user.pub" "$k/authorized_keys"
	chmod 600 "$k/authorized_keys"
	cat > "$k/sshd_config" <<EOF
Port 2222
ListenAddress ${NODE_ADDR[b]}
HostKey $k/host
AuthorizedKeysFile $k/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
PidFile none
EOF
	nsx_bg b /usr/sbin/sshd -D -e -f "$k/sshd_config" 2>"$k/sshd.log" &
	W_PIDS="$W_PIDS $!"
	SSH="ssh -p 2222 -i $k/user -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
	wait_for 5000 nsx a $SSH root@"${NODE_ADDR[b]}" true || { cat "$k/sshd.log"; return 1; }
}

# sync_key NAME: a sync key for NAME in $W_TMP/NAME.key, its public key
# in NODE_KEY
sync_key() {
	NODE_KEY[$1]=$("$FAILOVERCTL" keygen "$W_TMP/$1.key") || return 1
}

# dns_start: BIND named in the database namespace, primary for
# example.test with vip.example.test, updates granted to the TSIG key
# "ddns" (its file: $W_TMP/dns/ddns.key, its secret: DNS_SECRET)
DNS_ZONE=example.test
DNS_NAME=vip.example.test
dns_start() {
	local d=$W_TMP/dns
	command -v named >/dev/null || return 1
	mkdir -p "$d"
	tsig-keygen -a hmac-sha256 ddns > "$d/ddns.key" || return 1
	DNS_SECRET=$(sed -n 's/.*secret "\(.*\)";/\1/p' "$d/ddns.key")
	cat > "$d/named.conf" <<EOF
options {
	directory "$d";
	listen-on port 53 { $DB_ADDR; };
	listen-on-v6 { none; };
	recursion no;
	pid-file none;
	session-keyfile none;
	dnssec-validation no;
};
include "$d/ddns.key";
zone "$DNS_ZONE" {
	type primary;
	file "$d/$DNS_ZONE.zone";
	update-policy { grant ddns name $DNS_NAME. A AAAA; };
};
EOF
	cat > "$d/$DNS_ZONE.zone" <<EOF
\$TTL 60
@	IN SOA ns.$DNS_ZONE. hostmaster.$DNS_ZONE. 1 60 60 600 60
@	IN NS ns.$DNS_ZONE.
ns	IN A $DB_ADDR
$DNS_NAME.	IN A 192.0.2.99
EOF
	nsx_bg db named -g -c "$d/named.conf" > "$d/named.log" 2>&1 &
	DNS_PID=$!
	W_PIDS="$W_PIDS $DNS_PID"
	wait_for 10000 dns_ask >/dev/null
}
# dns_ask: the A records of the name, as the client sees them
dns_ask() {
	nsx client dig +short +time=1 +tries=1 @"$DB_ADDR" "$DNS_NAME" A
}

ctl() {
	local n=$1
	shift
	"$FAILOVERCTL" -s "$W_TMP/$n.sock" "$@"
}

# role NAME: the node's role from status -j, "none" when it answers not
role() {
	ctl "$1" status -j 2>/dev/null |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["role"])' 2>/dev/null ||
	    echo none
}

is_role() {
	[ "$(role "$1")" = "$2" ]
}

# db_is NAME up|down: the database as the node's status shows it
db_is() {
	ctl "$1" status -j 2>/dev/null | grep -q "\"db\":\"$2\""
}

# the lease holder as the database has it
holder() {
	sql "SELECT coalesce(holder, '') FROM failover_lease WHERE cluster = 'test'"
}

epoch() {
	sql "SELECT epoch FROM failover_lease WHERE cluster = 'test'"
}

# actives: how many nodes say they are active
actives() {
	local n c=0
	for n in $W_NODES; do
		[ "$(role "$n")" = active ] && c=$((c + 1))
	done
	echo "$c"
}

# last_hook NAME HOOK: the stamp (ns) of the node's last run of HOOK
last_hook() {
	# a string: awk would print nanoseconds as a float
	awk -v h="$2" '$2 == h { t = $1 } END { print (t == "" ? 0 : t) }' \
	    "$W_TMP/hooks.$1" 2>/dev/null || echo 0
}

count_hook() {
	awk -v h="$2" '$2 == h { c++ } END { print c + 0 }' "$W_TMP/hooks.$1" 2>/dev/null || echo 0
}

# has_vip NAME: the VIP is bound in the node's namespace
has_vip() {
	ip -n "$(ns "$1")" -4 -o addr show dev eth0 2>/dev/null |
	    grep -q " $VIP/"
}

mac_of() {
	ip -n "$(ns "$1")" -o link show dev eth0 |
	    sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/'
}

# who_has: the MAC that answers arping for the VIP from the client
who_has() {
	nsx client arping -c 1 -w 1 -i eth0 "$VIP" 2>/dev/null |
	    grep -io 'from [0-9a-f:]\{17\}' | head -1 | awk '{print tolower($2)}'
}

# vip_sampler FILE: every 20 ms, note any instant the VIP is on two nodes
vip_sampler_start() {
	(
		while :; do
			c=0
			for n in $W_NODES; do
				has_vip "$n" && c=$((c + 1))
			done
			echo "$c" >> "$W_TMP/vip.samples"
			sleep 0.02
		done
	) &
	W_SAMPLER=$!
	W_PIDS="$W_PIDS $W_SAMPLER"
}

vip_sampler_check() {
	local n two
	n=$(wc -l < "$W_TMP/vip.samples")
	two=$(grep -c '^[2-9]' "$W_TMP/vip.samples")
	echo "$n $two"
}

# stamp NODE WHAT: a line in NODE's hook stamps (killed, stopped)
stamp() {
	echo "$(date +%s%N) $2 - -" >> "$W_TMP/hooks.$1"
}

# No two nodes active at once: from the hook stamps of all nodes, an
# on-active opens a node's active time, its on-standby, a kill or a stop
# closes it.
no_split_brain() {
	python3 - "$W_TMP" <<'EOF'
import glob, os, sys
evs = []
for f in glob.glob(os.path.join(sys.argv[1], "hooks.*")):
    node = f.rsplit(".", 1)[1]
    for line in open(f):
        p = line.split()
        if len(p) >= 2:
            evs.append((int(p[0]), node, p[1]))
evs.sort()
active = set()
for t, node, what in evs:
    if what == "on-active":
        active.add(node)
        if len(active) > 1:
            print("both active at %d: %s" % (t, sorted(active)))
            sys.exit(1)
    elif what in ("on-standby", "killed", "stopped"):
        active.discard(node)
EOF
}

ms_now() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# nft_cut NAME: drop everything between the node and the database
nft_cut() {
	nsx "$1" nft -f - <<EOF
table inet cut {
	chain out { type filter hook output priority 0; ip daddr $DB_ADDR drop; }
	chain in { type filter hook input priority 0; ip saddr $DB_ADDR drop; }
}
EOF
}

nft_heal() {
	nsx "$1" nft delete table inet cut
}
