#!/usr/bin/env bash
# The BLAS core on CPUs this machine is not (docs/performance.md, "Kernels on every CPU"): build/bin/trmdis runs
# under qemu-user on emulated x86-64 CPUs, whose CPUID the program sees in place of the host's.
#  1. An AVX2 CPU of a model OpenBLAS 0.3.21 does not know (family 6, model 207: the Xeon of issue 14), where
#     OpenBLAS falls back to Prescott: the engine reports the correction to Haswell, and a short DIS training
#     run there writes the same bits as this machine with OPENBLAS_CORETYPE=Haswell and the engine's AVX2
#     kernels (and other bits than with Prescott's), so the corrected kernels are the ones that computed; and a prediction there
#     runs on the engine's AVX2 kernel on packed weights: its logits are this machine's with that kernel
#     (TRMDIS_KERNELS=avx2) and not those of OpenBLAS's products.
#  2. The same CPU with OPENBLAS_CORETYPE=Prescott set by the user: kept, reported, warned about.
#  3. An SSE-only CPU (Nehalem), where qemu stops the program at any AVX instruction: nothing to correct, no
#     warning, the baseline elementwise kernels, and the same bits as this machine on Nehalem's BLAS kernels
#     and the baseline elementwise kernels.
# TCG (qemu's emulator) has no AVX-512, so the AVX-512 cores are checked on real CPUs only (bindings/python/tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin/trmdis
py=${PY:-.venv/bin/python}
if [ "$(uname -m)" != x86_64 ]; then echo "check-emulated-cpus: not an x86-64 machine, nothing to emulate"; exit 0; fi
if ! command -v qemu-x86_64 >/dev/null; then
  echo "check-emulated-cpus: qemu-x86_64 missing (make deps installs qemu-user)"
  exit 1
fi

# Each case sets what it needs; nothing from the caller's environment chooses a core or a kernel.
unset OPENBLAS_CORETYPE TRMDIS_KERNELS TRMDIS_BLAS_TEST_DETECTED TRMDIS_GEMM
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "check-emulated-cpus: FAILED: $*"; exit 1; }
# qemu warns about each CPUID feature its emulator lacks; those lines are not the program's.
emulated() { local cpu=$1; shift; qemu-x86_64 -cpu "$cpu" "$@" 2>&1 | grep -v "TCG doesn't support"; }
blas_line() { grep '^blas:' || true; }

"$bin" data sudoku --size 4 --train 48 --test 16 --seed 3 --out "$work/data" >/dev/null
train=(train --data "$work/data" --preset sudoku-att --hidden 64 --heads 2 --layers 1 --T 1 --n 2
       --supervision-steps 3 --puzzle-emb-len 0 --method dis --batch 16 --steps 4 --seed 1 --eval-limit 16
       --threads 2)
weights() { sha256sum "$work/$1/model.safetensors" | cut -d' ' -f1; }

unknown_avx2="Haswell,family=6,model=207"
line=$(emulated "$unknown_avx2" "$bin" info | blas_line)
echo "emulated $unknown_avx2: $line"
[[ $line == *"core Haswell (corrected from Prescott), cpu avx2"* ]] || fail "expected the correction to Haswell"
[[ $line == *"elementwise kernels avx2"* ]] || fail "expected the AVX2 elementwise kernels"
emulated "$unknown_avx2" "$bin" "${train[@]}" --checkpoint "$work/emulated" | grep '^checkpoint:' >/dev/null \
    || fail "training on the emulated CPU"
# Here the engine capped at the emulated CPU's kernels (TRMDIS_KERNELS=avx2): on an AVX-512 machine its AVX-512
# products would take this model's narrow ones (D 64), which the emulated AVX2 CPU cannot run; the AVX2 ones
# (the channel SwiGLU in one pass at D 64) run on both sides.
TRMDIS_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell "$bin" "${train[@]}" --checkpoint "$work/haswell" >/dev/null
TRMDIS_KERNELS=avx2 OPENBLAS_CORETYPE=Prescott "$bin" "${train[@]}" --checkpoint "$work/prescott" >/dev/null
[ "$(weights emulated)" = "$(weights haswell)" ] || fail "emulated weights differ from Haswell's kernels on this machine"
[ "$(weights emulated)" != "$(weights prescott)" ] \
    || fail "Prescott's kernels gave the same weights: the comparison cannot tell cores apart"
