"""Hostile paths, resource limits and kills during checkpoint saves (docs/engine.md, "Threat model and
guarantees"): every case ends in a clean exception, never a dead interpreter, a hang, a torn checkpoint or
a file overwritten outside the checkpoint."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import trmdis

from helpers import REPO, progression, progression_config

HERE = Path(__file__).resolve().parent


def run_python(code: str, timeout: float = 120, **environment: str) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter with this package importable, and `environment` added to its
    environment; returns the finished process."""
    env = dict(os.environ, PYTHONPATH=f"{HERE.parent}{os.pathsep}{HERE}", **environment)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_a_nul_byte_in_a_path_is_refused(tmp_path):
    with trmdis.Model(progression_config(), seed=1) as model:
        with pytest.raises(trmdis.InvalidArgumentError, match="NUL"):
            model.save(str(tmp_path / "a.safetensors") + "\0.txt")
    assert list(tmp_path.iterdir()) == []  # nothing written under the truncated name either
    for call in (lambda: trmdis.Model.load(b"/tmp/x\0y"), lambda: trmdis.Dataset.load(tmp_path, "tr\0ain")):
        with pytest.raises(trmdis.InvalidArgumentError, match="NUL"):
            call()


def test_out_of_memory_under_an_address_space_limit():
    # A 1.6 GB model and a large runner under `ulimit -v` of the current size + 300 MB: OutOfMemoryError
    # naming the limit, and the interpreter lives on to use a model that fits. OpenBLAS allocates its work
    # buffer at its first product and spins if it cannot (docs/engine.md), so one prediction runs first.
    done = run_python("""
        import trmdis
        from helpers import limit_address_space, progression_config
        with trmdis.Model(progression_config()) as warm:
            warm.predict([[1] * 10], logits=True)
        limit_address_space(300 * 2**20)
        big = trmdis.ModelConfig.preset("sudoku-att").replace(hidden_size=4096, num_heads=32)
        try:
            trmdis.Model(big)
        except trmdis.OutOfMemoryError as e:
            assert "address-space limit" in str(e) or "failed" in str(e), e
        with trmdis.Model(progression_config()) as small:
            try:
                trmdis.Runner(small, 1 << 20)
            except trmdis.OutOfMemoryError:
                pass
            assert small.predict([[1] * 10], logits=True).trace.shape == (4, 1, 10)
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_openblas_work_buffers_under_an_address_space_limit():
    # OpenBLAS takes a 128 MiB work buffer (address space) for each thread calling it and retries for ever when
    # it cannot (docs/engine.md). The engine reserves the buffers before the first product: under a limit
    # without room for two, the first prediction is an OutOfMemoryError naming them, not a hang; with one
    # thread the same model predicts, and asking for more threads again is refused the same way.
    done = run_python("""
        import trmdis
        from helpers import limit_address_space, progression_config
        trmdis.set_num_threads(2)
        model = trmdis.Model(progression_config())
        limit_address_space(160 * 2**20)
        try:
            model.predict([[1] * 10], logits=True)
            print("no error")
        except trmdis.OutOfMemoryError as e:
            assert "OpenBLAS's work buffers" in str(e) and "2 threads" in str(e), e
        trmdis.set_num_threads(1)
        assert model.predict([[1] * 10], logits=True).trace.shape == (4, 1, 10)
        try:
            trmdis.set_num_threads(4)
            print("4 threads")
        except trmdis.OutOfMemoryError as e:
            assert "OpenBLAS's work buffers" in str(e), e
        assert trmdis.get_num_threads() == 1
        assert model.predict([[1] * 10], logits=True).trace.shape == (4, 1, 10)
        print("ok")
    """, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_every_pool_thread_has_its_openblas_buffer_before_a_limit():
    # The first prediction makes OpenBLAS's work buffers exist, one for each pool thread. Earlier versions had
    # each thread run a tiny product at once, which finished before the other thread started its own: one
    # buffer, and under a limit set after that the first products run in parallel hung (OpenBLAS retried the
    # second buffer for ever).
    done = run_python("""
        import trmdis
        from helpers import limit_address_space, progression, progression_config
        trmdis.set_num_threads(2)
        with trmdis.Model(progression_config()) as model:
            model.predict([[1] * 10], logits=True)
            x, _ = progression(256)
            limit_address_space(64 * 2**20)  # less than one more buffer
            for _ in range(5):
                assert model.predict(x).predictions.shape == (256, 10)
        print("ok")
    """, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_the_command_line_exits_under_an_address_space_limit():
    # OpenBLAS linked into a process starts a worker per core at load, each allocating its work buffer and
    # retrying for ever when it cannot, and joins them at exit: under `ulimit -v 200000` `trmdis --version`
    # used to hang there. The engine loads OpenBLAS itself, without those workers.
    import resource
    cli = REPO / "build" / "bin" / "trmdis"
    assert cli.exists(), f"{cli} is missing: `make test` builds it (make cli)"
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (200_000 * 1024, resource.RLIM_INFINITY))
    for args in (["--version"], ["info"]):
        done = subprocess.run([cli, *args], preexec_fn=limit, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
    assert "blas: OpenBLAS" in done.stdout, done.stdout


def test_without_openblas_every_computation_is_an_error():
    # The engine loads OpenBLAS at first use (TRMDIS_OPENBLAS names the file; here one that does not exist):
    # the library still loads, blas_info says why there is no BLAS, and a prediction is an error, not a crash.
    done = run_python("""
        import trmdis
        from helpers import progression_config
        info = trmdis.blas_info()
        assert info["warning"] and info["library"] == "" and info["core"] == "", info
        with trmdis.Model(progression_config()) as model:
            try:
                model.predict([[1] * 10], logits=True)
                print("no error")
            except trmdis.TRMIOError as e:
                assert "OpenBLAS could not be loaded (/nonexistent/libopenblas.so.0" in str(e), e
        print("ok")
    """, TRMDIS_OPENBLAS="/nonexistent/libopenblas.so.0")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_threads_that_cannot_start_are_an_error():
    # 100 threads need 100 stacks (8 MiB each by default); under a tight address-space limit the system refuses
    # some. The old pool stays, and inference still works: its threads' OpenBLAS work buffers were made before
    # the limit, at the warm-up (see the test above). At most the threads OpenBLAS allows (test_library).
    done = run_python("""
        import re, trmdis
        from helpers import limit_address_space, progression_config
        many = min(100, 2 * int(re.search(r"MAX_THREADS=(\\d+)", trmdis.blas_info()["version"]).group(1)))
        trmdis.set_num_threads(2)
        with trmdis.Model(progression_config()) as warm:  # OpenBLAS's buffers before the limit
            warm.predict([[1] * 10], logits=True)
        limit_address_space(256 * 2**20)
        try:
            trmdis.set_num_threads(many)
            print("started")
        except trmdis.OutOfMemoryError as e:
            assert "cannot start worker thread" in str(e), e
        assert trmdis.get_num_threads() == 2
        with trmdis.Model(progression_config()) as m:
            assert m.predict([[1] * 10], logits=True).trace.shape == (4, 1, 10)
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_a_planted_symlink_is_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    target = tmp_path / "model.safetensors"
    # The temporary name older versions used, and the target itself, both pointing at the victim.
    os.symlink(victim, tmp_path / f"model.safetensors.tmp.{os.getpid()}")
    os.symlink(victim, target)
    with trmdis.Model(progression_config(), seed=1) as model:
        model.save(target)
    assert victim.read_bytes() == b"keep me"
    assert not target.is_symlink()
    trmdis.Model.load(target).close()


TRAIN_FOREVER = """
    import sys, trmdis
    from helpers import FAST, progression, progression_config
    directory = sys.argv[1]
    x, y = progression(64, seed=1)
    data = trmdis.Dataset(x, y)
    try:
        trainer = trmdis.Trainer.resume(directory, data, checkpoint_dir=directory, checkpoint_every=1)
    except trmdis.TRMIOError:
        trainer = trmdis.Trainer(trmdis.Model(progression_config(), seed=1), data, checkpoint_dir=directory,
                                 checkpoint_every=1, **FAST)
    print("training", flush=True)
    trainer.run(progress=False)
"""


def test_kill_9_during_checkpoint_saves_never_tears_a_checkpoint(tmp_path):
    directory = tmp_path / "ckpt"
    env = dict(os.environ, PYTHONPATH=f"{HERE.parent}{os.pathsep}{HERE}")
    rng = random.Random(5)
    x, y = progression(64, seed=1)
    kills, rounds = 0, int(os.environ.get("TRMDIS_KILLS", "8"))  # docs/engine.md quotes a run of 75
    with trmdis.Dataset(x, y) as data:
        for _ in range(rounds):
            child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(TRAIN_FOREVER), str(directory)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert child.stdout.readline().strip() == "training", child.stderr.read()
            time.sleep(rng.uniform(0.05, 0.6))  # a checkpoint is written after every step: kills land mid-save
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            if not (directory / "state.safetensors").exists():
                continue
            # Both names resolve into one generation, written by one save.
            model_file, state_file = (directory / "model.safetensors").resolve(), (directory / "state.safetensors").resolve()
            assert model_file.parent == state_file.parent
            # It resumes, and its model file holds the state's weights (EMA is off for DIS).
            with trmdis.Trainer.resume(directory, data) as resumed, trmdis.Model.load(directory / "model.safetensors") as saved:
                probe = np.full((2, 10), 1, dtype=np.int32)
                np.testing.assert_array_equal(saved.predict(probe, logits=True).logits, resumed.model.predict(probe, logits=True).logits)
            generations = [p for p in directory.iterdir() if p.name.startswith(".gen-")]
            assert len(generations) <= 2  # the current one, and at most one left by the killed writer
    assert kills == rounds
