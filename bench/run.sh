#!/usr/bin/env bash
# First benchmark of the engine core: one supervision step, forward and forward+backward, in tokens/s and
# model GFLOP/s, against the measured sgemm peak. Results go to docs/performance.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/trmdis
[ -x "$bin" ] || make cli
threads=${THREADS:-$(nproc)}
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m) $(nproc) cores, threads $threads"
"$bin" bench --preset dis-compact --batch 64 --repeats "${REPEATS:-3}" --threads "$threads" --no-peak
"$bin" bench --preset sudoku-mlp --batch 32 --repeats "${REPEATS:-3}" --threads "$threads"
