#!/bin/sh
# named deadlines on CLOCK_BOOTTIME
exec "$(dirname "$0")/../../build/tests/timer_test"
