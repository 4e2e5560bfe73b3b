#!/bin/sh
# syncd framing over secretstream: order, tampering, truncation, size
exec "$(dirname "$0")/../../build/tests/wire_test"
