#!/bin/sh
# dnsd's UPDATE and TSIG against bytes BIND's nsupdate sent
top=$(cd "$(dirname "$0")/../.." && pwd)
exec "$top/build/tests/dns_test" "$top/tests/data/nsupdate-hmac-sha256.bin"
