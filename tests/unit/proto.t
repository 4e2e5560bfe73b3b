#!/bin/sh
# sync frames: round trips, and every malformed field refused
exec "$(dirname "$0")/../../build/tests/proto_test"
