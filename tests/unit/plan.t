#!/bin/sh
# planning a sync round: the difference only, deletions last, guards
exec "$(dirname "$0")/../../build/tests/plan_test"
