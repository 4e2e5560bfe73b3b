#!/bin/sh
# sudo make demo: a failover end to end on a throwaway PostgreSQL and
# network namespaces.  The daemon frame is in place; the failover itself
# comes with the lease (heartbeatd).
top=$(cd "$(dirname "$0")/.." && pwd)
echo "failoverd demo"
echo
echo "The frame works: checking the shipped example configuration."
"$top/build/failoverd" -n -f "$top/conf/failoverd.conf" 2>&1 | tail -1
echo
echo "The failover demo comes with the lease (heartbeatd): not yet."
