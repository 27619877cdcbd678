#!/usr/bin/env bash
# The one benchmark command (`make bench`): for issue 6's named configurations (tiny, compact, medium,
# sudoku-mlp) it measures the engine and PyTorch (bench/torch_reference.py) in the same invocation,
# alternating, each measurement in its own process, and prints every figure with its ratio: training
# throughput, model FLOP/s against the measured sgemm peak, peak memory, and full DIS inference latency
# at batch 1 and 64. Without .venv-torch it prints the engine's figures alone. See docs/performance.md.
#
# Environment: THREADS (2), REPEATS (3), ROUNDS (1), CONFIGS (tiny,compact,medium,sudoku-mlp), TORCH_COMPILE
# (1: also torch.compile'd PyTorch; 0 skips it),
# TRMDIS_BIN (an existing trmdis binary; default: built here into .build-bench, so a build/bin/trmdis
# in use elsewhere is never overwritten), TORCH_PYTHON (.venv-torch/bin/python), BENCH_JSON (raw records),
# BENCH_STATE (build/bench-state.jsonl: the rounds measured so far; the same command after an interruption
# continues from it, and it is removed when the run ends).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TRMDIS_BIN:-}
if [ -z "$bin" ]; then
    # Built as `make cli` builds it (the Swift runtime linked in), which the memory figures depend on.
    swift build -c release -Xswiftc -static-stdlib --product trmdis --scratch-path .build-bench >&2
    bin=.build-bench/release/trmdis
fi
torch=${TORCH_PYTHON:-.venv-torch/bin/python}
if [ ! -x "$torch" ]; then
    echo "PyTorch not found ($torch; see docs/pytorch.md to set it up): engine figures only"
    torch=""
fi
python=$(command -v python3 || command -v python)
exec "$python" bench/compare.py --engine "$bin" --torch-python "$torch" \
    --threads "${THREADS:-2}" --repeats "${REPEATS:-3}" --rounds "${ROUNDS:-1}" \
    --configs "${CONFIGS:-tiny,compact,medium,sudoku-mlp}" ${BENCH_JSON:+--json-out "$BENCH_JSON"} \
    --state "${BENCH_STATE:-build/bench-state.jsonl}" \
    $([ "${TORCH_COMPILE:-1}" = 0 ] && echo --no-compile)
