#!/bin/sh
# the sync manifest: sorted, hashed, excludes, a cache for rescans
exec "$(dirname "$0")/../../build/tests/scan_test"
