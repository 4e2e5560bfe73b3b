#!/bin/sh
# netd refuses requests naming a VIP index outside its table
top=$(cd "$(dirname "$0")/../.." && pwd)
exec "$top/build/tests/netd_test" "$top/build/failoverd"
