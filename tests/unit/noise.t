#!/bin/sh
# Noise_KK_25519_ChaChaPoly_SHA256 against the published test vector
top=$(cd "$(dirname "$0")/../.." && pwd)
exec "$top/build/tests/noise_test" "$top/tests/data/noise-kk-25519-chachapoly-sha256.json"
