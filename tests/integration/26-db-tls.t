#!/bin/bash
# TLS to the lease database, as the deployment guide in README.md says:
# sslmode=verify-full and sslrootcert in the conninfo.  heartbeatd runs
# with an empty environment as _failoverd (home /nonexistent), so
# libpq's default ~/.postgresql/root.crt is never there: the root
# certificate's place must be written into the conninfo.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/world.sh"
require_root
trap world_down EXIT
command -v openssl >/dev/null || skip_all "no openssl (run: make deps)"

world_up || { echo "1..0 # SKIP could not build the namespaces"; exit 0; }
pg_start
ok $? "PostgreSQL runs"

# a CA, and a server certificate for db.test signed by it; another CA
c=$W_TMP/tls
mkdir -p "$c"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=failoverd test CA" \
    -keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" \
    -keyout "$c/other.key" -out "$c/other.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=db.test" \
    -keyout "$c/server.key" -out "$c/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:db.test\n' > "$c/ext"
openssl x509 -req -in "$c/server.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" \
    -CAcreateserial -days 2 -extfile "$c/ext" -out "$c/server.crt" 2>/dev/null
ok $? "a CA and a server certificate for db.test"
d=$W_TMP/pg/data
cp "$c/server.crt" "$c/server.key" "$d/"
chown postgres "$d/server.crt" "$d/server.key"
chmod 600 "$d/server.key"
printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >> "$d/postgresql.conf"
# TLS only, from the nodes
sed -i 's/^host all all 192.0.2.0\/24 trust$/hostssl all all 192.0.2.0\/24 trust/' "$d/pg_hba.conf"
chmod 644 "$c/ca.crt" "$c/other.crt"
pg_stop
pg_start
ok $? "PostgreSQL runs with ssl = on, hostssl only"

W_NODES="a"
TLS="host=db.test hostaddr=$DB_ADDR dbname=failover user=failover sslmode=verify-full"
node_conf a
sed -i "s|^database .*|database \"$TLS sslrootcert=$c/ca.crt\"|" "$W_TMP/a.conf"
node_start a
wait_for 10000 is_role a active
ok $? "with sslmode=verify-full and sslrootcert, a is active"
ssl=$(psql_db failover -At -c "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND usename = 'failover'" 2>&1)
check "its session is encrypted (pg_stat_ssl: $ssl)" test "${ssl:-0}" -ge 1
node_stop a

# the wrong root: refused, and the log says why
: > "$W_TMP/a.log"
sed -i "s|sslrootcert=[^\"]*|sslrootcert=$c/other.crt|" "$W_TMP/a.conf"
node_start a
wait_for 10000 grep -q 'certificate verify failed' "$W_TMP/a.log"
ok $? "a root that did not sign the server's certificate: refused, logged"
check "and the database is down for a" db_is a down
node_stop a

# no sslrootcert: libpq looks in the home of _failoverd, which has none
: > "$W_TMP/a.log"
sed -i "s| sslrootcert=[^\"]*||" "$W_TMP/a.conf"
node_start a
wait_for 10000 grep -q 'root certificate file .*/nonexistent/.postgresql/root.crt.* does not exist' "$W_TMP/a.log"
ok $? "without sslrootcert, the log names the file libpq looked for"
node_stop a

done_testing
