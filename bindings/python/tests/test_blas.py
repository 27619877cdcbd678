"""The BLAS kernels (docs/performance.md, "Kernels on every CPU"): the active OpenBLAS core is reported, a generic
core the user forces is kept and warned about, and without a choice the core matches the CPU's instruction set.
Each case runs in a fresh interpreter, since OpenBLAS is configured once per process."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The cores that use each instruction set's kernels (OpenBLAS's names).
AVX512_CORES = {"SkylakeX", "Cooperlake", "SapphireRapids"}
AVX2_CORES = AVX512_CORES | {"Haswell", "Zen"}

PROBE = """
    import json, logging, sys
    records = []
    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    logging.getLogger("trmdis").addHandler(Keep())
    logging.getLogger("trmdis").setLevel(logging.DEBUG)
    import trmdis
    info = trmdis.blas_info()
    info["log"] = records
    print(json.dumps(info))
"""


def probe(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "TRMDIS_BLAS_TEST_DETECTED")}
    clean.update(env, PYTHONPATH=f"{HERE.parent}{os.pathsep}{HERE}")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(PROBE)], env=clean, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_forced_generic_core_is_kept_reported_and_warned_about():
    info = probe(OPENBLAS_CORETYPE="Prescott")
    assert info["core"] == info["detected_core"] == "Prescott"
    assert info["core_from_environment"] and not info["corrected"]
    capable = info["isa"] in ("avx2", "avx512")
    assert info["warning"] == capable
    assert any("generic 'Prescott'" in line for line in info["log"]) == capable


def test_a_forced_avx2_core_on_an_avx512_cpu_is_kept_and_warned_about():
    # OpenBLAS never picks its AVX2 kernels on an AVX-512 CPU by itself; a user who forces them gets half the
    # sgemm speed on a Zen 5 (docs/performance.md), which the warning says.
    info = probe(OPENBLAS_CORETYPE="Haswell")
    assert info["core"] == info["detected_core"] == "Haswell" and not info["corrected"]
    lags = info["isa"] == "avx512"
    assert info["warning"] == lags
    assert any("AVX2 'Haswell'" in line for line in info["log"]) == lags


def test_without_a_choice_the_core_matches_the_instruction_set():
    info = probe()
    assert not info["core_from_environment"] and not info["warning"] and info["log"] == []
    expected = {"avx512": AVX512_CORES, "avx2": AVX2_CORES}.get(info["isa"])
    if expected is not None:  # an SSE-only CPU has nothing better than OpenBLAS's own choice
        assert info["core"] in expected, info
    assert info["threads"] >= 1 and "OpenBLAS" in info["version"] and info["library"]


def test_the_correction_replaces_a_generic_core_it_did_not_choose():
    # The engine's test hook has OpenBLAS load as if it had picked Prescott by itself (a CPU it misreads).
    info = probe(TRMDIS_BLAS_TEST_DETECTED="Prescott")
    assert info["detected_core"] == "Prescott" and not info["core_from_environment"]
    if info["isa"] == "sse":
        assert not info["corrected"] and info["core"] == "Prescott"
        return
    assert info["corrected"] and not info["warning"] and info["log"] == []
    assert info["core"] in (AVX512_CORES if info["isa"] == "avx512" else AVX2_CORES - AVX512_CORES)


def test_the_correction_replaces_an_avx2_core_on_an_avx512_cpu():
    info = probe(TRMDIS_BLAS_TEST_DETECTED="Haswell")
    assert info["detected_core"] == "Haswell" and not info["core_from_environment"]
    if info["isa"] != "avx512":  # Haswell is this CPU's class (or more than it can run): nothing to replace
        assert not info["corrected"]
        return
    assert info["corrected"] and not info["warning"] and info["core"] in AVX512_CORES


TRAIN_PROBE = """
    import hashlib, json, numpy as np, trmdis
    from helpers import progression, progression_config
    x, y = progression(64, seed=1)
    out = {}
    for mixer in (trmdis.Mixer.ATTENTION, trmdis.Mixer.MLP_T):
        # D 40 and L 11: rows of every kernel's widths, odd ones included (the softmax over 11 keys).
        config = progression_config(mixer=mixer, hidden_size=40, num_heads=2)
        with trmdis.Dataset(x, y) as data, trmdis.Model(config, seed=2) as model:
            with trmdis.Trainer(model, data, batch_size=16, learning_rate=3e-3, seed=4) as trainer:
                for _ in range(3):
                    trainer.step()
            logits = model.predict(x[:8], logits=True).logits
            out[mixer.name] = hashlib.sha256(np.ascontiguousarray(logits).tobytes()).hexdigest()
    print(json.dumps(out))
"""


def train_bits(kernels):
    env = {k: v for k, v in os.environ.items() if k not in ("TRMDIS_KERNELS", "TRMDIS_GEMM")}
    if kernels:
        env["TRMDIS_KERNELS"] = kernels
    # The engine's own AVX-512 products (narrow mixer shapes) round differently from OpenBLAS's: every product
    # through OpenBLAS here, so that only the elementwise kernels change between the runs.
    env["TRMDIS_GEMM"] = "openblas"
    env["PYTHONPATH"] = f"{HERE.parent}{os.pathsep}{HERE}"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(TRAIN_PROBE)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_elementwise_level_trains_the_same_bits():
    # The AVX2 and AVX-512 twins of the elementwise kernels repeat the Swift versions' operations lane by lane
    # (KernelTests compares them kernel by kernel); here whole training steps, attention and mlp_t, give
    # the same weights at every level this CPU has: TRMDIS_KERNELS=baseline, =avx2, and the default (the
    # widest, AVX-512 where the CPU has it).
    isa = probe()["isa"]
    levels = {"sse": ["baseline", None], "avx2": ["baseline", "avx2", None], "avx512": ["baseline", "avx2", None]}
    bits = {str(k): train_bits(k) for k in levels[isa]}
    assert len({json.dumps(b, sort_keys=True) for b in bits.values()}) == 1, bits
    assert bits["baseline"]["ATTENTION"] != bits["baseline"]["MLP_T"]
