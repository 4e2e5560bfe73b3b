#!/bin/sh
# dnsd's UPDATE, its check and TSIG against bytes BIND's nsupdate sent
top=$(cd "$(dirname "$0")/../.." && pwd)
exec "$top/build/tests/dns_test" "$top/tests/data/nsupdate-hmac-sha256.bin" \
    "$top/tests/data/nsupdate-prereq.bin"
