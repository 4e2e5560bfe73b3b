#!/bin/sh
# applying files beneath a directory fd: atomic, and no way out of it
exec "$(dirname "$0")/../../build/tests/apply_test"
