#!/bin/sh
# the role state machine fed events in chosen orders: races, releases, t0
exec "$(dirname "$0")/../../build/tests/lease_test"
