#!/bin/sh
# imsg framing, partial reads, descriptor passing, size limits
exec "$(dirname "$0")/../../build/tests/imsg_test"