echo "  4 DIS steps: the same weights as OPENBLAS_CORETYPE=Haswell here ($(weights emulated | cut -c1-12)),"\
     "not Prescott's"

line=$(emulated "$unknown_avx2" examples/c/main 1 | blas_line)
echo "  C example: $line"
[ "$line" = "blas: corrected to core Haswell (OpenBLAS chose Prescott), cpu avx2" ] || fail "the C example's BLAS"
line=$(TRMDIS_LIBRARY=$PWD/build/lib/libtrmdis.so PYTHONPATH=bindings/python emulated "$unknown_avx2" "$py" -c \
    'import trmdis; i = trmdis.blas_info(); print(*(i[k] for k in ("core", "detected_core", "isa", "corrected", "warning")))')
echo "  Python: $line"
[ "$line" = "Haswell Prescott avx2 True False" ] || fail "the Python package's BLAS"
# Four puzzles (64 rows) of the emulated run's model: inference on packed weights, the AVX2 kernel there.
logits_sha() {
    TRMDIS_LIBRARY=$PWD/build/lib/libtrmdis.so PYTHONPATH=bindings/python "$@" "$py" -c '
import hashlib, sys, numpy as np, trmdis
m = trmdis.Model.load(sys.argv[1])
x = np.random.default_rng(0).integers(0, m.config.vocab_size, (4, m.config.seq_len))
print(hashlib.sha256(m.predict(x, logits=True).logits.tobytes()).hexdigest())' "$work/emulated/model.safetensors"
}
# Here Haswell's kernels on an AVX-512 CPU: the library's warning about it is expected.
expected_warning() { grep -v "^libtrmdis: OpenBLAS runs its AVX2 'Haswell' kernels on a CPU with avx512" >&2 || true; }
here_avx2=$(logits_sha env TRMDIS_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell 2> >(expected_warning))
here_blas=$(logits_sha env TRMDIS_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell TRMDIS_GEMM=openblas 2> >(expected_warning))
there=$(logits_sha emulated "$unknown_avx2")
[ "$there" = "$here_avx2" ] || fail "the emulated CPU's logits differ from this machine's AVX2 kernel on packed weights"
[ "$there" != "$here_blas" ] || fail "OpenBLAS's products gave the same logits: the comparison cannot tell them apart"
echo "  prediction: the logits of the AVX2 kernel on packed weights here (${there:0:12}), not OpenBLAS's"

out=$(OPENBLAS_CORETYPE=Prescott emulated "$unknown_avx2" "$bin" info)
line=$(blas_line <<<"$out")
echo "emulated $unknown_avx2, OPENBLAS_CORETYPE=Prescott: $line"
[[ $line == *"core Prescott (OPENBLAS_CORETYPE), cpu avx2"* ]] || fail "the user's core was not kept"
grep -q "^warning: OpenBLAS runs its generic 'Prescott' kernels on a CPU with avx2" <<<"$out" || fail "no warning"

out=$(emulated Nehalem "$bin" info)
line=$(blas_line <<<"$out")
echo "emulated Nehalem: $line"
[[ $line == *"core Nehalem (detected), cpu sse"*"elementwise kernels baseline (SSE)"* ]] \
    || fail "expected SSE, nothing corrected"
! grep -q '^warning' <<<"$out" || fail "a warning on a CPU with nothing better"
emulated Nehalem "$bin" "${train[@]}" --checkpoint "$work/nehalem" | grep '^checkpoint:' >/dev/null \
    || fail "training on the emulated SSE-only CPU"
OPENBLAS_CORETYPE=Nehalem TRMDIS_KERNELS=baseline "$bin" "${train[@]}" --checkpoint "$work/nehalem-here" >/dev/null
[ "$(weights nehalem)" = "$(weights nehalem-here)" ] \
    || fail "SSE-only weights differ from this machine's Nehalem + baseline run"
echo "  4 DIS steps: the same weights as OPENBLAS_CORETYPE=Nehalem TRMDIS_KERNELS=baseline here"
echo "check-emulated-cpus: ok"
