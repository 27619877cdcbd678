#!/usr/bin/env bash
# `make install PREFIX=<a temporary directory>`, then the C example compiled and linked with pkg-config alone,
# as the README shows, and run for two training steps: the installed library, header and trmdis.pc work.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -O2 -std=c99 -o "$prefix/main" examples/c/main.c $(pkg-config --cflags --libs trmdis)
"$prefix/main" 2 >/dev/null
echo "install check: pkg-config $(pkg-config --modversion trmdis), $(pkg-config --libs trmdis | wc -w) link flags; the example built and ran: 1 passed, 0 failed"
