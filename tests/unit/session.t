#!/bin/sh
# opening a sync session: hello, Noise KK with pinned keys, refusals
exec "$(dirname "$0")/../../build/tests/session_test"
